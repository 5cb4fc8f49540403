"""Grammar- and constraint-masked sampling of drafts from a model, batched with a KV cache.

Every draft row gets its own seed (``request.seed + index``) and its random numbers come
from a counter-based hash of (seed, step, token), so a draft depends only on its seed,
the request and the model, not on which other drafts share its batch, and reruns give
the same notes on the same device. Sampling is Gumbel-max over the filtered logits
(temperature, top-k, top-p, min-p, a repetition penalty on recent pitches), which draws
exactly from the filtered softmax.

Drafts are ranked by the model's own mean log-likelihood of the tokens it wrote (higher
is more typical of the training music); near-duplicates (>= 90% of notes shared) are
dropped before the best ``keep`` are returned.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import RequestError
from ..gm import DRUMS
from ..score import NOTE_DTYPE, Lyric, Score, Track
from ..tokenizer import T, Tokenizer
from ..tokenizer.encode import assign_slots, encode_score, meter_index
from .constraints import TOKENS_PER_NOTE, ConstrainedState
from .device_decode import RECENT, DeviceDecoder
from .merge import bar_start, merge_draft
from .request import FREE_MAX_BARS, GenerationRequest, ResolvedRequest, resolve

MAX_BATCH = 64
"""Drafts generated together in one forward pass."""

MIN_TOKENS_PER_BAR = 12
"""Tokens a bar gets at the least when a request's bars are checked against the model's
context (a bar of three notes); fewer would leave the last bars nearly empty."""

HEADER_TOKENS = 16
"""Room for the header (BOS, meter, tempo, key, tracks) and the end."""

_GOLDEN = -7046029254386353131   # 0x9E3779B97F4A7C15 as a signed 64-bit integer
_MIX1 = -4658895280553007687     # 0xBF58476D1CE4E5B9
_MIX2 = -7723592293110705685     # 0x94D049BB133111EB


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 values (torch's ``>>`` is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def uniform_noise(seeds: torch.Tensor, step: int, vocab_size: int) -> torch.Tensor:
    """(batch, vocab) uniforms in (0, 1) from splitmix64 of (seed, step, token)."""
    tokens = torch.arange(vocab_size, device=seeds.device, dtype=torch.int64)
    x = seeds[:, None] * _GOLDEN + (step * vocab_size + tokens)[None, :]
    x = x + _GOLDEN
    x = (x ^ _shift_right(x, 30)) * _MIX1
    x = (x ^ _shift_right(x, 27)) * _MIX2
    x = x ^ _shift_right(x, 31)
    return (_shift_right(x, 11).double() + 0.5) / float(1 << 53)


def filter_logits(logits: torch.Tensor, mask: torch.Tensor, request: GenerationRequest,
                  recent_pitch: torch.Tensor | None, end_tokens: tuple[int, int, int] | None = None
                  ) -> torch.Tensor:
    """Apply repetition penalty, temperature, the mask, top-k, top-p and min-p.

    ``end_tokens`` (Bar, EOS, FillEnd ids): where a Bar is masked (the bars asked are
    written) but an end is allowed, the model's wish for another bar becomes a wish to
    end, rather than being spread over extra notes in the last bar."""
    logits = logits.float()
    if recent_pitch is not None and request.repetition_penalty > 1:
        penalty = request.repetition_penalty
        logits = torch.where(recent_pitch, torch.where(logits > 0, logits / penalty, logits * penalty), logits)
    logits = logits / request.temperature
    if end_tokens is not None:
        bar, eos, fill_end = end_tokens
        blocked = ~mask[:, bar]
        logits = logits.clone()
        for end in (eos, fill_end):
            merge = blocked & mask[:, end]
            logits[:, end] = torch.where(merge, torch.logaddexp(logits[:, end], logits[:, bar]), logits[:, end])
    logits = logits.masked_fill(~mask, float("-inf"))
    if request.top_k:
        kth = torch.topk(logits, min(request.top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    if request.top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > request.top_p  # keep the token that crosses p
        drop = torch.zeros_like(outside).scatter(-1, order, outside)
        logits = logits.masked_fill(drop, float("-inf"))
    if request.min_p > 0:
        logits = logits.masked_fill(probs < request.min_p * probs.max(-1, keepdim=True).values, float("-inf"))
    return logits


def choose(logits: torch.Tensor, mask, request: GenerationRequest, seeds: torch.Tensor,
           step, recent_pitch: torch.Tensor | None = None,
           end_tokens: tuple[int, int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One sampling step for a batch: the chosen ids (B,) and the model's own log-probability
    of each (unfiltered, temperature 1), for ranking drafts. ``mask`` is a boolean
    (B, vocab) array or tensor; ``step`` an int or a 0-d tensor (inside a CUDA graph)."""
    mask_t = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask, device=logits.device)
    filtered = filter_logits(logits, mask_t, request, recent_pitch, end_tokens)
    gumbel = -torch.log(-torch.log(uniform_noise(seeds, step, logits.shape[-1]))).to(filtered.dtype)
    choice = (filtered + gumbel).argmax(-1)
    log_probs = torch.log_softmax(logits.float(), -1).gather(1, choice[:, None])[:, 0]
    return choice, log_probs


@dataclass
class Draft:
    """One generated piece: its seed, its tokens (normal order), its Score and its score."""

    index: int
    seed: int
    ids: np.ndarray
    score: Score
    """The whole piece: a prompt's own notes, names and tempos, plus the new material."""
    generated: Score
    """The new material alone (what the originality check compares)."""
    mean_log_likelihood: float
    tokens_generated: int


@dataclass
class _Plan:
    """What to force, how many bars to write, and how to put the result together."""

    prefix: np.ndarray              # forced tokens, identical for every row
    target_bars: int
    fill_origin: int = 0            # grid units where infilled bars start
    original: np.ndarray | None = None
    span: tuple[int, int] | None = None
    mode: str = "new"               # new | continue | infill_bars | infill_track
    syllables: list[str] | None = None  # lyrics set one per note (mode "new")
    prompt: Score | None = None     # the composer's own score, put back untouched
    slot: int | None = None         # the part written by track infilling


def _prompt_ids(tok: Tokenizer, prompt: Score, extra_program: int | None = None) -> tuple[np.ndarray, int | None]:
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


def _window_for_span(tok: Tokenizer, ids: np.ndarray, first: int, last: int, budget: int) -> tuple[np.ndarray, int]:
    """The widest window of bars around ``first..last`` whose tokens fit in ``budget``;
    returns the window (with its header) and the index of its first bar."""
    bars = tok.bar_offsets(ids)
    end = int(np.flatnonzero(ids == tok.eos_id)[0]) if (ids == tok.eos_id).any() else len(ids)
    lo, hi = first, last

    def size(lo, hi):
        stop = int(bars[hi + 1]) if hi + 1 < len(bars) else end
        return len(tok.header_at(ids, int(bars[lo]))) + stop - int(bars[lo]) + 3

    if size(lo, hi) > budget:
        raise RequestError("the bars to fill hold more tokens than the model's context")
    grew = True
    while grew:
        grew = False
        if lo > 0 and size(lo - 1, hi) <= budget:
            lo, grew = lo - 1, True
        if hi + 1 < len(bars) and size(lo, hi + 1) <= budget:
            hi, grew = hi + 1, True
    stop = int(bars[hi + 1]) if hi + 1 < len(bars) else end
    window = np.concatenate([tok.header_at(ids, int(bars[lo])), ids[int(bars[lo]):stop], [tok.eos_id]])
    return window, lo


def plan(tok: Tokenizer, resolved: ResolvedRequest, prompt: Score | None, context_length: int) -> _Plan:
    """Turn a request (and its prompt) into forced tokens and a bar target."""
    request = resolved.request
    bars = request.bars or FREE_MAX_BARS
    if request.notes_per_bar and resolved.meter:
        units = int(tok.vocab.meter_units[meter_index(tok.vocab, *resolved.meter)])
        if request.notes_per_bar[0] > units:
            raise RequestError(f"{request.notes_per_bar[0]} notes per bar do not fit in a bar of "
                               f"{resolved.meter[0]}/{resolved.meter[1]} ({units} grid positions, "
                               "one note each)")
    # room to write, in tokens, before the context is full: about 32 a bar where the
    # context allows (a long prompt is then read from its last bars), 8 at the least
    reserve = max(bars * 8 + 16, min(bars * 32, context_length // 2))
    if prompt is None:
        if resolved.syllables:  # the lyrics set the length
            return _Plan(prefix=np.array([tok.bos_id]), target_bars=FREE_MAX_BARS,
                         syllables=resolved.syllables)
        return _Plan(prefix=np.array([tok.bos_id]), target_bars=bars)
    if resolved.infill_bars is not None:
        ids, _ = _prompt_ids(tok, prompt)
        n_bars = len(tok.bar_offsets(ids))
        first, last = resolved.infill_bars
        if last >= n_bars:
            raise RequestError(f"bars {first + 1}-{last + 1} are not inside the prompt's {n_bars} bars")
        fill_bars = last - first + 1
        window, lo = _window_for_span(tok, ids, first, last, context_length - fill_bars * 8)
        rearranged = tok.infill_bars(window, first - lo, last - lo)
        cut = int(np.flatnonzero(rearranged == tok.vocab.id(T.FILL_START))[0]) + 1
        units_per_tick = tok.config.positions_per_quarter / 480
        longest_bar = tok.vocab.meter_units.max() / units_per_tick
        bar_ticks = tok.decode(window).bar_starts(until_tick=int(longest_bar * (first - lo + 1)))
        origin = bar_ticks[first - lo] * units_per_tick
        return _Plan(prefix=rearranged[:cut], target_bars=fill_bars, fill_origin=int(origin),
                     original=ids, span=(first, last), mode="infill_bars", prompt=prompt)
    if resolved.infill_program is not None:
        ids, slot = _prompt_ids(tok, prompt, extra_program=resolved.infill_program)
        rearranged = tok.infill_track(ids, slot)
        cut = int(np.flatnonzero(rearranged == tok.vocab.id(T.FILL_START))[0]) + 1
        n_bars = len(tok.bar_offsets(ids))
        if cut + n_bars * 6 > context_length:
            raise RequestError(f"the prompt is too long for track infilling ({cut} tokens; "
                               f"the model reads {context_length})")
        return _Plan(prefix=rearranged[:cut], target_bars=n_bars, original=ids, mode="infill_track",
                     prompt=prompt, slot=slot)
    ids, _ = _prompt_ids(tok, prompt)
    body = ids[:-1]  # drop EOS: the prompt goes on
    if len(body) + reserve > context_length:
        offsets = tok.bar_offsets(body)
        keep_from = next((int(b) for b in offsets if len(body) - b + 64 + reserve <= context_length), None)
        if keep_from is None:
            raise RequestError("the prompt's last bar alone fills the model's context")
        window = np.concatenate([tok.header_at(body, keep_from), body[keep_from:]])
        return _Plan(prefix=window, target_bars=bars, original=body, mode="continue", prompt=prompt)
    return _Plan(prefix=body, target_bars=bars, original=body, mode="continue", prompt=prompt)


def bars_that_fit(request: GenerationRequest, context_length: int) -> int:
    """Most bars of this request one pass of the model can write: each bar gets
    `MIN_TOKENS_PER_BAR` at least (more with a minimum of notes per bar)."""
    per_bar = max(MIN_TOKENS_PER_BAR, 1 + TOKENS_PER_NOTE * (request.notes_per_bar or (0,))[0])
    return max(1, (context_length - HEADER_TOKENS) // per_bar)


def _assemble(tok: Tokenizer, p: _Plan, generated: list[int]) -> np.ndarray:
    """The draft's whole sequence in normal order."""
    gen = np.asarray(generated, dtype=np.int64)
    if p.mode == "new":
        return np.concatenate([p.prefix, gen])
    if p.mode == "continue":
        return np.concatenate([p.original, gen])
    if p.mode == "infill_track":
        return np.concatenate([p.prefix, gen])
    # infill_bars: the generated bars replace bars first..last of the original
    fill_end = tok.vocab.id(T.FILL_END)
    middle = gen[: int(np.flatnonzero(gen == fill_end)[0])] if (gen == fill_end).any() else gen
    bars = tok.bar_offsets(p.original)
    first, last = p.span
    end = int(np.flatnonzero(p.original == tok.eos_id)[0])
    mid_end = int(bars[last + 1]) if last + 1 < len(bars) else end
    suffix = p.original[mid_end:end]
    if len(suffix):
        suffix = tok.restate_bar_state(p.original[:mid_end], p.original[int(bars[first]):mid_end], suffix)
    return np.concatenate([p.original[: int(bars[first])], middle, suffix, [tok.eos_id]])


def _result(tok: Tokenizer, p: _Plan, request: GenerationRequest, decoded: Score) -> tuple[Score, Score]:
    """(piece, generated material) of a decoded draft; see `merge.merge_draft`."""
    if p.mode == "new":
        if request.tempo is not None:  # exactly as asked, not the tempo bin's centre
            decoded.tempos = np.array([(0, request.tempo)], dtype=decoded.tempos.dtype)
        else:  # the model's tempo bins have centres like 120.31: a score shows 120
            decoded.tempos["qpm"] = np.round(decoded.tempos["qpm"])
        if p.syllables and decoded.tracks:
            singer = decoded.tracks[0]
            onsets = np.sort(singer.notes["onset"])
            singer.lyrics = [Lyric(int(tick), text) for tick, text in zip(onsets, p.syllables)]
        return decoded, decoded
    if p.mode == "continue":
        span = (bar_start(decoded, len(tok.bar_offsets(p.original))), None)
    elif p.mode == "infill_bars":
        span = (bar_start(decoded, p.span[0]), bar_start(decoded, p.span[1] + 1))
    else:
        span = (0, None)
    return merge_draft(p.prompt, decoded, p.mode, span, tok.config.max_tracks, new_slot=p.slot)


def _note_set(score: Score) -> set:
    return {(t.program, t.is_drum, int(n["pitch"]), int(n["onset"])) for t in score.tracks for n in t.notes}


LOOP_SHARE = 0.5
"""A draft more than this share of whose bars repeat an earlier bar exactly is a loop."""


def repeated_bar_share(score: Score) -> float:
    """Share of the bars with notes that repeat an earlier bar note for note (pitch,
    place in the bar, length, part): 0.5 for an AABB tune, 0.875 for a 2-bar loop
    played 8 times."""
    starts = list(score.bar_starts()) + [score.end_tick() + 1]
    bars = []
    for start, stop in zip(starts[:-1], starts[1:]):
        bar = tuple(sorted((i, int(n["pitch"]), int(n["onset"]) - int(start), int(n["duration"]))
                           for i, t in enumerate(score.tracks) for n in t.notes
                           if start <= n["onset"] < stop))
        if bar:
            bars.append(bar)
    return 1 - len(set(bars)) / len(bars) if bars else 0.0


def is_degenerate(score: Score) -> bool:
    """A loop (see `LOOP_SHARE`) or a line of fewer than three pitches: what the model
    finds most typical, and a composer least useful."""
    pitches = {int(p) for t in score.tracks if not t.is_drum for p in t.notes["pitch"]}
    return repeated_bar_share(score) > LOOP_SHARE or (score.note_count() >= 6 and len(pitches) < 3)


def rank(drafts: list[Draft], keep: int | None) -> list[Draft]:
    """With ``keep``: drafts that are not degenerate (`is_degenerate`) first, each group
    by the model's mean log-likelihood of its tokens, best first; near-duplicates
    (Jaccard >= 0.9 of notes) dropped. Without: every draft, in seed order.

    The log-likelihood alone rewards loops and monotone lines (a likelihood trap); they
    are kept only when there are not enough other drafts."""
    if keep is None:
        return drafts
    ordered = sorted(drafts, key=lambda d: (is_degenerate(d.generated), -d.mean_log_likelihood))
    chosen, seen = [], []
    for draft in ordered:
        notes = _note_set(draft.score)
        if any(len(notes & other) >= 0.9 * max(len(notes | other), 1) for other in seen):
            continue
        chosen.append(draft)
        seen.append(notes)
        if len(chosen) == keep:
            break
    return chosen


@torch.inference_mode()
def generate(model, tokenizer: Tokenizer, request: GenerationRequest, prompt: Score | None = None,
             progress=None, compile: bool | str = False) -> list[Draft]:
    """Draft ``request.num_samples`` pieces and return the ``keep`` best (all if unset).

    ``prompt`` is the Score to continue or infill (the CLI reads ``request.prompt``).
    ``progress``, if given, is called with the number of drafts finished so far.
    ``compile``: on a GPU, fuse the decoding step with torch.compile (True: inductor; a
    string names another backend): about a minute once, then faster steps; worth it
    for hundreds of drafts. The drafts are the same either way (up to rounding).
    """
    resolved = resolve(request)
    model.eval()
    context = model.config.context_length
    longer = request.bars is not None and not (request.infill_bars or request.infill_program)
    if longer and request.bars > (bars_that_fit(request, context) if prompt is None else WINDOW_BARS):
        return _generate_in_windows(model, tokenizer, request, prompt, progress, compile)
    p = plan(tokenizer, resolved, prompt, context)
    drafts = []
    for start in range(0, request.num_samples, MAX_BATCH):
        count = min(MAX_BATCH, request.num_samples - start)
        drafts += _generate_batch(model, tokenizer, resolved, p, start, count,
                                  "inductor" if compile is True else compile or None)
        if progress:
            progress(len(drafts))
    return rank(drafts, request.keep)


WINDOW_BARS = 16
"""Bars drafted per pass when a piece is longer than the model can write at once."""

WINDOW_SEED_STRIDE = 1_000_003
"""Window k of the draft with seed S draws with seed S + k * this (a fixed, distinct seed)."""


def _generate_in_windows(model, tok: Tokenizer, request: GenerationRequest, prompt: Score | None,
                         progress, compile) -> list[Draft]:
    """A piece longer than the model's context: drafted `WINDOW_BARS` at a time, each
    window continuing the piece so far (the model reads as many of its last bars as fit),
    under the same request. The piece's bars, its parts and every constraint are those of
    one pass; the log-likelihood is over all the tokens written."""
    window = min(WINDOW_BARS, request.bars)
    first = replace(request, bars=window, keep=None)
    drafts = generate(model, tok, first, prompt=prompt, compile=compile)
    finished = []
    for draft in drafts:
        score, ids = draft.score, draft.ids
        log_likelihood, tokens = draft.mean_log_likelihood * draft.tokens_generated, draft.tokens_generated
        new_from = min((int(t.notes["onset"].min()) for t in draft.generated.tracks if len(t.notes)),
                       default=0)
        for part, written in enumerate(range(window, request.bars, WINDOW_BARS), start=1):
            more = replace(request, bars=min(WINDOW_BARS, request.bars - written), num_samples=1,
                           keep=None, prompt=request.prompt or "draft",
                           seed=draft.seed + part * WINDOW_SEED_STRIDE)
            following = generate(model, tok, more, prompt=score, compile=compile)[0]
            score, ids = following.score, following.ids
            log_likelihood += following.mean_log_likelihood * following.tokens_generated
            tokens += following.tokens_generated
        finished.append(Draft(index=draft.index, seed=draft.seed, ids=ids, score=score,
                              generated=score if prompt is None else _notes_from(score, new_from),
                              mean_log_likelihood=log_likelihood / max(tokens, 1),
                              tokens_generated=tokens))
        if progress:
            progress(len(finished))
    return rank(finished, request.keep)


def _notes_from(score: Score, tick: int) -> Score:
    """A copy of ``score`` holding only the notes that start at ``tick`` or later."""
    copy = score.copy()
    for track in copy.tracks:
        track.notes = track.notes[track.notes["onset"] >= tick]
    return copy


def _decode_on_device(device: torch.device) -> bool:
    """Whether a batch is decoded with `DeviceDecoder` (grammar and constraints on the
    device, CUDA graphs) rather than with the host loop (numpy masks, fastest on a CPU)."""
    return device.type == "cuda"


def _generate_batch(model, tok: Tokenizer, resolved: ResolvedRequest, p: _Plan, start: int,
                    count: int, compile_backend: str | None = None) -> list[Draft]:
    request = resolved.request
    device = model.embed.weight.device
    vocab = tok.vocab
    exact = (request.bars is not None and not p.syllables) or p.mode in ("infill_bars", "infill_track")
    state = ConstrainedState(tok, resolved, count, p.target_bars, exact=exact,
                             start_on_downbeat=p.mode == "new" and not request.pickup,
                             every_part_every_bar=p.mode in ("new", "continue") and len(resolved.programs) > 1,
                             mode=p.mode)
    state.fill_origin[:] = p.fill_origin
    for token in p.prefix.tolist():
        state.advance(np.full(count, token))
    if p.mode in ("infill_bars", "infill_track"):
        state.body_forbids_meter_and_key()
    state.release()
    # room for the bars asked (a dense bar of piano can take ~100 tokens), within the context
    max_length = min(model.config.context_length, len(p.prefix) + max(96 * p.target_bars, 256))
    budget = max_length - len(p.prefix)
    prefix = torch.as_tensor(p.prefix, device=device).repeat(count, 1)
    logits, cache = model.prefill(prefix, max_length=max_length)
    seeds = torch.arange(start, start + count, device=device, dtype=torch.int64) + request.seed
    finished_id = vocab.id(T.FILL_END) if p.mode in ("infill_bars", "infill_track") else tok.eos_id
    if _decode_on_device(device):
        decoder = DeviceDecoder(model, cache, logits, state, tok, request, seeds, budget, finished_id,
                                compile_backend=compile_backend)
        chosen_ids, step_log_probs, length = (t.numpy() for t in decoder.run())
    else:
        chosen_ids, step_log_probs, length = _decode_on_host(model, cache, logits, state, tok, request,
                                                             seeds, budget, finished_id)
    drafts = []
    for row in range(count):
        gen = chosen_ids[: length[row], row].tolist()
        mean_log_likelihood = float(step_log_probs[: length[row], row].mean()) if length[row] else 0.0
        if p.mode == "infill_track" and gen and gen[-1] == vocab.id(T.FILL_END):
            gen = gen + [tok.eos_id]
        ids = _assemble(tok, p, gen)
        score, generated = _result(tok, p, request, tok.decode(ids))
        drafts.append(Draft(index=start + row, seed=request.seed + start + row, ids=ids, score=score,
                            generated=generated, mean_log_likelihood=mean_log_likelihood,
                            tokens_generated=int(length[row])))
    return drafts


def _decode_on_host(model, cache, logits, state: ConstrainedState, tok: Tokenizer,
                    request: GenerationRequest, seeds: torch.Tensor, budget: int, finished_id: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decoding loop with the masks built by numpy on the host: chosen ids
    (steps, B), their log-probabilities (steps, B) and each row's length."""
    device, vocab = logits.device, tok.vocab
    count = logits.shape[0]
    pitch_span = vocab.span(T.PITCH)
    chosen_ids = np.zeros((budget, count), dtype=np.int64)
    step_log_probs = torch.zeros(budget, count, device=device)
    length = np.full(count, budget)
    done = np.zeros(count, dtype=bool)
    recent = torch.zeros(count, vocab.size, dtype=torch.bool, device=device)
    history = []
    end_tokens = (tok.bar_id, tok.eos_id, vocab.id(T.FILL_END))
    for step in range(budget):
        mask = state.allowed(tokens_left=budget - step)
        mask[done] = False
        mask[done, tok.pad_id] = True
        choice, log_probs = choose(logits, mask, request, seeds, step,
                                   recent if request.repetition_penalty > 1 else None, end_tokens)
        step_log_probs[step].copy_(log_probs)
        chosen = choice.cpu().numpy()
        chosen_ids[step] = chosen
        state.advance(chosen)
        finished = ~done & (chosen == finished_id)
        length[finished] = step + 1
        done |= finished
        if request.repetition_penalty > 1:
            history.append(choice)
            recent.zero_()
            window = torch.stack(history[-RECENT:], 1)
            recent.scatter_(1, window, True)
            recent[:, : pitch_span.start] = False
            recent[:, pitch_span.stop:] = False
        if done.all() or step + 1 == budget:
            break
        logits = model.step(choice, cache)
    return chosen_ids[: step + 1], step_log_probs[: step + 1].cpu().numpy(), np.minimum(length, step + 1)
