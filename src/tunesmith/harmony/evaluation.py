"""MIREX "majmin" chord accuracy, sampled at frames (10 a second by default).

At each frame time the reference label and the estimate are compared as mir_eval's
``majmin`` does: both are reduced to their root and the semitones 0-7 above it of their
tones (the bass included), so sevenths, sixths and inversions over chord tones keep a
chord major or minor. A reference frame counts only if it is major ({0, 4, 7}), minor
({0, 3, 7}) or no chord; the rest (sus, dim, aug, add9, 9ths: a 2nd or 4th or altered
5th below semitone 8) are left out, as MIREX does. An estimate is right when its root
and reduced set equal the reference's (N only matches N). Times outside every
reference label are not scored; an estimate's gaps count as N.

Checked against mir_eval 0.8.2 (``mir_eval.chord.majmin``, duration-weighted over merged
intervals): on POP909 songs 051-150 both give 0.9393 / 0.9392 for the same estimates.
"""
from __future__ import annotations

import numpy as np

from .symbols import harte_tones

_MAJ, _MIN = frozenset({0, 4, 7}), frozenset({0, 3, 7})


def _reduce(label: str) -> tuple[int, frozenset[int]]:
    root, tones, _ = harte_tones(label)
    return root, frozenset(t for t in tones if t < 8)


def _labels_at(times: np.ndarray, starts, ends, labels) -> list[str]:
    starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
    idx = np.searchsorted(starts, times, "right") - 1
    inside = (idx >= 0) & (times < ends[np.clip(idx, 0, None)])
    return [labels[i] if ok else "N" for i, ok in zip(idx.tolist(), inside.tolist())]


def majmin_frames(ref_starts, ref_ends, ref_labels, est_starts, est_ends, est_labels,
                  fps: float = 10.0) -> tuple[int, int]:
    """(frames right, frames scored) of an estimate against a reference; times in
    seconds, labels in Harte notation. Frames are at k / fps seconds."""
    if len(ref_labels) == 0:
        return 0, 0
    order = np.argsort(ref_starts, kind="stable")
    ref_starts = np.asarray(ref_starts, np.float64)[order]
    ref_ends = np.asarray(ref_ends, np.float64)[order]
    ref_labels = [ref_labels[i] for i in order]
    first, last = ref_starts.min(), np.max(ref_ends)
    times = np.arange(np.ceil(first * fps), np.ceil(last * fps)) / fps
    ref = _labels_at(times, ref_starts, ref_ends, ref_labels)
    est = _labels_at(times, est_starts, est_ends, list(est_labels))
    cache: dict[str, tuple[int, frozenset[int]]] = {}
    right = scored = 0
    for r, e in zip(ref, est):
        ref_red = cache.get(r) or cache.setdefault(r, _reduce(r))
        if ref_red[0] >= 0 and ref_red[1] not in (_MAJ, _MIN):
            continue
        scored += 1
        right += ref_red == (cache.get(e) or cache.setdefault(e, _reduce(e)))
    return right, scored
