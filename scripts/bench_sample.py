"""Sampling speed: the KV cache against full recomputation, a 16-bar CPU draft, and a
64-draft GPU batch. Grammar masking is on everywhere (it is part of every real step).

    python scripts/bench_sample.py [--model DIR] [--threads N]

Prints one JSON line:
- ``cached_tokens_per_s_b1/b16`` and ``uncached_tokens_per_s_b1/b16``: 512 tokens per
  row, sampled with the grammar mask. Without the cache every step runs the whole
  prefix; its cost is measured at 8 prefix lengths spread over 1-512 and averaged (a
  full 512-step uncached run takes minutes on 2 cores). Both sides are best of 3.
  ``cache_speedup_b1/b16`` are the ratios (goal: at least 5).
- ``draft_16_bars_cpu_s``: `generate` of one 16-bar draft on the CPU, in-process after
  loading, best of 3 (goal: under 1.5 s).
- ``gpu_64_drafts_tokens_per_s`` when CUDA is available: 64 drafts of 16 bars at once
  (goal: at least 50,000), unconditioned and as one melody (``--program flute``), with
  the share of row-steps that wrote a token (``live_rows``). Three ways side by side:
  ``host_masks`` (numpy masks on the host, one round trip per token), ``device_graphs``
  (everything on the device in CUDA graphs: what `generate` does on a GPU) and
  ``device_compiled`` (the same, fused by torch.compile: ``generate(compile=True)``);
  the best is reported with its ratio to ``host_masks``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from tunesmith.drafts import load_model
from tunesmith.model import count_params
from tunesmith.sample import GenerationRequest, generate, resolve
from tunesmith.sample.constraints import ConstrainedState
from tunesmith.sample import sampler
from tunesmith.sample.processors import choose, processors_for

TOKENS = 512


def _state(tok, batch):
    state = ConstrainedState(tok, resolve(GenerationRequest(bars=256)), batch, target_bars=256)
    state.release()
    state.advance(np.full(batch, tok.bos_id))
    return state


def cached_rate(model, tok, batch, device) -> float:
    request = GenerationRequest()
    seeds = torch.arange(batch, device=device)
    state = _state(tok, batch)
    start = time.perf_counter()
    logits, cache = model.prefill(torch.full((batch, 1), tok.bos_id, device=device), max_length=TOKENS + 1)
    for step in range(TOKENS):
        choice, _ = choose(logits, state.allowed(), processors_for(request), seeds, step)
        state.advance(choice.cpu().numpy())
        logits = model.step(choice, cache)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * TOKENS / (time.perf_counter() - start)


@torch.inference_mode()
def uncached_rate(model, tok, batch, device) -> float:
    """Tokens/s of full recomputation, from the mean step time at 8 prefix lengths."""
    request = GenerationRequest()
    seeds = torch.arange(batch, device=device)
    state = _state(tok, batch)
    seq = torch.full((batch, 1), tok.bos_id, device=device)
    lengths = set(np.linspace(1, TOKENS, 8).round().astype(int).tolist())
    step_times = []
    for step in range(TOKENS):
        timed = step + 1 in lengths
        if timed:  # best of 3, as for the cached rate
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                choice, _ = choose(model(seq)[:, -1], state.allowed(), processors_for(request), seeds, step)
                best = min(best, time.perf_counter() - start)
            step_times.append(best)
        else:  # the prefix must still grow grammatically; its cost is not measured
            choice = torch.as_tensor(state.allowed().argmax(1), device=device)
        state.advance(choice.cpu().numpy())
        seq = torch.cat([seq, choice[:, None]], dim=1)
    return batch / float(np.mean(step_times))


def draft_seconds(model, tok, bars=16, repeat=3) -> float:
    best = float("inf")
    for seed in range(repeat):
        start = time.perf_counter()
        generate(model, tok, GenerationRequest(bars=bars, seed=seed))
        best = min(best, time.perf_counter() - start)
    return best


def gpu_rate(model, tok, programs=(), compile=False, on_device=True) -> dict:
    """Tokens/s of 64 16-bar drafts at once, the share of row-steps that wrote a token
    (a batch runs until its longest draft ends; shorter rows idle meanwhile), and the
    seconds of the first call (graph capture, and compiling with ``compile``)."""
    request = GenerationRequest(bars=16, num_samples=64, seed=0, programs=list(programs))
    sampler._decode_on_device = lambda device: on_device and device.type == "cuda"
    start = time.perf_counter()  # warm-up: the same shapes and budget, other seeds
    generate(model, tok, dataclasses.replace(request, seed=1000), compile=compile)
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    start = time.perf_counter()
    drafts = generate(model, tok, request, compile=compile)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens = sum(d.tokens_generated for d in drafts)
    return {"tokens_per_s": round(tokens / seconds, 1),
            "live_rows": round(tokens / (64 * max(d.tokens_generated for d in drafts)), 3),
            "first_call_s": round(first, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped default model)")
    parser.add_argument("--threads", type=int, default=min(2, torch.get_num_threads()),
                        help="CPU threads for torch (generate uses at most 2)")
    parser.add_argument("--gpu-only", action="store_true", help="only the 64-draft GPU figure")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    model, tok, info = load_model(args.model, "cpu")
    result = {"bench": "sample", "model": info.name, "params": count_params(model.config),
              "int8_on_cpu": True, "threads": args.threads}
    with torch.inference_mode():
        for batch in () if args.gpu_only else (1, 16):
            cached = max(cached_rate(model, tok, batch, cpu) for _ in range(3))
            uncached = uncached_rate(model, tok, batch, cpu)
            result[f"cached_tokens_per_s_b{batch}"] = round(cached, 1)
            result[f"uncached_tokens_per_s_b{batch}"] = round(uncached, 1)
            result[f"cache_speedup_b{batch}"] = round(cached / uncached, 2)
    if not args.gpu_only:
        result["draft_16_bars_cpu_s"] = round(draft_seconds(model, tok), 3)
    if torch.cuda.is_available():
        gpu_model, _, _ = load_model(args.model, "cuda")
        result["gpu"] = torch.cuda.get_device_name()
        for name, programs in (("drafts", ()), ("melody_drafts", ("73",))):  # 73: flute
            variants = {"host_masks": gpu_rate(gpu_model, tok, programs, on_device=False),
                        "device_graphs": gpu_rate(gpu_model, tok, programs)}
            if not args.no_compile:
                variants["device_compiled"] = gpu_rate(gpu_model, tok, programs, compile=True)
            best = max(variants, key=lambda v: variants[v]["tokens_per_s"])
            result[f"gpu_64_{name}_tokens_per_s"] = variants[best]["tokens_per_s"]
            result[f"gpu_64_{name}_live_rows"] = variants[best]["live_rows"]
            result[f"gpu_64_{name}_best"] = best
            result[f"gpu_64_{name}_ratio_to_host_masks"] = round(
                variants[best]["tokens_per_s"] / variants["host_masks"]["tokens_per_s"], 2)
            result[f"gpu_64_{name}_variants"] = variants
    print(json.dumps(result))


if __name__ == "__main__":
    main()
