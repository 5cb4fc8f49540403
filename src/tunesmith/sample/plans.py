"""What one pass of the model writes, for each drafting mode, as a plan object.

A plan says which tokens are forced before the model writes (``prefix``, the same for
every row), how many bars it writes (``target_bars``), which token ends a row, and how
the tokens written become the draft: the whole sequence in normal order (`assemble`)
and the piece with the composer's prompt put back untouched (`result`). `make_plan`
picks the plan a request asks for:

- `NewPiece`: BOS, then the model writes the header and the bars.
- `Continuation`: the prompt (its last bars, if it is longer than the context allows),
  then new bars.
- `BarInfill`: the bars around a span, rearranged so the model writes the span last.
- `TrackInfill`: every other part's bars, then the model writes one part against them.
  A prompt longer than one pass is written in windows of bars (`track_windows`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RequestError
from ..gm import DRUMS
from ..score import NOTE_DTYPE, Lyric, Score, Track
from ..tokenizer import T, Tokenizer
from ..tokenizer.encode import assign_slots, encode_score, meter_index
from .merge import merge_draft
from .request import FREE_MAX_BARS, ResolvedRequest

TRACK_TOKENS_PER_BAR = 32
"""Tokens kept per bar for a part written by track infilling (a busy bass bar)."""


@dataclass
class Plan:
    """Forced tokens, bars to write, and how the result is put together."""

    prefix: np.ndarray              # forced tokens, identical for every row
    target_bars: int
    mode = "new"
    fill_origin: int = 0            # grid units where the written bars start

    def exact_bars(self, resolved: ResolvedRequest) -> bool:
        """Whether exactly ``target_bars`` are written (else at most, the model ending)."""
        return resolved.request.bars is not None

    def finished_id(self, tok: Tokenizer) -> int:
        return tok.eos_id

    def assemble(self, tok: Tokenizer, generated: np.ndarray) -> np.ndarray:
        """The draft's whole sequence in normal order."""
        return np.concatenate([self.prefix, generated])

    def result(self, tok: Tokenizer, resolved: ResolvedRequest, decoded: Score) -> tuple[Score, Score]:
        """(the whole piece, the new material alone) of a decoded draft."""
        return decoded, decoded


@dataclass
class NewPiece(Plan):
    syllables: list[str] | None = None  # lyrics, set one per note

    def exact_bars(self, resolved: ResolvedRequest) -> bool:
        return resolved.request.bars is not None and not self.syllables

    def result(self, tok, resolved, decoded):
        request = resolved.request
        if request.tempo is not None:  # exactly as asked, not the tempo bin's centre
            decoded.tempos = np.array([(0, request.tempo)], dtype=decoded.tempos.dtype)
        else:  # the model's tempo bins have centres like 120.31: a score shows 120
            decoded.tempos["qpm"] = np.round(decoded.tempos["qpm"])
        if self.syllables and decoded.tracks:
            singer = decoded.tracks[0]
            onsets = np.sort(singer.notes["onset"])
            singer.lyrics = [Lyric(int(tick), text) for tick, text in zip(onsets, self.syllables)]
        return decoded, decoded


@dataclass
class Continuation(Plan):
    original: np.ndarray | None = None  # the prompt's tokens, without EOS
    prompt: Score | None = None
    mode = "continue"

    def assemble(self, tok, generated):
        return np.concatenate([self.original, generated])

    def result(self, tok, resolved, decoded):
        span = (decoded.bar_start(len(tok.bar_offsets(self.original))), None)
        return merge_draft(self.prompt, decoded, self.mode, span, tok.config.max_tracks)


@dataclass
class BarInfill(Plan):
    original: np.ndarray | None = None  # the prompt's tokens
    span: tuple[int, int] = (0, 0)      # bars from 0, inclusive
    prompt: Score | None = None
    mode = "infill_bars"

    def exact_bars(self, resolved):
        return True

    def finished_id(self, tok):
        return tok.vocab.id(T.FILL_END)

    def assemble(self, tok, generated):
        """The generated bars replace bars first..last of the original."""
        fill_end = tok.vocab.id(T.FILL_END)
        ends = np.flatnonzero(generated == fill_end)
        middle = generated[: int(ends[0])] if len(ends) else generated
        bars = tok.bar_offsets(self.original)
        first, last = self.span
        end = int(np.flatnonzero(self.original == tok.eos_id)[0])
        mid_end = int(bars[last + 1]) if last + 1 < len(bars) else end
        suffix = self.original[mid_end:end]
        if len(suffix):
            suffix = tok.restate_bar_state(self.original[:mid_end], self.original[int(bars[first]):mid_end], suffix)
        return np.concatenate([self.original[: int(bars[first])], middle, suffix, [tok.eos_id]])

    def result(self, tok, resolved, decoded):
        span = (decoded.bar_start(self.span[0]), decoded.bar_start(self.span[1] + 1))
        return merge_draft(self.prompt, decoded, self.mode, span, tok.config.max_tracks)


@dataclass
class TrackInfill(Plan):
    slot: int = 0                       # the part written
    prompt: Score | None = None         # None: a window of a longer prompt (result: as decoded)
    context: Score | None = None        # the music the part is written against (for the rules)
    mode = "infill_track"

    def exact_bars(self, resolved):
        return True

    def finished_id(self, tok):
        return tok.vocab.id(T.FILL_END)

    def assemble(self, tok, generated):
        if len(generated) and generated[-1] == tok.vocab.id(T.FILL_END):
            generated = np.concatenate([generated, [tok.eos_id]])
        return np.concatenate([self.prefix, generated])

    def result(self, tok, resolved, decoded):
        if self.prompt is None:
            return decoded, decoded
        return merge_draft(self.prompt, decoded, self.mode, (0, None), tok.config.max_tracks, new_slot=self.slot)


def prompt_ids(tok: Tokenizer, prompt: Score, extra_program: int | None = None) -> tuple[np.ndarray, int | None]:
    """Encode a prompt; with ``extra_program``, make sure a slot of that instrument exists
    (an empty one is added when the prompt has none) and return its slot."""
    slots = assign_slots(prompt, tok.config.max_tracks)
    if extra_program is None:
        return encode_score(tok.vocab, prompt, slots=slots), None
    codes = [code for code, _ in slots]
    if extra_program in codes:
        return encode_score(tok.vocab, prompt, slots=slots), codes.index(extra_program)
    if len(slots) >= tok.config.max_tracks:
        raise RequestError(f"the prompt already uses all {tok.config.max_tracks} track slots")
    score = prompt.copy()
    score.tracks.append(Track(name="new", program=0 if extra_program == DRUMS else extra_program,
                              is_drum=extra_program == DRUMS, notes=np.zeros(0, dtype=NOTE_DTYPE)))
    slots = slots + [(extra_program, [len(score.tracks) - 1])]
    return encode_score(tok.vocab, score, slots=slots), len(slots) - 1


def bar_window(tok: Tokenizer, ids: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Bars ``lo..hi`` (from 0, inclusive) of ``ids`` as a sequence of their own: the
    header in force at bar ``lo``, the bars, EOS."""
    bars = tok.bar_offsets(ids)
    ends = np.flatnonzero(ids == tok.eos_id)
    stop = int(bars[hi + 1]) if hi + 1 < len(bars) else (int(ends[0]) if len(ends) else len(ids))
    return np.concatenate([tok.header_at(ids, int(bars[lo])), ids[int(bars[lo]):stop], [tok.eos_id]])


def _window_for_span(tok: Tokenizer, ids: np.ndarray, first: int, last: int, budget: int) -> tuple[np.ndarray, int]:
    """The widest window of bars around ``first..last`` whose tokens fit in ``budget``;
    returns the window (with its header) and the index of its first bar."""
    n_bars = len(tok.bar_offsets(ids))

    def size(lo, hi):
        return len(bar_window(tok, ids, lo, hi)) + 2

    if size(first, last) > budget:
        raise RequestError("the bars to fill hold more tokens than the model's context")
    lo, hi, grew = first, last, True
    while grew:
        grew = False
        if lo > 0 and size(lo - 1, hi) <= budget:
            lo, grew = lo - 1, True
        if hi + 1 < n_bars and size(lo, hi + 1) <= budget:
            hi, grew = hi + 1, True
    return bar_window(tok, ids, lo, hi), lo


def track_windows(tok: Tokenizer, ids: np.ndarray, context_length: int) -> list[tuple[int, int]]:
    """Spans of bars (from 0, inclusive) that cover a track-infill prompt, each small
    enough that its other parts plus `TRACK_TOKENS_PER_BAR` a bar of the new part fit
    in the context: the whole prompt when it fits."""
    n_bars = len(tok.bar_offsets(ids))
    spans, lo = [], 0
    while lo < n_bars:
        hi = lo
        while hi + 1 < n_bars and (len(bar_window(tok, ids, lo, hi + 1))
                                   + TRACK_TOKENS_PER_BAR * (hi + 2 - lo) + 8 <= context_length):
            hi += 1
        if len(bar_window(tok, ids, lo, hi)) + TRACK_TOKENS_PER_BAR + 8 > context_length:
            raise RequestError(f"bar {lo + 1} of the prompt alone fills the model's context")
        spans.append((lo, hi))
        lo = hi + 1
    return spans


def track_infill_plan(tok: Tokenizer, ids: np.ndarray, slot: int, prompt: Score | None) -> TrackInfill:
    """The plan that writes part ``slot`` against the other parts of ``ids``; without a
    ``prompt`` (a window of a longer one) the rules read the window's own bars."""
    rearranged = tok.infill_track(ids, slot)
    cut = int(np.flatnonzero(rearranged == tok.vocab.id(T.FILL_START))[0]) + 1
    return TrackInfill(prefix=rearranged[:cut], target_bars=len(tok.bar_offsets(ids)), slot=slot, prompt=prompt,
                       context=prompt if prompt is not None else tok.decode(ids))


def make_plan(tok: Tokenizer, resolved: ResolvedRequest, prompt: Score | None, context_length: int) -> Plan:
    """Turn a request (and its prompt) into forced tokens and a bar target. A track
    infill whose prompt does not fit one pass is planned by `track_windows` instead."""
    request = resolved.request
    bars = request.bars or FREE_MAX_BARS
    if request.notes_per_bar and resolved.meter:
        units = int(tok.vocab.meter_units[meter_index(tok.vocab, *resolved.meter)])
        if request.notes_per_bar[0] > units:
            raise RequestError(f"{request.notes_per_bar[0]} notes per bar do not fit in a bar of "
                               f"{resolved.meter[0]}/{resolved.meter[1]} ({units} grid positions, "
                               "one note each)")
    if prompt is None:
        return NewPiece(prefix=np.array([tok.bos_id]), target_bars=FREE_MAX_BARS if resolved.syllables else bars,
                        syllables=resolved.syllables)
    if resolved.infill_bars is not None:
        ids, _ = prompt_ids(tok, prompt)
        n_bars = len(tok.bar_offsets(ids))
        first, last = resolved.infill_bars
        if last >= n_bars:
            raise RequestError(f"bars {first + 1}-{last + 1} are not inside the prompt's {n_bars} bars")
        fill_bars = last - first + 1
        window, lo = _window_for_span(tok, ids, first, last, context_length - fill_bars * 8)
        rearranged = tok.infill_bars(window, first - lo, last - lo)
        cut = int(np.flatnonzero(rearranged == tok.vocab.id(T.FILL_START))[0]) + 1
        units_per_tick = tok.config.positions_per_quarter / 480
        origin = tok.decode(window).bar_start(first - lo) * units_per_tick
        return BarInfill(prefix=rearranged[:cut], target_bars=fill_bars, fill_origin=int(origin),
                         original=ids, span=(first, last), prompt=prompt)
    if resolved.infill_program is not None:
        ids, slot = prompt_ids(tok, prompt, extra_program=resolved.infill_program)
        return track_infill_plan(tok, ids, slot, prompt)
    # room to write, in tokens, before the context is full: about 32 a bar where the
    # context allows (a long prompt is then read from its last bars), 8 at the least
    reserve = max(bars * 8 + 16, min(bars * 32, context_length // 2))
    ids, _ = prompt_ids(tok, prompt)
    body = ids[:-1]  # drop EOS: the prompt goes on
    prefix = body
    if len(body) + reserve > context_length:
        offsets = tok.bar_offsets(body)
        keep_from = next((int(b) for b in offsets if len(body) - b + 64 + reserve <= context_length), None)
        if keep_from is None:
            raise RequestError("the prompt's last bar alone fills the model's context")
        prefix = np.concatenate([tok.header_at(body, keep_from), body[keep_from:]])
    return Continuation(prefix=prefix, target_bars=bars, original=body, prompt=prompt)
