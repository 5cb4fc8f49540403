"""A bar-aware REMI-family tokenizer: Score <-> token ids, with its grammar as data.

>>> import tunesmith
>>> from tunesmith.tokenizer import Tokenizer
>>> tok = Tokenizer()
>>> score = tunesmith.read("tests/data/bach_bwv66.6.mxl")      # doctest: +SKIP
>>> ids = tok.encode(score)                                     # doctest: +SKIP
>>> tok.decode(ids).note_count() == score.note_count()          # doctest: +SKIP
True

The token layout is described in ``tunesmith.tokenizer.encode``; the grammar in
``tunesmith.tokenizer.grammar``. Only numpy is needed here (no torch, no music21), so
training machines can use it without the reading stack.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import TokenizerError
from ..gm import DRUMS, playable_range
from ..score import MODES, NOTE_DTYPE, Score
from .decode import _last_index, decode_ids
from .encode import encode_score
from .grammar import Grammar, GrammarState
from .vocab import T, TokenizerConfig, Vocabulary

__all__ = ["Grammar", "GrammarState", "T", "Tokenizer", "TokenizerConfig", "Vocabulary"]


class Tokenizer:
    """Turns a `Score` into token ids and back; see the module docstring."""

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = config or TokenizerConfig()
        self.vocab = Vocabulary(self.config)
        self.grammar = Grammar(self.vocab)
        self.pad_id = self.vocab.id(T.PAD)
        self.bos_id = self.vocab.id(T.BOS)
        self.eos_id = self.vocab.id(T.EOS)
        self.bar_id = self.vocab.id(T.BAR)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, grid={self.config.positions_per_quarter}/quarter)"

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    # --- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = True) -> None:
        """Write ``tokenizer.json``: the config and the vocabulary (for reading)."""
        write_text(path, self.vocab.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Rebuild a tokenizer from its ``tokenizer.json``; the vocabulary must match."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            tokenizer = cls(TokenizerConfig.from_dict(data["config"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenizerError(f"not a tunesmith tokenizer file ({exc})", path) from None
        if data.get("vocab") and data["vocab"] != tokenizer.vocab.names():
            raise TokenizerError("vocabulary differs from the one its config builds "
                                 "(written by another tunesmith version?)", path)
        return tokenizer

    # --- the two directions -----------------------------------------------------------
    def encode(self, score: Score) -> np.ndarray:
        """Token ids (int64, all < ``vocab_size``) of a whole piece, BOS ... EOS.

        Onsets snap to the grid, durations to the nearest allowed length, velocities
        and tempos to bins; pitch, program and on-grid timing come back exactly."""
        return encode_score(self.vocab, score)

    def decode(self, ids, ticks_per_quarter: int = 480) -> Score:
        """A `Score` from ids: a whole piece, a window, or an infilling-format sequence
        (the filled-in bars or track are put back in place). Never fails: tokens out of
        place are skipped and a pitch without a duration is dropped."""
        ids = np.asarray(ids, dtype=np.int64)
        if (ids == self.vocab.id(T.FILL_TRACK)).any():
            return self._decode_track_infill(ids, ticks_per_quarter)
        if (ids == self.vocab.id(T.FILL_HOLE)).any():
            ids = self.splice_bars(ids)
        return decode_ids(self.vocab, ids, ticks_per_quarter)

    def names(self, ids) -> list[str]:
        """Readable names of ``ids`` (``["BOS", "TimeSig_4/4", ...]``)."""
        return [self.vocab.name(int(i)) for i in np.asarray(ids).tolist()]

    def validate(self, ids) -> None:
        """Raise ``TokenizerError`` at the first token the grammar forbids."""
        self.grammar.validate(ids)

    # --- bars and windows -------------------------------------------------------------
    def bar_offsets(self, ids) -> np.ndarray:
        """Indices of the Bar tokens in ``ids``."""
        return np.flatnonzero(np.asarray(ids) == self.bar_id)

    def header_at(self, ids, offset: int) -> np.ndarray:
        """BOS and the header in force at ``offset`` (normally a Bar's index): meter,
        tempo and key as last set before it, and the piece's track declarations, so that
        ``concatenate([header_at(ids, o), ids[o:]])`` is a valid sequence."""
        ids = np.asarray(ids, dtype=np.int64)
        before = ids[:offset]
        types = self.vocab.type_of[before]
        bars = np.flatnonzero(types == T.BAR)
        header_end = int(bars[0]) if len(bars) else len(before)
        head_types = types[:header_end]
        out = [self.bos_id]
        out += ids[:header_end][head_types == T.CONTROL].tolist()
        for kind in (T.TIMESIG, T.TEMPO, T.KEY):
            found = np.flatnonzero(types == kind)
            if len(found):
                out.append(int(before[found[-1]]))
            elif kind == T.TIMESIG:
                out.append(self.vocab.id(T.TIMESIG, int(np.flatnonzero(
                    (self.vocab.meters[:, 0] == 4) & (self.vocab.meters[:, 1] == 4))[0])))
            elif kind == T.TEMPO:
                out.append(self.vocab.id(T.TEMPO, int(np.abs(self.vocab.tempo_values - 120).argmin())))
        declared = np.flatnonzero((head_types == T.TRACK) | (head_types == T.PROGRAM))
        out += ids[:header_end][declared].tolist()
        return np.asarray(out, dtype=np.int64)

    def slot_programs(self, ids) -> dict[int, int]:
        """Declared slots of a sequence's header -> GM program (128 = drums)."""
        ids = np.asarray(ids, dtype=np.int64)
        types, values = self.vocab.type_of[ids], self.vocab.value_of[ids]
        bars = np.flatnonzero(types == T.BAR)
        end = int(bars[0]) if len(bars) else len(ids)
        out = {}
        for j in np.flatnonzero(types[:end] == T.TRACK):
            if j + 1 < end and types[j + 1] == T.PROGRAM:
                out[int(values[j])] = int(values[j + 1])
        return out

    def slot_of_tokens(self, ids) -> np.ndarray:
        """The track slot each token belongs to (slot 0 at every bar start)."""
        ids = np.asarray(ids, dtype=np.int64)
        types, values = self.vocab.type_of[ids], self.vocab.value_of[ids]
        bars = np.flatnonzero(types == T.BAR)
        header_end = int(bars[0]) if len(bars) else len(ids)
        body_track = (types == T.TRACK) & (np.arange(len(ids)) >= header_end)
        last_bar, last_track = _last_index(types == T.BAR), _last_index(body_track)
        return np.where(last_track > last_bar, values[np.maximum(last_track, 0)], 0)

    def transpose(self, ids, semitones: int) -> np.ndarray | None:
        """Pitched tracks moved by ``semitones`` (drums untouched) and the key with them;
        ``None`` if a note would leave its instrument's playable range (or, for notes
        already outside it, the span the original used)."""
        ids = np.asarray(ids, dtype=np.int64).copy()
        if semitones == 0:
            return ids
        types, values = self.vocab.type_of[ids], self.vocab.value_of[ids]
        programs = self.slot_programs(ids)
        slots = self.slot_of_tokens(ids)
        pitch_at = np.flatnonzero(types == T.PITCH)
        for slot, program in programs.items():
            if program == DRUMS:
                continue
            mine = pitch_at[slots[pitch_at] == slot]
            if not len(mine):
                continue
            old = values[mine]
            lo, hi = playable_range(program)
            lo, hi = min(lo, int(old.min())), max(hi, int(old.max()))
            new = old + semitones
            if new.min() < lo or new.max() > hi:
                return None
            ids[mine] = self.vocab.ids(T.PITCH, new)
        keys = np.flatnonzero(types == T.KEY)
        tonic, mode = values[keys] // len(MODES), values[keys] % len(MODES)
        ids[keys] = self.vocab.ids(T.KEY, (tonic + semitones) % 12 * len(MODES) + mode)
        return ids

    # --- infilling formats ------------------------------------------------------------
    def infill_bars(self, ids, first_bar: int, last_bar: int) -> np.ndarray:
        """Rearrange a sequence so bars ``first_bar..last_bar`` (inclusive, from 0) come
        last: header + prefix bars, FillHole, suffix bars, FillStart, the middle bars,
        FillEnd (and EOS if ``ids`` had one). Meter and key changes made inside the middle
        are restated at the first suffix bar, so the suffix reads right without it."""
        ids = np.asarray(ids, dtype=np.int64)
        bars = self.bar_offsets(ids)
        if not 0 <= first_bar <= last_bar < len(bars):
            raise TokenizerError(f"bars {first_bar}-{last_bar} are not inside the {len(bars)} bars")
        eos = np.flatnonzero(ids == self.eos_id)
        end = int(eos[0]) if len(eos) else len(ids)
        mid_start = int(bars[first_bar])
        mid_end = int(bars[last_bar + 1]) if last_bar + 1 < len(bars) else end
        suffix = ids[mid_end:end]
        if len(suffix):
            suffix = self.restate_bar_state(ids[:mid_end], ids[mid_start:mid_end], suffix)
        parts = [ids[:mid_start], [self.vocab.id(T.FILL_HOLE)], suffix,
                 [self.vocab.id(T.FILL_START)], ids[mid_start:mid_end], [self.vocab.id(T.FILL_END)]]
        if len(eos):
            parts.append([self.eos_id])
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])

    def restate_bar_state(self, before, middle, suffix) -> np.ndarray:
        """``suffix`` (starting at a Bar) with the meter and key in force at its start
        restated, when ``middle`` (the bars removed before it) changed them."""
        types = self.vocab.type_of
        first_bar_end = np.flatnonzero(types[suffix[1:]] == T.BAR)
        first_bar_end = int(first_bar_end[0]) + 1 if len(first_bar_end) else len(suffix)
        head = suffix[:first_bar_end]
        out = [int(suffix[0])]
        for kind in (T.TIMESIG, T.KEY):
            own = head[types[head] == kind]
            if len(own):
                out.append(int(own[0]))
            elif (types[middle] == kind).any():
                out.append(int(before[types[before] == kind][-1]))
        rest = head[1:][(types[head[1:]] != T.TIMESIG) & (types[head[1:]] != T.KEY)]
        return np.concatenate([out, rest, suffix[first_bar_end:]]).astype(np.int64)

    def splice_bars(self, ids) -> np.ndarray:
        """Undo ``infill_bars``: put the bars after FillStart back into the FillHole.
        A sequence cut short after FillStart gets the bars generated so far."""
        ids = np.asarray(ids, dtype=np.int64)
        hole = np.flatnonzero(ids == self.vocab.id(T.FILL_HOLE))
        start = np.flatnonzero(ids == self.vocab.id(T.FILL_START))
        if not len(hole):
            return ids
        h = int(hole[0])
        s = int(start[0]) if len(start) else len(ids)
        end = np.flatnonzero(ids == self.vocab.id(T.FILL_END))
        e = int(end[0]) if len(end) else len(ids)
        suffix = ids[h + 1:s]
        middle = ids[s + 1:e] if s < len(ids) else ids[:0]
        return np.concatenate([ids[:h], middle, suffix, [self.eos_id]]).astype(np.int64)

    def infill_track(self, ids, slot: int) -> np.ndarray:
        """Rearrange a sequence for track infilling: every bar without slot ``slot``'s
        notes, then FillTrack Track_slot FillStart, every bar with only that slot's notes,
        FillEnd (and EOS if ``ids`` had one). Bars line up one to one."""
        ids = np.asarray(ids, dtype=np.int64)
        programs = self.slot_programs(ids)
        if slot not in programs:
            raise TokenizerError(f"track slot {slot} is not declared (slots: {sorted(programs)})")
        had_eos = bool((ids == self.eos_id).any())
        score = decode_ids(self.vocab, ids, 480)
        slots = [(programs[s], [i]) for i, s in enumerate(sorted(programs))]
        n_bars = len(self.bar_offsets(ids))
        context, middle = score.copy(), score.copy()
        for i, s in enumerate(sorted(programs)):
            empty = np.zeros(0, dtype=NOTE_DTYPE)
            if s == slot:
                context.tracks[i].notes = empty
            else:
                middle.tracks[i].notes = empty
        ctx_ids = encode_score(self.vocab, context, slots=slots, n_bars=n_bars)[:-1]
        mid_ids = encode_score(self.vocab, middle, slots=slots, n_bars=n_bars)[:-1]
        mid_body = mid_ids[self.bar_offsets(mid_ids)[0]:]
        parts = [ctx_ids, [self.vocab.id(T.FILL_TRACK), self.vocab.id(T.TRACK, slot),
                           self.vocab.id(T.FILL_START)], mid_body, [self.vocab.id(T.FILL_END)]]
        if had_eos:
            parts.append([self.eos_id])
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])

    def _decode_track_infill(self, ids, ticks_per_quarter: int) -> Score:
        fill_at = int(np.flatnonzero(ids == self.vocab.id(T.FILL_TRACK))[0])
        context = ids[:fill_at]
        slot = int(self.vocab.value_of[ids[fill_at + 1]]) if fill_at + 1 < len(ids) else 0
        start = np.flatnonzero(ids == self.vocab.id(T.FILL_START))
        end = np.flatnonzero(ids == self.vocab.id(T.FILL_END))
        body = ids[int(start[0]) + 1: int(end[0]) if len(end) else len(ids)] if len(start) else ids[:0]
        bars = self.bar_offsets(context)
        header = context[: int(bars[0])] if len(bars) else context
        score = decode_ids(self.vocab, context, ticks_per_quarter)
        filled = decode_ids(self.vocab, np.concatenate([header, body]), ticks_per_quarter)
        order = sorted(self.slot_programs(ids))
        if slot in order:
            i = order.index(slot)
            score.tracks[i].notes = filled.tracks[i].notes
        return score
