"""The model's logits turned into one choice per row: small processors, then Gumbel-max.

Each sampling setting is a small object, in the shape of Hugging Face's logits
processors: built once per batch from the request (checking nothing the request did
not already check), applied in order to (batch, vocab) float logits. `choose` runs them
and draws with Gumbel-max, which samples exactly from the filtered softmax.

Random numbers come from a counter-based hash of (seed, step, token), so a draft depends
only on its seed, the request and the model, not on which other drafts share its batch,
and the same code runs on the host and inside a CUDA graph.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .request import GenerationRequest

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


@dataclass
class StepInputs:
    """What a step's processors may read besides the logits: the allowed tokens
    (batch, vocab) and, for the repetition penalty, the recently chosen pitches."""

    mask: torch.Tensor
    recent_pitch: torch.Tensor | None = None


class RepetitionPenalty:
    """Divide positive (multiply negative) logits of recently used pitches by ``penalty``."""

    def __init__(self, penalty: float):
        self.penalty = penalty

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        if inputs.recent_pitch is None:
            return logits
        penalised = torch.where(logits > 0, logits / self.penalty, logits * self.penalty)
        return torch.where(inputs.recent_pitch, penalised, logits)


class Temperature:
    def __init__(self, temperature: float):
        self.temperature = temperature

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        return logits / self.temperature


class EndInsteadOfBar:
    """Where a Bar is masked (the bars asked are written) but an end token is allowed,
    the model's wish for another bar becomes a wish to end, rather than being spread
    over extra notes in the last bar. ``bar``, ``ends``: token ids."""

    def __init__(self, bar: int, ends: tuple[int, ...]):
        self.bar, self.ends = bar, ends

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        blocked = ~inputs.mask[:, self.bar]
        logits = logits.clone()
        for end in self.ends:
            merge = blocked & inputs.mask[:, end]
            logits[:, end] = torch.where(merge, torch.logaddexp(logits[:, end], logits[:, self.bar]),
                                         logits[:, end])
        return logits


class ApplyMask:
    """Tokens the grammar and the request forbid get no probability."""

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        return logits.masked_fill(~inputs.mask, float("-inf"))


class TopK:
    def __init__(self, k: int):
        self.k = k

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        kth = torch.topk(logits, min(self.k, logits.shape[-1])).values[:, -1:]
        return logits.masked_fill(logits < kth, float("-inf"))


class TopP:
    """Nucleus: the smallest set of likeliest tokens whose mass reaches ``p`` (the token
    that crosses ``p`` is kept)."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        sorted_probs, order = logits.softmax(-1).sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > self.p
        drop = torch.zeros_like(outside).scatter(-1, order, outside)
        return logits.masked_fill(drop, float("-inf"))


class MinP:
    """Drop tokens less likely than ``p`` times the likeliest one."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, logits: torch.Tensor, inputs: StepInputs) -> torch.Tensor:
        probs = logits.softmax(-1)
        return logits.masked_fill(probs < self.p * probs.max(-1, keepdim=True).values, float("-inf"))


def processors_for(request: GenerationRequest, end_tokens: tuple[int, ...] | None = None) -> list:
    """The processors a request asks for, in the order they apply. ``end_tokens``:
    (Bar, EOS, FillEnd) ids, to turn a masked Bar's probability into ending."""
    chain = []
    if request.repetition_penalty > 1:
        chain.append(RepetitionPenalty(request.repetition_penalty))
    chain.append(Temperature(request.temperature))
    if end_tokens is not None:
        chain.append(EndInsteadOfBar(end_tokens[0], tuple(end_tokens[1:])))
    chain.append(ApplyMask())
    if request.top_k:
        chain.append(TopK(request.top_k))
    if request.top_p < 1:
        chain.append(TopP(request.top_p))
    if request.min_p > 0:
        chain.append(MinP(request.min_p))
    return chain


def choose(logits: torch.Tensor, mask, processors: list, seeds: torch.Tensor, step,
           recent_pitch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One sampling step for a batch: the chosen ids (B,) and the model's own
    log-probability of each (unfiltered, temperature 1), for ranking drafts. ``mask`` is
    a boolean (B, vocab) array or tensor; ``step`` an int or a 0-d tensor (inside a CUDA
    graph)."""
    mask_t = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask, device=logits.device)
    inputs = StepInputs(mask_t, recent_pitch)
    filtered = logits.float()
    for process in processors:
        filtered = process(filtered, inputs)
    gumbel = -torch.log(-torch.log(uniform_noise(seeds, step, logits.shape[-1]))).to(filtered.dtype)
    choice = (filtered + gumbel).argmax(-1)
    log_probs = torch.log_softmax(logits.float(), -1).gather(1, choice[:, None])[:, 0]
    return choice, log_probs
