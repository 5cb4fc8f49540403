"""How drafts fit their chords and each other: chord-tone ratios and dissonant onsets.

Definitions (ticks of the Score; drums always left out):

- **Strong beat**: a bar's downbeat, the middle of a 4/4, 6/8 or 12/8 bar, and any tick
  where a chord starts. A note *on* a strong beat starts exactly there.
- **Chord-tone ratio**: the share of notes whose pitch class is a tone of the chord
  sounding at their onset (the chord table's last change at or before it; bars under
  N.C. or before the first chord are left out), on strong beats and over all notes.
- **Bass at changes**: of the notes of bass parts (GM 32-39, 43) that start where a
  chord starts, the share that play the chord's bass (root, or the slash note).
- **Dissonant onset**: a note of one part whose pitch forms a minor 2nd (or 9th), a
  tritone or a major 7th (1, 6 or 11 semitones, modulo the octave) with a note of
  *another* pitched part sounding at its onset (started at or before it and ending
  after it). Unisons, octaves, 2nds, 3rds, 4ths, 5ths, 6ths and minor 7ths are not.
  Counted per note of the part measured, over its notes.
"""
from __future__ import annotations

import numpy as np

from ..gm import BASS_PROGRAMS
from ..harmony import NO_CHORD, Chord
from ..harmony.symbols import table_chords
from ..score import Score

DISSONANT = (1, 6, 11)
"""Pitch-class intervals counted as dissonant onsets: m2 (m9), tritone, M7."""

BROAD = (1, 2, 6, 10, 11)
"""A broader count, every 2nd and 7th and the tritone (what random pitches of a
diatonic melody's own scale hit about a third of the time), reported beside it."""

STRONG_MIDDLE = {(4, 4), (6, 8), (12, 8)}


def _notes(score: Score, tracks):
    """(onset, end, pitch) of the tracks' notes, concatenated."""
    chosen = [score.tracks[i].notes for i in tracks if len(score.tracks[i].notes)]
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    notes = np.concatenate(chosen)
    on = notes["onset"].astype(np.int64)
    return on, on + notes["duration"].astype(np.int64), notes["pitch"].astype(np.int64)


def strong_ticks(score: Score, chord_ticks) -> set[int]:
    """Every strong-beat tick of a Score (see the module docstring)."""
    strong = {int(t) for t in chord_ticks}
    meters = score.meter_map()
    starts = score.bar_starts()
    for start in starts.tolist():
        at = max(int(np.searchsorted(meters["tick"], start, side="right")) - 1, 0)
        num, den = int(meters["numerator"][at]), int(meters["denominator"][at])
        strong.add(start)
        if (num, den) in STRONG_MIDDLE:
            strong.add(start + num * score.ticks_per_quarter * 2 // den)
    return strong


def _pitched(score: Score) -> list[int]:
    return [i for i, t in enumerate(score.tracks) if not t.is_drum]


def chord_fit(score: Score, chords: list[tuple[int, Chord]] | None = None) -> dict:
    """Chord-tone ratios (strong beats, all notes) and the bass at chord changes, against
    ``chords`` ((tick, Chord) at each change; default the Score's own chord table)."""
    chords = table_chords(score.chords) if chords is None else chords
    if not chords:
        return {"chords": 0}
    ticks = np.array([t for t, _ in chords])
    tones = [c.tones() for _, c in chords]
    strong = strong_ticks(score, ticks)
    starts = set(ticks.tolist())
    counts = {"strong": [0, 0], "all": [0, 0], "bass": [0, 0]}
    for i in _pitched(score):
        track = score.tracks[i]
        bass_part = track.program in BASS_PROGRAMS
        for onset, pitch in zip(track.notes["onset"].tolist(), track.notes["pitch"].tolist()):
            at = int(np.searchsorted(ticks, onset, side="right")) - 1
            if at < 0 or chords[at][1] == NO_CHORD:
                continue
            fits = pitch % 12 in tones[at]
            counts["all"][0] += fits
            counts["all"][1] += 1
            if onset in strong:
                counts["strong"][0] += fits
                counts["strong"][1] += 1
            if bass_part and onset in starts:
                counts["bass"][0] += pitch % 12 == chords[at][1].bass
                counts["bass"][1] += 1
    share = {k: (round(a / b, 4) if b else None) for k, (a, b) in counts.items()}
    return {"chords": len(chords), "strong_beat_chord_tones": share["strong"],
            "strong_beat_notes": counts["strong"][1], "chord_tones": share["all"],
            "notes": counts["all"][1], "bass_on_chord_bass": share["bass"],
            "bass_notes_at_changes": counts["bass"][1]}


def dissonant_onsets(score: Score, part: int | None = None) -> dict:
    """Dissonant onsets (see the module docstring) of track ``part`` against every other
    pitched track, or, with ``part`` None, of every pitched track against the others;
    ``broad_share``: the same with every 2nd and 7th counted too (`BROAD`)."""
    strict = _onsets(score, part, DISSONANT)
    broad = _onsets(score, part, BROAD)
    return {**strict, "broad_share": broad["dissonant_share"]}


def _onsets(score: Score, part: int | None, intervals) -> dict:
    tracks = _pitched(score)
    measured = tracks if part is None else [part]
    clash = total = 0
    for i in measured:
        on, _, pitch = _notes(score, [i])
        o_on, o_off, o_pitch = _notes(score, [j for j in tracks if j != i])
        if not len(on):
            continue
        total += len(on)
        if not len(o_on):
            continue
        sounding = (o_on[None, :] <= on[:, None]) & (o_off[None, :] > on[:, None])
        interval = (pitch[:, None] - o_pitch[None, :]) % 12
        clash += int(np.any(sounding & np.isin(interval, intervals), axis=1).sum())
    return {"dissonant_onsets": clash, "onsets": total,
            "dissonant_share": round(clash / total, 4) if total else None}


def harmony_report(score: Score, chords: list[tuple[int, Chord]] | None = None,
                   part: int | None = None) -> dict:
    """`chord_fit` and `dissonant_onsets` of one Score, in one dict."""
    return {**chord_fit(score, chords), **dissonant_onsets(score, part)}


def progression_changes(score: Score, text: str) -> list[tuple[int, Chord]]:
    """(tick, Chord) of a progression laid on a Score's bars from bar 1, one bar of the
    progression a bar, repeating (as ``generate --chords`` lays it)."""
    from ..harmony import parse_progression

    bars = parse_progression(text)
    starts = list(score.bar_starts().tolist())
    ends = starts[1:] + [starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else 4 * score.ticks_per_quarter)]
    changes = []
    for b, (lo, hi) in enumerate(zip(starts, ends)):
        bar = bars[b % len(bars)]
        for k, chord in enumerate(bar):
            units = (hi - lo) * 12 // score.ticks_per_quarter  # the sampler's grid, 12 a quarter
            tick = lo + -(-(k * units) // len(bar)) * score.ticks_per_quarter // 12
            if not changes or changes[-1][1] != chord:
                changes.append((tick, chord))
    return changes


def summarise(reports: list[dict]) -> dict:
    """Totals over several drafts' reports: the ratios pooled over all their notes."""
    def pooled(share, count):
        notes = sum(r.get(count) or 0 for r in reports)
        hits = sum((r.get(share) or 0) * (r.get(count) or 0) for r in reports)
        return round(hits / notes, 4) if notes else None

    return {"strong_beat_chord_tones": pooled("strong_beat_chord_tones", "strong_beat_notes"),
            "chord_tones": pooled("chord_tones", "notes"),
            "bass_on_chord_bass": pooled("bass_on_chord_bass", "bass_notes_at_changes"),
            "dissonant_share": pooled("dissonant_share", "onsets"),
            "broad_share": pooled("broad_share", "onsets"),
            "onsets": sum(r.get("onsets") or 0 for r in reports)}
