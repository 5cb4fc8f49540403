"""Parts written over chords, as masks: the chord tones, the bass, the comping, no clash.

The chords of the bars a draft writes (`timeline.region_chords`) become tables over
(bar since the prompt or inside the hole, grid position), read at
``state.bars_written - 1`` and the grammar's position, 12 grid units per quarter:

- `ChordRule` (required): a pitched note that starts on a strong beat (a bar's
  downbeat, the middle of a 4/4, 6/8 or 12/8 bar, wherever a chord starts, and the last
  bar's second half under ``end_on_tonic``) is a tone of the sounding chord; elsewhere
  the key's scale (and ``--chromatic`` passing notes) as before, plus the chord's own
  tones outside the key (A7 in C major plays C#, held as long as it likes). A bass part
  (`gm.BASS_PROGRAMS`) starting a note where a chord starts plays the chord's bass (the
  root, or the slash note). N.C. bars constrain nothing. Drums are exempt.
- `BassRule` (soft): the bass strikes at every chord change (no onset may skip past
  one, and the bar does not end before it).
- `CompRule` (soft, track infilling): a piano or guitar accompaniment strikes at least
  3 notes where a chord starts, each onset within a 10th (16 semitones).
- `EndRule` (soft, ``end_on_tonic``): the last bar holds a note.
- `ClashRule` (soft, track infilling): a note of the new part forms no minor 2nd (or
  9th), tritone or major 7th with a note of the prompt sounding at its onset; a bass,
  piano or guitar part stays below the lowest prompt note sounding there.

Soft rules are given up, for one token, where the masks would leave nothing.
"""
from __future__ import annotations

import numpy as np

from ...gm import BASS_PROGRAMS, COMP_PROGRAMS, DRUMS, playable_range
from ...harmony import Chord
from ...tokenizer import T
from ...tokenizer.grammar import FILL_INT, P_INT, T_INT
from . import RULE_BUILDERS, Rule, RuleContext
from .timeline import bar_units_of, region_chords

POSITIONS = 97
"""Grid positions tabled per bar: 0-96 (the longest bar is 96 units; 96 stands for any
position past a bar's end)."""

STRONG_MIDDLE = {(4, 4), (6, 8), (12, 8)}
"""Meters whose bar's middle is a strong beat."""

HAND_SPAN = 16
"""Semitones one hand spans in a comped chord: a 10th."""

COMP_NOTES = 3
"""Notes a comping part strikes at least where a chord starts."""

DISSONANT = (1, 6, 11)
"""Pitch-class intervals that clash: minor 2nd (or 9th), tritone, major 7th."""


def _program_table(members) -> np.ndarray:
    """(130,) bool over programs 0-128 and 129 (a slot not declared yet)."""
    table = np.zeros(130, dtype=bool)
    table[list(members)] = True
    return table


def _slot_programs(state, xp):
    program = state.programs[state.grammar.rows, state.grammar.slot]
    return xp.where(program < 0, 129, program)


class ChordTimeline:
    """The chord tables of one request (host numpy; the rules carry copies)."""

    def __init__(self, bars, units, meters, scale, tonic):
        chords: list[Chord] = []
        n = len(bars)
        self.chord_at = np.zeros((n, POSITIONS), dtype=np.int64)
        self.strong = np.zeros((n, POSITIONS), dtype=bool)
        self.starts = np.zeros((n, POSITIONS), dtype=bool)
        for b, (bar, length, meter) in enumerate(zip(bars, units, meters)):
            if tonic is not None and b == n - 1:  # a final cadence: the last bar is the tonic
                bar = [(0, tonic)]
            for frac, chord in bar:
                if chord not in chords:
                    chords.append(chord)
                at = min(int(np.ceil(frac * length)), POSITIONS - 1)
                self.chord_at[b, at:] = chords.index(chord)
                self.starts[b, at] = not chord.is_no_chord
            self.strong[b] |= self.starts[b]
            self.strong[b, 0] = True
            if tuple(meter) in STRONG_MIDDLE:
                self.strong[b, length // 2] = True
            if tonic is not None and b == n - 1:
                self.strong[b, length // 2:] = True
        pc = np.arange(128) % 12
        in_scale = np.isin(pc, scale) if scale else np.ones(128, dtype=bool)
        self.chords = chords
        self.tone = np.stack([np.isin(pc, list(c.tones())) | c.is_no_chord for c in chords])
        self.extra = self.tone & ~in_scale & ~np.array([c.is_no_chord for c in chords])[:, None]
        self.bass = np.stack([(pc == c.bass) | c.is_no_chord for c in chords])
        # where the next chord change is, from each position on (POSITIONS: none left)
        self.next_start = np.full((n, POSITIONS + 1), POSITIONS, dtype=np.int64)
        for b in range(n):
            later = POSITIONS
            for p in range(POSITIONS - 1, -1, -1):
                if self.starts[b, p] and p < units[b]:
                    later = p
                self.next_start[b, p] = later

    @property
    def constrains(self) -> bool:
        return any(not c.is_no_chord for c in self.chords)


def _meters(context: RuleContext, units):
    """(numerator, denominator) of each bar, from its length (the request's meter when it
    fits, else quarters)."""
    asked = context.resolved.meter
    meters = []
    for length in units:
        if asked and asked[0] * 48 // asked[1] == length:
            meters.append(tuple(asked))
        elif length % 12 == 0 and length != 72:
            meters.append((length // 12, 4))
        else:
            meters.append((length // 6, 8))
    return meters


def _where(state, bars):
    """(bar, position) table indices of the next note, per row."""
    xp, g = state.xp, state.grammar
    bar = state.bars_written - 1
    bar = xp.where(bar < 0, 0, xp.where(bar > bars - 1, bars - 1, bar))
    pos = xp.where(g.position < 0, 0, xp.where(g.position > POSITIONS - 1, POSITIONS - 1, g.position))
    return bar, pos


class ChordRule(Rule):
    """Chord tones on strong beats, the bass at changes; see the module docstring."""

    def __init__(self, timeline: ChordTimeline, context: RuleContext):
        self.n_bars = np.asarray(len(timeline.chord_at), dtype=np.int64)
        self.chord_at, self.strong, self.starts = timeline.chord_at, timeline.strong, timeline.starts
        self.tone, self.extra, self.bass = timeline.tone, timeline.extra, timeline.bass
        self.is_bass = _program_table(BASS_PROGRAMS)
        reach = np.zeros((130, 128), dtype=bool)
        low, high = context.resolved.pitch_range or (0, 127)
        for program in range(129):
            a, b = playable_range(program)
            reach[program, max(a, low):min(b, high) + 1] = True
        self.reach = reach
        self.pitches = np.arange(128)
        self.span = context.tokenizer.vocab.span(T.PITCH)

    def _chord(self, state):
        bar, pos = _where(state, self.n_bars)
        return self.chord_at[bar, pos], self.strong[bar, pos], self.starts[bar, pos]

    def apply(self, state, mask) -> None:
        xp = state.xp
        chord, strong, start = self._chord(state)
        program = _slot_programs(state, xp)
        drum = program == DRUMS
        bass_change = self.is_bass[program] & start
        current = mask[:, self.span]
        # chord tones outside the key: the key's mask took them out, they come back
        floor = self.pitches[None, :] > state.pitch_floor[:, None]
        back = xp.any(current, axis=1)[:, None] & self.extra[chord] & self.reach[program] & floor
        ok = (~strong[:, None] | self.tone[chord]) & (~bass_change[:, None] | self.bass[chord])
        mask[:, self.span] = (current | (back & ~drum[:, None])) & (ok | drum[:, None])

    def advance(self, state, kind, value) -> None:
        # an out-of-key chord tone is not a passing note: it may be held
        xp = state.xp
        chord, _, _ = self._chord(state)
        pitch = kind == T_INT.PITCH
        chord_tone = self.extra[chord, xp.where(pitch, value, 0)]
        state.last_pitch_out_of_scale = xp.where(pitch & chord_tone, False, state.last_pitch_out_of_scale)


class BassRule(Rule):
    """The bass strikes at every chord change of its bar (soft)."""

    FIELDS = ("bass_last",)
    soft = True

    def __init__(self, timeline: ChordTimeline, context: RuleContext):
        self.n_bars = np.asarray(len(timeline.chord_at), dtype=np.int64)
        self.next_start = timeline.next_start
        self.is_bass = _program_table(BASS_PROGRAMS)
        self.fill_only = context.mode == "infill_track"
        self.bass_last = np.full(context.batch_size, -1, dtype=np.int64)  # position of its last onset
        vocab = context.tokenizer.vocab
        self.positions = np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start)
        self.position_span = vocab.span(T.POSITION)
        self.ends = [vocab.id(kind) for kind in (T.BAR, T.EOS, T.FILL_END)]

    def apply(self, state, mask) -> None:
        xp, g = state.xp, state.grammar
        programs = xp.where(state.programs < 0, 129, state.programs)
        if self.fill_only:  # only the part being written can be made to play
            slot = xp.where(g.fill_slot < 0, 0, g.fill_slot)
            has_bass = self.is_bass[programs[g.rows, slot]] & (g.fill_slot >= 0)
        else:
            has_bass = xp.any(self.is_bass[programs], axis=1)
        bar, _ = _where(state, self.n_bars)
        due = self.next_start[bar, self.bass_last + 1]
        pending = has_bass & (due < g.bar_units) & (state.bars_written >= 1)
        mask[:, self.position_span] &= ~pending[:, None] | (self.positions[None, :] <= due[:, None])
        for end in self.ends:
            mask[:, end] &= ~pending

    def advance(self, state, kind, value) -> None:
        xp, g = state.xp, state.grammar
        program = _slot_programs(state, xp)
        struck = (kind == T_INT.PITCH) & self.is_bass[program]
        self.bass_last = xp.where(struck, xp.where(g.position < 0, 0, g.position), self.bass_last)
        self.bass_last = xp.where((kind == T_INT.BAR) | (kind == T_INT.FILL_START), -1, self.bass_last)


class CompRule(Rule):
    """A piano or guitar accompaniment comps in chords (soft); see the module docstring."""

    FIELDS = ("onset_count", "onset_low")
    soft = True

    def __init__(self, timeline: ChordTimeline, context: RuleContext):
        self.n_bars = np.asarray(len(timeline.chord_at), dtype=np.int64)
        self.starts = timeline.starts
        self.is_comp = _program_table(COMP_PROGRAMS)
        self.onset_count = np.zeros(context.batch_size, dtype=np.int64)
        self.onset_low = np.zeros(context.batch_size, dtype=np.int64)
        vocab = context.tokenizer.vocab
        self.pitch_span = vocab.span(T.PITCH)
        self.moves = [vocab.span(T.POSITION), vocab.span(T.TRACK)]
        self.ends = [vocab.id(kind) for kind in (T.BAR, T.EOS, T.FILL_END)]
        self.pitches = np.arange(128)
        self.need_table = np.asarray([1, COMP_NOTES], dtype=np.int64)

    def apply(self, state, mask) -> None:
        xp, g = state.xp, state.grammar
        bar, pos = _where(state, self.n_bars)
        comp = self.is_comp[_slot_programs(state, xp)] & (state.bars_written >= 1)
        need = self.need_table[xp.astype(self.starts[bar, pos], xp.int64)]
        short = comp & (self.onset_count < need) & (g.phase == P_INT.DURATION)
        for span in self.moves:
            mask[:, span] &= ~short[:, None]
        for end in self.ends:
            mask[:, end] &= ~short
        # one hand: within a 10th of the onset's lowest note, with room left for the rest
        started = self.onset_count > 0
        top = xp.where(started, self.onset_low + HAND_SPAN, 127)
        pitches = mask[:, self.pitch_span]
        within = self.pitches[None, :] <= top[:, None]
        allowed = xp.cumulative_sum(xp.astype(pitches & within, xp.int64), axis=1, include_initial=True)
        hi = xp.minimum(xp.minimum(self.pitches[None, :] + HAND_SPAN, top[:, None]), 127)
        hi = xp.maximum(hi, self.pitches[None, :])
        above = allowed[g.rows[:, None], hi + 1] - allowed[g.rows[:, None], self.pitches[None, :] + 1]
        still = xp.where(need - self.onset_count - 1 < 0, 0, need - self.onset_count - 1)
        fits = within & (above >= still[:, None])
        mask[:, self.pitch_span] = pitches & (~comp[:, None] | fits)

    def advance(self, state, kind, value) -> None:
        xp = state.xp
        pitch = kind == T_INT.PITCH
        first = pitch & (self.onset_count == 0)
        self.onset_low = xp.where(first, value, self.onset_low)
        self.onset_count = self.onset_count + pitch
        moved = (kind == T_INT.POSITION) | (kind == T_INT.TRACK) | (kind == T_INT.BAR) | (kind == T_INT.FILL_START)
        self.onset_count = xp.where(moved, 0, self.onset_count)


class ClashRule(Rule):
    """The infilled part forms no m2/tritone/M7 with the prompt's sounding notes, and an
    accompaniment (bass, piano, guitar) stays below the lowest of them (soft)."""

    soft = True

    def __init__(self, clash: np.ndarray, lowest: np.ndarray, context: RuleContext):
        self.n_bars = np.asarray(clash.shape[0], dtype=np.int64)
        self.clash = clash                     # (bars, positions, 12) pitch classes to avoid
        self.lowest = lowest                   # (bars, positions) lowest sounding pitch (128: none)
        self.pc = np.arange(128) % 12
        self.pitches = np.arange(128)
        self.under = np.asarray(context.resolved.infill_program in BASS_PROGRAMS | COMP_PROGRAMS)
        self.span = context.tokenizer.vocab.span(T.PITCH)

    def apply(self, state, mask) -> None:
        bar, pos = _where(state, self.n_bars)
        avoid = self.clash[bar, pos][:, self.pc]
        avoid = avoid | (self.under & (self.pitches[None, :] >= self.lowest[bar, pos][:, None]))
        writing = (state.bars_written >= 1) & (state.grammar.fill == FILL_INT.FILLING_TRACK)
        mask[:, self.span] &= ~(avoid & writing[:, None])


class EndRule(Rule):
    """Under ``end_on_tonic`` the last bar holds a note (soft): the piece does not end on a
    bar of silence after a note of the bar before, which no tonic mask reaches."""

    soft = True

    def __init__(self, context: RuleContext):
        self.last = np.asarray(context.target_bars, dtype=np.int64)
        vocab = context.tokenizer.vocab
        self.ends = [vocab.id(T.EOS), vocab.id(T.FILL_END)]

    def apply(self, state, mask) -> None:
        empty = (state.bars_written >= self.last) & (state.notes_in_bar == 0)
        for end in self.ends:
            mask[:, end] &= ~empty


def clash_table(prompt, first: int, units, skip_program: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(bars, POSITIONS, 12): pitch classes dissonant (`DISSONANT`) with a prompt note
    sounding at each grid position (started at or before it, ending after it), and
    (bars, POSITIONS) the lowest such note (128 where none sounds); drums and the part
    being rewritten left out."""
    starts = prompt.bar_starts()
    tpq = prompt.ticks_per_quarter
    table = np.zeros((len(units), POSITIONS, 12), dtype=bool)
    lowest = np.full((len(units), POSITIONS), 128, dtype=np.int64)
    notes = [t.notes for t in prompt.tracks if not t.is_drum and t.program != skip_program and len(t.notes)]
    if not notes:
        return table, lowest
    notes = np.concatenate(notes)
    on, off, pc = notes["onset"], notes["onset"] + notes["duration"], notes["pitch"] % 12
    intervals = np.zeros((12, 12), dtype=bool)  # [sounding pc, candidate pc]
    for step in DISSONANT:
        intervals[np.arange(12), (np.arange(12) + step) % 12] = True
    for b in range(len(units)):
        if first + b >= len(starts):
            break
        ticks = int(starts[first + b]) + np.arange(POSITIONS) * tpq // 12
        sounding = (on[None, :] <= ticks[:, None]) & (off[None, :] > ticks[:, None])  # (P, notes)
        profile = np.zeros((POSITIONS, 12), dtype=bool)
        rows, cols = np.nonzero(sounding)
        profile[rows, pc[cols]] = True
        table[b] = (profile.astype(np.int64) @ intervals.astype(np.int64)) > 0
        lowest[b] = np.where(sounding, notes["pitch"][None, :], 128).min(axis=1)
    return table, lowest


def _timeline(context: RuleContext):
    """The request's chord timeline and bar lengths, built once per context (None: no
    chords to write over)."""
    if not hasattr(context, "_chords"):
        context._chords = None
        harmony = getattr(context.resolved, "harmony", None)
        prompt, span = getattr(context, "prompt", None), getattr(context, "span", None)
        known = harmony is not None and (harmony.bars or prompt is not None or harmony.tonic is not None)
        if known and not (harmony.auto and harmony.tonic is None):
            bars, units, first = region_chords(harmony, context.mode, context.target_bars,
                                               context.resolved.meter, prompt, span)
            fixed = context.resolved.request.bars is not None  # a free length has no known last bar
            tonic = harmony.tonic if context.mode in ("new", "continue") and fixed else None
            timeline = ChordTimeline(bars, units, _meters(context, units), context.resolved.scale, tonic)
            context._chords = (timeline, units) if timeline.constrains else None
    return context._chords


def build_chords(context: RuleContext):
    found = _timeline(context)
    return ChordRule(found[0], context) if found else None


def build_bass(context: RuleContext):
    found = _timeline(context)
    return BassRule(found[0], context) if found else None


def build_comp(context: RuleContext):
    found = _timeline(context)
    comping = context.mode == "infill_track" and context.resolved.infill_program in COMP_PROGRAMS
    return CompRule(found[0], context) if found and comping else None


def build_clash(context: RuleContext):
    """Only where another part is known: an infilled track under the prompt."""
    prompt = getattr(context, "prompt", None)
    harmony = getattr(context.resolved, "harmony", None)
    if context.mode != "infill_track" or prompt is None or harmony is None:
        return None
    units = bar_units_of(prompt, 0, context.target_bars)
    return ClashRule(*clash_table(prompt, 0, units, context.resolved.infill_program), context)


def build_end(context: RuleContext):
    harmony = getattr(context.resolved, "harmony", None)
    ending = harmony is not None and harmony.tonic is not None and context.mode in ("new", "continue")
    return EndRule(context) if ending and context.resolved.request.bars is not None else None


RULE_BUILDERS.extend([build_chords, build_bass, build_comp, build_clash, build_end])
