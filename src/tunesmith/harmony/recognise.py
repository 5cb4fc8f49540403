"""Chord recognition: name the chords of any Score, one chord per beat (or half bar, or bar).

The method, all vectorised over notes and windows (no Python loop per note):

1. **Profiles.** For each window between two grid times (beats), every note adds its
   overlap with the window (in the grid's time unit), times its velocity, to its pitch
   class: a 12-bin pitch-class profile. A second profile holds only the window's lowest
   sounding notes (the bass), since the bass names the root or the inversion.
2. **Templates.** Each candidate chord (12 roots x `CANDIDATES`) scores its chord tones'
   share of the profile, minus the share of the tones outside it, plus a bonus when the
   bass is its root (or, smaller, another chord tone); a small prior per quality keeps
   triads unless a seventh is really there. Windows with no notes are N.C.
3. **Smoothing.** Viterbi over the windows picks the best chord sequence with a penalty
   for each change, lower at downbeats and half bars, where chords usually change: so
   one passing note does not make a chord, and chords are segmented at their changes
   rather than cut into fixed windows.

`recognise_score` works on a Score's meter grid (ticks); `recognise_notes` on any note
arrays and window boundaries in one time unit (seconds in the POP909 benchmark).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RequestError
from .symbols import NO_CHORD, QUALITY_INTERVALS, Chord

CANDIDATES = ("maj", "min", "7", "maj7", "min7", "dim", "aug", "sus4", "hdim7")
"""Qualities the recogniser may name (sevenths reduce to major/minor for MIREX)."""

QUALITY_PRIOR = {"maj": 0.0, "min": 0.0, "7": -0.06, "maj7": -0.06, "min7": -0.06,
                 "dim": -0.12, "aug": -0.2, "sus4": -0.14, "hdim7": -0.12}
"""Score added to each quality (profile shares, 0-1): rarer qualities must earn it."""


@dataclass
class Params:
    """Recogniser weights (tuned on POP909 songs 001-050; see scripts/bench_chords.py)."""

    outside: float = 0.2
    """Penalty per unit share of the profile outside the chord's tones."""
    root_weight: float = 1.1
    """Weight of the root in a template (the other chord tones weigh 1)."""
    bass_root: float = 0.25
    """Bonus when the window's bass profile sits on the chord's root (share 0-1)."""
    bass_tone: float = 0.1
    """Bonus per share of the bass on the chord's other tones."""
    switch: float = 0.4
    """Viterbi penalty for a chord change on a weak beat."""
    switch_strong: float = 0.15
    """Penalty for a change on a half bar."""
    switch_downbeat: float = 0.0
    """Penalty for a change on a downbeat."""
    bass_span: int = 2
    """Notes up to this many semitones above a window's lowest note count as bass."""


def _templates(params: Params) -> tuple[np.ndarray, list[Chord], np.ndarray]:
    """(K, 12) chord-tone weights, the K chords, the (K,) quality priors."""
    weights, chords, priors = [], [], []
    for quality in CANDIDATES:
        intervals = QUALITY_INTERVALS[quality]
        for root in range(12):
            row = np.zeros(12)
            row[[(root + i) % 12 for i in intervals]] = 1.0
            row[root] = params.root_weight
            weights.append(row)
            chords.append(Chord(root, quality))
            priors.append(QUALITY_PRIOR[quality])
    return np.array(weights), chords, np.array(priors)


MAX_NOTE_WINDOWS = 5_000_000
"""Most (note, window) overlaps one piece may make (a POP909 song makes about 5,000):
each takes a few dozen bytes while profiles are built."""


def window_profiles(onsets, offsets, pitches, weights, bounds, bass_span: int = 2
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(W, 12) pitch-class profiles and (W, 12) bass profiles of the W windows between
    ``bounds`` (sorted times, W + 1 of them, same unit as onsets/offsets): each note adds
    ``weight x overlap`` to its pitch class in every window it sounds in; the bass profile
    counts only notes within ``bass_span`` semitones of the window's lowest note."""
    onsets = np.asarray(onsets, np.float64)
    offsets = np.asarray(offsets, np.float64)
    pitches = np.asarray(pitches, np.int64)
    bounds = np.asarray(bounds, np.float64)
    n_windows = len(bounds) - 1
    first = np.clip(np.searchsorted(bounds, onsets, "right") - 1, 0, n_windows)
    last = np.clip(np.searchsorted(bounds, offsets, "left"), 0, n_windows)
    counts = np.maximum(last - first, 0)
    if counts.sum() > MAX_NOTE_WINDOWS:
        raise RequestError(f"too many held notes to name chords in: {int(counts.sum()):,} "
                           f"note-windows (at most {MAX_NOTE_WINDOWS:,})")
    note = np.repeat(np.arange(len(onsets)), counts)
    starts = np.cumsum(counts) - counts
    window = first[note] + np.arange(len(note)) - np.repeat(starts, counts)
    overlap = (np.minimum(offsets[note], bounds[window + 1])
               - np.maximum(onsets[note], bounds[window]))
    keep = overlap > 0
    note, window, overlap = note[keep], window[keep], overlap[keep]
    mass = overlap * np.asarray(weights, np.float64)[note]
    pc = pitches[note] % 12
    profiles = np.bincount(window * 12 + pc, mass, n_windows * 12).reshape(n_windows, 12)
    lowest = np.full(n_windows, 1 << 20)
    np.minimum.at(lowest, window, pitches[note])
    low = pitches[note] <= lowest[window] + bass_span
    bass = np.bincount(window[low] * 12 + pc[low], mass[low],
                       n_windows * 12).reshape(n_windows, 12)
    return profiles, bass


def _viterbi(scores: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Best path through (W, K) scores, paying ``penalty[w]`` to change state at w."""
    n_windows, n_states = scores.shape
    back = np.zeros((n_windows, n_states), dtype=np.int32)
    total = scores[0].copy()
    for w in range(1, n_windows):  # one step per window, vectorised over states
        best = int(np.argmax(total))
        switch = total[best] - penalty[w]
        stay = total >= switch
        back[w] = np.where(stay, np.arange(n_states), best)
        total = np.where(stay, total, switch) + scores[w]
    path = np.zeros(n_windows, dtype=np.int64)
    path[-1] = int(np.argmax(total))
    for w in range(n_windows - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    return path


def recognise_notes(onsets, offsets, pitches, weights, bounds, strength=None,
                    params: Params | None = None, melody=None) -> list[Chord]:
    """One Chord per window between ``bounds`` (times in the notes' unit). ``strength``
    per window start: 2 a downbeat, 1 a half bar, 0 another beat (changes are cheaper
    on strong beats). Notes flagged in the boolean ``melody`` count only in windows
    where nothing else sounds (see `melody_tracks`). Windows with no sounding note are
    `NO_CHORD`."""
    params = params or Params()
    n_windows = len(bounds) - 1
    if n_windows <= 0:
        return []
    profiles, bass = window_profiles(onsets, offsets, pitches, weights, bounds,
                                     params.bass_span)
    if melody is not None and np.any(melody):
        keep = ~np.asarray(melody, dtype=bool)
        accompaniment = window_profiles(*(np.asarray(a)[keep] for a in
                                          (onsets, offsets, pitches, weights)),
                                        bounds, params.bass_span)
        covered = accompaniment[0].sum(axis=1) > 0
        profiles[covered], bass[covered] = accompaniment[0][covered], accompaniment[1][covered]
    total = profiles.sum(axis=1)
    share = profiles / np.maximum(total, 1e-12)[:, None]
    bass_share = bass / np.maximum(bass.sum(axis=1), 1e-12)[:, None]
    weights_k, chords, priors = _templates(params)
    member = weights_k > 0
    inside = share @ weights_k.T
    outside = share @ (~member).T.astype(np.float64)
    roots = np.array([c.root for c in chords])
    bass_on_root = bass_share[:, roots]
    bass_on_tones = bass_share @ member.T.astype(np.float64) - bass_on_root
    scores = (inside - params.outside * outside + params.bass_root * bass_on_root
              + params.bass_tone * bass_on_tones + priors)
    silent = total <= 0
    scores = np.concatenate([scores, np.where(silent, 10.0, -10.0)[:, None]], axis=1)
    scores[silent, :-1] = -10.0
    strength = np.zeros(n_windows) if strength is None else np.asarray(strength)
    penalty = np.select([strength >= 2, strength >= 1],
                        [params.switch_downbeat, params.switch_strong], params.switch)
    path = _viterbi(scores, penalty)
    return [NO_CHORD if k == len(chords) else _with_bass(chords[k], bass_share[w])
            for w, k in enumerate(path.tolist())]


def melody_tracks(tracks) -> list[bool]:
    """Which tracks are melodies over an accompaniment: a mostly single-note line (under
    15% of its notes struck together with another) with a median pitch of C4 (60) or
    above, in a score where some other track plays chords (30% or more). Their passing
    and neighbour notes would blur the harmony, so the recogniser leaves them out
    wherever the accompaniment sounds."""
    chordal, high = [], []
    for track in tracks:
        onsets = track.notes["onset"]
        if len(onsets) == 0 or track.is_drum:
            chordal.append(0.0)
            high.append(False)
            continue
        _, counts = np.unique(onsets, return_counts=True)
        chordal.append(float(counts[counts > 1].sum()) / len(onsets))
        high.append(bool(np.median(track.notes["pitch"]) >= 60))
    if not any(c >= 0.3 for c in chordal):
        return [False] * len(chordal)
    return [c < 0.15 and h for c, h in zip(chordal, high)]


def _with_bass(chord: Chord, bass_share: np.ndarray) -> Chord:
    """The chord inverted over its window's strongest bass tone, if that is a chord tone."""
    bass = int(np.argmax(bass_share))
    if bass_share[bass] > 0.5 and bass in chord.tones():
        return Chord(chord.root, chord.quality, bass)
    return chord


def merge_runs(times, chords: list[Chord]) -> list[tuple[float, float, Chord]]:
    """(start, end, chord) segments: consecutive windows with one chord merged.
    ``times`` holds len(chords) + 1 window boundaries."""
    segments: list[tuple[float, float, Chord]] = []
    for i, chord in enumerate(chords):
        if segments and segments[-1][2] == chord:
            segments[-1] = (segments[-1][0], float(times[i + 1]), chord)
        else:
            segments.append((float(times[i]), float(times[i + 1]), chord))
    return segments


PER = ("beat", "half", "bar")
"""Recognition grids: a chord per beat, per half bar or per bar at most."""

MAX_WINDOWS = 200_000
"""Most grid windows recognised in one piece (about 28 hours of 4/4 at 120 qpm per
beat): a damaged file's endless note would otherwise ask for millions."""


def meter_grid(score, per: str = "beat", end_tick: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(window boundaries in ticks, strength per window) on the score's meter map, up to
    ``end_tick`` (default: where the last note ends). A beat is the denominator's note,
    or a dotted quarter in 6/8, 9/8 and 12/8; strength is 2 at a bar start, 1 at a half
    bar (even beat counts only), 0 elsewhere."""
    if per not in PER:
        raise RequestError(f"unknown chord grid {per!r}: use one of {', '.join(PER)}")
    end = score.end_tick() if end_tick is None else int(end_tick)
    meters = score.meter_map()
    times, strengths, count = [], [], 0
    tpq = score.ticks_per_quarter
    for i, (tick, num, den) in enumerate(meters.tolist()):
        stop = int(meters["tick"][i + 1]) if i + 1 < len(meters) else max(end, tick + 1)
        bar = max(1, num * tpq * 4 // den)
        compound = den == 8 and num % 3 == 0 and num > 3
        beats = num // 3 if compound else num
        beat = max(1, bar // beats)
        step = {"beat": beat, "half": bar // 2 if beats % 2 == 0 else bar, "bar": bar}[per]
        count += -(-(stop - tick) // step)
        if count > MAX_WINDOWS:
            raise RequestError(f"too long to name chords in: more than {MAX_WINDOWS:,} "
                               f"{per}s (the last note ends at tick {end:,})")
        ticks = np.arange(tick, stop, step, dtype=np.int64)
        position = (ticks - tick) % bar
        half = (beats % 2 == 0) & (position * 2 == bar)
        strengths.append(np.where(position == 0, 2, np.where(half, 1, 0)))
        times.append(ticks)
    times_all = np.concatenate(times) if times else np.zeros(1, np.int64)
    last = times_all[-1] + (times_all[-1] - times_all[-2] if len(times_all) > 1 else tpq)
    return np.append(times_all, max(last, end)), np.concatenate(strengths)


def recognise_score(score, per: str = "beat", params: Params | None = None
                    ) -> list[tuple[int, int, Chord]]:
    """(start tick, end tick, chord) segments of a Score's recognised chords, at most one
    chord per ``per`` (beat, half or bar) on its meter grid; drums are ignored."""
    bounds, strength = meter_grid(score, per)
    tracks = [t for t in score.tracks if not t.is_drum]
    flags = melody_tracks(tracks)
    notes = np.concatenate([t.notes for t in tracks]) if tracks else None
    if notes is None or len(notes) == 0:
        return []
    melody = np.repeat(np.array(flags, dtype=bool), [len(t.notes) for t in tracks])
    chords = recognise_notes(notes["onset"], notes["onset"] + notes["duration"],
                             notes["pitch"], notes["velocity"].astype(np.float64),
                             bounds.astype(np.float64), strength, params, melody)
    return [(int(a), int(b), c) for a, b, c in merge_runs(bounds, chords)]


def recognised_table(score, per: str = "beat") -> np.ndarray:
    """A ``score.CHORD_DTYPE`` table of the recognised chords (for ``score.chords``)."""
    from ..score import CHORD_DTYPE
    from .symbols import chord_table

    segments = recognise_score(score, per)
    return chord_table([s for s, _, _ in segments], [c for _, _, c in segments], CHORD_DTYPE)
