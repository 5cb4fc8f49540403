"""Training windows from a prepared corpus, read straight from memory-mapped shards.

The prepared-corpus layout (written by ``tunesmith prepare``, see `tunesmith.prepare`)::

    DIR/manifest.json        counts, configuration, skipped files, token_dtype, format_version
    DIR/tokenizer.json       the tokenizer (``Tokenizer.load``)
    DIR/<split>/shard-NNNNN.bin   token ids of whole pieces (BOS ... EOS) back to back,
                                  raw ``token_dtype`` (``np.memmap(path, dtype, mode="r")``)
    DIR/<split>/index.npy    one row per piece (``INDEX_DTYPE``): shard, offset and length
                             in tokens, bar_start and bar_count into bars.npy
    DIR/<split>/bars.npy     int64: offsets of each piece's Bar tokens, from the piece's start
    DIR/<split>/pieces.jsonl one JSON object per piece, in index order: path, piece (index
                             in its file), hash, title, key, meter, qpm, programs, drums,
                             notes, bars, tokens, seconds

for split in train, val, test. `TokenWindows` serves fixed-length windows that start at a
bar with the piece's header re-emitted, deterministic in (seed, step) so a resumed run
sees exactly the batches it would have seen.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import DataError
from .tokenizer import T, Tokenizer

__all__ = ["TokenWindows", "INDEX_DTYPE", "SPLITS"]

SPLITS = ("train", "val", "test")

INDEX_DTYPE = np.dtype([("shard", "i4"), ("offset", "i8"), ("length", "i8"),
                        ("bar_start", "i8"), ("bar_count", "i8")])
"""One row per piece of ``<split>/index.npy``: the shard number, the piece's first token
in that shard, its length in tokens, and where its Bar offsets lie in ``bars.npy``."""

MAX_INFILL_BARS = 8
"""Longest span of bars hidden in a bar-infilling window."""

TRACK_INFILL_SHARE = 0.25
"""Share of infilling windows (of pieces with several tracks) that hide a whole track
instead of a span of bars."""

_INFILL_SLACK = 4  # tokens the infilling rearrangement adds (FillHole, FillStart, FillEnd...)
_MIN_PACKED = 32  # the least room worth filling with another window when packing


class TokenWindows:
    """Random bar-aligned windows of one split of a prepared corpus.

    Every window is ``header_at(piece, bar) + piece[bar:]``, cut to ``context_length + 1``
    tokens and right-padded with ``pad_id``: the model always sees the meter, tempo, key
    and instruments in force. A piece is drawn with probability proportional to its
    length, and the start bar is the one holding a uniformly drawn token, moved earlier
    if needed so that the window is full where the piece allows.

    transpose: ``(lo, hi)`` semitones, inclusive: each window is moved by a uniform draw
        from that range (pitched tracks only, within each instrument's playable range;
        a draw that would leave it keeps the window as is). ``None``: never.
    infill_fraction: share of windows rearranged into the infilling formats
        (``Tokenizer.infill_bars`` on up to 8 bars, or ``infill_track``).
    pack: fill the room a piece leaves after its EOS with further windows (each from
        its own BOS and header, drawn the same way) instead of padding. Pieces of folk
        tunes and chorales are a few hundred tokens: unpacked, about half of a
        1024-token window is padding that costs compute and teaches nothing.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str = "train",
                 context_length: int = 1024, seed: int = 0,
                 transpose: tuple[int, int] | None = None, infill_fraction: float = 0.0,
                 pack: bool = False):
        self.data_dir = Path(data_dir)
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        if context_length < 2:
            raise DataError("context_length must be at least 2 tokens")
        self.split, self.context_length, self.seed = split, int(context_length), int(seed)
        self.transpose = None if transpose is None else (int(transpose[0]), int(transpose[1]))
        if self.transpose is not None and self.transpose[0] > self.transpose[1]:
            raise DataError(f"transpose range {transpose} is empty (give (lo, hi), lo <= hi)")
        self.infill_fraction = float(infill_fraction)
        self.pack = bool(pack)

        manifest_path = self.data_dir / "manifest.json"
        try:
            self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DataError("is not a prepared corpus (no readable manifest.json; "
                            "make one with `tunesmith prepare`)", self.data_dir) from None
        if self.manifest.get("format_version") != 1:
            raise DataError(f"prepared-corpus format {self.manifest.get('format_version')} "
                            "is not supported (expected 1)", manifest_path)
        self.tokenizer = Tokenizer.load(self.data_dir / "tokenizer.json")
        self.dtype = np.dtype(self.manifest["token_dtype"])
        folder = self.data_dir / split
        try:
            self.index = np.load(folder / "index.npy")
            self.bars = np.load(folder / "bars.npy")
        except OSError as exc:
            raise DataError(f"split {split!r} is incomplete ({exc})", self.data_dir) from None
        if self.index.dtype != INDEX_DTYPE:
            raise DataError(f"{split}/index.npy has an unexpected layout", self.data_dir)
        if len(self.index) == 0:
            raise DataError(f"split {split!r} holds no pieces", self.data_dir)
        self.num_pieces = len(self.index)
        self.num_tokens = int(self.index["length"].sum())
        self._piece_ends = np.cumsum(self.index["length"])
        self._shards: dict[int, np.memmap] = {}

    def __repr__(self) -> str:
        return (f"TokenWindows({str(self.data_dir)!r}, {self.split}, {self.num_pieces} pieces, "
                f"{self.num_tokens} tokens, context {self.context_length})")

    # --- reading pieces ----------------------------------------------------------------
    def piece(self, i: int, stop: int | None = None) -> np.ndarray:
        """Token ids (int64) of piece ``i`` of the split, BOS ... EOS (or its first
        ``stop`` tokens)."""
        row = self.index[i]
        shard = int(row["shard"])
        if shard not in self._shards:
            path = self.data_dir / self.split / f"shard-{shard:05d}.bin"
            try:
                self._shards[shard] = np.memmap(path, dtype=self.dtype, mode="r")
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot map shard ({exc})", path) from None
        start = int(row["offset"])
        length = int(row["length"]) if stop is None else min(int(stop), int(row["length"]))
        return np.asarray(self._shards[shard][start:start + length], dtype=np.int64)

    def piece_bars(self, i: int) -> np.ndarray:
        """Offsets of piece ``i``'s Bar tokens (from the piece's first token)."""
        row = self.index[i]
        return self.bars[row["bar_start"]:row["bar_start"] + row["bar_count"]]

    def window(self, i: int, bar: int, budget: int | None = None) -> np.ndarray:
        """Header + piece ``i`` from its bar number ``bar`` (0-based), at most ``budget``
        tokens (default ``context_length + 1``), unpadded."""
        return self._window(i, bar, budget)[0]

    def _window(self, i: int, bar: int, budget: int | None = None) -> tuple[np.ndarray, int]:
        """`window` and the number of piece tokens it holds after the header."""
        budget = self.context_length + 1 if budget is None else budget
        start = int(self.piece_bars(i)[bar])
        ids = self.piece(i, stop=start + budget)  # the header needs only what precedes
        header = self.tokenizer.header_at(ids, start)
        body = ids[start:start + max(0, budget - len(header))]
        return np.concatenate([header, body])[:budget], min(len(body), budget - len(header))

    # --- training batches --------------------------------------------------------------
    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
        """``(batch_size, context_length + 1)`` int64 windows for this rank at ``step``.

        The same (seed, step, rank, world_size) always gives the same batch; the ranks of
        one step share one draw of ``batch_size * world_size`` windows and take disjoint
        slices of it."""
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is not in 0..{world_size - 1}")
        total = batch_size * world_size
        rng = np.random.default_rng([self.seed, int(step)])
        positions = rng.integers(0, self.num_tokens, size=total)
        if self.transpose is None:
            shifts = np.zeros(total, dtype=np.int64)
        else:
            shifts = rng.integers(self.transpose[0], self.transpose[1] + 1, size=total)
        infill = rng.random(total) < self.infill_fraction
        choices = rng.random((total, 3))  # the infilling's own draws
        budget = self.context_length + 1
        out = np.full((batch_size, budget), self.tokenizer.pad_id, dtype=np.int64)
        for row, k in enumerate(range(rank * batch_size, (rank + 1) * batch_size)):
            ids = self._sample(int(positions[k]), int(shifts[k]), bool(infill[k]), choices[k], budget)
            if self.pack:
                ids = self._fill(ids, np.random.default_rng([self.seed, int(step), k, 1]))
            out[row, :len(ids)] = ids
        return out

    def _fill(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``ids`` followed by further windows, drawn as `batch` draws its own, until the
        window is full (a window too short to hold a header and a bar is not added)."""
        budget = self.context_length + 1
        eos, fill_end = self.tokenizer.eos_id, self.tokenizer.vocab.id(T.FILL_END)
        parts, used = [ids], len(ids)
        while budget - used >= _MIN_PACKED:
            if parts[-1][-1] == fill_end:  # an infilled window of a cut piece: end it
                parts[-1] = np.append(parts[-1], eos)
                used += 1
            position = int(rng.integers(0, self.num_tokens))
            shift = 0 if self.transpose is None else int(rng.integers(self.transpose[0],
                                                                      self.transpose[1] + 1))
            infill = bool(rng.random() < self.infill_fraction)
            parts.append(self._sample(position, shift, infill, rng.random(3), budget - used))
            used += len(parts[-1])
        return np.concatenate(parts)[:budget]

    def _sample(self, position: int, shift: int, infill: bool, choices: np.ndarray,
                budget: int) -> np.ndarray:
        """A window of at most ``budget`` tokens from the piece holding token ``position``."""
        i = int(np.searchsorted(self._piece_ends, position, side="right"))
        within = position - (int(self._piece_ends[i]) - int(self.index["length"][i]))
        bars = self.piece_bars(i)
        length = int(self.index["length"][i])
        bar = max(0, int(np.searchsorted(bars, within, side="right")) - 1)
        # the latest bar from which the rest of the piece still fills the window
        full = int(np.searchsorted(bars, length - (budget - 1), side="right")) - 1
        bar = min(bar, max(0, full))
        ids = self.window(i, bar, budget - _INFILL_SLACK if infill else budget)
        if shift:
            moved = self.tokenizer.transpose(ids, shift)
            ids = ids if moved is None else moved
        if infill:
            ids = self._infill(ids, choices, budget)[:budget]
        return ids

    def _infill(self, ids: np.ndarray, choices: np.ndarray, budget: int) -> np.ndarray:
        """Rearrange a window into an infilling format; complete bars only (a window cut
        inside its last bar drops that bar). A window of fewer than two bars stays."""
        tok = self.tokenizer
        bars = tok.bar_offsets(ids)
        if (ids == tok.eos_id).any():
            complete = ids
        else:  # drop the bar the cut fell into
            complete = ids[:bars[-1]] if len(bars) > 1 else ids
        n_bars = len(tok.bar_offsets(complete))
        if n_bars < 2:
            return ids
        slots = sorted(tok.slot_programs(complete))
        if len(slots) > 1 and choices[0] < TRACK_INFILL_SHARE:
            slot = slots[int(choices[1] * len(slots))]
            rearranged = tok.infill_track(complete, slot)
            # a track rearrangement may grow: keep it only if it fits
            if len(rearranged) <= budget:
                return rearranged
        first = int(choices[1] * n_bars)
        span = 1 + int(choices[2] * min(MAX_INFILL_BARS, n_bars - first))
        return tok.infill_bars(complete, first, first + span - 1)

    # --- evaluation ----------------------------------------------------------------------
    def eval_windows(self) -> Iterator[np.ndarray]:
        """Every window of the split once, in order: each piece from its first bar, the
        next window starting at the last bar the previous one reached (so consecutive
        windows overlap by less than a bar). No augmentation."""
        budget = self.context_length + 1
        for i in range(self.num_pieces):
            bars = self.piece_bars(i)
            length = int(self.index["length"][i])
            bar = 0
            while True:
                ids, covered = self._window(i, bar, budget)
                yield ids
                reached = int(bars[bar]) + covered
                if reached >= length:
                    break
                following = int(np.searchsorted(bars, reached, side="right")) - 1
                bar = following if following > bar else bar + 1
                if bar >= len(bars):
                    break

    def iter_eval(self, batch_size: int) -> Iterator[np.ndarray]:
        """`eval_windows` in ``(batch_size, context_length + 1)`` batches; the last batch
        is filled up with all-pad rows (which carry no loss)."""
        rows = []
        for ids in self.eval_windows():
            rows.append(ids)
            if len(rows) == batch_size:
                yield self._stack(rows, batch_size)
                rows = []
        if rows:
            yield self._stack(rows, batch_size)

    def _stack(self, rows: list[np.ndarray], batch_size: int) -> np.ndarray:
        out = np.full((batch_size, self.context_length + 1), self.tokenizer.pad_id, dtype=np.int64)
        for r, ids in enumerate(rows):
            out[r, :len(ids)] = ids
        return out
