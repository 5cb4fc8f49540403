"""Objective metrics of symbolic music, and the set comparison of Yang and Lerch (2018).

`piece_metrics` measures one `Score`; `compare_sets` compares two sets of such
measurements (a reference corpus and generated drafts) the way Yang and Lerch propose
in "On the evaluation of generative models in music" (Neural Computing and
Applications, 2018): for each metric, the distances between pieces *within* each set
(intra-set) and *across* the sets (inter-set) are smoothed into densities with a
Gaussian kernel; if the drafts are like the reference, a draft is as far from a
reference piece as two reference pieces are from each other, and the densities
overlap. The overlapping area (OA, 0-1, higher is closer) and the Kullback-Leibler
divergence (nats, lower is closer) measure it.

Metric definitions (as in MusPy and Yang and Lerch, with our choices stated). Pitch
metrics use pitched tracks only (a drum "pitch" names an instrument); rhythm metrics
use every note. Times are measured on a grid of `GRID` steps per quarter note, so a
metric never depends on the file's ticks per quarter or tempo.

- ``pitch_class_entropy``: entropy, in bits, of the histogram of pitch classes (0-log2 12).
- ``pitch_range``: highest minus lowest pitch, in semitones.
- ``pitch_count``: number of distinct MIDI pitches used.
- ``scale_consistency``: largest share of notes inside one diatonic scale (the 12 major
  scales, which are also the natural minor ones), 0-1.
- ``groove_consistency``: 1 - mean Hamming distance between the onset patterns of
  consecutive bars, each divided by the bar's length in grid steps; 0-1.
- ``empty_beat_rate``: share of beats (quarter notes) in which no note starts, 0-1.
- ``polyphony``: mean number of pitches sounding, over the grid steps where at least
  one sounds.
- ``note_density``: notes per quarter note, from the start to the end of the last note.
- ``inter_onset_interval``: mean time between consecutive distinct onsets, in quarters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..score import Score, concat_notes

GRID = 12
"""Grid steps per quarter note for the rhythm metrics (holds sixteenths and triplets)."""

METRICS = ("pitch_class_entropy", "pitch_range", "pitch_count", "scale_consistency",
           "groove_consistency", "empty_beat_rate", "polyphony", "note_density",
           "inter_onset_interval")
"""The metrics `piece_metrics` returns, in report order."""

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_SCALES = np.zeros((12, 12), dtype=bool)  # _SCALES[root, pitch class]: in that major scale
for _root in range(12):
    _SCALES[_root, (_root + _MAJOR) % 12] = True

MAX_DISTANCES = 20_000
"""Distances per density at most (drawn at random beyond that, with a fixed seed)."""


# --- one piece ----------------------------------------------------------------------------

def _on_grid(score: Score, notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and ends of ``notes`` in grid steps (a note lasts at least one step)."""
    scale = GRID / score.ticks_per_quarter
    onsets = np.rint(notes["onset"] * scale).astype(np.int64)
    lengths = np.maximum(1, np.rint(notes["duration"] * scale).astype(np.int64))
    return onsets, onsets + lengths


def piece_metrics(score: Score) -> dict[str, float]:
    """Every metric of `METRICS` for one piece; NaN where a metric is undefined (no
    pitched notes for the pitch metrics, fewer than two bars for the groove...)."""
    nan = float("nan")
    pitched = concat_notes(t.notes for t in score.tracks if not t.is_drum)
    every = concat_notes(t.notes for t in score.tracks)
    out = dict.fromkeys(METRICS, nan)
    if len(pitched):
        pitch = pitched["pitch"].astype(np.int64)
        histogram = np.bincount(pitch % 12, minlength=12) / len(pitch)
        used = histogram[histogram > 0]
        out["pitch_class_entropy"] = float(-(used * np.log2(used)).sum()) + 0.0
        out["pitch_range"] = float(pitch.max() - pitch.min())
        out["pitch_count"] = float(len(np.unique(pitch)))
        out["scale_consistency"] = float((_SCALES[:, pitch % 12].sum(axis=1)).max() / len(pitch))
        out["polyphony"] = _polyphony(score, pitched)
    if len(every):
        onsets, ends = _on_grid(score, every)
        length = int(ends.max())
        out["note_density"] = len(every) * GRID / length
        distinct = np.unique(onsets)
        if len(distinct) > 1:
            out["inter_onset_interval"] = float(np.diff(distinct).mean() / GRID)
        beats = -(-length // GRID)
        occupied = np.unique(onsets // GRID)
        out["empty_beat_rate"] = 1.0 - len(occupied) / beats
        out["groove_consistency"] = _groove_consistency(score, every)
    return out


def _polyphony(score: Score, notes: np.ndarray) -> float:
    """Mean count of distinct pitches sounding, over grid steps where one sounds."""
    onsets, ends = _on_grid(score, notes)
    # one (pitch, step) cell per sounding note; distinct cells, so a doubled pitch counts once
    pitch = notes["pitch"].astype(np.int64)
    lengths = ends - onsets
    steps = np.repeat(onsets, lengths) + (np.arange(lengths.sum())
                                          - np.repeat(np.cumsum(lengths) - lengths, lengths))
    cells = np.unique(np.repeat(pitch, lengths) * (int(ends.max()) + 1) + steps)
    sounding_steps = len(np.unique(cells % (int(ends.max()) + 1)))
    return len(cells) / sounding_steps


def _groove_consistency(score: Score, notes: np.ndarray) -> float:
    """1 - mean over consecutive bars of |onset positions in one bar but not the other|
    / bar length (grid steps; the longer bar's, where the meter changes)."""
    scale = GRID / score.ticks_per_quarter
    onsets, ends = _on_grid(score, notes)
    ticks = score.bar_starts()
    bar_starts = np.rint(ticks * scale).astype(np.int64)
    keep = bar_starts < ends.max()  # not the empty bar that starts where the music stops
    ticks, bar_starts = ticks[keep], bar_starts[keep]
    if len(bar_starts) < 2:
        return float("nan")
    meters = score.meter_map()
    _, numerator, denominator = meters[np.searchsorted(meters["tick"], ticks[-1], "right") - 1]
    last_length = max(1, round(int(numerator) * 4 * GRID / int(denominator)))
    bar_ends = np.append(bar_starts[1:], bar_starts[-1] + last_length)
    bar_lengths = bar_ends - bar_starts
    bar = np.searchsorted(bar_starts, onsets, side="right") - 1
    position = onsets - bar_starts[bar]
    width = int(bar_lengths.max()) + 1
    cells = np.unique(bar * width + position)  # distinct (bar, position) onsets
    per_bar = np.bincount(cells // width, minlength=len(bar_starts))
    # a position shared by bar b and bar b + 1
    shared_idx = np.searchsorted(cells, cells + width)
    found = cells[np.minimum(shared_idx, len(cells) - 1)]
    shared = (shared_idx < len(cells)) & (found == cells + width)
    shared_per_pair = np.bincount(cells[shared] // width, minlength=len(bar_starts))[:-1]
    hamming = per_bar[:-1] + per_bar[1:] - 2 * shared_per_pair
    pair_lengths = np.maximum(bar_lengths[:-1], bar_lengths[1:])
    return float(1.0 - (hamming / pair_lengths).mean())


def set_metrics(scores: Sequence[Score]) -> dict[str, np.ndarray]:
    """Each metric over a set of pieces: metric name -> array with one value per piece."""
    rows = [piece_metrics(score) for score in scores]
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in METRICS}


# --- two sets (Yang and Lerch) ---------------------------------------------------------

@dataclass
class Density:
    """A Gaussian kernel density estimate of a set of distances, sampled on a grid."""

    grid: np.ndarray
    values: np.ndarray


def intra_distances(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """|a_i - a_j| for every pair i < j, or for `MAX_DISTANCES` pairs drawn at random
    when there are more."""
    n = len(values)
    if n * (n - 1) // 2 <= MAX_DISTANCES:
        i, j = np.triu_indices(n, k=1)
    else:
        i = rng.integers(0, n, MAX_DISTANCES)
        j = (i + rng.integers(1, n, MAX_DISTANCES)) % n  # any other piece
    return np.abs(values[i] - values[j])


def inter_distances(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """|a_i - b_j| for every pair, or for `MAX_DISTANCES` pairs drawn at random."""
    if len(a) * len(b) <= MAX_DISTANCES:
        return np.abs(a[:, None] - b[None, :]).ravel()
    return np.abs(a[rng.integers(0, len(a), MAX_DISTANCES)]
                  - b[rng.integers(0, len(b), MAX_DISTANCES)])


def _bandwidth(samples: np.ndarray, floor: float) -> float:
    """Scott's rule, ``std * n^(-1/5)``, at least ``floor`` (a set of equal distances
    would otherwise give a kernel of width zero)."""
    std = float(samples.std(ddof=1)) if len(samples) > 1 else 0.0
    return max(std * len(samples) ** -0.2, floor)


def densities(samples: Sequence[np.ndarray], points: int = 512) -> list[Density]:
    """Kernel density estimates of several sets of distances on one shared grid from 0
    to three bandwidths past the largest distance. Distances are never negative, so
    each kernel is reflected at 0 (the mass a plain kernel would put below 0 stays
    above it, and each density integrates to 1 on the grid)."""
    pooled = np.concatenate(samples)
    floor = 0.01 * max(float(pooled.max()), 1e-9)
    widths = [_bandwidth(s, floor) for s in samples]
    grid = np.linspace(0.0, pooled.max() + 3 * max(widths), points)
    out = []
    for s, h in zip(samples, widths):
        values = np.zeros(points)
        for chunk in np.array_split(s, max(1, len(s) // 4096)):
            for mirrored in (chunk, -chunk):
                z = (grid[:, None] - mirrored[None, :]) / h
                values += np.exp(-0.5 * z * z).sum(axis=1)
        out.append(Density(grid, values / (len(s) * h * np.sqrt(2 * np.pi))))
    return out


def overlap_area(p: Density, q: Density) -> float:
    """Area under min(p, q): 1 for equal densities, 0 for disjoint ones."""
    return float(np.clip(np.trapezoid(np.minimum(p.values, q.values), p.grid), 0.0, 1.0))


def kl_divergence(p: Density, q: Density) -> float:
    """KL(p || q) in nats, integrated on the grid (densities floored at 1e-12)."""
    pv, qv = np.maximum(p.values, 1e-12), np.maximum(q.values, 1e-12)
    return float(max(np.trapezoid(pv * np.log(pv / qv), p.grid), 0.0))


def compare_sets(reference: dict[str, np.ndarray], generated: dict[str, np.ndarray],
                 seed: int = 0) -> dict:
    """Yang and Lerch's comparison of two `set_metrics` results, metric by metric.

    For each metric (pieces where it is undefined are left out): the mean and standard
    deviation of the values of each set and of the intra- and inter-set distances;
    ``oa_generated`` and ``kl_generated``: overlapping area and KL divergence
    KL(intra || inter) between the generated set's intra-set density and the inter-set
    density; ``oa_reference`` and ``kl_reference``: the same for the reference set.
    ``oa`` and ``kl``, the headline, are the mean of the two: both sets' own spread must
    look like the distance between them (a set that repeats one piece fails the first,
    one that wanders all over the place the second), and comparing A with B gives what
    B with A gives.
    Returns ``{"metrics": {name: {...}}, "mean_oa": ..., "mean_kl": ...}`` plus the
    densities under ``"_densities"`` (for plotting; not JSON).
    """
    rng = np.random.default_rng(seed)
    report, curves = {}, {}
    for name in METRICS:
        a = reference[name][np.isfinite(reference[name])]
        b = generated[name][np.isfinite(generated[name])]
        entry = {"reference_pieces": len(a), "generated_pieces": len(b),
                 "reference_mean": _round(a.mean()) if len(a) else None,
                 "reference_std": _round(a.std()) if len(a) else None,
                 "generated_mean": _round(b.mean()) if len(b) else None,
                 "generated_std": _round(b.std()) if len(b) else None}
        if len(a) < 2 or len(b) < 2:
            report[name] = {**entry, **dict.fromkeys(
                ("oa", "kl", "oa_generated", "kl_generated", "oa_reference", "kl_reference"))}
            continue
        intra_ref, intra_gen = intra_distances(a, rng), intra_distances(b, rng)
        inter = inter_distances(a, b, rng)
        for label, d in (("intra_reference", intra_ref), ("intra_generated", intra_gen),
                         ("inter", inter)):
            entry[f"{label}_mean"], entry[f"{label}_std"] = _round(d.mean()), _round(d.std())
        d_ref, d_gen, d_inter = densities([intra_ref, intra_gen, inter])
        own = {"generated": d_gen, "reference": d_ref}
        oa = {role: overlap_area(d, d_inter) for role, d in own.items()}
        kl = {role: kl_divergence(d, d_inter) for role, d in own.items()}
        entry["oa"] = _round(np.mean(list(oa.values())))
        entry["kl"] = _round(np.mean(list(kl.values())))
        for role in ("generated", "reference"):
            entry[f"oa_{role}"], entry[f"kl_{role}"] = _round(oa[role]), _round(kl[role])
        report[name] = entry
        curves[name] = {"intra_reference": d_ref, "intra_generated": d_gen, "inter": d_inter}
    scored = [r for r in report.values() if r["oa"] is not None]
    return {"metrics": report,
            "mean_oa": _round(np.mean([r["oa"] for r in scored])) if scored else None,
            "mean_kl": _round(np.mean([r["kl"] for r in scored])) if scored else None,
            "_densities": curves}


def _round(value: float) -> float:
    return round(float(value), 4)
