#!/usr/bin/env python3
"""Training throughput and MFU of tunesmith's real training loop, on random tokens.

Prints one JSON line per preset. On a GPU: a >= 50M-parameter model at context 2048,
bf16 autocast, fused AdamW, torch.compile (``--no-compile`` to compare), timed over
``--steps`` steps after ``--warmup``; MFU is the model's training FLOP/s (6N per token
plus attention, see `tunesmith.model.estimate_flops_per_token`) over the FLOP/s of a
bf16 8192^3 matrix product measured on the same GPU in the same run (the "peer" figure;
``ratio`` is the MFU). ``mfu_causal`` counts only the attention a causal kernel does.
On CPU: the default ("small") size, plus the seconds the KV cache takes to draft 800
tokens (about 16 bars) on this machine.

    python scripts/bench_train.py                       # GPU if present, else CPU
    python scripts/bench_train.py --preset gpu-50m gpu-120m --batch-size 16

Needs only torch, numpy, safetensors, tqdm and matplotlib (not the MIDI readers), and
runs from a checkout without installing tunesmith.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tunesmith.model import ModelConfig, TransformerLM, count_params, mfu  # noqa: E402
from tunesmith.tokenizer import Tokenizer  # noqa: E402
from tunesmith.train import TrainConfig, train  # noqa: E402
from tunesmith.train.hardware import measure_matmul_tflops  # noqa: E402
from tunesmith.train.plot import read_log  # noqa: E402


class RandomWindows:
    """Uniform random tokens with `tunesmith.data.TokenWindows`'s batch interface."""

    def __init__(self, tokenizer, context_length: int):
        self.tokenizer = tokenizer
        self.context_length = context_length

    def batch(self, step, batch_size, rank=0, world_size=1):
        rng = np.random.default_rng([step, rank])
        return rng.integers(3, self.tokenizer.vocab_size,
                            (batch_size, self.context_length + 1), dtype=np.int64)

    def iter_eval(self, batch_size):
        yield self.batch(-1, batch_size)


def bench_training(preset: str, context: int, batch_size: int, warmup: int, steps: int,
                   compile_model: bool, device: str, peak_tflops: float) -> dict:
    tokenizer = Tokenizer()
    config = TrainConfig.from_dict({
        "model": {"preset": preset, "context_length": context},
        "optim": {"warmup_steps": 2},
        "train": {"steps": warmup + steps, "batch_size": batch_size, "device": device,
                  "dtype": "bf16" if device == "cuda" else "fp32", "compile": compile_model,
                  "eval_every": 0, "checkpoint_every": 0, "log_every": warmup,
                  "keep_checkpoints": 1, "peak_tflops": peak_tflops}})
    windows = RandomWindows(tokenizer, context)
    with tempfile.TemporaryDirectory() as run_dir:
        train(config, Path(run_dir) / "run", windows=(windows, windows), progress=False)
        records = [r for r in read_log(Path(run_dir) / "run" / "log.jsonl")
                   if "tokens_per_s" in r and r["step"] > warmup]
    # each record covers the log_every (= warmup) steps before it: compiling is excluded
    tokens_per_s = float(np.mean([r["tokens_per_s"] for r in records]))
    model_config = config.model_config(tokenizer.vocab_size)
    return {"preset": preset, "params": count_params(model_config), "context": context,
            "batch_size": batch_size, "steps_timed": steps, "compile": compile_model,
            "tokens_per_s": round(tokens_per_s, 1), "config": model_config}


def bench_drafting(preset: str, new_tokens: int = 784, prompt: int = 16) -> float:
    """Seconds to draft ``new_tokens`` after a ``prompt`` with the KV cache (best of 3)."""
    model = TransformerLM(ModelConfig.preset(preset, vocab_size=Tokenizer().vocab_size)).eval()
    new_tokens = min(new_tokens, model.config.context_length - prompt)
    model.generate([[1] * prompt], 8)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.generate([[1] * prompt], new_tokens)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", nargs="+", default=["gpu-50m" if cuda else "small"])
    parser.add_argument("--context", type=int, default=2048 if cuda else 1024)
    parser.add_argument("--batch-size", type=int, default=16 if cuda else 4)
    parser.add_argument("--warmup", type=int, default=5 if cuda else 2)
    parser.add_argument("--steps", type=int, default=25 if cuda else 4)
    parser.add_argument("--no-compile", action="store_true", help="eager mode on the GPU")
    args = parser.parse_args()

    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        peak = measure_matmul_tflops(torch.device("cuda"), 8192, 10, torch.bfloat16)
        name = torch.cuda.get_device_name()
    else:
        peak = measure_matmul_tflops(torch.device("cpu"), 1024, 5, torch.float32)
        name = f"cpu ({torch.get_num_threads()} threads)"
    for preset in args.preset:
        result = bench_training(preset, args.context, args.batch_size, args.warmup, args.steps,
                                cuda and not args.no_compile, device, peak)
        config = result.pop("config")
        speed = result["tokens_per_s"]
        model_flops = speed * mfu(1.0, config, 1.0, args.context)
        line = {"device": name, **result,
                "model_tflops": round(model_flops / 1e12, 3),
                "matmul_tflops": round(peak, 3),
                "mfu": round(mfu(speed, config, peak * 1e12, args.context), 4),
                "mfu_causal": round(mfu(speed, config, peak * 1e12, args.context, causal=True), 4),
                "peer": "matmul_tflops", "ratio": round(model_flops / (peak * 1e12), 4)}
        if not cuda:  # drafting ~16 bars, with this process's threads and with one
            line["draft_784_tokens_s"] = round(bench_drafting(preset), 3)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            line["draft_784_tokens_1_thread_s"] = round(bench_drafting(preset), 3)
            torch.set_num_threads(threads)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
