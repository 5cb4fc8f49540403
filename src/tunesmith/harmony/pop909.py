"""POP909's chord and beat labels (``chord_midi.txt``, ``beat_midi.txt``) as arrays and chords.

POP909 (Wang et al., ISMIR 2020) gives each song ``NNN/NNN.mid`` and, in seconds of that
MIDI file's timeline, its chords (``start end label``, Harte labels such as ``G:7(b9)/3``)
and its beats (``time strong downbeat``: 1/0 flags, ``strong`` on beats 1 and 3 of 4/4).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ReadError, TunesmithError
from .symbols import Chord, parse_harte


def _rows(path: Path, columns: int) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(getattr(exc, "strerror", None) or str(exc), path) from None
    rows = [line.split() for line in text.splitlines() if line.strip()]
    for number, row in enumerate(rows, 1):
        if len(row) != columns:
            raise ReadError(f"line {number}: expected {columns} columns, got {len(row)}", path)
    return rows


def read_chord_labels(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(starts, ends, labels) of a ``chord_midi.txt``: seconds, seconds, Harte labels."""
    path = Path(path)
    rows = _rows(path, 3)
    try:
        starts = np.array([float(r[0]) for r in rows])
        ends = np.array([float(r[1]) for r in rows])
    except ValueError as exc:
        raise ReadError(f"bad time: {exc}", path) from None
    return starts, ends, [r[2] for r in rows]


def read_chords(path: str | os.PathLike) -> list[tuple[float, float, Chord]]:
    """(start s, end s, Chord) of a ``chord_midi.txt``; labels outside the vocabulary
    fall back to their shorthand's quality (``parse_harte(strict=False)``)."""
    starts, ends, labels = read_chord_labels(path)
    try:
        chords = [parse_harte(label, strict=False) for label in labels]
    except TunesmithError as exc:
        raise ReadError(exc.reason, path) from None
    return list(zip(starts.tolist(), ends.tolist(), chords))


def read_beats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, strength) of a ``beat_midi.txt``: strength 2 on a downbeat,
    1 on another strong beat (the half bar), 0 elsewhere."""
    path = Path(path)
    rows = _rows(path, 3)
    try:
        table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    except ValueError as exc:
        raise ReadError(f"bad number: {exc}", path) from None
    strength = np.where(table[:, 2] > 0, 2, np.where(table[:, 1] > 0, 1, 0))
    return table[:, 0], strength


def add_chords(score, path: str | os.PathLike) -> None:
    """Fill ``score.chords`` from a ``chord_midi.txt`` (times mapped through the score's
    tempo map to ticks); consecutive equal labels are kept as one change."""
    from ..score import CHORD_DTYPE
    from .symbols import chord_table

    rows = read_chords(path)
    ticks = seconds_to_ticks(score, [start for start, _, _ in rows])
    chords = [chord for _, _, chord in rows]
    keep = [i for i in range(len(chords)) if i == 0 or chords[i] != chords[i - 1]]
    score.chords = chord_table(ticks[keep], [chords[i] for i in keep], CHORD_DTYPE)


def seconds_to_ticks(score, seconds) -> np.ndarray:
    """Ticks (rounded) at the given seconds under the score's tempo map."""
    tempos = score.tempo_map()
    change_seconds = score.ticks_to_seconds(tempos["tick"])
    seconds = np.asarray(seconds, dtype=np.float64)
    idx = np.clip(np.searchsorted(change_seconds, seconds, "right") - 1, 0, len(tempos) - 1)
    ticks_per_second = tempos["qpm"][idx] * score.ticks_per_quarter / 60.0
    return np.rint(tempos["tick"][idx] + (seconds - change_seconds[idx]) * ticks_per_second
                   ).astype(np.int64)
