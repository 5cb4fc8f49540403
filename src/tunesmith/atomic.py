"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Write to a temporary file in the destination folder, flush it to disk, then rename it
over the destination (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import WriteError


_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    With ``overwrite=False`` an existing ``path`` raises ``WriteError`` before anything
    is written, so nothing already there is lost.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise WriteError("already exists (pass overwrite to replace it)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes files private; give the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise WriteError("already exists (pass overwrite to replace it)", path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> None:
    """Atomically write UTF-8 ``text`` to ``path``."""
    write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
