"""Long silences cut out of pieces before they are tokenized for training.

Real files hold minutes of empty bars (a part that enters late, a corrupt delta time, a
file of two notes an hour apart: 139,825 tokens, nearly all Bar tokens). A model learns
nothing from them and they crowd real music out of the windows, so `cap_silences` keeps
at most `MAX_EMPTY_BARS` empty bars in a row: whole bars are removed, so every later
event keeps its position in its bar and the meter stays aligned.
"""
from __future__ import annotations

import numpy as np

from ..score import Score

MAX_EMPTY_BARS = 2
"""Empty bars (no note sounding anywhere in them) kept in a row; more are removed."""


def empty_bar_spans(score: Score, keep: int = MAX_EMPTY_BARS) -> list[tuple[int, int]]:
    """(start tick, end tick) of each run of whole empty bars beyond the first ``keep``
    of its run, up to the last note. A note held over a barline keeps both bars."""
    starts = score.bar_starts()
    sounding = np.zeros(len(starts) + 1, dtype=np.int64)
    for track in score.tracks:
        notes = track.notes
        if not len(notes):
            continue
        first = np.searchsorted(starts, notes["onset"], side="right") - 1
        last = np.searchsorted(starts, notes["onset"] + np.maximum(notes["duration"], 1) - 1,
                               side="right") - 1
        np.add.at(sounding, np.maximum(first, 0), 1)
        np.add.at(sounding, last + 1, -1)
    empty = np.cumsum(sounding)[:-1] == 0
    spans, i = [], 0
    while i < len(empty):
        if not empty[i]:
            i += 1
            continue
        j = i
        while j < len(empty) and empty[j]:
            j += 1
        if j - i > keep and j < len(empty):  # a run before the last note only
            spans.append((int(starts[i + keep]), int(starts[j])))
        i = j
    return spans


def cap_silences(score: Score, keep: int = MAX_EMPTY_BARS) -> tuple[Score, int]:
    """A copy of ``score`` with at most ``keep`` empty bars in a row, and the number of
    bars removed. Events inside a removed span (a tempo or meter change in the silence)
    move to its start, so they still apply from the next bar on."""
    spans = empty_bar_spans(score, keep)
    if not spans:
        return score, 0
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    ends = np.array([b for _, b in spans], dtype=np.int64)
    removed_before = np.concatenate([[0], np.cumsum(ends - starts)])

    def remap(ticks):
        ticks = np.asarray(ticks, dtype=np.int64)
        k = np.searchsorted(ends, ticks, side="right")  # spans that end at or before
        inside = (k < len(starts)) & (ticks >= starts[np.minimum(k, len(starts) - 1)])
        clamped = np.where(inside, starts[np.minimum(k, len(starts) - 1)], ticks)
        return clamped - removed_before[k]

    out = score.copy()
    for track in out.tracks:
        track.notes["onset"] = remap(track.notes["onset"])
        for lyric in track.lyrics:
            lyric.tick = int(remap(lyric.tick))
    for name in ("tempos", "time_signatures", "key_signatures", "chords"):
        table = getattr(out, name)
        table["tick"] = remap(table["tick"])
    for marker in out.markers:
        marker.tick = int(remap(marker.tick))
    bars = len(score.bar_starts()) - len(out.bar_starts())
    return out, bars
