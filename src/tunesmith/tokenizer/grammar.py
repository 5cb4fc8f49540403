"""The token grammar as data: which token may follow a prefix, for a batch at once.

A `GrammarState` tracks, per sequence, a *phase* (what the last token was, in header or
body context) plus the little state the grammar needs: the current position in the bar
and the bar's length, the current track slot, which slots already have a velocity in
this bar, the declared slots and the infilling stage. ``allowed()`` returns a boolean
(batch, vocab) mask built from tables with numpy, never a Python loop over the
vocabulary, so a sampler can apply it at every step; ``advance()`` consumes one token
per sequence. Sequences the grammar accepts always decode with no hanging notes.

>>> from tunesmith.tokenizer import Tokenizer
>>> tok = Tokenizer()
>>> state = tok.grammar.start(batch_size=1)
>>> [tok.vocab.name(i) for i in state.allowed()[0].nonzero()[0]]
['BOS']
"""
from __future__ import annotations

from enum import IntEnum
from types import SimpleNamespace

import numpy as np

from ..errors import TokenizerError
from .vocab import T, Vocabulary


class P(IntEnum):
    """Phases: what the last token was."""

    START = 0
    BOS = 1
    H_TIMESIG = 2
    H_TEMPO = 3
    H_KEY = 4
    H_TRACK = 5
    H_PROGRAM = 6
    BAR = 7
    BAR_TIMESIG = 8
    BAR_KEY = 9
    POSITION = 10
    POS_TEMPO = 11
    TRACK = 12
    PITCH = 13
    VELOCITY = 14
    DURATION = 15
    FILL_HOLE = 16
    FILL_TRACK = 17
    FILL_TRACK_SLOT = 18
    FILL_START = 19
    FILL_END = 20
    DONE = 21


class Fill(IntEnum):
    """Infilling stage of a sequence."""

    NONE = 0
    HOLE = 1           # FillHole seen: suffix bars, then FillStart
    FILLING = 2        # after FillStart: the missing bars, then FillEnd
    TRACK_PENDING = 3  # FillTrack seen: Track_s, then FillStart
    FILLING_TRACK = 4  # after FillStart: the missing track's notes, bar by bar
    FILLED = 5         # FillEnd seen: EOS


_BAR_COMPLETE = (T.BAR, T.EOS, T.FILL_HOLE, T.FILL_START, T.FILL_END, T.FILL_TRACK)
_FOLLOWS = {
    P.START: (T.BOS,),
    P.BOS: (T.CONTROL, T.TIMESIG),
    P.H_TIMESIG: (T.TEMPO,),
    P.H_TEMPO: (T.KEY, T.TRACK),
    P.H_KEY: (T.TRACK,),
    P.H_TRACK: (T.PROGRAM,),
    P.H_PROGRAM: (T.TRACK, T.BAR, T.FILL_HOLE),
    P.BAR: (T.TIMESIG, T.KEY, T.POSITION) + _BAR_COMPLETE,
    P.BAR_TIMESIG: (T.KEY, T.POSITION) + _BAR_COMPLETE,
    P.BAR_KEY: (T.POSITION,) + _BAR_COMPLETE,
    P.POSITION: (T.TEMPO, T.TRACK, T.PITCH),
    P.POS_TEMPO: (T.TRACK, T.PITCH, T.POSITION) + _BAR_COMPLETE,
    P.TRACK: (T.PITCH,),
    P.PITCH: (T.VELOCITY, T.DURATION),
    P.VELOCITY: (T.DURATION,),
    P.DURATION: (T.TRACK, T.PITCH, T.POSITION) + _BAR_COMPLETE,
    P.FILL_HOLE: (T.BAR, T.FILL_START),
    P.FILL_TRACK: (T.TRACK,),
    P.FILL_TRACK_SLOT: (T.FILL_START,),
    P.FILL_START: (T.BAR,),
    P.FILL_END: (T.EOS,),
    P.DONE: (T.PAD,),
}
FOLLOWS = np.zeros((len(P), len(T)), dtype=bool)
"""FOLLOWS[phase, type]: token types that may come next in each phase (before the
state-dependent checks on positions, slots, velocities and infilling)."""
for _phase, _types in _FOLLOWS.items():
    FOLLOWS[_phase, list(_types)] = True

_HEADER_PHASES = (P.BOS, P.H_TIMESIG, P.H_TEMPO, P.H_KEY, P.H_TRACK, P.H_PROGRAM)
_IS_HEADER = np.isin(np.arange(len(P)), _HEADER_PHASES)

# Plain-int views of the enums for the per-step hot path (IntEnum attribute lookups
# cost more than the numpy work they index).
_T = SimpleNamespace(**{m.name: int(m) for m in T})
_P = SimpleNamespace(**{m.name: int(m) for m in P})
_F = SimpleNamespace(**{m.name: int(m) for m in Fill})


class Grammar:
    """The grammar of one vocabulary; ``start(batch_size)`` begins parsing."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.follows = FOLLOWS
        self.type_of = vocab.type_of
        self.position_values = np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start)
        self.track_values = np.arange(vocab.config.max_tracks)

    def start(self, batch_size: int = 1) -> "GrammarState":
        return GrammarState(self, batch_size)

    def validate(self, ids) -> None:
        """Raise ``TokenizerError`` at the first token of ``ids`` the grammar forbids.

        ``ids`` may start with BOS (a whole piece) and may stop anywhere."""
        ids = np.asarray(ids, dtype=np.int64)
        state = self.start(1)
        for i, token in enumerate(ids.tolist()):
            if not (0 <= token < self.vocab.size) or not state.allowed()[0, token]:
                context = " ".join(self.vocab.name(t) for t in ids[max(0, i - 6): i].tolist()
                                   if 0 <= t < self.vocab.size)
                name = self.vocab.name(token) if 0 <= token < self.vocab.size else str(token)
                raise TokenizerError(f"token {i} ({name}) may not follow ...{context}")
            state.advance(np.array([token]))


class GrammarState:
    """Parsing state of a batch of sequences; see the module docstring."""

    def __init__(self, grammar: Grammar, batch_size: int):
        self.grammar = grammar
        vocab = grammar.vocab
        b = batch_size
        self.phase = np.full(b, _P.START, dtype=np.int64)
        self.meter = np.zeros(b, dtype=np.int64)          # meter index in force
        self.header_meter = np.zeros(b, dtype=np.int64)
        self.saved_meter = np.zeros(b, dtype=np.int64)    # meter at the FillHole
        self.position = np.full(b, -1, dtype=np.int64)    # last Position in this bar
        self.slot = np.zeros(b, dtype=np.int64)           # current track slot
        self.declared = np.zeros(b, dtype=np.int64)       # slots declared in the header
        self.velocity_set = np.zeros((b, vocab.config.max_tracks), dtype=bool)
        self.bars = np.zeros(b, dtype=np.int64)           # Bar tokens seen
        self.fill = np.full(b, _F.NONE, dtype=np.int64)
        self.fill_bars = np.zeros(b, dtype=np.int64)      # bars since FillStart
        self.fill_slot = np.full(b, -1, dtype=np.int64)

    @property
    def bar_units(self) -> np.ndarray:
        """Length in grid units of the bar in force, per sequence."""
        return self.grammar.vocab.meter_units[self.meter].astype(np.int64)

    def allowed(self) -> np.ndarray:
        """Boolean (batch, vocab): the tokens each sequence may take next."""
        g, vocab = self.grammar, self.grammar.vocab
        rows = np.arange(len(self.phase))
        types = g.follows[self.phase].copy()
        fill, phase = self.fill, self.phase
        filling = (fill == _F.FILLING) | (fill == _F.FILLING_TRACK)
        types[:, _T.EOS] &= ((fill == _F.NONE) & (self.bars >= 1)) | (phase == _P.FILL_END)
        types[:, _T.FILL_HOLE] &= fill == _F.NONE
        types[:, _T.FILL_START] &= (fill == _F.HOLE) | (phase == _P.FILL_TRACK_SLOT)
        types[:, _T.FILL_END] &= filling & (self.fill_bars >= 1)
        types[:, _T.FILL_TRACK] &= (fill == _F.NONE) & (self.bars >= 1)
        types[:, _T.BAR] &= fill != _F.FILLED
        types[:, _T.DURATION] &= ~((phase == _P.PITCH) & ~self.velocity_set[rows, self.slot])
        wrong_slot = (fill == _F.FILLING_TRACK) & (self.slot != self.fill_slot)
        types[:, _T.PITCH] &= ~wrong_slot
        mask = types[:, g.type_of]

        span = vocab.span(_T.POSITION)
        pos = g.position_values[None, :]
        mask[:, span] &= (pos > self.position[:, None]) & (pos < self.bar_units[:, None])

        span = vocab.span(_T.TRACK)
        tracks = g.track_values[None, :]
        in_header = _IS_HEADER[phase][:, None]
        after_fill_track = (phase == _P.FILL_TRACK)[:, None]
        body_ok = (tracks < self.declared[:, None]) & (tracks != self.slot[:, None])
        body_ok &= ~((fill == _F.FILLING_TRACK)[:, None] & (tracks != self.fill_slot[:, None]))
        ok = np.where(in_header, tracks == self.declared[:, None],
                      np.where(after_fill_track, tracks < self.declared[:, None], body_ok))
        mask[:, span] &= ok
        return mask

    def advance(self, tokens) -> None:
        """Consume one token per sequence (any token; check ``allowed()`` first)."""
        vocab = self.grammar.vocab
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        kind = vocab.type_of[tokens]
        value = vocab.value_of[tokens]
        phase = self.phase
        header = _IS_HEADER[phase]
        new = phase.copy()

        def where(cond, to):
            new[cond] = to

        where(kind == _T.BOS, _P.BOS)
        where(kind == _T.CONTROL, _P.BOS)
        is_sig = kind == _T.TIMESIG
        where(is_sig & header, _P.H_TIMESIG)
        where(is_sig & ~header, _P.BAR_TIMESIG)
        self.meter = np.where(is_sig, value, self.meter)
        self.header_meter = np.where(is_sig & header, value, self.header_meter)
        where((kind == _T.TEMPO) & header, _P.H_TEMPO)
        where((kind == _T.TEMPO) & ~header, _P.POS_TEMPO)
        where((kind == _T.KEY) & header, _P.H_KEY)
        where((kind == _T.KEY) & ~header, _P.BAR_KEY)

        is_track = kind == _T.TRACK
        declare = is_track & header
        where(declare, _P.H_TRACK)
        self.declared = self.declared + declare
        choose_fill = is_track & (phase == _P.FILL_TRACK)
        where(choose_fill, _P.FILL_TRACK_SLOT)
        self.fill_slot = np.where(choose_fill, value, self.fill_slot)
        switch = is_track & ~header & ~choose_fill
        where(switch, _P.TRACK)
        self.slot = np.where(switch, value, self.slot)
        where(kind == _T.PROGRAM, _P.H_PROGRAM)

        is_bar = kind == _T.BAR
        where(is_bar, _P.BAR)
        self.bars = self.bars + is_bar
        self.fill_bars = self.fill_bars + (is_bar & ((self.fill == _F.FILLING) | (self.fill == _F.FILLING_TRACK)))
        self.position = np.where(is_bar, -1, self.position)
        self.slot = np.where(is_bar, 0, self.slot)
        self.velocity_set[is_bar] = False

        is_pos = kind == _T.POSITION
        where(is_pos, _P.POSITION)
        self.position = np.where(is_pos, value, self.position)
        where(kind == _T.PITCH, _P.PITCH)
        is_vel = kind == _T.VELOCITY
        where(is_vel, _P.VELOCITY)
        rows = np.flatnonzero(is_vel)
        self.velocity_set[rows, self.slot[rows]] = True
        where(kind == _T.DURATION, _P.DURATION)

        hole = kind == _T.FILL_HOLE
        where(hole, _P.FILL_HOLE)
        self.saved_meter = np.where(hole, self.meter, self.saved_meter)
        self.fill = np.where(hole, _F.HOLE, self.fill)
        fill_track = kind == _T.FILL_TRACK
        where(fill_track, _P.FILL_TRACK)
        self.fill = np.where(fill_track, _F.TRACK_PENDING, self.fill)
        start = kind == _T.FILL_START
        where(start, _P.FILL_START)
        self.meter = np.where(start & (self.fill == _F.HOLE), self.saved_meter,
                              np.where(start & (self.fill == _F.TRACK_PENDING), self.header_meter, self.meter))
        self.fill = np.where(start & (self.fill == _F.HOLE), _F.FILLING,
                             np.where(start & (self.fill == _F.TRACK_PENDING), _F.FILLING_TRACK, self.fill))
        end = kind == _T.FILL_END
        where(end, _P.FILL_END)
        self.fill = np.where(end, _F.FILLED, self.fill)
        where((kind == _T.EOS) | (kind == _T.PAD), _P.DONE)
        self.phase = new
