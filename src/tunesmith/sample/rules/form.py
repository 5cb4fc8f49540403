"""Form rules for every draft: no accidental loops, and phrases that breathe.

`AntiLoop`: a bar may copy an earlier bar note for note (the same notes at the same
places in the bar, the same lengths, in the same parts) at most ``max_repeated_bars``
times in any `LOOP_WINDOW` bars in a row. Each row keeps a rolling hash of the bar being
written and the hashes of the bars before it; once the limit is reached, the duration
that would complete a copy of an earlier bar (its last note) is forbidden, and so is
ending a bar that is a copy. What a form repeats is copied whole by `sample.form`, not
drafted, so it never counts here.

`PhraseEnds`: every ``phrase_bars``-th bar (and the last bar of a piece of fixed length)
breathes: it holds a long note (at least a quarter) or a rest (at least an eighth). A
note that would leave no room for either is forbidden, so the phrase can always close.

`ChromaticSteps`: with a key and ``chromatic``, a note outside the scale is left by step.
`ForcedRhythm` (hard): a re-drafted section (``--vary``) keeps its first rhythm.

All but `ForcedRhythm` are soft (given up, with the density limits, where a row would
have nothing left); all use whole-array operations only, so they run in numpy and in
torch alike.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from ...gm import DRUMS
from ...tokenizer import T
from ...tokenizer.grammar import P_INT, T_INT
from . import RULE_BUILDERS, Rule, RuleContext

LOOP_WINDOW = 16
"""Bars in a row over which ``max_repeated_bars`` counts copies."""

SEEN_BARS = 64
"""Earlier bars remembered per row (older ones may be copied again)."""

_HASH_PRIME = 2_147_483_629   # below 2**31: hash * multiplier stays inside int64
_HASH_MULTIPLIER = 1_000_003


class AntiLoop(Rule):
    """See the module docstring. ``limit``: copies allowed per `LOOP_WINDOW` bars."""

    FIELDS = ("pitch", "bar_hash", "bar_notes", "seen_hash", "seen_notes", "bars_done", "copies")
    soft = True

    def __init__(self, context: RuleContext, limit: int):
        vocab = context.tokenizer.vocab
        b = context.batch_size
        self.limit = limit
        self.slots = vocab.config.max_tracks
        self.durations = len(vocab.duration_values)
        self.duration_index = np.arange(self.durations)
        self.window_slots = np.arange(LOOP_WINDOW)
        self.seen_slots = np.arange(SEEN_BARS)
        self.pitch = np.zeros(b, dtype=np.int64)           # of the note being written
        self.bar_hash = np.zeros(b, dtype=np.int64)        # of this bar's notes so far
        self.bar_notes = np.zeros(b, dtype=np.int64)
        self.seen_hash = np.zeros((b, SEEN_BARS), dtype=np.int64)
        self.seen_notes = np.zeros((b, SEEN_BARS), dtype=np.int64)  # 0: no bar there
        self.bars_done = np.zeros(b, dtype=np.int64)       # bars with notes completed
        self.copies = np.zeros((b, LOOP_WINDOW), dtype=bool)  # was bar i (mod window) a copy

    def _note_base(self, state):
        """Hash of this bar extended by the current note with duration index 0 (a
        duration index ``d`` adds ``d``): position, part and pitch, then duration."""
        g = state.grammar
        code = ((g.position * self.slots + g.slot) * 128 + self.pitch) * self.durations + 1
        return (self.bar_hash * _HASH_MULTIPLIER + code) % _HASH_PRIME

    def _is_copy(self, xp, bar_hash, bar_notes):
        """Per row: the bar so far equals an earlier bar (and holds a note)."""
        same = (self.seen_hash == bar_hash[:, None]) & (self.seen_notes == bar_notes[:, None])
        return xp.any(same & (self.seen_notes > 0), axis=1) & (bar_notes > 0)

    def _used_up(self, xp):
        """Per row: this bar may not be a copy (the copies among the `LOOP_WINDOW` - 1
        bars before it reach the limit)."""
        this = self.window_slots[None, :] == (self.bars_done % LOOP_WINDOW)[:, None]
        return xp.sum(xp.astype(self.copies & ~this, xp.int64), axis=1) >= self.limit

    def apply(self, state, mask):
        vocab, xp = state.vocab, state.xp
        used_up = self._used_up(xp)
        # the duration that makes this note the last of a copy of an earlier bar
        base = self._note_base(state)
        needed = (self.seen_hash - base[:, None]) % _HASH_PRIME            # (B, seen)
        last_note = (self.seen_notes == (self.bar_notes + 1)[:, None]) & (self.seen_notes > 0)
        hits = (needed[:, :, None] == self.duration_index[None, None, :]) & last_note[:, :, None]
        forbidden = xp.any(hits, axis=1)
        mask[:, vocab.span(T.DURATION)] &= ~(forbidden & used_up[:, None])
        # a bar that is already a copy may not end (backstop)
        copy_now = self._is_copy(xp, self.bar_hash, self.bar_notes) & used_up
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[:, vocab.id(kind)] &= ~copy_now

    def advance(self, state, kind, value):
        xp = state.xp
        self.pitch = xp.where(kind == T_INT.PITCH, value, self.pitch)
        duration = kind == T_INT.DURATION
        extended = (self._note_base(state) + value) % _HASH_PRIME
        self.bar_hash = xp.where(duration, extended, self.bar_hash)
        self.bar_notes = self.bar_notes + duration
        ends = ((kind == T_INT.BAR) | (kind == T_INT.EOS) | (kind == T_INT.FILL_HOLE)
                | (kind == T_INT.FILL_START) | (kind == T_INT.FILL_END) | (kind == T_INT.FILL_TRACK))
        done = ends & (self.bar_notes > 0)
        copy = self._is_copy(xp, self.bar_hash, self.bar_notes) & done & state.generating
        this = (self.window_slots[None, :] == (self.bars_done % LOOP_WINDOW)[:, None]) & done[:, None]
        self.copies = xp.where(this, copy[:, None], self.copies)
        store = (self.seen_slots[None, :] == (self.bars_done % SEEN_BARS)[:, None]) & done[:, None]
        self.seen_hash = xp.where(store, self.bar_hash[:, None], self.seen_hash)
        self.seen_notes = xp.where(store, self.bar_notes[:, None], self.seen_notes)
        self.bars_done = self.bars_done + done
        self.bar_hash = xp.where(ends, 0, self.bar_hash)
        self.bar_notes = xp.where(ends, 0, self.bar_notes)


LONG_NOTE = 1.0
"""A phrase may close on a note at least this many quarters long ..."""

BREATH = 0.5
"""... or on a rest at least this many quarters long."""


class PhraseEnds(Rule):
    """See the module docstring. ``every``: bars per phrase; ``last``: the last bar
    written (0 for a piece of free length); ``before``: bars of the prompt, so that a
    continuation's phrases end where the piece's do."""

    FIELDS = ("breathed", "sound_end")
    soft = True

    def __init__(self, context: RuleContext, every: int, last: int, before: int = 0):
        vocab = context.tokenizer.vocab
        q = vocab.config.positions_per_quarter
        self.every, self.last, self.before = every, last, before
        self.long = int(round(LONG_NOTE * q))
        self.rest = int(round(BREATH * q))
        self.duration_values = vocab.duration_values.astype(np.int64)
        self.position_values = np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start)
        b = context.batch_size
        self.breathed = np.zeros(b, dtype=bool)             # this bar has a long note or a rest
        self.sound_end = np.zeros(b, dtype=np.int64)        # grid units: when the last note ends

    def _closing(self, state):
        """Rows whose current bar ends a phrase and has not breathed yet."""
        bar = state.bars_written
        end = (((bar + self.before) % self.every) == 0) | (bar == self.last)
        roomy = state.grammar.bar_units >= self.long + self.rest  # a 1/16 bar has no room to breathe
        return end & (bar >= 1) & ~self.breathed & roomy

    def apply(self, state, mask):
        g, vocab, xp = state.grammar, state.vocab, state.xp
        closing = self._closing(state)
        units = g.bar_units
        # an onset either follows a rest, or leaves room for a note and a rest after it
        q = self.position_values[None, :]
        sounding = xp.maximum(self.sound_end, state.bar_start)  # a rest counts from the barline
        rest_before = (state.bar_start[:, None] + q - sounding[:, None]) >= self.rest
        room = q <= (units - self.rest - 1)[:, None]
        mask[:, vocab.span(T.POSITION)] &= ~closing[:, None] | rest_before | room
        # a note is long, or ends early enough to leave a rest before the barline
        position = g.position
        ends = position[:, None] + self.duration_values[None, :]
        ok = (self.duration_values[None, :] >= self.long) | (ends <= (units - self.rest)[:, None])
        mask[:, vocab.span(T.DURATION)] &= ~closing[:, None] | ok
        # the bar ends only after a breath (a rest to the barline counts)
        rest_at_end = (state.bar_start + units - self.sound_end) >= self.rest
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[:, vocab.id(kind)] &= ~closing | rest_at_end

    def advance(self, state, kind, value):
        xp, g = state.xp, state.grammar
        position = state.bar_start + xp.where(g.position < 0, 0, g.position)
        onset = kind == T_INT.POSITION
        rest = onset & ((position - xp.maximum(self.sound_end, state.bar_start)) >= self.rest)
        duration = kind == T_INT.DURATION
        length = self.duration_values[xp.where(duration, value, 0)]
        long = duration & (length >= self.long)
        self.sound_end = xp.where(duration, xp.maximum(self.sound_end, position + length), self.sound_end)
        bar = kind == T_INT.BAR
        self.breathed = xp.where(bar, False, self.breathed | rest | long)


@dataclass
class RhythmTemplate:
    """The notes of a section to re-draft, bar by bar, in token order: ``position``
    (grid units in the bar), ``slot`` (part) and ``duration`` (index into the
    vocabulary's durations), each (bars, most notes in a bar), and ``count`` (bars,)."""

    position: np.ndarray
    slot: np.ndarray
    duration: np.ndarray
    count: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[list[tuple[int, int, int]]], bar_units, duration_values) -> "RhythmTemplate":
        """From one list of (position, slot, duration index) per bar; a note that would
        ring past the last bar (``bar_units``: each bar's length) is cut to fit."""
        width = max([len(r) for r in rows] + [1])
        out = np.zeros((3, len(rows), width), dtype=np.int64)
        before = np.concatenate([[0], np.cumsum(bar_units)])
        for b, notes in enumerate(rows):
            for k, (position, slot, duration) in enumerate(notes):
                room = int(before[-1] - before[b] - position)
                fits = np.flatnonzero(duration_values[: duration + 1] <= room)
                out[:, b, k] = position, slot, fits[-1] if len(fits) else 0
        return cls(out[0], out[1], out[2], np.array([len(r) for r in rows], dtype=np.int64))


FORCED_RHYTHM: ContextVar[RhythmTemplate | None] = ContextVar("FORCED_RHYTHM", default=None)
"""Set by `sample.form` around the continuation that re-drafts a varied section."""


class ForcedRhythm(Rule):
    """A continuation that writes exactly a template's notes' places, parts and
    lengths, bar by bar, choosing only the pitches (``--vary``). Before its first bar no
    note is added to the prompt's last bar; no meter, key or tempo change is written."""

    FIELDS = ("note",)

    def __init__(self, context: RuleContext, template: RhythmTemplate):
        self.position, self.slot = template.position, template.slot
        self.duration, self.count = template.duration, template.count
        self.bars = len(template.count)
        vocab = context.tokenizer.vocab
        self.position_values = np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start)
        self.slot_values = np.arange(vocab.config.max_tracks)
        self.duration_index = np.arange(len(vocab.duration_values))
        self.note = np.zeros(context.batch_size, dtype=np.int64)  # notes written in this bar

    def apply(self, state, mask):
        g, vocab, xp = state.grammar, state.vocab, state.xp
        bar = _clip(xp, state.bars_written - 1, 0, self.bars - 1)
        in_bar = state.bars_written >= 1
        k = _clip(xp, self.note, 0, self.position.shape[1] - 1)
        more = in_bar & (self.note < self.count[bar])
        position, slot = self.position[bar, k], self.slot[bar, k]
        here = more & (position == g.position)
        mask[:, vocab.span(T.POSITION)] &= (more & ~here)[:, None] & (self.position_values[None, :] == position[:, None])
        mask[:, vocab.span(T.TRACK)] &= here[:, None] & (self.slot_values[None, :] == slot[:, None])
        # an out-of-scale note may be only as long as a passing note (constraints.py)
        duration = self.duration[bar, k]
        passing = state._static["passing_durations"][duration]
        drum = state.programs[g.rows, g.slot] == DRUMS
        pitch_ok = state._static["in_scale_table"][None, :] | (passing | drum)[:, None]
        mask[:, vocab.span(T.PITCH)] &= (here & (slot == g.slot))[:, None] & pitch_ok
        mask[:, vocab.span(T.DURATION)] &= self.duration_index[None, :] == duration[:, None]
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[:, vocab.id(kind)] &= ~more
        for kind in (T.TIMESIG, T.KEY, T.TEMPO):
            mask[:, vocab.span(kind)] = False

    def advance(self, state, kind, value):
        xp = state.xp
        self.note = xp.where(kind == T_INT.BAR, 0, self.note + (kind == T_INT.DURATION))


def _clip(xp, x, low, high):
    return xp.where(x < low, low, xp.where(x > high, high, x))


STEP = 2
"""Semitones at most from an out-of-scale note to the next note of the line."""


class ChromaticSteps(Rule):
    """With a key and chromatic notes allowed: a note outside the scale moves on by step,
    the next onset's note at most `STEP` semitones away (a leading tone rises to the
    tonic, a passing or neighbour note goes on or back), as 79% of the held-out folk
    tunes' accidentals do. Notes struck together with it are free."""

    soft = True

    def __init__(self, context: RuleContext):
        self.pitch_values = np.arange(128)

    def apply(self, state, mask):
        g, vocab = state.grammar, state.vocab
        new_onset = (g.phase == P_INT.POSITION) | (g.phase == P_INT.POS_TEMPO)
        resolving = state.last_pitch_out_of_scale & (state.last_pitch >= 0) & new_onset
        distance = self.pitch_values[None, :] - state.last_pitch[:, None]
        near = (distance <= STEP) & (distance >= -STEP)
        mask[:, vocab.span(T.PITCH)] &= ~resolving[:, None] | near


def build_chromatic_steps(context: RuleContext) -> Rule | None:
    resolved = context.resolved
    if not (resolved.scale and resolved.request.chromatic) or DRUMS in resolved.programs:
        return None
    return ChromaticSteps(context)


def build_forced_rhythm(context: RuleContext) -> Rule | None:
    template = FORCED_RHYTHM.get()
    if template is None or context.mode != "continue":
        return None
    return ForcedRhythm(context, template)


def build_anti_loop(context: RuleContext) -> Rule | None:
    request = context.resolved.request
    limit = request.max_repeated_bars
    if limit is None or limit >= LOOP_WINDOW:
        return None
    return AntiLoop(context, limit)


def build_phrase_ends(context: RuleContext) -> Rule | None:
    resolved = context.resolved
    every = resolved.request.phrase_bars
    if (not every or context.mode not in ("new", "continue") or resolved.syllables
            or DRUMS in resolved.programs):
        return None
    exact = resolved.request.bars is not None
    # a continuation keeps the piece's phrases: bars are counted from the piece's first
    prompt = getattr(context, "prompt", None)
    before = len(prompt.bar_starts()) if context.mode == "continue" and prompt is not None and prompt.note_count() else 0
    return PhraseEnds(context, every, context.target_bars if exact else 0, before)


RULE_BUILDERS.append(build_forced_rhythm)
RULE_BUILDERS.append(build_anti_loop)
RULE_BUILDERS.append(build_phrase_ends)
RULE_BUILDERS.append(build_chromatic_steps)
