"""A rhythm for sung words: stressed syllables on strong beats, breaths at line ends.

Times are grid units, 12 per quarter note (the tokenizer's grid), from the downbeat
of bar 1. Each line of a section is a phrase of the same number of bars; its first
stressed syllable falls on the downbeat of the phrase's first bar (so phrase starts
agree across the section's lines), the unstressed syllables before it are a pickup at
the end of the bar before. From each stressed syllable to the next, the syllables
share a span from one strong beat to the next (beats 1 and 3 in 4/4, beat 1 in 3/4,
each dotted quarter of 6/8), the stressed one longest; where they do not fit at
`MAX_SYLLABLES_PER_SECOND` the span doubles. The line's last syllable is held at least
two beats and to the next strong beat, and on to its barline where the phrase leaves
room, then a rest of a beat at least: a breath. The model writes the pitches (see `sample/rules/rhythm.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .syllables import PRIMARY, Syllable

UNITS_PER_QUARTER = 12
"""Grid units per quarter note (the tokenizer's positions per quarter)."""

MAX_SYLLABLES_PER_SECOND = 4.0
"""Fastest a syllable may follow the one before: singable, and clear to a listener."""

LINE_END_BEATS = 2
"""Beats a line's last syllable is held at the least (then to its barline where the
phrase leaves room, then a rest of a beat at least)."""

_STEPS = (3, 4, 6, 12, 24)
"""Candidate shortest notes (grid units): sixteenth, sixteenth-triplet... quarter, half."""


@dataclass(frozen=True)
class Meter:
    """Grid lengths of a meter: ``bar``, ``beat`` (dotted quarter in 6/8, 9/8, 12/8) and
    ``strong`` (the span from one strong beat to the next: half a bar of four or six
    beats, a beat of a bar in two, else the bar), in grid units."""

    numerator: int
    denominator: int

    @property
    def bar(self) -> int:
        return self.numerator * UNITS_PER_QUARTER * 4 // self.denominator

    @property
    def beat(self) -> int:
        unit = UNITS_PER_QUARTER * 4 // self.denominator
        compound = self.denominator == 8 and self.numerator % 3 == 0 and self.numerator > 3
        return unit * 3 if compound else unit

    @property
    def strong(self) -> int:
        beats = self.bar // self.beat
        if beats == 2:  # 2/4, 2/2, 6/8: felt in two, each beat a place for a stress
            return self.beat
        return self.bar // 2 if beats % 2 == 0 and beats >= 4 else self.bar


def metric_weight(position, meter: Meter) -> np.ndarray:
    """Weight of positions within a bar (grid units): 3 the downbeat, 2 another strong
    beat (beat 3 of 4/4), 1 another beat, 0 off the beat."""
    position = np.asarray(position) % meter.bar
    return np.where(position == 0, 3, np.where(position % meter.strong == 0, 2,
                                                np.where(position % meter.beat == 0, 1, 0)))


def on_strong_beat(position, meter: Meter) -> np.ndarray:
    """Whether positions (grid units within or from bar 1) fall on a strong beat."""
    return metric_weight(position, meter) >= 2


@dataclass
class RhythmPlan:
    """Notes of a sung melody without pitches: one row per note (arrays of equal length).

    ``onset``/``duration`` grid units; ``syllable`` the index of the syllable sung (in
    the order given); ``first`` whether the note begins its syllable (a melisma's other
    notes do not); ``line`` the index of the line. ``bars``: bars the plan spans;
    ``line_bars``: first bar (from 0) of each line's phrase."""

    onset: np.ndarray
    duration: np.ndarray
    syllable: np.ndarray
    first: np.ndarray
    line: np.ndarray
    bars: int
    line_bars: list[int]

    def __len__(self) -> int:
        return len(self.onset)


def shortest_step(tempo: float, meter: Meter) -> int:
    """The shortest syllable (grid units) at ``tempo`` quarters per minute that keeps
    to `MAX_SYLLABLES_PER_SECOND` and divides the beat."""
    need = UNITS_PER_QUARTER * tempo / 60.0 / MAX_SYLLABLES_PER_SECOND
    fitting = [s for s in _STEPS if s >= need - 1e-9 and meter.beat % s == 0]
    return fitting[0] if fitting else meter.beat


def _group_durations(notes: int, span: int, step: int, compound: bool) -> tuple[int, list[int]]:
    """(span, durations) for ``notes`` notes from one strong beat: the span doubles until
    they fit at ``step``; the first (stressed) note takes what the others leave, the
    others get the longest of a half, quarter, eighth or sixteenth (``compound``: the
    dotted quarter too) that lets it."""
    while notes * step > span:
        span *= 2
    if notes == 1:
        return span, [span]
    for d in (24, 18, 12, 6, 3) if compound else (24, 12, 6, 3):
        if d >= step and d > 0 and (notes - 1) * d < span and span - (notes - 1) * d >= d:
            return span, [span - (notes - 1) * d] + [d] * (notes - 1)
    return span, [span - (notes - 1) * step] + [step] * (notes - 1)


def _line_shape(syllables: list[Syllable], meter: Meter, step: int):
    """One line's notes relative to its first strong beat: (onsets, durations, syllable
    index in the line, first-of-syllable), the pickup length and the end of its last
    note, in grid units."""
    notes = [(i, k == 0) for i, s in enumerate(syllables) for k in range(s.notes)]
    accents = [j for j, (i, first) in enumerate(notes) if first and syllables[i].stress == PRIMARY]
    if not accents:
        accents = [0]
    pickup_notes = accents[0]
    onsets, durations = [], []
    # the pickup: eighths (or the step) just before the first strong beat
    pick = max(step, min(6, meter.beat // 2)) if pickup_notes else 0
    onsets += [-(pickup_notes - j) * pick for j in range(pickup_notes)]
    durations += [pick] * pickup_notes
    at = 0
    for a, b in zip(accents, accents[1:] + [len(notes)]):
        span, lengths = _group_durations(b - a, meter.strong, step, meter.beat % 18 == 0)
        onsets += [at + sum(lengths[:k]) for k in range(len(lengths))]
        durations += lengths
        at += span
    # the line's last note: held to the next strong beat at least (to its barline later)
    last = len(notes) - 1
    durations[last] = max(durations[last], meter.strong - onsets[last] % meter.strong, LINE_END_BEATS * meter.beat)
    end = onsets[last] + durations[last]
    return (onsets, durations, [i for i, _ in notes], [f for _, f in notes], pickup_notes * pick, end)


def plan_rhythm(lines: list[list[Syllable]], meter: Meter, tempo: float,
                sections: list[int] | None = None) -> RhythmPlan:
    """The rhythm of ``lines`` (each a phrase of syllables); ``sections``: how many of
    the lines each section holds, in order (default: one section). Lines of a section
    get phrases of the same number of bars. Every line ends on a held note and a rest
    of at least a beat (see the module docstring)."""
    step = shortest_step(tempo, meter)
    sections = sections or [len(lines)]
    shapes = [_line_shape(line, meter, step) for line in lines]
    breath = meter.beat
    # phrase length per section: the longest line's, pickups of the next line included
    starts, first_line, bar = [], 0, 0
    for count in sections:
        group = shapes[first_line: first_line + count]
        phrase = max(-(-(s[5] + breath + (nxt[4] if nxt else 0)) // meter.bar)
                     for s, nxt in zip(group, group[1:] + [None]))
        phrase = next(n for n in (1, 2, 4, 8, 16, phrase + phrase % 2) if n >= phrase)  # regular phrases
        if bar == 0 and group[0][4]:
            bar = -(-group[0][4] // meter.bar)  # room for the first pickup
        if starts:
            prev = shapes[first_line - 1]
            need = starts[-1] + prev[5] + breath + group[0][4]
            bar = max(bar, -(-need // meter.bar))
        for k in range(count):
            starts.append((bar + k * phrase) * meter.bar)
        bar += count * phrase
        first_line += count
    onset, duration, syllable, first, line_of = [], [], [], [], []
    offset = 0
    for index, (shape, start) in enumerate(zip(shapes, starts)):
        ons, durs, syl, fst = shape[0], list(shape[1]), shape[2], shape[3]
        nxt = starts[index + 1] - shapes[index + 1][4] if index + 1 < len(shapes) else bar * meter.bar
        # hold the last note to its barline when a breath of a beat still follows
        last_on = start + ons[-1]
        barline = -(-(last_on + durs[-1]) // meter.bar) * meter.bar
        room = nxt - breath - last_on
        durs[-1] = min(max(durs[-1], min(barline - last_on, room)), room)
        onset += [start + o for o in ons]
        duration += durs
        syllable += [offset + s for s in syl]
        first += fst
        line_of += [index] * len(ons)
        offset += len(lines[index])
    # the piece ends a beat after its last note: no empty phrase bars after the last line
    bar = -(-(onset[-1] + duration[-1] + breath) // meter.bar)
    return RhythmPlan(np.asarray(onset, dtype=np.int64), np.asarray(duration, dtype=np.int64),
                      np.asarray(syllable, dtype=np.int64), np.asarray(first, dtype=bool),
                      np.asarray(line_of, dtype=np.int64), bar, [s // meter.bar for s in starts])


def place_line(syllables: list[Syllable], meter: Meter, tempo: float, start: int, end: int):
    """One line's rhythm in a phrase of grid units [``start``, ``end``) (its first stressed
    syllable on ``start``): (onsets, durations, syllable index, first-of-syllable), the
    last note held to leave a beat's rest before ``end``; None if it does not fit (a
    pickup reaching back more than a beat counts as not fitting)."""
    ons, durs, syl, fst, pickup, line_end = _line_shape(syllables, meter, shortest_step(tempo, meter))
    if pickup > meter.beat or start + line_end > end - meter.beat:
        return None
    durs = list(durs)
    last_on = start + ons[-1]
    durs[-1] = max(durs[-1], min(-(-(last_on + durs[-1]) // meter.bar) * meter.bar, end - meter.beat) - last_on)
    return (np.asarray(ons, dtype=np.int64) + start, np.asarray(durs, dtype=np.int64),
            np.asarray(syl, dtype=np.int64), np.asarray(fst, dtype=bool))
