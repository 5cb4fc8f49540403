"""Checkpoints: everything a run needs to continue bit for bit, with no pickle anywhere.

::

    RUN_DIR/checkpoints/step-00000500/
      model.safetensors      the weights
      optimizer.safetensors  AdamW's moment tensors, flattened, and every process's
                             random-number-generator states (byte tensors)
      state.json             step, data position, processes, optimizer hyper-parameters
      config.json            the model config       } so that a checkpoint alone
      tokenizer.json         the tokenizer          } exports to a model folder

A checkpoint is written into a temporary folder and renamed into place, so every
``step-*`` folder is complete; older ones are deleted only after a newer one exists.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch

from ..errors import ModelError
from ..model import ModelConfig, TransformerLM
from ..model_folder import atomic_folder, load_weights, save_weights

CHECKPOINTS = "checkpoints"
FORMAT_VERSION = 1
_NAME = re.compile(r"^step-(\d{8})$")


def checkpoint_dir(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:08d}"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir()
             if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder, or a run folder (meaning its latest checkpoint)."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    if (path / CHECKPOINTS).is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise ModelError("this run has no checkpoint yet", path)
        return latest
    raise ModelError("not a checkpoint or a run folder" if path.exists() else "no such folder",
                     path)


# -- optimizer state as flat tensors ----------------------------------------------------

def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Tensors ``state.<param index>.<name>`` and the JSON-able rest of a state dict."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            key = f"state.{index}.{name}"
            if torch.is_tensor(value):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict, rest: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in [*tensors.items(), *rest["scalars"].items()]:
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


# -- save and load -----------------------------------------------------------------------

def save_checkpoint(run_dir: str | os.PathLike, step: int, model: TransformerLM,
                    optimizer: torch.optim.Optimizer, state: dict,
                    rng_states: dict[str, torch.Tensor], tokenizer, keep: int) -> Path:
    """Write checkpoint ``step`` atomically, then delete all but the newest ``keep``.

    ``state`` is JSON-able (step, data position...); ``rng_states`` are byte tensors.
    """
    target = checkpoint_dir(run_dir, step)
    optim_tensors, optim_rest = _flatten_optimizer(optimizer)
    optim_tensors.update({f"rng.{name}": t.cpu().contiguous() for name, t in rng_states.items()})
    with atomic_folder(target, overwrite=True) as tmp:
        save_weights(model, tmp / "model.safetensors")
        from safetensors.torch import save_file

        save_file(optim_tensors, tmp / "optimizer.safetensors")
        record = {"format_version": FORMAT_VERSION, **state, "optimizer": optim_rest}
        (tmp / "state.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2) + "\n",
                                         encoding="utf-8")
        tokenizer.save(tmp / "tokenizer.json")
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def read_state(checkpoint: str | os.PathLike) -> dict:
    path = Path(checkpoint) / "state.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("missing state.json: not a checkpoint", checkpoint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"unreadable state.json ({exc})", path) from None
    if state.get("format_version") != FORMAT_VERSION:
        raise ModelError("checkpoint format differs from this tunesmith version's", path)
    return state


def load_checkpoint(checkpoint: str | os.PathLike, model: TransformerLM,
                    optimizer: torch.optim.Optimizer | None
                    ) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load weights (and optimizer state) in place; return the state and the RNG states."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    checkpoint = Path(checkpoint)
    state = read_state(checkpoint)
    load_weights(model, checkpoint / "model.safetensors")
    path = checkpoint / "optimizer.safetensors"
    try:
        tensors = load_file(os.fspath(path))
    except FileNotFoundError:
        raise ModelError("missing optimizer.safetensors", checkpoint) from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"unreadable optimizer state ({exc})", path) from None
    rng = {k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")}
    if optimizer is not None:
        moments = {k: v for k, v in tensors.items() if k.startswith("state.")}
        try:
            optimizer.load_state_dict(_unflatten_optimizer(moments, state["optimizer"]))
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ModelError(f"optimizer state does not fit this model ({exc})", path) from None
    return state, rng


def checkpoint_model(checkpoint: str | os.PathLike):
    """The model and tokenizer of a checkpoint (for export): ``(model, tokenizer, state)``."""
    from ..tokenizer import Tokenizer

    checkpoint = resolve_checkpoint(checkpoint)
    state = read_state(checkpoint)
    try:
        config = ModelConfig.from_dict(
            json.loads((checkpoint / "config.json").read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"unreadable model config ({exc})", checkpoint / "config.json") from None
    tokenizer = Tokenizer.load(checkpoint / "tokenizer.json")
    model = TransformerLM(config)
    load_weights(model, checkpoint / "model.safetensors")
    return model.eval(), tokenizer, state
