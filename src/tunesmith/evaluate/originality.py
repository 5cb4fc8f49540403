"""Does a draft copy its training corpus? An index of melodic n-grams answers quickly.

Every pitched track of every training piece is reduced to its melodic line (the highest
note at each onset) and written as *events*: (pitch interval to the next note, time to
the next onset in grid steps of 1/12 quarter). Events ignore the key and the tempo, so a
passage transposed or played faster is still found. Each run of `NGRAM` consecutive
events is hashed to 64 bits and stored with its piece and position; the index is three
numpy arrays sorted by hash, saved in an ``.npz``.

A draft is checked by looking up its own n-grams: matches that continue along one
training piece position by position form a shared run, and the longest run (measured
in the draft's bars) is reported with that piece's name. Runs shorter than
``NGRAM + 1`` notes are not seen, and count as zero.

    index = build_index_from_corpus("prepared/")           # or build_index_from_files
    index.save("originality.npz")
    check_originality(draft, OriginalityIndex.load("originality.npz"))
    # {'longest_notes': 33, 'longest_bars': 4.0, 'piece': 'oneill/1001.abc', ...}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..atomic import atomic_path
from ..errors import DataError
from ..score import Score

NGRAM = 6
"""Events per indexed n-gram (a run of 7 notes)."""

GRID = 12
"""Time steps per quarter note in which onsets are compared."""

FORMAT = "tunesmith-originality-index"
FORMAT_VERSION = 2  # 2: 32-bit hashes, smallest integer types, compressed names

MAX_MATCHES_PER_NGRAM = 5000
"""An n-gram found in more places than this (a repeated note, a plain scale) is only
followed in its first 5000 places: such patterns are no sign of copying."""

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd constant of Fibonacci hashing


def melodic_lines(score: Score) -> list[tuple[int, np.ndarray, np.ndarray, int]]:
    """``(track index, onsets, pitches, end)`` of the top line of each pitched track
    with two or more onsets: onsets in grid steps, the highest pitch starting at each distinct onset, and
    the step where the line's last note ends."""
    lines = []
    scale = GRID / score.ticks_per_quarter
    for number, track in enumerate(score.tracks):
        if track.is_drum or len(track.notes) < 2:
            continue
        onsets = np.rint(track.notes["onset"] * scale).astype(np.int64)
        ends = np.rint((track.notes["onset"] + track.notes["duration"]) * scale).astype(np.int64)
        pitches = track.notes["pitch"].astype(np.int64)
        order = np.lexsort((-pitches, onsets))  # by onset, highest pitch first
        onsets, pitches, ends = onsets[order], pitches[order], ends[order]
        first = np.append(True, onsets[1:] != onsets[:-1])
        if first.sum() >= 2:
            end = max(int(ends[first][-1]), int(onsets[-1]) + 1)
            lines.append((number, onsets[first], pitches[first], end))
    return lines


def _events(onsets: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """One uint64 code per step of a line: (interval, inter-onset time) packed."""
    interval = np.diff(pitches) + 128  # 1..255
    gap = np.minimum(np.diff(onsets), (1 << 24) - 1)
    return (interval.astype(np.uint64) << np.uint64(24)) | gap.astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finalizer (splitmix64's): nearby codes get unrelated hashes."""
    x = x.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def line_ngrams(score: Score, n: int = NGRAM) -> tuple[np.ndarray, np.ndarray, list]:
    """``(hashes, positions, lines)`` of every n-gram of every melodic line of ``score``.

    Positions count events through the lines laid end to end with a gap of ``n`` between
    lines, so consecutive positions are consecutive events of one line and no run can
    join two lines. ``lines`` holds ``(first position, times, track index)`` per line: ``times`` are
    the line's onsets followed by the end of its last note (grid steps).
    """
    hashes, positions, lines, start = [], [], [], 0
    for track, onsets, pitches, end in melodic_lines(score):
        codes = _mix(_events(onsets, pitches))
        count = len(codes) - n + 1
        if count > 0:
            h = np.zeros(count, dtype=np.uint64)
            with np.errstate(over="ignore"):
                for i in range(n):
                    h = h * _MIX + codes[i:i + count]
            hashes.append(_mix(h))
            positions.append(start + np.arange(count, dtype=np.int64))
        lines.append((start, np.append(onsets, end), track))
        start += len(codes) + n
    if not hashes:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), lines
    return np.concatenate(hashes), np.concatenate(positions), lines


@dataclass
class OriginalityIndex:
    """Hashed melodic n-grams of a corpus (see the module docstring).

    hashes: sorted n-gram hashes; pieces, positions: where each occurs (piece number,
    event position in that piece). names: each piece's name (file, ``#k`` for a later
    tune of a tunebook); titles: its title or ""; corpus: what the index was built from.
    """

    hashes: np.ndarray
    pieces: np.ndarray
    positions: np.ndarray
    names: list[str]
    titles: list[str]
    corpus: str
    ngram: int = NGRAM

    def __repr__(self) -> str:
        return (f"OriginalityIndex({self.corpus!r}, {len(self.names)} pieces, "
                f"{len(self.hashes)} {self.ngram}-grams)")

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the index as an ``.npz`` (no pickles), atomically."""
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "corpus": self.corpus,
                "ngram": self.ngram, "grid": GRID}
        with atomic_path(path, overwrite=overwrite) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, hashes=self.hashes, pieces=self.pieces, positions=self.positions,
                         names=np.array(self.names, dtype=str),
                         titles=np.array(self.titles, dtype=str),
                         meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "OriginalityIndex":
        """Read an index written by `save`; raises `DataError` naming the file otherwise."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
                    raise DataError(f"not a {FORMAT} (version {FORMAT_VERSION})", path)
                if meta.get("grid") != GRID:
                    raise DataError(f"built on a grid of {meta.get('grid')} steps per quarter, "
                                    f"not {GRID}", path)
                return cls(data["hashes"], data["pieces"], data["positions"],
                           data["names"].tolist(), data["titles"].tolist(), meta["corpus"],
                           int(meta["ngram"]))
        except FileNotFoundError:
            raise DataError("no such originality index", path) from None
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"not a readable originality index ({exc})", path) from None


def build_index(pieces: Iterable[tuple[str, str, Score]], corpus: str,
                n: int = NGRAM) -> OriginalityIndex:
    """Index ``(name, title, score)`` triples; ``corpus`` names what they came from."""
    hashes, owners, positions, names, titles = [], [], [], [], []
    for name, title, score in pieces:
        h, pos, _ = line_ngrams(score, n)
        if len(h):
            hashes.append(h)
            positions.append(pos)
            owners.append(np.full(len(h), len(names), dtype=np.uint32))
        names.append(name)
        titles.append(title)
    if not hashes:
        raise DataError("no melodic lines to index (no pitched track of two or more notes)",
                        corpus)
    hashes = _short_hash(np.concatenate(hashes))
    order = np.argsort(hashes, kind="stable")
    owners, positions = np.concatenate(owners)[order], np.concatenate(positions)[order]
    return OriginalityIndex(hashes[order], owners.astype(np.min_scalar_type(owners.max())),
                            positions.astype(np.min_scalar_type(positions.max())), names, titles,
                            corpus, n)


def _short_hash(hashes: np.ndarray) -> np.ndarray:
    """The top 32 bits of each 64-bit n-gram hash: halves the index that ships with a
    model. A chance collision matches one n-gram in about four billion, and a reported
    copy is a run of consecutive matches, which chance does not chain."""
    return (hashes >> np.uint64(32)).astype(np.uint32)


def build_index_from_corpus(data_dir: str | os.PathLike, split: str = "train",
                            progress: Callable | None = None) -> OriginalityIndex:
    """Index the ``split`` of a prepared corpus (decoded with its tokenizer); pieces are
    named by their source path in ``pieces.jsonl``."""
    from .sets import prepared_pieces

    items = prepared_pieces(data_dir, split)
    if progress is not None:
        items = progress(items)
    triples = ((name, record.get("title") or "", score) for name, score, record in items)
    return build_index(triples, corpus=f"{Path(data_dir).resolve().name}/{split}")


def build_index_from_files(source: str | os.PathLike, progress: Callable | None = None,
                           on_skip: Callable[[str, str], None] | None = None) -> OriginalityIndex:
    """Index every piece of the music files under a folder (unreadable files skipped)."""
    from .sets import load_set

    pieces = load_set(source, on_skip=on_skip, progress=progress)
    triples = ((name, score.metadata.get("title", ""), score)
               for name, score in zip(pieces.names, pieces.scores))
    return build_index(triples, corpus=Path(source).resolve().name)


def check_originality(score: Score, index: OriginalityIndex) -> dict:
    """The longest passage of ``score`` that follows a training piece note for note
    (intervals and onset times), in any transposition.

    Returns ``longest_bars`` (its length in the draft's bars, from its first onset to
    the onset after its last note), ``longest_notes``, ``piece`` and ``title`` (the
    training piece it shares), ``start_bar`` (where it begins in the draft, 0-based)
    and ``track`` (the index of the draft's track that holds it). All zero / None when no run of
    ``index.ngram + 1`` notes is shared.
    """
    none = {"longest_notes": 0, "longest_bars": 0.0, "piece": None, "title": None,
            "start_bar": None, "track": None}
    hashes, positions, lines = line_ngrams(score, index.ngram)
    hashes = _short_hash(hashes)
    if not len(hashes) or not len(index.hashes):
        return none
    lo = np.searchsorted(index.hashes, hashes, side="left")
    hi = np.minimum(np.searchsorted(index.hashes, hashes, side="right"),
                    lo + MAX_MATCHES_PER_NGRAM)
    counts = hi - lo
    if not counts.sum():
        return none
    # one row per (draft n-gram, place in the corpus)
    draft_pos = np.repeat(positions, counts)
    rows = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    piece = index.pieces[rows].astype(np.int64)
    diagonal = index.positions[rows].astype(np.int64) - draft_pos  # alignment of the two
    order = np.lexsort((draft_pos, diagonal, piece))
    piece, diagonal, draft_pos = piece[order], diagonal[order], draft_pos[order]
    continues = np.zeros(len(order), dtype=bool)
    continues[1:] = ((piece[1:] == piece[:-1]) & (diagonal[1:] == diagonal[:-1])
                     & (draft_pos[1:] == draft_pos[:-1] + 1))
    run_starts = np.flatnonzero(~continues)
    run_lengths = np.diff(np.append(run_starts, len(order)))  # in n-grams
    first_pos = draft_pos[run_starts]
    notes = run_lengths + index.ngram  # n-grams of n events: n + 1 notes, one more per step
    bars = _run_bars(score, lines, first_pos, notes)
    best = int(np.lexsort((-notes, -bars))[0])
    k = int(piece[run_starts[best]])
    line_starts = np.array([start for start, _, _ in lines])
    line = int(np.searchsorted(line_starts, first_pos[best], side="right") - 1)
    onset = lines[line][1][first_pos[best] - line_starts[line]]
    return {"longest_notes": int(notes[best]), "longest_bars": round(float(bars[best]), 2),
            "piece": index.names[k], "title": index.titles[k] or None,
            "start_bar": int(np.floor(_bar_position(score, np.array([onset]))[0])),
            "track": lines[line][2]}


def _bar_position(score: Score, onsets: np.ndarray) -> np.ndarray:
    """Fractional bar number (0-based) of grid onsets under the score's meter map."""
    scale = GRID / score.ticks_per_quarter
    until = int(np.ceil(onsets.max() / scale)) + 1 if len(onsets) else 0
    starts = np.unique(np.rint(score.bar_starts(until) * scale).astype(np.int64))
    meters = score.meter_map()
    last = meters[-1]
    ends = np.append(starts[1:], starts[-1] + max(1, round(
        int(last["numerator"]) * 4 * GRID / int(last["denominator"]))))
    bar = np.clip(np.searchsorted(starts, onsets, side="right") - 1, 0, len(starts) - 1)
    return bar + (onsets - starts[bar]) / (ends[bar] - starts[bar])


def _run_bars(score: Score, lines: list, first_pos: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """Length in bars of each run: from its first onset to the next onset after its last
    note (or that note's end), on the draft's bar grid."""
    line_starts = np.array([start for start, _, _ in lines])
    line = np.searchsorted(line_starts, first_pos, side="right") - 1
    begin = np.empty(len(first_pos), dtype=np.int64)
    end = np.empty(len(first_pos), dtype=np.int64)
    for i, (start, times, _) in enumerate(lines):
        mine = line == i
        if mine.any():
            local = first_pos[mine] - start
            begin[mine] = times[local]
            end[mine] = times[local + notes[mine]]  # the time after the run's last note
    positions = _bar_position(score, np.concatenate([begin, end]))
    return positions[len(begin):] - positions[:len(begin)]
