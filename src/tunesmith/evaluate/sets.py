"""Sets of pieces to measure: a folder of music files, or a split of a prepared corpus.

A folder is walked for every readable file (a file that cannot be read is skipped and
reported, the rest are measured); a prepared corpus (a folder with ``manifest.json``)
gives the pieces of one split, decoded with its tokenizer, so held-out real music can be
compared with drafts without the original files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import ReadError, TunesmithError
from ..score import Score


@dataclass
class PieceSet:
    """Pieces and their names (``file`` or ``file#2`` for the third tune of a tunebook);
    ``skipped`` holds ``(name, reason)`` for files that could not be read."""

    source: str
    names: list[str] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def is_prepared_corpus(path: str | os.PathLike) -> bool:
    return (Path(path) / "manifest.json").is_file()


def music_files(folder: str | os.PathLike) -> list[Path]:
    """Readable music files under ``folder`` (or the file itself), in sorted order."""
    from ..io import READABLE_SUFFIXES

    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise ReadError("no such file or folder", folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in READABLE_SUFFIXES)


def prepared_pieces(data_dir: str | os.PathLike, split: str, limit: int | None = None,
                    seed: int = 0) -> Iterator[tuple[str, Score, dict]]:
    """``(name, score, record)`` of every piece of a prepared corpus's split (or of
    ``limit`` pieces drawn at random with ``seed``), decoded with the corpus's
    tokenizer; ``record`` is the piece's line of ``pieces.jsonl``."""
    import json

    from ..data import TokenWindows

    windows = TokenWindows(data_dir, split, context_length=2)
    lines = (Path(data_dir) / split / "pieces.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = range(windows.num_pieces)
    if limit is not None and windows.num_pieces > limit:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(windows.num_pieces, limit, replace=False))
    for i in chosen:
        record = json.loads(lines[i]) if i < len(lines) else {}
        name = record.get("path", f"{split}-{i}")
        if record.get("piece"):
            name += f"#{record['piece']}"
        yield name, windows.tokenizer.decode(windows.piece(i)), record


def load_set(source: str | os.PathLike, split: str = "test", limit: int | None = None,
             seed: int = 0, on_skip: Callable[[str, str], None] | None = None,
             progress: Callable | None = None) -> PieceSet:
    """The pieces of ``source`` (a folder, a file, or a prepared corpus's ``split``).

    limit: keep at most this many pieces, drawn at random with ``seed`` (files are
    chosen before reading, so a large folder is not read whole).
    on_skip: called with (name, reason) for each unreadable file.
    progress: wraps the iteration over files or pieces (e.g. ``tqdm``).
    """
    source = os.fspath(source)
    out = PieceSet(source)
    if is_prepared_corpus(source):
        items = prepared_pieces(source, split, limit, seed)
        for name, score, _ in (progress(items) if progress else items):
            if score.note_count():
                out.names.append(name)
                out.scores.append(score)
        return out
    from ..io import read_pieces

    files = music_files(source)
    if limit is not None and len(files) > limit:
        picked = np.random.default_rng(seed).choice(len(files), limit, replace=False)
        files = [files[i] for i in sorted(picked)]
    root = Path(source)
    for path in (progress(files) if progress else files):
        name = path.name if path == root else path.relative_to(root).as_posix()
        try:
            for k, score in enumerate(read_pieces(path)):
                if score.note_count():
                    out.names.append(name if k == 0 else f"{name}#{k}")
                    out.scores.append(score)
        except TunesmithError as exc:
            out.skipped.append((name, exc.reason))
            if on_skip:
                on_skip(name, exc.reason)
    if limit is not None:
        out.names, out.scores = out.names[:limit], out.scores[:limit]
    return out
