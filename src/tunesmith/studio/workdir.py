"""Everything the studio keeps, on disk under one folder, so a restart loses nothing.

Layout (every id is made here, 12 hex digits; nothing a client sends becomes a path
without matching `ID_RE`)::

    WORKDIR/jobs/<job>/job.json              a drafting job: request, state, drafts
    WORKDIR/jobs/<job>/draft-s<SEED>.mid     each draft (+ .json provenance, renders)
    WORKDIR/pieces/<piece>/piece.json        a piece: its versions, current version, vocals
    WORKDIR/pieces/<piece>/v<N>/score.mid    version N (+ score.json, renders)
    WORKDIR/uploads/<upload>/upload.json     an uploaded prompt, lyrics text or vocal take

JSON records are written atomically; a piece's record changes only under its lock
(a thread lock plus an advisory file lock, so two tabs, or two servers on one workdir,
never lose each other's versions).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import re
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Iterator

from ..atomic import write_bytes, write_text
from ..errors import RequestError, WriteError

ID_RE = re.compile(r"^[0-9a-f]{12}$")
"""Ids the server makes: 48 random bits as hex."""


class NotFound(RequestError):
    """A job, piece, version, draft or upload that does not exist (HTTP 404)."""


def new_id() -> str:
    return secrets.token_hex(6)


def now() -> str:
    """UTC time as ISO 8601 to the second, for records."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Workdir:
    """The studio's folder: ids to paths (checked), records, locks."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        try:
            for sub in ("jobs", "pieces", "uploads"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot keep the studio's files here: {exc.strerror or exc}", root) from None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # --- paths -------------------------------------------------------------------------
    def folder(self, kind: str, item_id: str) -> Path:
        """The folder of a job/piece/upload; `NotFound` for a malformed id or a folder
        outside the workdir (no client text ever reaches the file system unchecked)."""
        if kind not in ("jobs", "pieces", "uploads") or not isinstance(item_id, str) \
                or not ID_RE.match(item_id):
            raise NotFound(f"no such {kind[:-1]} {str(item_id)[:40]!r}")
        path = (self.root / kind / item_id).resolve()
        if path.parent != self.root / kind:
            raise NotFound(f"no such {kind[:-1]} {item_id!r}")
        return path

    def existing(self, kind: str, item_id: str) -> Path:
        path = self.folder(kind, item_id)
        if not (path / f"{kind[:-1]}.json").is_file():
            raise NotFound(f"no such {kind[:-1]} {item_id!r}")
        return path

    def scrub(self, text: str) -> str:
        """``text`` without this workdir's absolute path (a message is shown on a page)."""
        return str(text).replace(f"{self.root}/", "").replace(str(self.root), "workdir")

    # --- records -----------------------------------------------------------------------
    def load(self, kind: str, item_id: str) -> dict:
        path = self.existing(kind, item_id) / f"{kind[:-1]}.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def save(self, kind: str, record: dict) -> None:
        path = self.folder(kind, record["id"]) / f"{kind[:-1]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(record, indent=1))

    def create(self, kind: str, record: dict) -> dict:
        """Save a new record under a fresh id (set into ``record``)."""
        record["id"] = new_id()
        record.setdefault("created", now())
        self.save(kind, record)
        return record

    def all(self, kind: str) -> list[dict]:
        """Every readable record of a kind, newest first (unreadable ones are skipped)."""
        records = []
        for path in (self.root / kind).glob(f"*/{kind[:-1]}.json"):
            if not ID_RE.match(path.parent.name):
                continue
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return sorted(records, key=lambda r: r.get("created", ""), reverse=True)

    # --- locks -------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the lock called ``name`` (e.g. a piece id) in this process and, through
        ``flock`` on ``WORKDIR/.locks/<name>``, against other processes."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            lock_dir = self.root / ".locks"
            lock_dir.mkdir(exist_ok=True)
            with open(lock_dir / re.sub(r"[^A-Za-z0-9_.-]", "_", name), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # --- pieces ------------------------------------------------------------------------
    def version_folder(self, piece_id: str, number: int) -> Path:
        return self.existing("pieces", piece_id) / f"v{int(number)}"

    def add_version(self, piece_id: str | None, score_file: Path, info: dict,
                    title: str = "") -> dict:
        """Add ``score_file`` (a MIDI file, copied) as the next version of a piece, or of
        a new piece when ``piece_id`` is None; it becomes the current version. ``info``
        says where it came from. Returns the piece's record."""
        if piece_id is None:
            piece = self.create("pieces", {"title": title or "untitled", "versions": [],
                                           "current": None, "vocals": None})
            piece_id = piece["id"]
        with self.lock(piece_id):
            piece = self.load("pieces", piece_id)
            number = max((v["n"] for v in piece["versions"]), default=0) + 1
            folder = self.folder("pieces", piece_id) / f"v{number}"
            if folder.exists():  # left by a crash before the record was saved
                shutil.rmtree(folder)
            folder.mkdir()
            write_bytes(folder / "score.mid", Path(score_file).read_bytes())
            if Path(score_file).with_suffix(".json").is_file():
                write_bytes(folder / "score.json", Path(score_file).with_suffix(".json").read_bytes())
            piece["versions"].append({"n": number, "parent": piece["current"], "made": now(), **info})
            piece["current"] = number
            self.save("pieces", piece)
            return piece

    def undo(self, piece_id: str) -> dict:
        """Make the current version's parent current again (the versions stay on disk)."""
        with self.lock(piece_id):
            piece = self.load("pieces", piece_id)
            current = next(v for v in piece["versions"] if v["n"] == piece["current"])
            if current["parent"] is None:
                raise RequestError("nothing to undo: this is the piece's first version")
            piece["current"] = current["parent"]
            self.save("pieces", piece)
            return piece

    def set_current(self, piece_id: str, number: int) -> dict:
        """Make version ``number`` current (any version kept: undo's way back, and redo)."""
        with self.lock(piece_id):
            piece = self.load("pieces", piece_id)
            if isinstance(number, bool) or not any(v["n"] == number for v in piece["versions"]):
                raise NotFound(f"piece {piece_id} has no version {str(number)[:20]}")
            piece["current"] = number
            self.save("pieces", piece)
            return piece

    def set_vocals(self, piece_id: str, vocals: dict | None) -> dict:
        with self.lock(piece_id):
            piece = self.load("pieces", piece_id)
            piece["vocals"] = vocals
            self.save("pieces", piece)
            return piece
