"""The transformer that writes music, readable top to bottom.

A decoder-only transformer over token ids: rotary positions, RMSNorm before each
sub-layer, a gated (SwiGLU) MLP, ``F.scaled_dot_product_attention`` (FlashAttention
kernels on GPU) and an output layer tied to the token embedding. One dataclass,
`ModelConfig`, holds every size; `PRESETS` names the sizes we ship.

Training calls ``model(ids)`` on full windows (causal attention, no cache). Generation
uses a `KVCache` and works on batches whose prompts have different lengths, padded on
the left::

    ids, mask = left_pad([prompt_a, prompt_b], pad_id=tok.pad_id)
    logits, cache = model.prefill(ids, mask, max_length=1024)   # (B, vocab): next token
    while ...:
        next_ids = sample(logits)                                # (B,)
        logits = model.step(next_ids, cache)                     # (B, vocab)

Padding never changes a row's result: the logits of a padded row equal those of the
same prompt run alone (tested). A prompt may also be fed in several chunks with
``model(ids, cache, attention_mask)``. The cache holds at most ``context_length``
tokens and uses the weights' dtype (run generation without autocast). Logits are
float views cut to ``vocab_size``; mask them (the grammar) before sampling. Drafting
one sequence on a busy CPU is often faster with ``torch.set_num_threads(1)``: each
step is a chain of small, memory-bound products.

This module imports torch and nothing of tunesmith's higher layers;
`estimate_flops_per_token` and `mfu` live beside the model they measure.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ModelError


@dataclass
class ModelConfig:
    """Every size and constant of the model; saved as a model folder's ``config.json``."""

    vocab_size: int = 512
    """Token ids the model reads and predicts (from the tokenizer)."""
    context_length: int = 1024
    """Longest sequence, in tokens, that training and the KV cache handle."""
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    d_ff: int = 0
    """Hidden width of the gated MLP; 0 picks about 8/3 of ``d_model``, a multiple of 64."""
    rope_theta: float = 10000.0
    """Base of the rotary position frequencies."""
    norm_eps: float = 1e-5
    dropout: float = 0.0
    """Dropout on attention weights and on each sub-layer's output, while training only."""
    init_std: float = 0.02

    def __post_init__(self):
        if self.d_ff == 0:
            self.d_ff = 64 * math.ceil(self.d_model * 8 / 3 / 64)
        problems = []
        if self.d_model % self.n_heads:
            problems.append(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        elif (self.d_model // self.n_heads) % 2:
            problems.append("head size d_model / n_heads must be even for rotary positions")
        for name in ("vocab_size", "context_length", "d_model", "n_layers", "n_heads", "d_ff"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            problems.append("dropout must be in [0, 1)")
        if problems:
            raise ModelError("bad model config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def padded_vocab_size(self) -> int:
        """Rows of the embedding table: ``vocab_size`` rounded up to a multiple of 64, so
        the output layer's matrix products keep GPU-friendly shapes. The extra rows are
        never read, and their logits are cut off."""
        return 64 * math.ceil(self.vocab_size / 64)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Build from a dict (e.g. ``config.json``); unknown or mistyped keys raise ``ModelError``."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ModelError(f"unknown model config keys: {', '.join(unknown)}")
        values = {}
        for name, value in data.items():
            kind = float if known[name].type in ("float", float) else int
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    kind is int and not float(value).is_integer()):
                raise ModelError(f"model config {name} must be a number, got {value!r}")
            values[name] = kind(value)
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides) -> "ModelConfig":
        """A named size from `PRESETS`, with some fields replaced (e.g. ``vocab_size``)."""
        if name not in PRESETS:
            raise ModelError(f"unknown model preset {name!r}; presets are {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


PRESETS: dict[str, dict] = {
    # ~0.1M parameters: trains in seconds, for tests.
    "tiny": dict(d_model=64, n_layers=2, n_heads=4, context_length=256),
    # ~3.4M parameters (14 MB of float32 safetensors); the default. Drafting on a CPU is
    # bound by reading every weight once per token, so this is the smallest of the sizes
    # we considered (256-384 wide, 4-6 layers); see scripts/bench_train.py for timings.
    "small": dict(d_model=256, n_layers=4, n_heads=4, context_length=1024),
    # GPU sizes: head size 128 suits FlashAttention; parameters as counted by num_params.
    "gpu-50m": dict(d_model=768, n_layers=8, n_heads=6, context_length=2048),
    "gpu-120m": dict(d_model=1024, n_layers=10, n_heads=8, context_length=2048),
    "gpu-300m": dict(d_model=1536, n_layers=12, n_heads=12, context_length=2048),
}
"""Named model sizes (the vocabulary size comes from the tokenizer)."""

DEFAULT_PRESET = "small"


# -- building blocks ------------------------------------------------------------------

def rotary_tables(config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation tables of every position, each (context_length, head_dim).

    Pairs (x[i], x[i + head_dim/2]) turn by angle position * theta^(-2i / head_dim); the
    tables hold (cos, cos) and (-sin, sin) so that `apply_rotary` is two products.
    """
    half = config.head_dim // 2
    inv_freq = config.rope_theta ** (-torch.arange(half, dtype=torch.float64) / half)
    angles = torch.outer(torch.arange(config.context_length, dtype=torch.float64), inv_freq)
    cos, sin = angles.cos().float(), angles.sin().float()
    return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotate the pairs (x[..., i], x[..., i + head_dim/2]) of ``x`` by their angles."""
    exact = x if x.dtype == torch.float32 else x.float()  # rotate in float32 under bf16
    first, second = exact.chunk(2, dim=-1)
    rotated = exact * cos + torch.cat((second, first), dim=-1) * signed_sin
    return rotated if rotated.dtype == x.dtype else rotated.to(x.dtype)


class RMSNorm(nn.Module):
    """x / rms(x) * gain, over the last dimension.

    Written out (five operations) rather than ``nn.RMSNorm``, which dispatches about
    twenty small operations on CPU and so slows token-by-token drafting; under
    torch.compile both become one fused kernel.
    """

    def __init__(self, width: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class KVCache:
    """Keys and values of every layer for a batch being generated, plus its padding.

    Slots are shared by all rows: slot ``s`` of every row was filled by the same call.
    Rows with shorter prompts are padded on the left; ``valid`` marks which slots hold
    real tokens, and ``next_position`` counts each row's real tokens, which is the
    rotary position of its next token (so a padded row sees exactly what it would see
    alone). Build one with `TransformerLM.new_cache` or `TransformerLM.prefill`.
    """

    def __init__(self, config: ModelConfig, batch_size: int, max_length: int,
                 device: torch.device, dtype: torch.dtype):
        if not 1 <= max_length <= config.context_length:
            raise ModelError(f"a KV cache holds 1 to {config.context_length} tokens (the "
                             f"model's context length), not {max_length}")
        shape = (config.n_layers, batch_size, config.n_heads, max_length, config.head_dim)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.layer_keys = self.keys.unbind(0)  # views, one per layer: (B, heads, slots, hd)
        self.layer_values = self.values.unbind(0)
        self.valid = torch.zeros(batch_size, max_length, device=device, dtype=torch.bool)
        self.next_position = torch.zeros(batch_size, device=device, dtype=torch.long)
        self.length = 0
        """Slots filled so far (the same for every row)."""
        self.slot = torch.zeros(1, device=device, dtype=torch.long)
        """`length` as a device tensor, for `TransformerLM.step_static` (CUDA graphs)."""

    @property
    def max_length(self) -> int:
        return self.keys.shape[3]

    @property
    def batch_size(self) -> int:
        return self.keys.shape[1]


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.n_heads = config.n_heads
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x, cos, sin, cache: KVCache | None = None, mask=None):
        batch, length, width = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.n_heads, -1)
        # queries and keys rotated together: (B, T, 2, heads, head_dim) -> 2 x (B, heads, T, hd)
        q, k = apply_rotary(qkv[:, :, :2], cos, sin).transpose(1, 3).unbind(2)
        v = qkv[:, :, 2].transpose(1, 2)
        dropout = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            keys, values = cache.layer_keys[self.layer], cache.layer_values[self.layer]
            if length == 1 and mask.shape[-1] == cache.max_length:  # step_static: all slots, masked
                keys.index_copy_(2, cache.slot, k)
                values.index_copy_(2, cache.slot, v)
            else:
                start, end = cache.length, cache.length + length
                keys[:, :, start:end] = k
                values[:, :, start:end] = v
                keys, values = keys[:, :, :end], values[:, :, :end]
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, dropout_p=dropout)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


class GatedMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), with gate and up in one matrix."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gate_up = nn.Linear(config.d_model, 2 * config.d_ff, bias=False)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm residual block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.attention_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attention = Attention(config, layer)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = GatedMLP(config)
        self.dropout = config.dropout

    def forward(self, x, cos, sin, cache=None, mask=None):
        x = x + self._drop(self.attention(self.attention_norm(x), cos, sin, cache, mask))
        return x + self._drop(self.mlp(self.mlp_norm(x)))

    def _drop(self, x):
        return F.dropout(x, self.dropout, self.training) if self.dropout else x


# -- the model ------------------------------------------------------------------------

class TransformerLM(nn.Module):
    """Next-token predictor over tokenizer ids; see the module docstring for its use."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.padded_vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        cos, sin = rotary_tables(config)
        # Not saved: rebuilt from the config, so weights files hold only learned values.
        self.register_buffer("rotary_cos", cos, persistent=False)
        self.register_buffer("rotary_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 initialisation: N(0, init_std), residual outputs scaled by 1/sqrt(2 layers)."""
        std = self.config.init_std
        for name, param in self.named_parameters():
            if param.dim() < 2:
                nn.init.ones_(param)  # RMSNorm gains
            elif name.endswith(("attention.out.weight", "mlp.down.weight")):
                nn.init.normal_(param, 0.0, std / math.sqrt(2 * self.config.n_layers))
            else:
                nn.init.normal_(param, 0.0, std)

    def num_params(self) -> int:
        """Learned parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab) for ids (B, T).

        Without ``cache``: a full causal pass over windows that start at position 0
        (training; right padding is harmless because nothing attends forward).
        With ``cache``: ids continue the cached batch; ``attention_mask`` (B, T), True
        for real tokens, marks left padding (default: all real). The cache is updated.
        """
        batch, length = ids.shape
        x = self.embed(ids)
        if cache is None:
            if attention_mask is not None:
                raise ModelError("attention_mask needs a KV cache (use prefill)")
            if length > self.config.context_length:
                raise ModelError(f"{length} tokens exceed the context length "
                                 f"{self.config.context_length}")
            # angles (T, 1, 1, head_dim) broadcast over batch, q/k and heads
            cos = self.rotary_cos[:length, None, None]
            sin = self.rotary_sin[:length, None, None]
            mask = None
        else:
            cos, sin, mask = self._cache_positions(cache, batch, length, attention_mask)
        for block in self.blocks:
            x = block(x, cos, sin, cache, mask)
        if cache is not None:
            cache.length += length
            cache.slot.fill_(cache.length)
        return F.linear(self.norm(x), self.embed.weight)[..., :self.config.vocab_size]

    def _cache_positions(self, cache: KVCache, batch: int, length: int, attention_mask):
        """Rotary angles of the new tokens and which cache slots each may attend to."""
        start, end = cache.length, cache.length + length
        if batch != cache.batch_size or end > cache.max_length:
            raise ModelError(f"the KV cache holds {cache.batch_size} rows of {cache.max_length} "
                             f"tokens; {batch} rows of {end} tokens do not fit")
        device = cache.valid.device
        if length == 1 and attention_mask is None:  # a drafting step: fewer small operations
            cos = self.rotary_cos[cache.next_position][:, None, None, None]
            sin = self.rotary_sin[cache.next_position][:, None, None, None]
            cache.valid[:, start] = True
            cache.next_position += 1
            bias = torch.zeros((batch, 1, end), dtype=cache.keys.dtype, device=device)
            return cos, sin, bias.masked_fill_(~cache.valid[:, None, :end], float("-inf")).unsqueeze(1)
        real = (torch.ones(batch, length, dtype=torch.bool, device=device)
                if attention_mask is None else attention_mask.to(device=device, dtype=torch.bool))
        # Each row's real tokens are numbered 0, 1, 2, ... whatever padding precedes them;
        # a padding token borrows its neighbour's position (its output is never used).
        positions = (cache.next_position[:, None] + real.cumsum(1) - 1).clamp(min=0)
        cache.valid[:, start:end] = real
        cache.next_position += real.sum(1)
        slots = torch.arange(end, device=device)
        query_slots = slots[start:end, None]
        visible = cache.valid[:, None, :end] & (slots <= query_slots)
        # Every query also sees itself, so padding rows stay finite (no all-masked softmax).
        visible |= slots == query_slots
        cos = self.rotary_cos[positions][:, :, None, None]  # (B, T, 1, 1, head_dim)
        sin = self.rotary_sin[positions][:, :, None, None]
        # added to the attention scores: 0 where visible, -inf elsewhere (converted once
        # here rather than in every layer)
        bias = torch.zeros(visible.shape, dtype=cache.keys.dtype, device=device)
        return cos, sin, bias.masked_fill_(~visible, float("-inf")).unsqueeze(1)

    # -- generation -------------------------------------------------------------------

    def new_cache(self, batch_size: int, max_length: int | None = None) -> KVCache:
        """An empty cache for ``batch_size`` rows of up to ``max_length`` tokens in all."""
        weight = self.embed.weight
        return KVCache(self.config, batch_size, max_length or self.config.context_length,
                       weight.device, weight.dtype)

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                max_length: int | None = None) -> tuple[torch.Tensor, KVCache]:
        """Run left-padded prompts ids (B, T); return next-token logits (B, vocab) and the cache.

        ``max_length`` (default: the context length) is the most tokens, prompt included,
        that the cache will ever hold. Every row must have at least one real token.
        """
        cache = self.new_cache(ids.shape[0], max_length)
        logits = self(ids, cache, attention_mask)
        return logits[:, -1], cache

    @torch.inference_mode()
    def step(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Feed one token per row, ids (B,); return the logits (B, vocab) of the next one."""
        return self(ids[:, None], cache)[:, 0]

    def step_static(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """`step` with shapes and host state that never change, for CUDA graph capture.

        Attention runs over all ``cache.max_length`` slots with the unwritten ones
        masked, and the slot to write is ``cache.slot`` on the device, so one captured
        graph replays every step. The logits equal `step`'s (up to rounding). The caller
        keeps ``cache.length`` (host) in step if it mixes this with `step`.
        """
        if cache.max_length == cache.length and cache.length:
            raise ModelError("the KV cache is full")
        cache.valid.index_fill_(1, cache.slot, True)
        bias = torch.zeros(cache.valid.shape, dtype=cache.keys.dtype, device=cache.valid.device)
        bias = bias.masked_fill(~cache.valid, float("-inf"))[:, None, None, :]
        cos = self.rotary_cos[cache.next_position][:, None, None, None]  # (B, 1, 1, 1, hd)
        sin = self.rotary_sin[cache.next_position][:, None, None, None]
        x = self.embed(ids[:, None])
        for block in self.blocks:
            x = block(x, cos, sin, cache, bias)
        cache.next_position += 1
        cache.slot += 1
        return F.linear(self.norm(x), self.embed.weight)[:, 0, :self.config.vocab_size]

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, pad_id: int = 0,
                 temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Plain sampling without any grammar: (B, max_new_tokens) new ids per prompt.

        For benchmarks and tests; tunesmith's sampler constrains the logits instead.
        """
        device = self.embed.weight.device
        ids, mask = left_pad(prompts, pad_id)
        logits, cache = self.prefill(ids.to(device), mask.to(device),
                                     max_length=ids.shape[1] + max_new_tokens)
        out = []
        for i in range(max_new_tokens):
            logits = logits.float() / max(temperature, 1e-6)
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            next_ids = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
            out.append(next_ids)
            if i + 1 < max_new_tokens:
                logits = self.step(next_ids, cache)
        return torch.stack(out, dim=1)


def summed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Summed next-token cross-entropy (nats) over the real targets, padding left out:
    training, validation and evaluation all measure loss this one way."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=pad_id,
                           reduction="sum")


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int = 0
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack sequences of different lengths, padded on the left: ids and mask (B, T) on CPU."""
    if not sequences or any(len(s) == 0 for s in sequences):
        raise ModelError("every prompt needs at least one token")
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.bool)
    for row, seq in enumerate(sequences):
        ids[row, length - len(seq):] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, length - len(seq):] = True
    return ids, mask


# -- cost -----------------------------------------------------------------------------

def count_params(config: ModelConfig) -> int:
    """Parameters of a model of this config, without building it."""
    d, layers = config.d_model, config.n_layers
    per_layer = 4 * d * d + 3 * d * config.d_ff + 2 * d
    return config.padded_vocab_size * d + layers * per_layer + d


def estimate_flops_per_token(config: ModelConfig, seq_len: int | None = None,
                             causal: bool = False) -> float:
    """Training FLOPs (forward + backward) per token of a window of ``seq_len`` tokens.

    6 per parameter (the tied embedding counts once: it is the output layer's matrix),
    plus attention scores and their weighted sum, 12 * layers * d_model * seq_len. That
    is the PaLM / nanoGPT convention, which counts every key; ``causal=True`` halves the
    attention term to count only the keys a causal kernel actually visits.
    """
    seq_len = seq_len or config.context_length
    attention = 12 * config.n_layers * config.d_model * seq_len
    return 6 * count_params(config) + (attention / 2 if causal else attention)


def mfu(tokens_per_second: float, config: ModelConfig, peak_flops: float,
        seq_len: int | None = None, causal: bool = False) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware's ``peak_flops``."""
    return tokens_per_second * estimate_flops_per_token(config, seq_len, causal) / peak_flops
