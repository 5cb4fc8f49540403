"""A request's constraints as masks over the vocabulary, on top of the grammar.

`ConstrainedState` wraps a batch's `GrammarState` and adds what a request asks for:
the header's meter, tempo, key and instruments are forced (so they condition the model
as well as constrain it), then while bars are written: exactly N bars (EOS or FillEnd
only after the last, and no note may ring past it), no meter/tempo/key changes where
the header fixed them, pitches in the scale and range (drums exempt), at most P notes
sounding at once, a number of notes per bar, every part asked for in every bar, a new
piece's first note on the downbeat, and tokens kept
for the bars still to come. Room for each minimum is planned ahead (one note per free
grid position), so the masks rarely leave nothing; when they do, the soft limits give
way in a fixed order (see `allowed`). Every mask is built with whole-array
operations over (batch, vocab) arrays; nothing loops over the vocabulary or the batch,
and nothing branches on the data, so the same code runs with numpy on the host and
with torch inside a CUDA graph (`map_arrays`, as for the grammar).
"""
from __future__ import annotations

import copy

import numpy as np
from array_api_compat import device

from ..gm import DRUMS, playable_range
from ..tokenizer import T, Tokenizer
from ..tokenizer.encode import meter_index, tempo_bin
from ..tokenizer.grammar import FILL_INT, P_INT, T_INT
from .request import ResolvedRequest, playable_pitches
from .rules import RuleContext, build_rules, clamp as _clamp

_RING = 128  # note ends remembered per row for the polyphony limit

TOKENS_PER_NOTE = 4
"""Tokens a note needs at most, planning the budget: Position (or Track), Pitch,
Velocity (once per part and bar), Duration."""

RESERVED_NOTES_PER_BAR = 2
"""Notes' worth of tokens kept for each bar still to come, so that a verbose start
cannot leave the last bars empty (they get one note at least, and what is spared)."""

CLOSING_TOKENS = 96
"""A free-length piece stops beginning bars when this few tokens of its budget are left
(about two bars of a melody), so it ends at a barline instead of being cut."""


class ConstrainedState:
    """Grammar plus request constraints for a batch; see the module docstring.

    ``target_bars``: bars to write after the prompt (or inside the infill); with
    ``exact=False`` the most bars, the model choosing when to end. Rows are inside the
    forced prompt until ``release()`` is called.
    """

    FIELDS = ("bars_written", "bar_start", "first_bar_seen", "programs", "note_ends", "ring_next",
              "notes_in_bar", "notes_written", "part_notes_in_bar", "last_pitch_out_of_scale",
              "fill_origin", "pitch_floor", "part_floor", "last_pitch", "pitch_repeats")
    """The arrays that change as tokens are consumed (besides the grammar's)."""

    def __init__(self, tokenizer: Tokenizer, resolved: ResolvedRequest, batch_size: int,
                 target_bars: int, exact: bool = True, start_on_downbeat: bool = False,
                 every_part_every_bar: bool = False, mode: str = "new", prompt=None,
                 span: tuple[int, int] | None = None):
        self.tok = tokenizer
        self.vocab = tokenizer.vocab
        self.resolved = resolved
        self.grammar = tokenizer.grammar.start(batch_size)
        self.xp = self.grammar.xp
        self.batch_size = batch_size
        self.target_bars = target_bars
        self.min_bars = target_bars if exact else 1  # free length: the model ends it, after bar 1
        self.generating = False             # False while prompt tokens are forced
        self.start_on_downbeat = start_on_downbeat  # a new piece: no pickup bar
        self.every_part_every_bar = every_part_every_bar  # the parts asked for all play
        self.bars_written = np.zeros(batch_size, dtype=np.int64)
        self.bar_start = np.zeros(batch_size, dtype=np.int64)   # absolute grid units
        self.first_bar_seen = np.zeros(batch_size, dtype=bool)
        self.programs = np.full((batch_size, self.vocab.config.max_tracks), -1, dtype=np.int64)
        self.note_ends = np.full((batch_size, _RING), -1, dtype=np.int64)
        self.ring_next = np.zeros(batch_size, dtype=np.int64)
        self.notes_in_bar = np.zeros(batch_size, dtype=np.int64)
        self.notes_written = np.zeros(batch_size, dtype=np.int64)  # since release()
        self.part_notes_in_bar = np.zeros((batch_size, self.vocab.config.max_tracks), dtype=np.int64)
        self.last_pitch_out_of_scale = np.zeros(batch_size, dtype=bool)
        self.fill_origin = np.zeros(batch_size, dtype=np.int64)  # where infilled bars start
        self.pitch_floor = np.full(batch_size, -1, dtype=np.int64)  # last pitch at this onset and part
        self.part_floor = np.full((batch_size, self.vocab.config.max_tracks), -1, dtype=np.int64)  # per part
        self.last_pitch = np.full(batch_size, -1, dtype=np.int64)   # of the piece, any part
        self.pitch_repeats = np.zeros(batch_size, dtype=np.int64)   # notes in a row on it
        self._static = self._static_masks()
        self.rules = build_rules(RuleContext(tokenizer, resolved, batch_size, target_bars, mode, prompt, span))

    def map_arrays(self, convert) -> "ConstrainedState":
        """A copy whose arrays (grammar, request masks and state) are ``convert(array)``."""
        moved = copy.copy(self)
        moved.grammar = self.grammar.map_arrays(convert)
        moved.xp = moved.grammar.xp
        moved._static = {name: convert(mask) for name, mask in self._static.items()}
        moved.rules = [rule.map_arrays(convert) for rule in self.rules]
        for name in self.FIELDS:
            setattr(moved, name, convert(getattr(self, name)))
        return moved

    def fields(self) -> list[tuple[object, str]]:
        """(owner, attribute) of every array that changes as tokens are consumed."""
        return ([(self, name) for name in self.FIELDS] + [(self.grammar, name) for name in self.grammar.FIELDS]
                + [(rule, name) for rule in self.rules for name in rule.FIELDS])

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
        if r.pitch_range:  # the model may only choose instruments that can play in range
            scale = r.scale if r.scale and not r.request.chromatic else None
            unplayable = [vocab.id(T.PROGRAM, program) for program in range(129)
                          if not playable_pitches(program, r.pitch_range, scale)]
            header[unplayable] = False
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
        if r.request.notes_per_bar and r.request.notes_per_bar[0] > 0:
            # the minimum is planned at one note per grid position: no bar shorter than that
            meters = np.clip(vocab.value_of, 0, len(vocab.meter_units) - 1)
            too_short = (type_of == T.TIMESIG) & (vocab.meter_units[meters] < r.request.notes_per_bar[0])
            masks["header"] = masks["header"] & ~too_short
            masks["body"] = masks["body"] & ~too_short
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
        masks["duration_values"] = vocab.duration_values
        masks["pitch_values"] = pitch
        masks["position_values"] = self.tok.grammar.tables.position_values
        masks["ring_slots"] = np.arange(_RING)
        # grid units a note starting in this bar can reach, and the bars they fall in
        longest_bar = int(vocab.meter_units.max())
        masks["window"] = np.arange(longest_bar + int(vocab.duration_values.max()))
        masks["meter_units"] = vocab.meter_units.astype(np.int64)
        shortest_bar = int(vocab.meter_units[meter_index(vocab, *r.meter)] if r.meter else vocab.meter_units.min())
        masks["bar_numbers"] = np.arange(-(-len(masks["window"]) // shortest_bar) + 1)
        masks["program_values"] = np.arange(vocab.span(T.PROGRAM).stop - vocab.span(T.PROGRAM).start)
        wanted = [int(p) for p in r.programs or ()] or [-1]
        masks["wanted_programs"] = np.asarray(wanted, dtype=np.int64)
        masks["quarter"] = np.asarray(vocab.config.positions_per_quarter, dtype=np.int64)
        return masks

    # --- the mask for the next token ----------------------------------------------------
    def allowed(self, tokens_left=None):
        """Boolean (batch, vocab) of tokens each row may take next. ``tokens_left``: an
        int or a 0-d array of the state's library (the budget still free)."""
        g, vocab, r, xp = self.grammar, self.vocab, self.resolved, self.xp
        grammar_mask = g.allowed()
        header_rows = g.bars == 0
        in_header = header_rows & (g.fill == FILL_INT.NONE)
        mask = grammar_mask & xp.where(in_header[:, None], self._static["header"], self._static["body"])
        if r.key:  # a requested key is stated in the header, not left out
            mask[:, vocab.span(T.TRACK)] &= ~(g.phase == P_INT.H_TEMPO)[:, None]
        self._programs_mask(mask)
        if not self.generating:
            return mask
        drum = self._current_slot_is_drum()
        self._bar_count_mask(mask)
        if self.start_on_downbeat:
            self._downbeat_mask(mask)
        self._pitch_mask(mask, drum)
        self._duration_mask(mask, drum)
        structural = xp.asarray(mask, copy=True)  # bars, key, scale, range, one strike a pitch
        for rule in self.rules:
            if not rule.soft:
                rule.apply(self, mask)
        required = mask  # and the request's rules (lyrics, chords, idioms): given up last
        limited = xp.asarray(required, copy=True)
        if r.request.max_polyphony is not None:
            self._polyphony_mask(limited)
        mask = xp.asarray(limited, copy=True)
        silent = self._silent_parts() if self.every_part_every_bar else None
        if r.request.notes_per_bar is not None:
            self._density_mask(mask, silent)
        if silent is not None:
            self._parts_mask(mask, silent)
        low = r.request.notes_per_bar[0] if r.request.notes_per_bar is not None else 0
        if low > 0 or silent is not None:
            self._room_for_minimum(mask, low, silent)
        if tokens_left is not None:
            self._budget_mask(mask, tokens_left, silent)
        planned = mask  # density, parts and budget: the request's own limits
        mask = xp.asarray(planned, copy=True)
        for rule in self.rules:
            if rule.soft:
                rule.apply(self, mask)
        # never a dead end: where the limits leave nothing, give up the soft rules first
        # (preferences: phrase ends, comping), then the density and the budget, then the
        # polyphony limit, then the request's rules (a register or a chord that leaves a
        # part no higher pitch at its onset), and only where even the structure is empty
        # keep the grammar alone
        for fallback in (planned, limited, required, structural, grammar_mask):
            mask = xp.where(xp.any(mask, axis=1)[:, None], mask, fallback)
        return mask

    def _programs_mask(self, mask):
        """Force the header's Track/Program declarations to the requested instruments."""
        programs = self.resolved.programs
        if not programs:
            return
        vocab, g, xp = self.vocab, self.grammar, self.xp
        wanted = self._static["wanted_programs"]
        slot = g.declared - 1  # the slot whose Program comes next
        has_want = slot < len(programs)
        want = wanted[_clamp(xp, slot, 0, len(programs) - 1)]
        declaring = g.phase == P_INT.H_TRACK
        right_program = has_want[:, None] & (self._static["program_values"][None, :] == want[:, None])
        mask[:, vocab.span(T.PROGRAM)] &= ~declaring[:, None] | right_program
        # no more tracks than requested, and no fewer
        header = g.bars == 0
        can_declare = header & (g.declared < len(programs))
        done = header & (g.declared >= len(programs))
        in_decl = (g.phase == P_INT.H_TEMPO) | (g.phase == P_INT.H_KEY) | (g.phase == P_INT.H_PROGRAM)
        mask[:, vocab.span(T.TRACK)] &= ~(in_decl & done)[:, None]
        for kind in (T.BAR, T.FILL_HOLE):
            mask[:, vocab.id(kind)] &= ~(in_decl & can_declare)

    def _bar_count_mask(self, mask):
        """Exactly ``target_bars`` bars (at most that many, at least one, for a free
        length): no Bar after the last, no end before ``min_bars``."""
        vocab = self.vocab
        mask[:, vocab.id(T.BAR)] &= self.bars_written < self.target_bars
        short = self.bars_written < self.min_bars
        for kind in (T.EOS, T.FILL_END, T.FILL_HOLE, T.FILL_START, T.FILL_TRACK):
            mask[:, vocab.id(kind)] &= ~short
        mask[:, vocab.id(T.FILL_HOLE)] = False
        mask[:, vocab.id(T.FILL_TRACK)] = False

    def _downbeat_mask(self, mask):
        """A new piece's first note falls on the downbeat of its first bar (no pickup)."""
        g, vocab = self.grammar, self.vocab
        silent_start = (self.bars_written == 1) & (self.notes_in_bar == 0)
        first_onset = (self._static["position_values"][None, :] == 0) & (g.position < 0)[:, None]
        mask[:, vocab.span(T.POSITION)] &= ~silent_start[:, None] | first_onset
        for kind in (T.BAR, T.EOS):
            mask[:, vocab.id(kind)] &= ~silent_start

    def _current_program(self):
        return self.programs[self.grammar.rows, self.grammar.slot]

    def _current_slot_is_drum(self):
        return self._current_program() == DRUMS

    def _pitch_mask(self, mask, drum):
        """Scale and range for pitched parts, each instrument within what it can play
        (`gm.playable_range`); within one onset of one part, pitches rise (the order the
        tokenizer writes chords in), so no pitch is struck twice at once."""
        xp = self.xp
        span = self.vocab.span(T.PITCH)
        program = self._current_program()
        ok = self._static["playable"][xp.where(program < 0, 129, program)]
        ok &= self._static["pitch_values"][None, :] > self.pitch_floor[:, None]
        allowed = self._static["pitch_in_scale"] | self._static["pitch_chromatic"]
        ok &= drum[:, None] | allowed[None, :]
        mask[:, span] &= ok

    def _duration_mask(self, mask, drum):
        """No note rings past the last bar; a chromatic passing note is at most an eighth."""
        g, vocab, xp = self.grammar, self.vocab, self.xp
        span = vocab.span(T.DURATION)
        units = g.bar_units
        bars_left_after = _clamp(xp, self.target_bars - self.bars_written, 0)
        remaining = units - _clamp(xp, g.position, 0) + bars_left_after * units
        fits = self._static["duration_values"][None, :] <= remaining[:, None]
        passing = self.last_pitch_out_of_scale & ~drum
        ok = (fits | (g.bars == 0)[:, None]) & (~passing[:, None] | self._static["passing_durations"][None, :])
        mask[:, span] &= ok

    def _sounding_at(self, onset_units):
        """Notes still sounding at each onset: (batch, onsets)."""
        return self.xp.sum(self.note_ends[:, :, None] > onset_units[:, None, :], axis=1)

    def _polyphony_mask(self, mask):
        limit = self.resolved.request.max_polyphony
        g, vocab, xp = self.grammar, self.vocab, self.xp
        onsets = self.bar_start[:, None] + g.tables.position_values[None, :]
        busy = self._sounding_at(onsets) >= limit
        mask[:, vocab.span(T.POSITION)] &= ~busy
        here = self.bar_start + _clamp(xp, g.position, 0)
        full = self._sounding_at(here[:, None])[:, 0] >= limit
        at_onset = (g.phase == P_INT.TRACK) | (g.phase == P_INT.DURATION)  # another note at this onset?
        mask[:, vocab.span(T.PITCH)] &= ~(full & at_onset)[:, None]
        mask[:, vocab.span(T.TRACK)] &= ~(full & (g.phase == P_INT.DURATION))[:, None]

    def _density_mask(self, mask, silent):
        low, high = self.resolved.request.notes_per_bar
        vocab, g = self.vocab, self.grammar
        full = self.notes_in_bar >= high
        for kind in (T.POSITION, T.TRACK, T.PITCH):  # after Position a note is due
            mask[:, vocab.span(kind)] &= ~(full & (g.phase != P_INT.POSITION))[:, None]
        sparse = (self.notes_in_bar < low) & (g.bars >= 1)
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[:, vocab.id(kind)] &= ~sparse
        if silent is not None:  # the last notes the maximum allows go to silent parts
            reserved = self.notes_in_bar + silent >= high
            silent_slot = self.part_notes_in_bar == 0
            mask[:, vocab.span(T.PITCH)] &= ~(reserved & ~silent_slot[g.rows, g.slot])[:, None]
            mask[:, vocab.span(T.TRACK)] &= ~reserved[:, None] | silent_slot

    def _room_for_minimum(self, mask, low, silent):
        """Keep room for each bar's minimum of notes, planning on one note per *free*
        grid position (one where fewer notes sound than the polyphony limit; every
        position without a limit). A Position may not skip so far that too few free
        positions are left in the bar; under a polyphony limit a duration may not hold a
        voice over so many positions that this bar, or a later bar still to be written,
        falls short. Where a bar already has less room than its minimum (a prompt's
        notes fill it), no more than that room is asked for. ``low``: notes per bar;
        ``silent``: per row, the parts that must still play in this bar (None: no such
        rule), each needing a note."""
        g, vocab, xp = self.grammar, self.vocab, self.xp
        limit = self.resolved.request.max_polyphony
        window = self._static["window"]           # grid units from this bar's start
        units = g.bar_units[:, None]
        rows = g.rows[:, None]
        need = _clamp(xp, low - self.notes_in_bar, 0)
        if silent is not None:
            need = xp.maximum(need, silent)
            low = max(low, len(self.resolved.programs))
        if limit is None:
            free = xp.ones((self.batch_size, window.shape[0]), dtype=xp.int64, device=device(window))
        else:
            sounding = self._sounding_at(self.bar_start[:, None] + window[None, :])
            free = xp.astype(sounding < limit, xp.int64)
        free_before = xp.cumulative_sum(free, axis=1, include_initial=True)  # free positions in [0, w)

        def free_in(lo, hi, before=free_before):
            return before[rows, xp.maximum(hi, lo)] - before[rows, lo]

        after_onset = g.position[:, None] + 1  # the position after the last onset (0 after Bar)
        # a Position (or a tempo change at it) with no note yet: that onset still counts
        unused = (g.phase == P_INT.POSITION) | (g.phase == P_INT.POS_TEMPO)
        left = free_in(after_onset - xp.astype(unused, xp.int64)[:, None], units)[:, 0]
        starts = xp.minimum(g.tables.position_values[None, :], units)
        mask[:, vocab.span(T.POSITION)] &= free_in(starts, units) >= xp.minimum(need, left)[:, None]
        if silent is not None:  # when the onsets left are as few as the silent parts, give them this one
            silent_slots = self.part_notes_in_bar == 0
            tight = free_in(after_onset, units)[:, 0] < silent
            mask[:, vocab.span(T.PITCH)] &= ~(tight & ~silent_slots[g.rows, g.slot])[:, None]
            mask[:, vocab.span(T.TRACK)] &= ~tight[:, None] | silent_slots
        # a meter change (right after Bar) must leave the bar room: notes ringing into
        # a shorter bar may hold too many of its positions
        meter_room = free_before[:, self._static["meter_units"]] - free_before[:, :1]
        mask[:, vocab.span(T.TIMESIG)] &= meter_room >= low
        if limit is None:
            return
        # a note about to get its duration, at `onset`, takes a voice over [onset, onset + d)
        last_free = xp.cumulative_sum(xp.astype(sounding == limit - 1, xp.int64), axis=1, include_initial=True)
        bar = self._static["bar_numbers"][None, :]           # this bar (0) and the later ones
        size = window.shape[0]
        lo = xp.where(bar == 0, after_onset, _clamp(xp, bar * units, high=size))
        hi = _clamp(xp, (bar + 1) * units, high=size)
        room = free_in(lo, hi)                                # free positions per bar now
        bars_left = (self.target_bars - self.bars_written)[:, None]
        wanted = xp.where(bar == 0, need[:, None], xp.where(bar <= bars_left, low, 0))
        wanted = xp.minimum(wanted, room)
        ends = _clamp(xp, after_onset - 1, 0) + self._static["duration_values"][None, :]  # (B, durations)
        taken_hi = xp.minimum(hi[:, None, :], ends[:, :, None])
        lo3 = xp.broadcast_to(lo[:, None, :], taken_hi.shape)
        taken = last_free[rows[:, :, None], xp.maximum(taken_hi, lo3)] - last_free[rows[:, :, None], lo3]
        fits = xp.all(room[:, None, :] - taken >= wanted[:, None, :], axis=2)
        mask[:, vocab.span(T.DURATION)] &= fits

    def _silent_parts(self):
        """Declared parts with no note yet in this bar, per row (0 before the first bar)."""
        g = self.grammar
        declared = g.tables.track_values[None, :] < g.declared[:, None]
        silent = declared & (self.part_notes_in_bar == 0)
        return self.xp.sum(self.xp.astype(silent, self.xp.int64), axis=1) * (g.bars >= 1)

    def _parts_mask(self, mask, silent):
        """Every part asked for plays in every bar: no bar ends while one is silent."""
        for kind in (T.BAR, T.EOS, T.FILL_END):
            mask[:, self.vocab.id(kind)] &= ~(silent > 0)

    def _budget_mask(self, mask, tokens_left, silent):
        """Keep the tokens the bars still to come need. Each bar not yet begun takes a
        Bar token and, with a minimum of notes per bar, ``TOKENS_PER_NOTE`` tokens per
        note; when the budget comes down to that reserve, notes are written only where a
        minimum asks for them and no meter, key or tempo changes, and once enough bars
        are written the piece ends. A free-length piece is closed in good time: within
        ``CLOSING_TOKENS`` of the budget no new bar begins and no note rings past this one."""
        vocab, g, xp = self.vocab, self.grammar, self.xp
        low = self.resolved.request.notes_per_bar[0] if self.resolved.request.notes_per_bar else 0
        low = max(low, 1)  # a bar of the piece holds a note at least
        if silent is not None:
            low = max(low, len(self.resolved.programs))
        bars_left = _clamp(xp, self.min_bars - self.bars_written, 0)
        need_now = _clamp(xp, low - self.notes_in_bar, 0) * (g.bars >= 1)
        if silent is not None:
            need_now = xp.maximum(need_now, silent)
        per_bar = 1 + TOKENS_PER_NOTE * max(low, RESERVED_NOTES_PER_BAR)
        reserve = bars_left * per_bar + TOKENS_PER_NOTE * need_now + 4
        crunch = tokens_left <= reserve
        idle = crunch & (need_now == 0)  # no note is needed: write none
        mask[:, vocab.span(T.POSITION)] &= ~idle[:, None]
        for kind in (T.PITCH, T.TRACK):
            mask[:, vocab.span(kind)] &= ~(idle & (g.phase == P_INT.DURATION))[:, None]
        for kind in (T.TIMESIG, T.KEY, T.TEMPO):
            mask[:, vocab.span(kind)] &= ~crunch[:, None]
        mask[:, vocab.id(T.BAR)] &= ~(crunch & (self.bars_written >= self.min_bars))  # end now
        if self.min_bars < self.target_bars:  # free length
            closing = (tokens_left <= CLOSING_TOKENS) & (self.bars_written >= self.min_bars)
            mask[:, vocab.id(T.BAR)] &= ~closing
            ends = _clamp(xp, g.position, 0)[:, None] + self._static["duration_values"][None, :]
            mask[:, vocab.span(T.DURATION)] &= ~closing[:, None] | (ends <= g.bar_units[:, None])

    # --- state updates ------------------------------------------------------------------
    def body_forbids_meter_and_key(self) -> None:
        """Infilled bars must keep the surrounding meter and key (they are spliced back
        between bars that were written for them)."""
        type_of = self.vocab.type_of
        self._static["body"] = self._static["body"] & (type_of != T.TIMESIG) & (type_of != T.KEY)

    def release(self) -> None:
        """The forced prompt is over: count bars and notes from here on."""
        self.generating = True
        self.notes_in_bar = self.notes_in_bar * 0

    def advance(self, tokens) -> None:
        """Consume one token per row (an integer array of the state's library)."""
        g, xp = self.grammar, self.xp
        if isinstance(self.bar_start, np.ndarray):
            tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        kind = g.tables.type_of[tokens]
        value = g.tables.value_of[tokens]
        old_units = g.bar_units
        # Programs of declared slots (the Program follows its Track in the header).
        prog = kind == T_INT.PROGRAM
        this_slot = g.tables.track_values[None, :] == (g.declared - 1)[:, None]
        self.programs = xp.where(prog[:, None] & this_slot, value[:, None], self.programs)
        bar = kind == T_INT.BAR
        restart = kind == T_INT.FILL_START
        self.bar_start = xp.where(bar & self.first_bar_seen, self.bar_start + old_units, self.bar_start)
        self.first_bar_seen = self.first_bar_seen | bar
        if self.generating:
            in_region = (g.fill == FILL_INT.NONE) | (g.fill == FILL_INT.FILLING) | (g.fill == FILL_INT.FILLING_TRACK)
            self.bars_written = self.bars_written + (bar & in_region)
        self.notes_in_bar = xp.where(bar, 0, self.notes_in_bar)
        pitch = kind == T_INT.PITCH
        # pitches rise within one onset of one part, also when a part is left and taken
        # up again at the same onset, so no pitch is struck twice at once
        onset_over = (kind == T_INT.POSITION) | bar
        current_part = g.tables.track_values[None, :] == g.slot[:, None]
        self.part_floor = xp.where(pitch[:, None] & current_part, value[:, None], self.part_floor)
        self.part_floor = xp.where(onset_over[:, None], -1, self.part_floor)
        entered = self.part_floor[g.rows, _clamp(xp, value, 0, self.part_floor.shape[1] - 1)]
        self.pitch_floor = xp.where(pitch, value, self.pitch_floor)
        self.pitch_floor = xp.where(onset_over, -1, self.pitch_floor)
        self.pitch_floor = xp.where(kind == T_INT.TRACK, entered, self.pitch_floor)
        out_of_scale = ~self._static["in_scale_table"][xp.where(pitch, value, 0)]
        self.last_pitch_out_of_scale = xp.where(pitch, out_of_scale, self.last_pitch_out_of_scale)
        self.notes_in_bar = self.notes_in_bar + pitch
        self.pitch_repeats = xp.where(pitch, xp.where(value == self.last_pitch, self.pitch_repeats + 1, 1),
                                      self.pitch_repeats)
        self.last_pitch = xp.where(pitch, value, self.last_pitch)
        this_part = g.tables.track_values[None, :] == g.slot[:, None]
        self.part_notes_in_bar = xp.where(bar[:, None], 0, self.part_notes_in_bar + (pitch[:, None] & this_part))
        if self.generating:
            self.notes_written = self.notes_written + pitch
        duration = kind == T_INT.DURATION
        ends = self.bar_start + _clamp(xp, g.position, 0) + self._static["duration_values"][xp.where(duration, value, 0)]
        ring_slot = self._static["ring_slots"][None, :] == (self.ring_next % _RING)[:, None]
        self.note_ends = xp.where(duration[:, None] & ring_slot, ends[:, None], self.note_ends)
        self.ring_next = self.ring_next + duration
        g.advance(tokens)
        # After FillStart the bars restart at ``fill_origin`` (grid units): the hole's
        # first bar for bar infilling, 0 for track infilling; limits then count only
        # the notes being written.
        self.first_bar_seen = self.first_bar_seen & ~restart
        self.bar_start = xp.where(restart, self.fill_origin, self.bar_start)
        self.note_ends = xp.where(restart[:, None], -1, self.note_ends)
        self.bars_written = xp.where(restart, 0, self.bars_written)
        for rule in self.rules:
            rule.advance(self, kind, value)
