"""A forced rhythm: each note's onset and duration come from a plan, its pitch from the model.

`tunesmith song` plans where each syllable falls (stresses on strong beats, a held note
and a rest at each line end: `tunesmith.lyrics.plan`) and asks for the notes with
``GenerationRequest.rhythm``. This rule lets the model write the tune and nothing
else: at each Position only the next planned onset (or a Bar, when the next onset lies
in a later bar), at each Duration only the planned length, one pitch per onset (a sung
line), at most `SAME_PITCH_RUN` notes in a row on one pitch and no leap wider than
`MAX_LEAP`. The key, the range, the chords and the other rules still narrow the pitch.
"""
from __future__ import annotations

import numpy as np

from ...errors import RequestError
from ...tokenizer import T
from ...tokenizer.grammar import P_INT
from . import RULE_BUILDERS, Rule, RuleContext

SAME_PITCH_RUN = 3
"""Most notes in a row on one pitch: a sung line moves (recitation on one note aside)."""

MAX_LEAP = 12
"""Widest interval between two sung notes, semitones (an octave)."""


class RhythmRule(Rule):
    """See the module docstring. ``onsets``/``durations``: (notes,) grid units."""

    def __init__(self, context: RuleContext, onsets: np.ndarray, durations: np.ndarray):
        vocab = context.tokenizer.vocab
        self.vocab = vocab
        self.onsets = np.append(onsets, onsets[-1]).astype(np.int64)   # padded: index n is safe
        self.durations = np.append(durations, durations[-1]).astype(np.int64)
        self.count = np.asarray(len(onsets), dtype=np.int64)
        self.position_values = np.asarray(context.tokenizer.grammar.tables.position_values, dtype=np.int64)
        self.duration_values = np.asarray(vocab.duration_values, dtype=np.int64)
        self.pitch_values = np.arange(128, dtype=np.int64)

    def apply(self, state, mask) -> None:
        g, vocab, xp = state.grammar, self.vocab, state.xp
        n = state.notes_written                        # notes begun so far
        left = n < self.count
        nxt = self.onsets[xp.where(left, n, self.count)] - state.bar_start
        in_bar = left & (nxt < g.bar_units) & (g.bars >= 1)
        position_ok = in_bar[:, None] & (self.position_values[None, :] == nxt[:, None])
        mask[:, vocab.span(T.POSITION)] &= position_ok
        mask[:, vocab.id(T.BAR)] &= ~in_bar
        mask[:, vocab.id(T.EOS)] &= ~left
        current = xp.where(n > 0, n - 1, 0)
        mask[:, vocab.span(T.DURATION)] &= self.duration_values[None, :] == self.durations[current][:, None]
        # one pitch per onset, moving, no wide leaps
        pitch_ok = (g.phase != P_INT.DURATION)[:, None] & left[:, None]
        worn = (state.pitch_repeats >= SAME_PITCH_RUN)[:, None] & (self.pitch_values[None, :] == state.last_pitch[:, None])
        leap = (state.last_pitch >= 0)[:, None] & (xp.abs(self.pitch_values[None, :] - state.last_pitch[:, None]) > MAX_LEAP)
        mask[:, vocab.span(T.PITCH)] &= pitch_ok & ~worn & ~leap


def build(context: RuleContext) -> Rule | None:
    """A `RhythmRule` for a request with ``rhythm``; None otherwise."""
    rhythm = getattr(context.resolved.request, "rhythm", None)
    if rhythm is None:
        return None
    if context.mode != "new":
        raise RequestError("a forced rhythm is for a new melody, not a prompt")
    if context.tokenizer.config.positions_per_quarter != 12:
        raise RequestError("a forced rhythm is written in 12 grid units per quarter; this model's grid differs")
    notes = np.asarray(rhythm, dtype=np.int64).reshape(-1, 2)
    missing = sorted(set(notes[:, 1].tolist()) - set(np.asarray(context.tokenizer.vocab.duration_values).tolist()))
    if missing:
        raise RequestError(f"the model has no duration of {missing[0]} grid units for a forced rhythm")
    return RhythmRule(context, notes[:, 0], notes[:, 1])


RULE_BUILDERS.append(build)
