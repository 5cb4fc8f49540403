"""A request's constraints as masks over the vocabulary, on top of the grammar.

`ConstrainedState` wraps a batch's `GrammarState` and adds what a request asks for:
the header's meter, tempo, key and instruments are forced (so they condition the model
as well as constrain it), then while bars are written: exactly N bars (EOS or FillEnd
only after the last, and no note may ring past it), no meter/tempo/key changes where
the header fixed them, pitches in the scale and range (drums exempt), at most P notes
sounding at once, and a number of notes per bar. Every mask is built with numpy over
(batch, vocab) arrays; nothing loops over the vocabulary.
"""
from __future__ import annotations

import numpy as np

from ..gm import DRUMS, playable_range
from ..tokenizer import T, Tokenizer
from ..tokenizer.encode import meter_index, tempo_bin
from ..tokenizer.grammar import Fill, P
from .request import ResolvedRequest

_RING = 128  # note ends remembered per row for the polyphony limit


class ConstrainedState:
    """Grammar plus request constraints for a batch; see the module docstring.

    ``target_bars``: bars to write after the prompt (or inside the infill); with
    ``exact=False`` the most bars, the model choosing when to end. Rows are inside the
    forced prompt until ``release()`` is called.
    """

    def __init__(self, tokenizer: Tokenizer, resolved: ResolvedRequest, batch_size: int,
                 target_bars: int, exact: bool = True):
        self.tok = tokenizer
        self.vocab = tokenizer.vocab
        self.resolved = resolved
        self.grammar = tokenizer.grammar.start(batch_size)
        self.batch_size = batch_size
        self.target_bars = target_bars
        self.min_bars = target_bars if exact else 1  # free length: the model ends it, after bar 1
        self.generating = False             # False while prompt tokens are forced
        self.bars_written = np.zeros(batch_size, dtype=np.int64)
        self.bar_start = np.zeros(batch_size, dtype=np.int64)   # absolute grid units
        self.first_bar_seen = np.zeros(batch_size, dtype=bool)
        self.programs = np.full((batch_size, self.vocab.config.max_tracks), -1, dtype=np.int64)
        self.note_ends = np.full((batch_size, _RING), -1, dtype=np.int64)
        self.ring_next = np.zeros(batch_size, dtype=np.int64)
        self.notes_in_bar = np.zeros(batch_size, dtype=np.int64)
        self.last_pitch_out_of_scale = np.zeros(batch_size, dtype=bool)
        self.fill_origin = np.zeros(batch_size, dtype=np.int64)  # where infilled bars start
        self.pitch_floor = np.full(batch_size, -1, dtype=np.int64)  # last pitch at this onset and part
        self._static = self._static_masks()

    # --- precomputed per-request masks ----------------------------------------------------
    def _static_masks(self) -> dict[str, np.ndarray]:
        vocab, r = self.vocab, self.resolved
        size = vocab.size
        type_of = vocab.type_of
        masks = {}
        header = type_of != T.CONTROL  # tokens allowed while the header is written
        if r.meter:
            header &= (type_of != T.TIMESIG) | (np.arange(size) == vocab.id(T.TIMESIG, meter_index(vocab, *r.meter)))
        if r.request.tempo is not None:
            header &= (type_of != T.TEMPO) | (np.arange(size) == vocab.id(T.TEMPO, int(tempo_bin(vocab, r.request.tempo))))
        if r.key:
            key_id = vocab.id(T.KEY, r.key[0] * 7 + r.key[1])
            header &= (type_of != T.KEY) | (np.arange(size) == key_id)
        masks["header"] = header
        body = np.ones(size, dtype=bool)     # tokens allowed once bars are being written
        if r.meter:
            body &= type_of != T.TIMESIG
        if r.request.tempo is not None:
            body &= type_of != T.TEMPO
        if r.key:
            body &= type_of != T.KEY
        body &= type_of != T.CONTROL
        masks["body"] = body
        pitch = np.arange(128)
        pitched_ok = np.ones(128, dtype=bool)
        if r.pitch_range:
            pitched_ok &= (pitch >= r.pitch_range[0]) & (pitch <= r.pitch_range[1])
        in_scale = np.isin(pitch % 12, r.scale) if r.scale else np.ones(128, dtype=bool)
        masks["pitch_in_scale"] = pitched_ok & in_scale
        masks["pitch_chromatic"] = pitched_ok & (~in_scale if r.request.chromatic else np.zeros(128, dtype=bool))
        playable = np.zeros((130, 128), dtype=bool)  # row 129: a slot not declared yet
        for program in range(129):
            low, high = playable_range(program)
            playable[program, low:high + 1] = True
        playable[129] = True
        masks["playable"] = playable
        masks["passing_durations"] = vocab.duration_values <= vocab.config.positions_per_quarter // 2
        masks["in_scale_table"] = in_scale
        return masks

    # --- the mask for the next token ----------------------------------------------------
    def allowed(self, tokens_left: int | None = None) -> np.ndarray:
        """Boolean (batch, vocab) of tokens each row may take next."""
        g, vocab, r = self.grammar, self.vocab, self.resolved
        mask = g.allowed()
        header_rows = g.bars == 0
        in_header = header_rows & (g.fill == Fill.NONE)
        mask &= np.where(in_header[:, None], self._static["header"], self._static["body"])
        if r.key:  # a requested key is stated in the header, not left out
            mask[g.phase == P.H_TEMPO, vocab.span(T.TRACK)] = False
        self._programs_mask(mask)
        if not self.generating:
            return mask
        drum = self._current_slot_is_drum()
        self._bar_count_mask(mask)
        self._pitch_mask(mask, drum)
        self._duration_mask(mask, drum)
        if r.request.max_polyphony is not None:
            self._polyphony_mask(mask)
        if r.request.notes_per_bar is not None:
            self._density_mask(mask)
        if tokens_left is not None:
            self._budget_mask(mask, tokens_left)
        empty = ~mask.any(axis=1)
        if empty.any():  # never a dead end: fall back to the grammar alone for that row
            mask[empty] = g.allowed()[empty]
        return mask

    def _programs_mask(self, mask):
        """Force the header's Track/Program declarations to the requested instruments."""
        programs = self.resolved.programs
        if not programs:
            return
        vocab, g = self.vocab, self.grammar
        span_prog = vocab.span(T.PROGRAM)
        declaring = g.phase == P.H_TRACK  # a Program comes next
        for row in np.flatnonzero(declaring):
            slot = g.declared[row] - 1
            want = programs[slot] if slot < len(programs) else None
            mask[row, span_prog] = False
            if want is not None:
                mask[row, span_prog.start + want] = True
        # no more tracks than requested, and no fewer
        span_track = vocab.span(T.TRACK)
        header = g.bars == 0
        can_declare = header & (g.declared < len(programs))
        done = header & (g.declared >= len(programs))
        in_decl = np.isin(g.phase, (P.H_TEMPO, P.H_KEY, P.H_PROGRAM))
        mask[in_decl & done, span_track] = False
        mask[in_decl & can_declare, vocab.id(T.BAR)] = False
        mask[in_decl & can_declare, vocab.id(T.FILL_HOLE)] = False

    def _bar_count_mask(self, mask):
        """Exactly ``target_bars`` bars (at most that many, at least one, for a free
        length): no Bar after the last, no end before ``min_bars``."""
        vocab = self.vocab
        enough = self.bars_written >= self.target_bars
        mask[enough, vocab.id(T.BAR)] = False
        short = self.bars_written < self.min_bars
        for kind in (T.EOS, T.FILL_END, T.FILL_HOLE, T.FILL_START, T.FILL_TRACK):
            mask[short, vocab.id(kind)] = False
        mask[:, vocab.id(T.FILL_HOLE)] = False
        mask[:, vocab.id(T.FILL_TRACK)] = False

    def _current_slot_is_drum(self) -> np.ndarray:
        rows = np.arange(self.batch_size)
        return self.programs[rows, self.grammar.slot] == DRUMS

    def _pitch_mask(self, mask, drum):
        """Scale and range for pitched parts, each instrument within what it can play
        (`gm.playable_range`); within one onset of one part, pitches rise (the order the
        tokenizer writes chords in), so no pitch is struck twice at once."""
        span = self.vocab.span(T.PITCH)
        mask[:, span] &= np.arange(128)[None, :] > self.pitch_floor[:, None]
        program = self.programs[np.arange(self.batch_size), self.grammar.slot]
        mask[:, span] &= self._static["playable"][np.where(program < 0, 129, program)]
        allowed = self._static["pitch_in_scale"] | self._static["pitch_chromatic"]
        mask[~drum, span] &= allowed

    def _duration_mask(self, mask, drum):
        """No note rings past the last bar; a chromatic passing note is at most an eighth."""
        g, vocab = self.grammar, self.vocab
        span = vocab.span(T.DURATION)
        bars_left_after = np.maximum(self.target_bars - self.bars_written, 0)
        remaining = g.bar_units - np.maximum(g.position, 0) + bars_left_after * g.bar_units
        fits = vocab.duration_values[None, :] <= remaining[:, None]
        mask[:, span] &= fits | (g.bars[:, None] == 0)
        passing = self.last_pitch_out_of_scale & ~drum
        mask[passing, span] &= self._static["passing_durations"]

    def _absolute_positions(self) -> np.ndarray:
        return self.bar_start[:, None] + self.tok.grammar.position_values[None, :]

    def _sounding_at(self, onset_units: np.ndarray) -> np.ndarray:
        """Notes still sounding at each onset: (batch, onsets)."""
        return (self.note_ends[:, :, None] > onset_units[:, None, :]).sum(axis=1)

    def _polyphony_mask(self, mask):
        limit = self.resolved.request.max_polyphony
        g, vocab = self.grammar, self.vocab
        span = vocab.span(T.POSITION)
        busy = self._sounding_at(self._absolute_positions()) >= limit
        mask[:, span] &= ~busy
        here = self.bar_start + np.maximum(g.position, 0)
        full = self._sounding_at(here[:, None])[:, 0] >= limit
        at_onset = np.isin(g.phase, (P.TRACK, P.DURATION))  # another note at this onset?
        mask[full & at_onset, vocab.span(T.PITCH)] = False
        mask[full & (g.phase == P.DURATION), vocab.span(T.TRACK)] = False

    def _density_mask(self, mask):
        low, high = self.resolved.request.notes_per_bar
        vocab, g = self.vocab, self.grammar
        full = self.notes_in_bar >= high
        for kind in (T.POSITION, T.TRACK, T.PITCH):
            mask[full & (g.phase != P.POSITION), vocab.span(kind)] = False  # after Position a note is due
        sparse = (self.notes_in_bar < low) & (g.bars >= 1)
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[sparse, vocab.id(kind)] = False

    def _budget_mask(self, mask, tokens_left: int):
        """Near the token budget, stop starting notes and close the bars left."""
        vocab, g = self.vocab, self.grammar
        bars_left = np.maximum(self.min_bars - self.bars_written, 0)
        crunch = tokens_left <= bars_left + 4
        if not crunch.any():
            return
        mask[crunch, vocab.span(T.POSITION)] = False
        mask[crunch & (g.phase == P.DURATION), vocab.span(T.PITCH)] = False
        mask[crunch & (g.phase == P.DURATION), vocab.span(T.TRACK)] = False
        for kind in (T.TIMESIG, T.KEY, T.TEMPO):
            mask[crunch, vocab.span(kind)] = False
        mask[crunch & (self.bars_written >= self.min_bars), vocab.id(T.BAR)] = False  # end now

    # --- state updates ------------------------------------------------------------------
    def body_forbids_meter_and_key(self) -> None:
        """Infilled bars must keep the surrounding meter and key (they are spliced back
        between bars that were written for them)."""
        type_of = self.vocab.type_of
        self._static["body"] &= (type_of != T.TIMESIG) & (type_of != T.KEY)

    def release(self) -> None:
        """The forced prompt is over: count bars and notes from here on."""
        self.generating = True
        self.notes_in_bar[:] = 0

    def advance(self, tokens: np.ndarray) -> None:
        vocab, g = self.vocab, self.grammar
        tokens = np.asarray(tokens, dtype=np.int64)
        kind = vocab.type_of[tokens]
        value = vocab.value_of[tokens]
        rows = np.arange(self.batch_size)
        old_units = g.bar_units.copy()
        declared_slot = g.declared.copy()
        # Programs of declared slots (the Program follows its Track in the header).
        prog = kind == T.PROGRAM
        self.programs[rows[prog], np.maximum(declared_slot[prog] - 1, 0)] = value[prog]
        bar = kind == T.BAR
        restart = (kind == T.FILL_START)
        self.bar_start = np.where(bar & self.first_bar_seen, self.bar_start + old_units, self.bar_start)
        self.first_bar_seen |= bar
        if self.generating:
            in_region = (g.fill == Fill.NONE) | (g.fill == Fill.FILLING) | (g.fill == Fill.FILLING_TRACK)
            self.bars_written += bar & in_region
        self.notes_in_bar[bar] = 0
        pitch = kind == T.PITCH
        self.pitch_floor = np.where(pitch, value, self.pitch_floor)
        self.pitch_floor[(kind == T.POSITION) | (kind == T.TRACK) | (kind == T.BAR)] = -1
        self.last_pitch_out_of_scale = np.where(
            pitch, ~self._static["in_scale_table"][np.where(pitch, value, 0)], self.last_pitch_out_of_scale)
        self.notes_in_bar += pitch
        duration = kind == T.DURATION
        if duration.any():
            ends = self.bar_start + np.maximum(g.position, 0) + vocab.duration_values[np.where(duration, value, 0)]
            slot = self.ring_next % _RING
            self.note_ends[rows[duration], slot[duration]] = ends[duration]
            self.ring_next += duration
        g.advance(tokens)
        if restart.any():
            self._restart_timeline(restart)

    def _restart_timeline(self, rows_mask: np.ndarray) -> None:
        """After FillStart the bars restart at ``fill_origin`` (grid units): the hole's
        first bar for bar infilling, 0 for track infilling. Limits then count only the
        notes being written."""
        self.first_bar_seen[rows_mask] = False
        self.bar_start[rows_mask] = self.fill_origin[rows_mask]
        self.note_ends[rows_mask] = -1
        self.bars_written[rows_mask] = 0
