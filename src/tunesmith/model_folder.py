"""A trained model on disk: a folder anyone can open, like a Hugging Face one.

::

    MODEL_DIR/
      config.json         the ModelConfig (sizes), plus a format version
      tokenizer.json      the tokenizer the model reads and writes
      model.safetensors   the weights (never a pickle: loading runs no code)
      README.md           the model card: what it is, how it was trained, its limits

``save_model_folder`` writes all four into a temporary folder and renames it into
place, so a reader never sees half a model; ``load_model_folder`` checks every file and
raises `ModelError` naming the file and what is wrong with it.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import torch

from .errors import ModelError, WriteError
from .model import ModelConfig, TransformerLM

FORMAT = "tunesmith-model"
FORMAT_VERSION = 1
FILES = ("config.json", "tokenizer.json", "model.safetensors", "README.md")


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; on success it becomes ``folder``.

    Files written inside are flushed to disk before the rename. An existing ``folder``
    raises ``WriteError`` unless ``overwrite``; it is then replaced only once the new
    one is complete.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise WriteError("already exists (choose another folder or allow overwriting)", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp and mkstemp make private files: share
        for child in tmp.iterdir():
            os.chmod(child, 0o666 & ~umask)
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync_dir(folder.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- weights --------------------------------------------------------------------------

def save_weights(model: TransformerLM, path: str | os.PathLike,
                 dtype: torch.dtype | None = None, metadata: dict | None = None) -> None:
    """Write the model's learned tensors to a safetensors file (optionally cast to ``dtype``)."""
    from safetensors.torch import save_file

    tensors = {name: (t if dtype is None else t.to(dtype)).detach().cpu().contiguous()
               for name, t in model.state_dict().items()}
    save_file(tensors, os.fspath(path), metadata={k: str(v) for k, v in (metadata or {}).items()})


def load_weights(model: TransformerLM, path: str | os.PathLike) -> None:
    """Load a safetensors file into ``model``, cast to its dtype; names and shapes must match."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(os.fspath(path))
    except FileNotFoundError:
        raise ModelError("missing weights file", path) from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"not a readable safetensors file ({exc})", path) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelError(f"weights do not fit the model config: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}", path)
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise ModelError(f"weight {name} has shape {tuple(tensor.shape)}, the config "
                             f"needs {tuple(expected[name].shape)}", path)
        if not tensor.is_floating_point():
            raise ModelError(f"weight {name} is not a floating-point tensor", path)
    model.load_state_dict({name: t.to(expected[name].dtype) for name, t in tensors.items()})


# -- the folder -----------------------------------------------------------------------

def save_model_folder(folder: str | os.PathLike, model: TransformerLM, tokenizer,
                      card: dict | None = None, overwrite: bool = False,
                      dtype: torch.dtype | None = None) -> Path:
    """Write a model folder (see the module docstring) and return its path.

    ``tokenizer`` is a `tunesmith.tokenizer.Tokenizer` whose vocabulary the model was
    trained on; ``card`` adds facts to the model card (e.g. ``steps``, ``val_loss``,
    ``data``); ``dtype`` (e.g. ``torch.float16``) halves the weights file.
    """
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ModelError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model "
                         f"reads {model.config.vocab_size}")
    folder = Path(folder)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **model.config.to_dict()}
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        tokenizer.save(tmp / "tokenizer.json")
        save_weights(model, tmp / "model.safetensors", dtype=dtype,
                     metadata={"format": FORMAT, "format_version": FORMAT_VERSION})
        (tmp / "README.md").write_text(model_card(folder.name, model, card or {}),
                                       encoding="utf-8")
    return folder


def read_model_config(folder: str | os.PathLike) -> ModelConfig:
    """The `ModelConfig` of a model folder, checked."""
    path = Path(folder) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("missing config.json: not a tunesmith model folder", folder) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"config.json is not valid JSON ({exc})", path) from None
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise ModelError(f"not a {FORMAT} config", path)
    version = data.pop("format_version", None)
    if version != FORMAT_VERSION:
        raise ModelError(f"format version {version} is not {FORMAT_VERSION} (written by "
                         "another tunesmith version?)", path)
    try:
        return ModelConfig.from_dict(data)
    except ModelError as exc:
        raise ModelError(exc.reason, path) from None


def load_model_folder(folder: str | os.PathLike, device: str | torch.device = "cpu"):
    """Load a model folder: returns ``(model, tokenizer)``, the model in eval mode.

    Raises `ModelError` if the folder, or any of its files, is missing or inconsistent.
    """
    from .tokenizer import Tokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError("no such model folder" if not folder.exists() else "not a folder",
                         folder)
    missing = [name for name in FILES[:3] if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"incomplete model folder: missing {', '.join(missing)}", folder)
    config = read_model_config(folder)
    try:
        tokenizer = Tokenizer.load(folder / "tokenizer.json")
    except Exception as exc:  # TokenizerError: re-raised as a model problem, same path
        raise ModelError(getattr(exc, "reason", str(exc)), folder / "tokenizer.json") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ModelError(f"tokenizer.json has {tokenizer.vocab_size} tokens but config.json "
                         f"says {config.vocab_size}", folder)
    model = TransformerLM(config)
    load_weights(model, folder / "model.safetensors")
    return model.to(device).eval(), tokenizer


def model_card(name: str, model: TransformerLM, facts: dict) -> str:
    """The README.md of a model folder: front matter for hubs, then plain facts."""
    config = model.config
    params = model.num_params()
    lines = [
        "---",
        "library_name: tunesmith",
        "tags: [music, symbolic-music, midi, music-generation]",
        "---",
        "",
        f"# {name}",
        "",
        "A tunesmith music model: a decoder-only transformer over tunesmith's bar-aware",
        "token vocabulary. It continues a piece bar by bar, fills bars between two given",
        "passages, and writes one track given the others.",
        "",
        "## Model",
        "",
        f"- parameters: {params:,} ({params / 1e6:.1f}M)",
        f"- layers {config.n_layers}, width {config.d_model}, heads {config.n_heads}, "
        f"MLP width {config.d_ff}",
        f"- context: {config.context_length} tokens; vocabulary: {config.vocab_size} tokens",
        "- rotary positions, RMSNorm, gated (SwiGLU) MLP, output tied to the embedding",
        "",
    ]
    if facts:
        lines += ["## Training", ""]
        lines += [f"- {key.replace('_', ' ')}: {_fact(value)}" for key, value in facts.items()
                  if value is not None]
        lines.append("")
    lines += [
        "## Use",
        "",
        "Load it with `tunesmith.model_folder.load_model_folder(path)`, or pass the folder",
        "to the tunesmith commands that generate music.",
        "",
        "## Limitations",
        "",
        "It knows only the music it was trained on (see the data above) and the",
        "instruments, meters and note lengths the tokenizer can write. It does not",
        "render audio. Its output can resemble its training pieces; check before publishing.",
        "",
    ]
    return "\n".join(lines)


def _fact(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
