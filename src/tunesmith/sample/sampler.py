"""Grammar- and constraint-masked sampling of drafts from a model, batched with a KV cache.

`generate` turns a request into a plan (`plans.make_plan`: what is forced, how many bars
are written, how the result is put together), drafts every row of a batch under the
request's masks (`constraints.ConstrainedState` and its rules), chooses each token with
the request's logits processors (`processors`), and ranks the drafts (`ranking.rank`).
Every draft row gets its own seed (``request.seed + index``), so a draft depends only on
its seed, the request and the model. Pieces longer than one pass of the model are
written in windows: new bars 16 at a time, each continuing the piece so far, and a part
written against a long prompt span by span (`plans.track_windows`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..score import Score
from ..tokenizer import T, Tokenizer
from .constraints import TOKENS_PER_NOTE, ConstrainedState
from .device_decode import RECENT, DeviceDecoder
from .merge import merge_draft
from .plans import Plan, bar_window, make_plan, prompt_ids, track_infill_plan, track_windows
from .processors import choose, processors_for
from .ranking import rank
from .rules.timeline import draft_chords, window_fields
from .request import GenerationRequest, ResolvedRequest, resolve

MAX_BATCH = 64
"""Drafts generated together in one forward pass."""

MIN_TOKENS_PER_BAR = 12
"""Tokens a bar gets at the least when a request's bars are checked against the model's
context (a bar of three notes); fewer would leave the last bars nearly empty."""

HEADER_TOKENS = 16
"""Room for the header (BOS, meter, tempo, key, tracks) and the end."""

WINDOW_BARS = 16
"""Bars drafted per pass when a piece is longer than the model can write at once."""

WINDOW_SEED_STRIDE = 1_000_003
"""Window k of the draft with seed S draws with seed S + k * this (a fixed, distinct seed)."""


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


def bars_that_fit(request: GenerationRequest, context_length: int) -> int:
    """Most bars of this request one pass of the model can write: each bar gets
    `MIN_TOKENS_PER_BAR` at least (more with a minimum of notes per bar)."""
    per_bar = max(MIN_TOKENS_PER_BAR, 1 + TOKENS_PER_NOTE * (request.notes_per_bar or (0,))[0])
    return max(1, (context_length - HEADER_TOKENS) // per_bar)


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
    if request.form:  # sections drafted and copied over this function (sample.form)
        from .form import generate_form
        return generate_form(model, tokenizer, request, prompt, progress, compile, generate=generate)
    model.eval()
    context = model.config.context_length
    backend = "inductor" if compile is True else compile or None
    longer = request.bars is not None and not (request.infill_bars or request.infill_program)
    if longer and request.bars > (bars_that_fit(request, context) if prompt is None else WINDOW_BARS):
        return _generate_in_windows(model, tokenizer, request, prompt, progress, compile)
    if resolved.infill_program is not None and prompt is not None:
        ids, slot = prompt_ids(tokenizer, prompt, extra_program=resolved.infill_program)
        spans = track_windows(tokenizer, ids, context)
        if len(spans) > 1:
            return _infill_track_in_windows(model, tokenizer, resolved, prompt, ids, slot, spans,
                                            progress, backend)
    plan = make_plan(tokenizer, resolved, prompt, context)
    drafts = []
    for start, count in _batches(request.num_samples):
        drafts += _draft_batch(model, tokenizer, resolved, plan, start, count, backend)
        if progress:
            progress(len(drafts))
    return rank(drafts, request.keep)


def _batches(num_samples: int):
    for start in range(0, num_samples, MAX_BATCH):
        yield start, min(MAX_BATCH, num_samples - start)


def _generate_in_windows(model, tok: Tokenizer, request: GenerationRequest, prompt: Score | None,
                         progress, compile) -> list[Draft]:
    """A piece longer than the model's context: drafted `WINDOW_BARS` at a time, each
    window continuing the piece so far (the model reads as many of its last bars as fit),
    under the same request. The piece's bars, its parts and every constraint are those of
    one pass; the log-likelihood is over all the tokens written."""
    window = min(WINDOW_BARS, request.bars)
    first = replace(request, bars=window, keep=None, **window_fields(request, 0, window))
    drafts = generate(model, tok, first, prompt=prompt, compile=compile)
    finished = []
    for draft in drafts:
        score, ids = draft.score, draft.ids
        log_likelihood, tokens = draft.mean_log_likelihood * draft.tokens_generated, draft.tokens_generated
        new_from = min((int(t.notes["onset"].min()) for t in draft.generated.tracks if len(t.notes)),
                       default=0)
        for part, written in enumerate(range(window, request.bars, WINDOW_BARS), start=1):
            bars = min(WINDOW_BARS, request.bars - written)
            more = replace(request, bars=bars, num_samples=1, keep=None, prompt=request.prompt or "draft",
                           seed=draft.seed + part * WINDOW_SEED_STRIDE,
                           **window_fields(request, written, bars))  # the progression goes on
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


def _infill_track_in_windows(model, tok: Tokenizer, resolved: ResolvedRequest, prompt: Score,
                             ids: np.ndarray, slot: int, spans: list[tuple[int, int]], progress,
                             backend) -> list[Draft]:
    """A part written against a prompt longer than one pass: span by span of bars
    (`plans.track_windows`), each span's other parts read whole; span k of the draft
    with seed S draws with seed S + k * `WINDOW_SEED_STRIDE`. The prompt comes back
    untouched, with the new part added."""
    request = resolved.request
    whole = tok.decode(ids)
    new_notes = [[] for _ in range(request.num_samples)]
    log_likelihood = np.zeros(request.num_samples)
    tokens = np.zeros(request.num_samples, dtype=np.int64)
    for k, (lo, hi) in enumerate(spans):
        plan = track_infill_plan(tok, bar_window(tok, ids, lo, hi), slot, prompt=None)
        shifted = replace(resolved, request=replace(request, seed=request.seed + k * WINDOW_SEED_STRIDE))
        offset = whole.bar_start(lo)
        for start, count in _batches(request.num_samples):
            for draft in _draft_batch(model, tok, shifted, plan, start, count, backend):
                notes = draft.score.tracks[slot].notes.copy()
                notes["onset"] += offset
                new_notes[draft.index].append(notes)
                log_likelihood[draft.index] += draft.mean_log_likelihood * draft.tokens_generated
                tokens[draft.index] += draft.tokens_generated
        if progress:
            progress(int(request.num_samples * (k + 1) / len(spans)))
    drafts = []
    for index, parts in enumerate(new_notes):
        decoded = whole.copy()
        decoded.tracks[slot].notes = np.concatenate(parts)
        score, generated = merge_draft(prompt, decoded, "infill_track", (0, None), tok.config.max_tracks,
                                       new_slot=slot)
        drafts.append(Draft(index=index, seed=request.seed + index, ids=tok.encode(score), score=score,
                            generated=generated, mean_log_likelihood=float(log_likelihood[index] / max(tokens[index], 1)),
                            tokens_generated=int(tokens[index])))
    return rank(drafts, request.keep)


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


def _draft_batch(model, tok: Tokenizer, resolved: ResolvedRequest, plan: Plan, start: int,
                 count: int, compile_backend: str | None = None) -> list[Draft]:
    """Rows ``start .. start + count`` of a request, drafted together under ``plan``."""
    request = resolved.request
    device = model.embed.weight.device
    state = ConstrainedState(tok, resolved, count, plan.target_bars, exact=plan.exact_bars(resolved),
                             start_on_downbeat=plan.mode == "new" and not request.pickup,
                             every_part_every_bar=plan.mode in ("new", "continue") and len(resolved.programs) > 1,
                             mode=plan.mode, prompt=getattr(plan, "context", None) or getattr(plan, "prompt", None),
                             span=getattr(plan, "span", None))
    state.fill_origin[:] = plan.fill_origin
    for token in plan.prefix.tolist():
        state.advance(np.full(count, token))
    if plan.mode in ("infill_bars", "infill_track"):
        state.body_forbids_meter_and_key()
    state.release()
    # room for the bars asked (a dense bar of piano can take ~100 tokens), within the context
    max_length = min(model.config.context_length, len(plan.prefix) + max(96 * plan.target_bars, 256))
    budget = max_length - len(plan.prefix)
    prefix = torch.as_tensor(plan.prefix, device=device).repeat(count, 1)
    logits, cache = model.prefill(prefix, max_length=max_length)
    seeds = torch.arange(start, start + count, device=device, dtype=torch.int64) + request.seed
    processors = processors_for(request, (tok.bar_id, tok.eos_id, tok.vocab.id(T.FILL_END)))
    finished_id = plan.finished_id(tok)
    if _decode_on_device(device):
        decoder = DeviceDecoder(model, cache, logits, state, tok, processors, seeds, budget, finished_id,
                                penalise=request.repetition_penalty > 1, compile_backend=compile_backend)
        chosen_ids, step_log_probs, length = (t.numpy() for t in decoder.run())
    else:
        chosen_ids, step_log_probs, length = _decode_on_host(model, cache, logits, state, tok, processors,
                                                             request.repetition_penalty > 1, seeds, budget,
                                                             finished_id)
    drafts = []
    for row in range(count):
        generated = chosen_ids[: length[row], row]
        mean_log_likelihood = float(step_log_probs[: length[row], row].mean()) if length[row] else 0.0
        ids = plan.assemble(tok, generated)
        score, new = plan.result(tok, resolved, tok.decode(ids))
        chords = draft_chords(resolved, plan.mode, getattr(plan, "span", None), score,
                              getattr(plan, "prompt", None))
        if len(chords):  # else the chords the model wrote itself (a model with chord tokens), if any
            score.chords = chords
        if new is not score:
            new.chords = score.chords
        drafts.append(Draft(index=start + row, seed=request.seed + start + row, ids=ids, score=score,
                            generated=new, mean_log_likelihood=mean_log_likelihood,
                            tokens_generated=int(length[row])))
    return drafts


def _decode_on_host(model, cache, logits, state: ConstrainedState, tok: Tokenizer, processors: list,
                    penalise: bool, seeds: torch.Tensor, budget: int, finished_id: int
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
    for step in range(budget):
        mask = state.allowed(tokens_left=budget - step)
        mask[done] = False
        mask[done, tok.pad_id] = True
        choice, log_probs = choose(logits, mask, processors, seeds, step, recent if penalise else None)
        step_log_probs[step].copy_(log_probs)
        chosen = choice.cpu().numpy()
        chosen_ids[step] = chosen
        state.advance(chosen)
        finished = ~done & (chosen == finished_id)
        length[finished] = step + 1
        done |= finished
        if penalise:
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
