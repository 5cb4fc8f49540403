"""Assemble file records into the prepared-corpus layout (see `tunesmith.data`).

Records arrive ordered by source path, pieces by their index in the file; nothing here
depends on the order workers finished in, so the output is byte-identical however the
work was scheduled, interrupted or split across machines.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from ..atomic import atomic_path, write_text
from ..data import INDEX_DTYPE, SPLITS
from .pieces import FileRecord, split_of


class SplitWriter:
    """Writes one split: shards of at most ``shard_tokens`` tokens (a longer piece gets a
    shard of its own), ``index.npy``, ``bars.npy`` and ``pieces.jsonl``."""

    def __init__(self, folder: Path, dtype: np.dtype, shard_tokens: int):
        self.folder, self.dtype, self.shard_tokens = folder, dtype, shard_tokens
        folder.mkdir(parents=True, exist_ok=True)
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.shards = 0
        self.rows: list[tuple] = []
        self.bars: list[np.ndarray] = []
        self.bar_total = 0
        self.lines: list[str] = []
        self.tokens = 0
        self.notes = 0

    def add(self, ids: np.ndarray, bars: np.ndarray, meta: dict) -> None:
        if self.buffered and self.buffered + len(ids) > self.shard_tokens:
            self._flush()
        self.rows.append((self.shards, self.buffered, len(ids), self.bar_total, len(bars)))
        self.buffer.append(np.asarray(ids).astype(self.dtype))
        self.buffered += len(ids)
        self.bars.append(np.asarray(bars, dtype=np.int64))
        self.bar_total += len(bars)
        self.lines.append(json.dumps(meta, sort_keys=True, ensure_ascii=False))
        self.tokens += len(ids)
        self.notes += int(meta["notes"])

    def _flush(self) -> None:
        with atomic_path(self.folder / f"shard-{self.shards:05d}.bin") as tmp:
            with open(tmp, "wb") as handle:
                for block in self.buffer:
                    handle.write(block.tobytes())
        self.shards += 1
        self.buffer, self.buffered = [], 0

    def close(self) -> dict:
        if self.buffered:
            self._flush()
        for old in self.folder.glob("shard-*.bin"):  # left by an earlier, larger layout
            if int(old.stem.split("-")[1]) >= self.shards:
                old.unlink()
        index = np.array(self.rows, dtype=INDEX_DTYPE)
        bars = np.concatenate(self.bars) if self.bars else np.zeros(0, np.int64)
        for name, array in (("index.npy", index), ("bars.npy", bars)):
            with atomic_path(self.folder / name) as tmp, open(tmp, "wb") as handle:
                np.save(handle, array)
        write_text(self.folder / "pieces.jsonl", "".join(line + "\n" for line in self.lines))
        return {"pieces": len(self.rows), "tokens": self.tokens, "notes": self.notes,
                "shards": self.shards}


def assemble(out: Path, records: Iterable[FileRecord], settings: dict, dtype: str,
             vocab_size: int, file_counts: dict | None = None) -> dict:
    """Write the shards, indexes and ``manifest.json`` of ``out`` from ``records``
    (ordered by name); return the manifest.

    The first occurrence of a content hash (by source path, then piece index) is kept;
    later ones are listed as duplicates. ``file_counts`` overrides the file counts
    (used by merge, whose records cover only files that gave something).
    """
    writers = {split: SplitWriter(out / split, np.dtype(dtype), settings["shard_tokens"])
               for split in SPLITS}
    kept: dict[str, dict] = {}
    skipped_files, skipped_pieces, duplicates = [], [], []
    files = files_skipped = 0
    for record in records:
        files += 1
        if record.skipped is not None:
            files_skipped += 1
            entry = {"path": record.name, "reason": record.skipped}
            if record.timeout_s is not None:
                entry["timeout_s"] = record.timeout_s
            skipped_files.append(entry)
            continue
        for failure in record.failed:
            skipped_pieces.append({"path": record.name, **failure})
        for piece in record.pieces:
            meta = piece.meta
            digest = meta["hash"]
            if digest in kept:
                duplicates.append({"path": record.name, "piece": meta["piece"], "hash": digest,
                                   "same_as": kept[digest]})
                continue
            kept[digest] = {"path": record.name, "piece": meta["piece"]}
            split = split_of(digest, settings["val_fraction"], settings["test_fraction"])
            writers[split].add(piece.ids, piece.bars, {"path": record.name, **meta})
    splits = {split: writer.close() for split, writer in writers.items()}
    counts = file_counts or {"files": files, "files_skipped": files_skipped}
    manifest = {
        "format": "tunesmith-prepared-corpus",
        "format_version": 1,
        "token_dtype": dtype,
        "vocab_size": vocab_size,
        "tokenizer": "tokenizer.json",
        "config": settings,
        "counts": {**counts,
                   "pieces": sum(s["pieces"] for s in splits.values()),
                   "pieces_skipped": len(skipped_pieces),
                   "duplicates": len(duplicates),
                   "tokens": sum(s["tokens"] for s in splits.values()),
                   "notes": sum(s["notes"] for s in splits.values()),
                   "splits": splits},
        "skipped_files": skipped_files,
        "skipped_pieces": skipped_pieces,
        "duplicates": duplicates,
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest
