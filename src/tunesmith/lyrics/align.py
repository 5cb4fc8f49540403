"""Words set to notes that exist already: a melody file (``song --prompt``), or a verse
sung to the tune of another verse with a different number of syllables.

Each note either begins a syllable or continues the one before (a melisma). Dynamic
programming picks the assignment of least cost: a stressed syllable off a strong beat
costs by how weak the beat is (double for the primary stress of a long word), an
unstressed syllable on a strong beat costs 1, a melisma costs 1, and a line that does
not begin after a rest costs 1. With more syllables than notes, the longest notes are
split in halves first (on the grid) until there are as many.
"""
from __future__ import annotations

import numpy as np

from ..errors import RequestError
from .plan import Meter, metric_weight
from .syllables import PRIMARY, Syllable

MELISMA_COST = 1.0
"""Cost of holding a syllable over one more note."""


def split_to_fit(onsets: np.ndarray, durations: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Notes (grid units) with the longest split in halves until there are ``count``."""
    onsets, durations = list(map(int, onsets)), list(map(int, durations))
    while len(onsets) < count:
        i = max(range(len(onsets)), key=lambda k: durations[k])
        if durations[i] < 2:
            raise RequestError(f"{count} syllables cannot be set to {len(onsets)} notes this short")
        half = durations[i] // 2 if durations[i] % 2 == 0 else (durations[i] + 1) // 2
        onsets.insert(i + 1, onsets[i] + half)
        durations[i:i + 1] = [half, durations[i] - half]
    return np.asarray(onsets, dtype=np.int64), np.asarray(durations, dtype=np.int64)


def align(onsets: np.ndarray, durations: np.ndarray, syllables: list[Syllable], meter: Meter,
          line_starts: set[int] | None = None) -> np.ndarray:
    """For each note (``onsets`` in time order, grid units from bar 1's downbeat), the
    index of the syllable that begins on it, or -1 where the note continues the
    syllable before. Needs at least as many notes as syllables (see `split_to_fit`).
    ``line_starts``: indices of the syllables that begin a line."""
    n_notes, n_syl = len(onsets), len(syllables)
    if n_syl > n_notes:
        raise RequestError(f"{n_syl} syllables for {n_notes} notes: split notes first")
    weight = metric_weight(onsets, meter)
    ends = np.asarray(onsets) + np.asarray(durations)
    after_rest = np.concatenate([[True], np.asarray(onsets)[1:] > ends[:-1]])
    line_starts = line_starts or {0}
    start_cost = np.zeros((n_syl, n_notes))
    for s, syllable in enumerate(syllables):
        if syllable.stress == PRIMARY:
            start_cost[s] = (3 - weight) / 3 * (2 if syllable.word_syllables > 1 else 1)
        else:
            start_cost[s] = (weight >= 2).astype(float)
        if s in line_starts and s > 0:
            start_cost[s] += ~after_rest
    inf = float("inf")
    cost = np.full((n_syl + 1, n_notes + 1), inf)
    came_from_start = np.zeros((n_syl + 1, n_notes + 1), dtype=bool)
    cost[0, 0] = 0.0
    for j in range(1, n_notes + 1):
        for i in range(1, min(j, n_syl) + 1):
            begin = cost[i - 1, j - 1] + start_cost[i - 1, j - 1]
            hold = cost[i, j - 1] + MELISMA_COST
            came_from_start[i, j] = begin <= hold
            cost[i, j] = min(begin, hold)
    out = np.full(n_notes, -1, dtype=np.int64)
    i, j = n_syl, n_notes
    while j > 0:
        if came_from_start[i, j]:
            out[j - 1] = i - 1
            i -= 1
        j -= 1
    return out
