"""Idioms per instrument, as masks: its register, the notes it can sound at once, a kit.

- `RegisterRule` (required, unless ``--range``): a pitched part stays in its
  instrument's comfortable register (`gm.comfortable_range`: a bass E1-C3, a cello
  C2-A4); ``--range`` replaces it, within what the instrument can play.
- `VoicesRule` (required): a bowed string (violin to contrabass, GM 40-43) sounds at most
  two notes at once, a wind (GM 56-79) or a voice (52-54) one (`gm.voices_at_once`): a
  note may start on such a part only where fewer are still sounding on it, and an
  onset may be placed only where some part can still start a note; when every part
  must play in every bar, such a part's notes end by the barline.
- `KitRule` (required, unless ``--drum-kit all``): a drum part plays General MIDI kit
  pieces only (`gm.KIT_PIECES`: kicks, snares, side stick, clap, hats, toms, cymbals).

Per-part note ends are kept as the two latest per slot (enough to count up to two).
"""
from __future__ import annotations

import numpy as np

from ...gm import DRUMS, KIT_PIECES, comfortable_range, voices_at_once
from ...tokenizer import T
from ...tokenizer.grammar import T_INT
from . import RULE_BUILDERS, Rule, RuleContext


def _slot_programs(state, xp):
    program = state.programs[state.grammar.rows, state.grammar.slot]
    return xp.where(program < 0, 129, program)


class RegisterRule(Rule):
    """Each pitched part within its comfortable register; drums exempt."""

    def __init__(self, context: RuleContext):
        table = np.ones((130, 128), dtype=bool)
        for program in range(DRUMS):
            low, high = comfortable_range(program)
            table[program] = False
            table[program, low:high + 1] = True
        self.table = table
        self.span = context.tokenizer.vocab.span(T.PITCH)

    def apply(self, state, mask) -> None:
        mask[:, self.span] &= self.table[_slot_programs(state, state.xp)]


class KitRule(Rule):
    """A drum part on kit pieces only."""

    def __init__(self, context: RuleContext):
        kit = np.zeros(128, dtype=bool)
        kit[sorted(KIT_PIECES)] = True
        self.kit = kit
        self.span = context.tokenizer.vocab.span(T.PITCH)

    def apply(self, state, mask) -> None:
        drum = _slot_programs(state, state.xp) == DRUMS
        mask[:, self.span] &= ~drum[:, None] | self.kit[None, :]


class VoicesRule(Rule):
    """At most `gm.voices_at_once` notes sounding per part; see the module docstring."""

    FIELDS = ("late", "early")

    def __init__(self, context: RuleContext):
        vocab = context.tokenizer.vocab
        tracks = vocab.config.max_tracks
        self.limit = np.asarray([voices_at_once(p) for p in range(129)] + [128], dtype=np.int64)
        # the latest and the second-latest note end of each slot (absolute grid units)
        self.late = np.full((context.batch_size, tracks), -1, dtype=np.int64)
        self.early = np.full((context.batch_size, tracks), -1, dtype=np.int64)
        self.durations = vocab.duration_values.astype(np.int64)
        self.positions = np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start)
        self.slots = np.arange(tracks)
        self.pitch_span, self.track_span = vocab.span(T.PITCH), vocab.span(T.TRACK)
        self.position_span = vocab.span(T.POSITION)
        self.duration_span = vocab.span(T.DURATION)
        self.fill_only = context.mode == "infill_track"

    def _free_from(self, state, xp):
        """(batch, slots): the first grid time (absolute) each slot may start a note."""
        programs = xp.where(state.programs < 0, 129, state.programs)
        limit = self.limit[programs]
        free = xp.where(limit <= 1, self.late, xp.where(limit == 2, self.early, -1))
        g = state.grammar
        declared = self.slots[None, :] < g.declared[:, None]
        if self.fill_only:
            declared = declared & ((self.slots[None, :] == g.fill_slot[:, None]) | (g.fill_slot < 0)[:, None])
        return xp.where(declared, free, 1 << 40)

    def apply(self, state, mask) -> None:
        xp, g = state.xp, state.grammar
        free = self._free_from(state, xp)
        now = state.bar_start + xp.where(g.position < 0, 0, g.position)
        busy = free > now[:, None]                                  # (batch, slots)
        body = g.bars >= 1  # in the header a Track token declares a part
        mask[:, self.track_span] &= ~(busy & body[:, None])
        mask[:, self.pitch_span] &= ~busy[g.rows, g.slot][:, None]
        soonest = xp.min(free, axis=1) - state.bar_start            # grid units into the bar
        generating = state.bars_written >= 1
        mask[:, self.position_span] &= ~generating[:, None] | (self.positions[None, :] >= soonest[:, None])
        if state.every_part_every_bar:  # a held note would keep the part out of the next bar
            limited = self.limit[_slot_programs(state, xp)] < 128
            left = g.bar_units - xp.where(g.position < 0, 0, g.position)
            mask[:, self.duration_span] &= ~limited[:, None] | (self.durations[None, :] <= left[:, None])

    def advance(self, state, kind, value) -> None:
        xp, g = state.xp, state.grammar
        duration = kind == T_INT.DURATION
        end = state.bar_start + xp.where(g.position < 0, 0, g.position) + self.durations[xp.where(duration, value, 0)]
        here = (self.slots[None, :] == g.slot[:, None]) & duration[:, None]
        later = end[:, None] > self.late
        self.early = xp.where(here, xp.where(later, self.late, xp.maximum(self.early, end[:, None])), self.early)
        self.late = xp.where(here & later, end[:, None], self.late)
        restart = (kind == T_INT.FILL_START)[:, None]
        self.late = xp.where(restart, -1, self.late)
        self.early = xp.where(restart, -1, self.early)


def build_register(context: RuleContext):
    return None if context.resolved.pitch_range else RegisterRule(context)


def build_kit(context: RuleContext):
    harmony = getattr(context.resolved, "harmony", None)
    return None if harmony is not None and harmony.drum_kit_all else KitRule(context)


def build_voices(context: RuleContext):
    programs = list(context.resolved.programs or ())
    if context.resolved.infill_program is not None:
        programs = [context.resolved.infill_program]
    if programs and all(voices_at_once(p) >= 128 for p in programs):
        return None  # only instruments without a limit: nothing to count
    return VoicesRule(context)


RULE_BUILDERS.extend([build_register, build_kit, build_voices])
