"""The training loop: one function, `train`, from a config and a prepared corpus to a model.

A run folder holds everything about a run::

    RUN_DIR/config.toml        the resolved run config (what --resume reads)
    RUN_DIR/tokenizer.json     the corpus's tokenizer
    RUN_DIR/log.jsonl          one JSON record per log step: loss, lr, tokens/s, MFU...
    RUN_DIR/loss.png           the loss curve, redrawn at each evaluation
    RUN_DIR/checkpoints/       the last few checkpoints (see checkpoint.py)
    RUN_DIR/model/             the final model folder (see tunesmith.model_folder)

Resuming is exact: batches are a function of (seed, step, rank, processes), the learning
rate a function of the step, and checkpoints hold the weights, AdamW's moments and every
process's random state, so on CPU a resumed run ends with the same weights, bit for bit,
as one that never stopped. Under ``torchrun`` each process trains on its own windows
with DistributedDataParallel; only rank 0 writes files.
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError, ModelError, RequestError, WriteError
from ..model import TransformerLM, estimate_flops_per_token, summed_cross_entropy
from . import distributed
from .checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .hardware import measure_matmul_tflops
from .plot import plot_loss, read_log
from .schedule import learning_rate


@dataclass
class TrainResult:
    """What a call to `train` did."""

    run_dir: Path
    step: int
    """Optimizer steps completed (all of them unless ``interrupted``)."""
    loss: float | None
    """Training loss of the last step."""
    val_loss: float | None
    """Validation loss of the last evaluation."""
    interrupted: bool = False
    model_dir: Path | None = None
    """The exported model folder, once the run is complete."""


def train(config: TrainConfig | None, run_dir, data_dir=None, resume: bool = False,
          windows=None, progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue) the run in ``run_dir``.

    ``config`` may be None when resuming (the run folder's own config is used; a
    given one must match it). ``data_dir`` overrides ``config.data.dir``. ``windows`` is
    an optional ``(train, val)`` pair of objects with `tunesmith.data.TokenWindows`'s
    interface, used instead of the corpus (tests).
    """
    info = distributed.setup(config.train.device if config else "auto")
    try:
        return _Run(config, Path(run_dir), data_dir, resume, windows, progress, info).run()
    finally:
        distributed.teardown(info)


class _Run:
    def __init__(self, config, run_dir: Path, data_dir, resume, windows, progress, info):
        self.info = info
        self.run_dir = run_dir
        self.config = self._settle_config(config, resume)
        if data_dir is not None or self.config.data.dir:
            # absolute, so that --resume works from any working directory
            self.config.data.dir = str(Path(data_dir or self.config.data.dir).resolve())
        self.resume = resume
        self.progress = progress
        self.train_windows, self.val_windows = windows or self._open_windows()
        self.tokenizer = self.train_windows.tokenizer
        self.pad_id = self.tokenizer.pad_id
        self.log_path = run_dir / "log.jsonl"
        self.stop_requested = False

    # -- setting up ------------------------------------------------------------------

    def _settle_config(self, config: TrainConfig | None, resume: bool) -> TrainConfig:
        saved_path = self.run_dir / "config.toml"
        if resume:
            if not saved_path.is_file():
                raise ModelError("nothing to resume: no config.toml in this run folder",
                                 self.run_dir)
            saved = TrainConfig.load(saved_path)
            if config is not None:
                mine, theirs = _flat(config.to_dict()), _flat(saved.to_dict())
                differ = sorted(k for k in set(mine) | set(theirs)
                                if k != "data.dir" and mine.get(k) != theirs.get(k))
                if differ:
                    raise RequestError(f"--config differs from the run being resumed in "
                                       f"{', '.join(differ)}; resume without --config, or "
                                       f"start a new run", self.run_dir)
            if config is not None and config.data.dir and not saved.data.dir:
                saved.data.dir = config.data.dir
            return saved
        if config is None:
            raise RequestError("a new run needs a config (--config FILE.toml)")
        if saved_path.exists() or list_checkpoints(self.run_dir):
            raise WriteError("already holds a training run; pass --resume to continue it "
                             "or choose another --out", self.run_dir)
        return config

    def _open_windows(self):
        from ..data import TokenWindows

        data = self.config.data
        if not data.dir:
            raise RequestError("no training data: pass --data DIR or set data.dir in the config")
        if not Path(data.dir).is_dir():
            raise DataError("no such prepared corpus folder", data.dir)
        context = self.config.model_config(vocab_size=1).context_length
        seed = self.config.train.seed
        transpose = tuple(data.transpose) if data.transpose else None
        train = TokenWindows(data.dir, split="train", context_length=context, seed=seed,
                             transpose=transpose, infill_fraction=data.infill_fraction,
                             pack=data.pack)
        val_pieces = train.manifest.get("counts", {}).get("splits", {}).get("val", {})
        if not val_pieces.get("pieces", 1):
            return train, None  # a corpus prepared with --val 0: no validation loss
        val = TokenWindows(data.dir, split="val", context_length=context, seed=seed,
                           transpose=None, infill_fraction=0.0)
        return train, val

    def _build(self):
        t = self.config.train
        self.model_config = self.config.model_config(self.tokenizer.vocab_size)
        torch.manual_seed(t.seed)
        self.model = TransformerLM(self.model_config).to(self.info.device)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        o = self.config.optim
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": o.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=o.lr, betas=(o.beta1, o.beta2), fused=self.info.device.type == "cuda")
        use_bf16 = t.dtype == "bf16" or (t.dtype == "auto" and self.info.device.type == "cuda")
        self.autocast = (torch.autocast(self.info.device.type, dtype=torch.bfloat16)
                         if use_bf16 else contextlib.nullcontext())

    def _prepare_run_dir(self) -> None:
        distributed.barrier(self.info)  # every process has checked the folder is free
        if self.info.is_main and not self.resume:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.config.save(self.run_dir / "config.toml")
            self.tokenizer.save(self.run_dir / "tokenizer.json")
        distributed.barrier(self.info)

    def _restore(self) -> int:
        """Load the latest checkpoint if resuming; return the first step to run."""
        checkpoint = latest_checkpoint(self.run_dir) if self.resume else None
        if checkpoint is None:
            torch.manual_seed(self.config.train.seed + 1 + self.info.rank)  # dropout
            if self.info.is_main and self.resume:
                self._truncate_log(0)
            return 0
        state, rng = load_checkpoint(checkpoint, self.model, self.optimizer)
        if state.get("world_size") != self.info.world_size:
            raise ModelError(f"written by a run of {state.get('world_size')} processes; resume "
                             f"it with the same number (this one has {self.info.world_size})",
                             checkpoint)
        torch.set_rng_state(rng[f"cpu.{self.info.rank}"])
        if self.info.device.type == "cuda" and f"cuda.{self.info.rank}" in rng:
            torch.cuda.set_rng_state(rng[f"cuda.{self.info.rank}"], self.info.device)
        self.tokens_seen = state.get("tokens_seen", 0)
        self.val_loss = state.get("val_loss")
        if self.info.is_main:
            self._truncate_log(state["step"])
        return state["step"]

    def _truncate_log(self, step: int) -> None:
        """Drop log records of steps after the checkpoint: they will be run again."""
        from ..atomic import write_text

        kept = [r for r in read_log(self.log_path) if r.get("step", 0) <= step]
        write_text(self.log_path, "".join(json.dumps(r) + "\n" for r in kept))

    # -- the loop --------------------------------------------------------------------

    def run(self) -> TrainResult:
        t = self.config.train
        self._build()
        self._prepare_run_dir()
        self.tokens_seen, self.val_loss, loss = 0, None, None
        start = self._restore()
        model = self.model
        if self.info.enabled:
            model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.info.local_rank] if self.info.device.type == "cuda"
                else None)
        self.ddp = model
        self.forward = torch.compile(model) if t.compile else model
        peak = self._peak_flops()
        flops_per_token = estimate_flops_per_token(self.model_config)
        window_tokens = self.model_config.context_length
        tokens_per_step = t.batch_size * window_tokens * t.grad_accum * self.info.world_size

        self.batches = _Batches(self.train_windows, t.batch_size, self.info)
        bar = self._progress_bar(start)
        previous_handler = self._catch_interrupt()
        interval_start, interval_steps = time.perf_counter(), 0
        self.real_targets = torch.zeros((), dtype=torch.long, device=self.info.device)
        try:
            for step in range(start, t.steps):
                loss = self._step(step)
                done = step + 1
                self.tokens_seen += tokens_per_step
                interval_steps += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                last = done == t.steps
                logging = done % t.log_every == 0 or last or done == start + 1
                evaluating = bool(self.val_windows and t.eval_every
                                  and (done % t.eval_every == 0 or last))
                saving = (t.checkpoint_every and done % t.checkpoint_every == 0) or last \
                    or self.stop_requested
                if logging:
                    seconds = time.perf_counter() - interval_start
                    speed = interval_steps * tokens_per_step / max(seconds, 1e-9)
                    # targets that are music, not padding (this process's share)
                    fill = self.real_targets.item() * self.info.world_size / (
                        interval_steps * tokens_per_step)
                    self._log({"step": done, "loss": round(loss, 6), "lr": self._lr(step),
                               "grad_norm": round(self.grad_norm, 6),
                               "tokens_per_s": round(speed, 1), "fill": round(fill, 4),
                               "real_tokens_per_s": round(speed * fill, 1),
                               "mfu": (round(speed * flops_per_token / peak, 4) if peak
                                       else None),
                               "tokens_seen": self.tokens_seen})
                if evaluating:
                    self.val_loss = self._evaluate()
                    self._log({"step": done, "val_loss": self.val_loss})
                    self._plot()
                if saving:
                    self._checkpoint(done, loss)
                if self.stop_requested:
                    return TrainResult(self.run_dir, done, loss, self.val_loss, interrupted=True)
                if logging or evaluating or saving:  # speed is measured over training only
                    interval_start, interval_steps = time.perf_counter(), 0
                    self.real_targets.zero_()
        finally:
            bar.close()
            self.batches.close()
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        model_dir = self._export() if self.info.is_main else None
        if not (self.val_windows and t.eval_every):  # else drawn by the last evaluation
            self._plot()
        return TrainResult(self.run_dir, t.steps, loss, self.val_loss, model_dir=model_dir)

    def _lr(self, step: int) -> float:
        return learning_rate(step, self.config.train.steps, self.config.optim)

    def _step(self, step: int) -> float:
        """One optimizer step over grad_accum micro-batches; returns the mean loss."""
        t = self.config.train
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        total = torch.zeros((), device=self.info.device)
        for micro in range(t.grad_accum):
            ids = self.batches.get(step * t.grad_accum + micro).to(self.info.device,
                                                                    non_blocking=True)
            # Gradients are all-reduced only on the last micro-batch of the step.
            syncing = not self.info.enabled or micro == t.grad_accum - 1
            with (contextlib.nullcontext() if syncing else self.ddp.no_sync()):
                with self.autocast:
                    loss = self._loss(self.forward(ids[:, :-1]), ids[:, 1:])
                self.real_targets += (ids[:, 1:] != self.pad_id).sum()
                (loss / t.grad_accum).backward()
            total += loss.detach()
        params = self.model.parameters()
        if self.config.optim.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, self.config.optim.grad_clip)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        mean_loss = distributed.mean_across(self.info, total / t.grad_accum)
        loss_value, self.grad_norm = torch.stack([mean_loss, grad_norm.to(mean_loss)]).tolist()
        if not (math.isfinite(loss_value) and math.isfinite(self.grad_norm)):
            self._stop_non_finite(step + 1, loss_value)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_value

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the real (non-padding) targets."""
        return summed_cross_entropy(logits, targets, self.pad_id) / (targets != self.pad_id).sum().clamp(min=1)

    def _stop_non_finite(self, step: int, value: float):
        checkpoint = latest_checkpoint(self.run_dir)
        self._log({"step": step, "error": f"non-finite loss or gradient ({value})"})
        kept = (f"the last good checkpoint, {checkpoint.name}, is kept" if checkpoint
                else "no checkpoint had been written yet")
        raise ModelError(f"training stopped at step {step}: the loss or gradient became "
                         f"{value} (not finite); {kept}. Lower optim.lr or raise "
                         "optim.warmup_steps, then start again or --resume", self.run_dir)

    @torch.no_grad()
    def _evaluate(self) -> float | None:
        """Mean validation loss per real token, over eval_batches batches of all processes."""
        t = self.config.train
        self.model.eval()
        sums = torch.zeros(2, device=self.info.device, dtype=torch.float64)
        for index, batch in enumerate(self.val_windows.iter_eval(t.batch_size)):
            if t.eval_batches and index >= t.eval_batches:
                break
            if index % self.info.world_size != self.info.rank:
                continue
            ids = torch.from_numpy(batch).to(self.info.device)
            targets = ids[:, 1:]
            with self.autocast:
                logits = self.model(ids[:, :-1])
            sums[0] += summed_cross_entropy(logits, targets, self.pad_id).double()
            sums[1] += (targets != self.pad_id).sum()
        self.model.train()
        loss_sum, count = distributed.sum_across(self.info, sums).tolist()
        return round(loss_sum / count, 6) if count else None

    def _checkpoint(self, step: int, loss: float) -> None:
        rng = self._gather_rng_states()
        self._check_in_sync(step)
        if self.info.is_main:
            state = {"step": step, "world_size": self.info.world_size,
                     "tokens_seen": self.tokens_seen, "loss": loss, "val_loss": self.val_loss,
                     "data": self.config.data.dir or None,
                     "infill_fraction": self.config.data.infill_fraction,
                     "data_position": {"seed": self.config.train.seed,
                                       "next_micro_batch": step * self.config.train.grad_accum,
                                       "batch_size": self.config.train.batch_size}}
            save_checkpoint(self.run_dir, step, self.model, self.optimizer, state, rng,
                            self.tokenizer, keep=self.config.train.keep_checkpoints)
        distributed.barrier(self.info)

    def _gather_rng_states(self) -> dict[str, torch.Tensor]:
        """Every process's CPU (and CUDA) generator state, as byte tensors by rank."""
        states = {}
        kinds = [("cpu", torch.get_rng_state())]
        if self.info.device.type == "cuda":
            kinds.append(("cuda", torch.cuda.get_rng_state(self.info.device)))
        for kind, state in kinds:
            # NCCL gathers only GPU tensors; gloo and a lone process take CPU ones.
            on = self.info.device if self.info.enabled else torch.device("cpu")
            for rank, gathered in enumerate(distributed.gather_to_all(self.info, state.to(on))):
                states[f"{kind}.{rank}"] = gathered.cpu()
        return states

    def _check_in_sync(self, step: int) -> None:
        """Under DDP, every process must hold the same weights; stop if they drifted."""
        if not self.info.enabled:
            return
        checksum = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).sum()
        sums = [float(s) for s in distributed.gather_to_all(self.info, checksum.reshape(1))]
        self._log({"step": step, "rank_checksums": sums})
        if len(set(sums)) != 1:
            raise ModelError(f"the processes' weights differ at step {step} ({sums}); "
                             "the run is not trustworthy", self.run_dir)

    # -- around the loop ---------------------------------------------------------------

    def _peak_flops(self) -> float | None:
        """FLOP/s the MFU figure is relative to (GPU only)."""
        if self.info.device.type != "cuda":
            return None
        tflops = self.config.train.peak_tflops or measure_matmul_tflops(self.info.device)
        return tflops * 1e12

    def _progress_bar(self, start: int):
        from tqdm.auto import tqdm

        return tqdm(total=self.config.train.steps, initial=start, unit="step",
                    disable=not (self.progress and self.info.is_main), dynamic_ncols=True)

    def _catch_interrupt(self):
        """First Ctrl-C: finish the step, checkpoint, stop. A second one stops at once."""
        if self.info.enabled:
            return None  # torchrun stops the processes itself

        def request_stop(signum, frame):
            self.stop_requested = True
            signal.signal(signal.SIGINT, previous)

        try:
            previous = signal.signal(signal.SIGINT, request_stop)
        except ValueError:  # not the main thread
            return None
        return previous

    def _log(self, record: dict) -> None:
        if self.info.is_main:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def _plot(self) -> None:
        if self.info.is_main:
            plot_loss(self.log_path, self.run_dir / "loss.png")

    def _export(self) -> Path:
        from ..model_folder import save_model_folder

        facts = {"steps": self.config.train.steps, "tokens_seen": f"{self.tokens_seen:,}",
                 "final_train_loss": self._last("loss"),
                 "validation_loss": self.val_loss,
                 "data": self.config.data.dir or "(in-memory)",
                 "infill_fraction": self.config.data.infill_fraction,
                 "date": time.strftime("%Y-%m-%d")}
        return save_model_folder(self.run_dir / "model", self.model, self.tokenizer, facts,
                                 overwrite=True)

    def _last(self, key: str):
        values = [r[key] for r in read_log(self.log_path) if key in r]
        return values[-1] if values else None


class _Batches:
    """Training batches by micro-batch index; the next one is cut in a background thread
    while the device computes (the windows depend only on the index, so this changes
    nothing but the speed)."""

    def __init__(self, windows, batch_size: int, info: distributed.Distributed):
        self.windows, self.batch_size, self.info = windows, batch_size, info
        self.pin = info.device.type == "cuda"
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tunesmith-batches")
        self.pending: dict[int, object] = {}

    def get(self, index: int) -> torch.Tensor:
        future = self.pending.pop(index, None) or self.pool.submit(self._load, index)
        self.pending = {index + 1: self.pool.submit(self._load, index + 1)}
        return future.result()

    def _load(self, index: int) -> torch.Tensor:
        batch = torch.from_numpy(self.windows.batch(index, self.batch_size, rank=self.info.rank,
                                                    world_size=self.info.world_size))
        return batch.pin_memory() if self.pin else batch

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
