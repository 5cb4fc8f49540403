"""Lyrics: one note per syllable of the words (`GenerationRequest.lyrics`).

The piece ends (EOS) in the bar of the last syllable, its last note no longer than that
bar; no note after it, no end before. Planning one note per grid position (the part
is monophonic), no onset is skipped and no note held that would leave too few
positions under the bar cap. A syllable that ends a phrase (``, . ; : ! ?``) is held at
least a quarter note, or to its barline if that is nearer; at most `SAME_PITCH_RUN`
syllables in a row share a pitch.
"""
from __future__ import annotations

import numpy as np

from ...tokenizer import T
from . import RULE_BUILDERS, Rule, RuleContext, clamp as _clamp

SAME_PITCH_RUN = 4
"""Most syllables in a row a lyrics melody sings on one pitch (the model's likeliest
setting of a long text is otherwise, now and then, every syllable on one note)."""


class OneNotePerSyllable(Rule):
    def __init__(self, context: RuleContext):
        syllables = context.resolved.syllables
        self.count = len(syllables)
        self.phrase_ends = np.asarray([text.rstrip().endswith(tuple(",.;:!?")) for text in syllables])
        vocab = context.tokenizer.vocab
        self.quarter = np.asarray(vocab.config.positions_per_quarter, dtype=np.int64)
        self.duration_values = vocab.duration_values
        self.position_values = context.tokenizer.grammar.tables.position_values
        self.pitch_values = np.arange(128)

    def apply(self, state, mask) -> None:
        g, vocab, xp = state.grammar, state.vocab, state.xp
        needed = self.count - state.notes_written  # after the current note
        done = needed <= 0
        for kind in (T.POSITION, T.PITCH, T.TRACK):
            mask[:, vocab.span(kind)] &= ~done[:, None]
        mask[:, vocab.id(T.BAR)] &= ~done
        for kind in (T.EOS, T.FILL_END):
            mask[:, vocab.id(kind)] &= done
        units = g.bar_units
        later = _clamp(xp, state.target_bars - state.bars_written, 0) * units  # positions of later bars
        position = _clamp(xp, g.position, 0)
        starts = self.position_values[None, :]
        mask[:, vocab.span(T.POSITION)] &= (units[:, None] - starts + later[:, None]) >= needed[:, None]
        ends = position[:, None] + self.duration_values[None, :]
        in_bar_left = _clamp(xp, units[:, None] - ends, 0)
        held_over = _clamp(xp, ends - units[:, None], 0)
        room = in_bar_left + later[:, None] - held_over
        fits = (room >= needed[:, None]) & (~done[:, None] | (ends <= units[:, None]))
        note = _clamp(xp, state.notes_written - 1, 0, self.count - 1)
        phrase_end = self.phrase_ends[note]
        shortest = xp.minimum(self.quarter, units - position)
        held = self.duration_values[None, :] >= shortest[:, None]
        mask[:, vocab.span(T.DURATION)] &= fits & (~phrase_end[:, None] | held)
        worn = (state.pitch_repeats >= SAME_PITCH_RUN)[:, None]
        mask[:, vocab.span(T.PITCH)] &= ~(worn & (self.pitch_values[None, :] == state.last_pitch[:, None]))


def build(context: RuleContext) -> Rule | None:
    return OneNotePerSyllable(context) if context.resolved.syllables else None


RULE_BUILDERS.append(build)
