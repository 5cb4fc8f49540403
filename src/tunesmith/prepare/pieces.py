"""One music file to its pieces' token ids, content hashes and metadata.

This is the work each pool worker does. Its result is a *record* file in the work
folder (``.npz``, loaded without pickle), written atomically, so an interrupted run
resumes with the files it has not finished and assembles exactly what an uninterrupted
run would.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..score import Score, key_name
from .silence import cap_silences

MAX_TOKENS_PER_NOTE = 40
"""A piece that needs more tokens a note than this after `cap_silences` is skipped: real
music takes 3-10 (a Bar, Position, Track, Pitch, Duration, Velocity per note at most,
plus tempo and meter changes); far more means the file's times or events are corrupt."""

HASH_GRID = 48
"""Content hashes compare notes on a grid of 1/48 quarter note, finer than any
tokenizer grid, so the split does not move when the tokenizer changes."""


@dataclass
class Piece:
    """One tokenized piece: ``ids`` (BOS ... EOS), the offsets of its Bar tokens in
    ``ids``, and metadata (``piece`` index in its file, ``hash``, key, meter...)."""

    meta: dict
    ids: np.ndarray | None
    bars: np.ndarray | None


@dataclass
class FileRecord:
    """Everything one file gave: its pieces, the pieces that failed, or why it was
    skipped as a whole (``skipped`` is then the reason)."""

    name: str
    pieces: list[Piece] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)   # {"piece": i, "reason": str}
    skipped: str | None = None
    timeout_s: float | None = None  # set when skipped for running past this limit


def content_hash(score: Score) -> str:
    """A hex digest of the piece's notes (onset, duration, pitch, drum or not) on a
    1/48-quarter grid, independent of file format, resolution, track order, instrument
    names and programs, and of silence before the first note: identical music from two
    files hashes the same."""
    rows = []
    for track in score.tracks:
        notes = track.notes
        if not len(notes):
            continue
        scale = HASH_GRID / score.ticks_per_quarter
        block = np.empty((len(notes), 4), dtype=np.int64)
        block[:, 0] = np.rint(notes["onset"] * scale)
        block[:, 1] = np.maximum(1, np.rint(notes["duration"] * scale))
        block[:, 2] = notes["pitch"]
        block[:, 3] = int(track.is_drum)
        rows.append(block)
    table = np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.int64)
    if len(table):
        table[:, 0] -= table[:, 0].min()
    table = table[np.lexsort(table.T[::-1])]
    return hashlib.blake2b(np.ascontiguousarray(table).tobytes(), digest_size=16).hexdigest()


def split_of(digest: str, val_fraction: float, test_fraction: float) -> str:
    """"test", "val" or "train" from a content hash: a fixed point in [0, 1) per piece,
    so adding files never moves an existing piece and duplicates share a split."""
    point = int(digest[:16], 16) / 2.0**64
    if point < test_fraction:
        return "test"
    if point < test_fraction + val_fraction:
        return "val"
    return "train"


def piece_metadata(score: Score) -> dict:
    """Key, meter, tempo, programs, notes and length of a piece, for ``pieces.jsonl``."""
    meter = score.meter_map()[0]
    keys = np.sort(score.key_signatures, order="tick")
    return {
        "title": score.metadata.get("title", ""),
        "key": key_name(int(keys["tonic"][0]), int(keys["mode"][0])) if len(keys) else None,
        "meter": f"{int(meter['numerator'])}/{int(meter['denominator'])}",
        "qpm": round(float(score.tempo_map()["qpm"][0]), 2),
        "programs": sorted({int(t.program) for t in score.tracks if not t.is_drum and len(t.notes)}),
        "drums": any(t.is_drum and len(t.notes) for t in score.tracks),
        "notes": score.note_count(),
        "seconds": round(score.duration_seconds(), 3),
    }


def tokenize_file(path: str, name: str, tokenizer) -> FileRecord:
    """Read every piece of ``path`` and tokenize it; never raises for a bad file.

    A file that cannot be read is skipped with the reader's reason; a piece that cannot
    be tokenized, has no notes or needs more than `MAX_TOKENS_PER_NOTE` tokens a note is
    listed in ``failed`` and the others are kept. Runs of more than
    `silence.MAX_EMPTY_BARS` empty bars are cut out before tokenizing (``meta`` then
    says how many bars in ``empty_bars_removed``); the content hash, which decides the
    split, is of the piece as read.
    """
    from ..io import read_pieces

    record = FileRecord(name)
    pieces = read_pieces(path)
    index = 0
    while True:
        try:
            score = next(pieces)
        except StopIteration:
            break
        except Exception as exc:  # a reader's failure, typed or not, skips what is left
            reason = _reason(exc)
            if index == 0:
                record.skipped = reason
            else:
                record.failed.append({"piece": index, "reason": f"reading stopped here: {reason}"})
            break
        if score.note_count() == 0:
            record.failed.append({"piece": index, "reason": "no notes"})
            index += 1
            continue
        try:
            capped, removed = cap_silences(score)
            ids = np.asarray(tokenizer.encode(capped))
            bars = np.asarray(tokenizer.bar_offsets(ids), dtype=np.int64)
            if len(bars) == 0:
                raise ValueError("no bars after tokenizing")
            notes = capped.note_count()
            if len(ids) > MAX_TOKENS_PER_NOTE * notes:
                record.failed.append({"piece": index, "reason": (
                    f"{len(ids):,} tokens for {notes} notes ({len(ids) / notes:.0f} a note, "
                    f"more than {MAX_TOKENS_PER_NOTE})")})
                index += 1
                continue
            meta = {"piece": index, "hash": content_hash(score), **piece_metadata(capped),
                    "bars": len(bars), "tokens": len(ids)}
            if removed:
                meta["empty_bars_removed"] = removed
            record.pieces.append(Piece(meta, ids, bars))
        except Exception as exc:
            record.failed.append({"piece": index, "reason": _reason(exc)})
        index += 1
    if record.skipped is None and not record.pieces and not record.failed:
        record.skipped = "holds no piece"
    return record


def _reason(exc: Exception) -> str:
    """One line: a TunesmithError's own reason, else the exception type and message."""
    reason = getattr(exc, "reason", None)
    if reason:
        return reason
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- record files ------------------------------------------------------------------------
def save_record(record: FileRecord, path: Path) -> None:
    """Write ``record`` atomically as an ``.npz`` of plain arrays plus JSON text."""
    pieces = record.pieces
    header = {"name": record.name, "skipped": record.skipped, "failed": record.failed,
              "timeout_s": record.timeout_s, "pieces": [p.meta for p in pieces]}
    arrays = {
        "header": np.array(json.dumps(header)),
        "ids": np.concatenate([p.ids for p in pieces]).astype(np.uint32) if pieces
        else np.zeros(0, np.uint32),
        "bars": np.concatenate([p.bars for p in pieces]).astype(np.int64) if pieces
        else np.zeros(0, np.int64),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def record_timeout(path: Path) -> float | None:
    """The time limit a record was skipped under (None if it was not timed out), read
    without loading its token ids."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["header"]))["timeout_s"]


def load_record(path: Path) -> FileRecord:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        ids, bars = data["ids"], data["bars"]
    record = FileRecord(header["name"], failed=header["failed"], skipped=header["skipped"],
                        timeout_s=header["timeout_s"])
    id_start = bar_start = 0
    for meta in header["pieces"]:
        n_ids, n_bars = meta["tokens"], meta["bars"]
        record.pieces.append(Piece(meta, ids[id_start:id_start + n_ids],
                                   bars[bar_start:bar_start + n_bars]))
        id_start += n_ids
        bar_start += n_bars
    return record
