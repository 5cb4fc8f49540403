"""One TOML file describes a whole training run; these dataclasses are its schema.

A run's file has four tables (every key is optional; ``configs/*.toml`` are examples)::

    [model]              # a preset from tunesmith.model.PRESETS, any field overridden
    preset = "small"
    context_length = 512

    [data]
    dir = "prepared/"    # the prepared corpus (``--data`` on the command line wins)
    transpose = [-5, 6]  # random transposition range in semitones, inclusive; [] for none
    infill_fraction = 0.25
    pack = true          # fill each window with pieces back to back instead of padding

    [optim]
    lr = 3e-4            # peak learning rate, after warm-up; cosine decay to min_lr
    ...

    [train]
    steps = 2000         # optimizer steps
    batch_size = 16      # windows per micro-batch, per process
    ...

The resolved configuration is saved as ``RUN_DIR/config.toml`` when the run starts, so
the run folder alone says what the run was and ``--resume`` needs nothing else.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..atomic import write_text
from ..errors import RequestError
from ..model import DEFAULT_PRESET, PRESETS, ModelConfig


@dataclass
class DataSection:
    dir: str = ""
    """Prepared corpus folder (see tunesmith.data); the ``--data`` option overrides it."""
    transpose: list[int] = field(default_factory=lambda: [-5, 6])
    """Each training window is moved by a random number of semitones in this inclusive
    range (drums stay put); ``[]`` turns augmentation off."""
    infill_fraction: float = 0.25
    """Share of training windows rearranged into the infilling format (prefix bars,
    suffix bars, then the middle bars), so the model learns to fill gaps and tracks."""
    pack: bool = True
    """Fill the room after a piece's EOS with further pieces instead of padding (see
    `tunesmith.data.TokenWindows`); false reproduces runs made before packing."""


@dataclass
class OptimSection:
    lr: float = 3e-4
    """Peak learning rate, reached after warm-up."""
    min_lr: float = 3e-5
    """Learning rate at the last step, after the cosine decay."""
    warmup_steps: int = 100
    weight_decay: float = 0.1
    """AdamW decay of the matrices (norm gains are not decayed)."""
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    """Largest global gradient norm; 0 turns clipping off."""


@dataclass
class TrainSection:
    steps: int = 2000
    """Optimizer steps of the whole run."""
    batch_size: int = 16
    """Windows per micro-batch on each process. Tokens per optimizer step are
    batch_size * grad_accum * processes * (context_length)."""
    grad_accum: int = 1
    """Micro-batches whose gradients add up before each optimizer step."""
    seed: int = 0
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    dtype: str = "auto"
    """Autocast precision: ``auto`` (bf16 on CUDA, fp32 on CPU), ``bf16`` or ``fp32``."""
    compile: bool = False
    """Compile the model with torch.compile (faster on GPU after a minute of compiling)."""
    eval_every: int = 200
    """Steps between validation losses (and at the last step); 0 never."""
    eval_batches: int = 20
    """Validation batches per evaluation; 0 runs the whole val split."""
    checkpoint_every: int = 200
    """Steps between checkpoints (one is always written at the last step)."""
    keep_checkpoints: int = 3
    """Checkpoints kept on disk; older ones are deleted once a newer one is complete."""
    log_every: int = 10
    """Steps between lines of ``log.jsonl``."""
    peak_tflops: float = 0.0
    """Peak bf16 TFLOP/s for MFU; 0 measures a large matrix product on the GPU at
    start. MFU is not reported on CPU."""


@dataclass
class TrainConfig:
    """A whole run: model, data, optimizer and loop settings (see the module docstring)."""

    model: dict = field(default_factory=lambda: {"preset": DEFAULT_PRESET})
    """``preset`` plus any `ModelConfig` field; ``vocab_size`` comes from the tokenizer."""
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    train: TrainSection = field(default_factory=TrainSection)

    def __post_init__(self):
        problems = []
        t, o = self.train, self.optim
        for name in ("steps", "batch_size", "grad_accum", "keep_checkpoints", "log_every"):
            if getattr(t, name) < 1:
                problems.append(f"train.{name} must be at least 1")
        for name in ("eval_every", "eval_batches", "checkpoint_every"):
            if getattr(t, name) < 0:
                problems.append(f"train.{name} must be 0 or more")
        if t.device not in ("auto", "cpu", "cuda"):
            problems.append("train.device must be auto, cpu or cuda")
        if t.dtype not in ("auto", "bf16", "fp32"):
            problems.append("train.dtype must be auto, bf16 or fp32")
        if not 0 <= o.min_lr <= o.lr or o.lr <= 0:
            problems.append("optim needs 0 <= min_lr <= lr and lr > 0")
        if o.warmup_steps < 0 or o.grad_clip < 0 or o.weight_decay < 0:
            problems.append("optim.warmup_steps, grad_clip and weight_decay must be 0 or more")
        transpose = self.data.transpose
        if transpose and (len(transpose) != 2 or transpose[0] > transpose[1]):
            problems.append("data.transpose must be [] or [low, high] with low <= high")
        if not 0.0 <= self.data.infill_fraction <= 1.0:
            problems.append("data.infill_fraction must be in [0, 1]")
        if "vocab_size" in self.model:
            problems.append("model.vocab_size comes from the tokenizer; remove it")
        if problems:
            raise RequestError("bad training config: " + "; ".join(problems))
        self.model_config(vocab_size=1)  # checks preset name and model fields now

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model this run trains, for a tokenizer of ``vocab_size`` ids."""
        overrides = dict(self.model)
        preset = overrides.pop("preset", DEFAULT_PRESET)
        known = {f.name for f in fields(ModelConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise RequestError(f"unknown [model] keys: {', '.join(unknown)}; model fields are "
                               f"preset, {', '.join(sorted(known - {'vocab_size'}))}")
        if preset not in PRESETS:
            raise RequestError(f"unknown model preset {preset!r}; presets are {', '.join(PRESETS)}")
        return ModelConfig.from_dict({**PRESETS[preset], **overrides, "vocab_size": vocab_size})

    # -- TOML ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict, source: str | os.PathLike | None = None) -> "TrainConfig":
        """Build from parsed TOML; unknown tables or keys and wrong types raise RequestError."""
        sections = {"data": DataSection, "optim": OptimSection, "train": TrainSection}
        unknown = sorted(set(data) - set(sections) - {"model"})
        if unknown:
            raise RequestError(f"unknown tables {', '.join(unknown)}; a run config has "
                               "[model], [data], [optim] and [train]", source)
        if not isinstance(data.get("model", {}), dict):
            raise RequestError("[model] must be a table", source)
        built = {"model": dict(data.get("model", {"preset": DEFAULT_PRESET}))}
        for name, kind in sections.items():
            table = data.get(name, {})
            if not isinstance(table, dict):
                raise RequestError(f"[{name}] must be a table", source)
            built[name] = _build_section(kind, name, table, source)
        try:
            return cls(**built)
        except RequestError as exc:
            raise RequestError(exc.reason, source) from None
        except Exception as exc:  # a ModelError from the model fields
            raise RequestError(getattr(exc, "reason", str(exc)), source) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainConfig":
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RequestError("no such config file", path) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RequestError(f"not a readable TOML file ({exc})", path) from None
        return cls.from_dict(data, source=path)

    def to_dict(self) -> dict:
        return {"model": dict(self.model), "data": asdict(self.data),
                "optim": asdict(self.optim), "train": asdict(self.train)}

    def to_toml(self) -> str:
        lines = ["# tunesmith training run (written by `tunesmith train`)"]
        for table, values in self.to_dict().items():
            lines += ["", f"[{table}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        write_text(path, self.to_toml())


def _build_section(kind, name: str, table: dict, source):
    known = {f.name: f for f in fields(kind)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise RequestError(f"unknown keys in [{name}]: {', '.join(unknown)}; known keys are "
                           f"{', '.join(known)}", source)
    values = {}
    for key, value in table.items():
        default = getattr(kind(), key)
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is list and isinstance(value, list):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise RequestError(f"{name}.{key} must be a list of integers", source)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise RequestError(f"{name}.{key} must be {expected.__name__}, got {value!r}", source)
        values[key] = value
    return kind(**values)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
