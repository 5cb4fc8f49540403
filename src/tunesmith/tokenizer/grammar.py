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

import copy
from enum import IntEnum
from types import SimpleNamespace

import numpy as np
from array_api_compat import array_namespace

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
    CHORD = 22        # a chord control (tokenizers with chords only)
    CHORD_BASS = 23


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
    P.POSITION: (T.TEMPO, T.CHORD, T.TRACK, T.PITCH),
    P.POS_TEMPO: (T.CHORD, T.TRACK, T.PITCH, T.POSITION) + _BAR_COMPLETE,
    P.CHORD: (T.CHORD_BASS, T.TRACK, T.PITCH, T.POSITION) + _BAR_COMPLETE,
    P.CHORD_BASS: (T.TRACK, T.PITCH, T.POSITION) + _BAR_COMPLETE,
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
# cost more than the numpy work they index, and torch.compile cannot trace tensor ==
# IntEnum comparisons).
T_INT = SimpleNamespace(**{m.name: int(m) for m in T})
P_INT = SimpleNamespace(**{m.name: int(m) for m in P})
FILL_INT = SimpleNamespace(**{m.name: int(m) for m in Fill})


class Grammar:
    """The grammar of one vocabulary; ``start(batch_size)`` begins parsing."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.tables = SimpleNamespace(
            follows=FOLLOWS,
            is_header=_IS_HEADER,
            type_of=vocab.type_of,
            value_of=vocab.value_of,
            meter_units=vocab.meter_units.astype(np.int64),
            position_values=np.arange(vocab.span(T.POSITION).stop - vocab.span(T.POSITION).start),
            track_values=np.arange(vocab.config.max_tracks),
        )
        """Every lookup table the state reads, as arrays a state can carry to a device."""

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
    """Parsing state of a batch of sequences; see the module docstring.

    The state is a handful of arrays per sequence, updated with whole-array operations
    of the array API that numpy and torch share (`array_api_compat`), never in place and
    never with a data-dependent branch. `map_arrays` moves a state, tables included, to
    another array library or device: the sampler carries it to the GPU and replays its
    updates inside a CUDA graph, with no host round trip per token.
    """

    FIELDS = ("phase", "meter", "header_meter", "saved_meter", "position", "slot", "declared",
              "velocity_set", "bars", "fill", "fill_bars", "fill_slot")
    """The arrays that change as tokens are consumed."""

    def __init__(self, grammar: Grammar, batch_size: int):
        self.grammar = grammar
        self.tables = grammar.tables
        self.xp = array_namespace(self.tables.type_of)
        b = batch_size
        self.rows = np.arange(b)
        self.phase = np.full(b, P_INT.START, dtype=np.int64)
        self.meter = np.zeros(b, dtype=np.int64)          # meter index in force
        self.header_meter = np.zeros(b, dtype=np.int64)
        self.saved_meter = np.zeros(b, dtype=np.int64)    # meter at the FillHole
        self.position = np.full(b, -1, dtype=np.int64)    # last Position in this bar
        self.slot = np.zeros(b, dtype=np.int64)           # current track slot
        self.declared = np.zeros(b, dtype=np.int64)       # slots declared in the header
        self.velocity_set = np.zeros((b, grammar.vocab.config.max_tracks), dtype=bool)
        self.bars = np.zeros(b, dtype=np.int64)           # Bar tokens seen
        self.fill = np.full(b, FILL_INT.NONE, dtype=np.int64)
        self.fill_bars = np.zeros(b, dtype=np.int64)      # bars since FillStart
        self.fill_slot = np.full(b, -1, dtype=np.int64)

    def map_arrays(self, convert) -> "GrammarState":
        """A copy whose arrays, state and tables, are ``convert(array)`` (for example
        ``lambda a: torch.as_tensor(a, device="cuda")``)."""
        moved = copy.copy(self)
        moved.tables = SimpleNamespace(**{k: convert(v) for k, v in vars(self.tables).items()})
        moved.rows = convert(self.rows)
        for name in self.FIELDS:
            setattr(moved, name, convert(getattr(self, name)))
        moved.xp = array_namespace(moved.phase)
        return moved

    @property
    def bar_units(self):
        """Length in grid units of the bar in force, per sequence."""
        return self.tables.meter_units[self.meter]

    def allowed(self):
        """Boolean (batch, vocab): the tokens each sequence may take next."""
        xp, t, vocab = self.xp, self.tables, self.grammar.vocab
        types = t.follows[self.phase]  # a fresh array (advanced indexing copies)
        fill, phase = self.fill, self.phase
        filling = (fill == FILL_INT.FILLING) | (fill == FILL_INT.FILLING_TRACK)
        types[:, T_INT.EOS] &= ((fill == FILL_INT.NONE) & (self.bars >= 1)) | (phase == P_INT.FILL_END)
        types[:, T_INT.FILL_HOLE] &= fill == FILL_INT.NONE
        types[:, T_INT.FILL_START] &= (fill == FILL_INT.HOLE) | (phase == P_INT.FILL_TRACK_SLOT)
        types[:, T_INT.FILL_END] &= filling & (self.fill_bars >= 1)
        types[:, T_INT.FILL_TRACK] &= (fill == FILL_INT.NONE) & (self.bars >= 1)
        types[:, T_INT.BAR] &= fill != FILL_INT.FILLED
        types[:, T_INT.DURATION] &= ~((phase == P_INT.PITCH) & ~self.velocity_set[self.rows, self.slot])
        wrong_slot = (fill == FILL_INT.FILLING_TRACK) & (self.slot != self.fill_slot)
        types[:, T_INT.PITCH] &= ~wrong_slot
        mask = types[:, t.type_of]

        span = vocab.span(T_INT.POSITION)
        pos = t.position_values[None, :]
        mask[:, span] &= (pos > self.position[:, None]) & (pos < self.bar_units[:, None])

        span = vocab.span(T_INT.TRACK)
        tracks = t.track_values[None, :]
        in_header = t.is_header[phase][:, None]
        after_fill_track = (phase == P_INT.FILL_TRACK)[:, None]
        body_ok = (tracks < self.declared[:, None]) & (tracks != self.slot[:, None])
        body_ok &= ~((fill == FILL_INT.FILLING_TRACK)[:, None] & (tracks != self.fill_slot[:, None]))
        ok = xp.where(in_header, tracks == self.declared[:, None],
                      xp.where(after_fill_track, tracks < self.declared[:, None], body_ok))
        mask[:, span] &= ok
        return mask

    def advance(self, tokens) -> None:
        """Consume one token per sequence (any token; check ``allowed()`` first).
        ``tokens``: an integer array of the state's library (numpy accepts any sequence)."""
        xp, t = self.xp, self.tables
        if isinstance(self.phase, np.ndarray):
            tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        kind = t.type_of[tokens]
        value = t.value_of[tokens]
        phase = self.phase
        header = t.is_header[phase]
        new = phase

        def where(cond, to):
            nonlocal new
            new = xp.where(cond, to, new)

        where(kind == T_INT.BOS, P_INT.BOS)
        where(kind == T_INT.CONTROL, P_INT.BOS)
        is_sig = kind == T_INT.TIMESIG
        where(is_sig & header, P_INT.H_TIMESIG)
        where(is_sig & ~header, P_INT.BAR_TIMESIG)
        self.meter = xp.where(is_sig, value, self.meter)
        self.header_meter = xp.where(is_sig & header, value, self.header_meter)
        where((kind == T_INT.TEMPO) & header, P_INT.H_TEMPO)
        where((kind == T_INT.TEMPO) & ~header, P_INT.POS_TEMPO)
        where((kind == T_INT.KEY) & header, P_INT.H_KEY)
        where((kind == T_INT.KEY) & ~header, P_INT.BAR_KEY)

        is_track = kind == T_INT.TRACK
        declare = is_track & header
        where(declare, P_INT.H_TRACK)
        self.declared = self.declared + declare
        choose_fill = is_track & (phase == P_INT.FILL_TRACK)
        where(choose_fill, P_INT.FILL_TRACK_SLOT)
        self.fill_slot = xp.where(choose_fill, value, self.fill_slot)
        switch = is_track & ~header & ~choose_fill
        where(switch, P_INT.TRACK)
        self.slot = xp.where(switch, value, self.slot)
        where(kind == T_INT.PROGRAM, P_INT.H_PROGRAM)

        is_bar = kind == T_INT.BAR
        where(is_bar, P_INT.BAR)
        self.bars = self.bars + is_bar
        self.fill_bars = self.fill_bars + (is_bar & ((self.fill == FILL_INT.FILLING) | (self.fill == FILL_INT.FILLING_TRACK)))
        self.position = xp.where(is_bar, -1, self.position)
        self.slot = xp.where(is_bar, 0, self.slot)

        is_pos = kind == T_INT.POSITION
        where(is_pos, P_INT.POSITION)
        self.position = xp.where(is_pos, value, self.position)
        where(kind == T_INT.PITCH, P_INT.PITCH)
        is_vel = kind == T_INT.VELOCITY
        where(is_vel, P_INT.VELOCITY)
        this_slot = t.track_values[None, :] == self.slot[:, None]
        self.velocity_set = (self.velocity_set & ~is_bar[:, None]) | (is_vel[:, None] & this_slot)
        where(kind == T_INT.DURATION, P_INT.DURATION)
        where(kind == T_INT.CHORD, P_INT.CHORD)
        where(kind == T_INT.CHORD_BASS, P_INT.CHORD_BASS)

        hole = kind == T_INT.FILL_HOLE
        where(hole, P_INT.FILL_HOLE)
        self.saved_meter = xp.where(hole, self.meter, self.saved_meter)
        self.fill = xp.where(hole, FILL_INT.HOLE, self.fill)
        fill_track = kind == T_INT.FILL_TRACK
        where(fill_track, P_INT.FILL_TRACK)
        self.fill = xp.where(fill_track, FILL_INT.TRACK_PENDING, self.fill)
        start = kind == T_INT.FILL_START
        where(start, P_INT.FILL_START)
        self.meter = xp.where(start & (self.fill == FILL_INT.HOLE), self.saved_meter,
                              xp.where(start & (self.fill == FILL_INT.TRACK_PENDING), self.header_meter, self.meter))
        self.fill = xp.where(start & (self.fill == FILL_INT.HOLE), FILL_INT.FILLING,
                             xp.where(start & (self.fill == FILL_INT.TRACK_PENDING), FILL_INT.FILLING_TRACK, self.fill))
        end = kind == T_INT.FILL_END
        where(end, P_INT.FILL_END)
        self.fill = xp.where(end, FILL_INT.FILLED, self.fill)
        where((kind == T_INT.EOS) | (kind == T_INT.PAD), P_INT.DONE)
        self.phase = new
