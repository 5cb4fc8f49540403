"""Model folders: saved by one process, loaded by another, and every damage reported."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tunesmith.errors import ModelError, WriteError
from tunesmith.model import ModelConfig, TransformerLM
from tunesmith.model_folder import load_model_folder, save_model_folder
from tunesmith.tokenizer import Tokenizer

LOAD_AND_RUN = """
import sys, torch
from safetensors.torch import save_file
from tunesmith.model_folder import load_model_folder
model, tokenizer = load_model_folder(sys.argv[1])
ids = torch.arange(1, 41).reshape(2, 20) % tokenizer.vocab_size
with torch.no_grad():
    save_file({"logits": model(ids).contiguous()}, sys.argv[2])
"""


@pytest.fixture
def saved(tmp_path):
    tokenizer = Tokenizer()
    torch.manual_seed(0)
    model = TransformerLM(ModelConfig.preset("tiny", vocab_size=tokenizer.vocab_size)).eval()
    folder = save_model_folder(tmp_path / "model", model, tokenizer, {"steps": 0})
    return folder, model, tokenizer


def test_a_model_folder_loads_in_a_fresh_process_with_the_same_logits(saved, tmp_path):
    folder, model, tokenizer = saved
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "model.safetensors", "tokenizer.json"]
    out = tmp_path / "logits.safetensors"
    subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(folder), str(out)], check=True)
    ids = torch.arange(1, 41).reshape(2, 20) % tokenizer.vocab_size
    with torch.no_grad():
        assert torch.equal(load_file(out)["logits"], model(ids))
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o666 & ~umask}
    card = (folder / "README.md").read_text()
    assert "library_name: tunesmith" in card and f"{model.num_params():,}" in card


def test_half_precision_folder_is_half_the_size_and_loads_as_float32(saved, tmp_path):
    folder, model, tokenizer = saved
    half = save_model_folder(tmp_path / "half", model, tokenizer, dtype=torch.float16)
    size = (half / "model.safetensors").stat().st_size
    assert size < 0.55 * (folder / "model.safetensors").stat().st_size
    loaded, _ = load_model_folder(half)
    assert loaded.embed.weight.dtype == torch.float32
    torch.testing.assert_close(loaded.embed.weight, model.embed.weight, atol=1e-3, rtol=1e-3)


def test_an_existing_folder_is_never_overwritten_silently(saved):
    folder, model, tokenizer = saved
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(WriteError, match="already exists"):
        save_model_folder(folder, model, tokenizer)
    assert (folder / "model.safetensors").read_bytes() == before
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("damage, reason", [
    (lambda f: (f / "model.safetensors").unlink(), "missing model.safetensors"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 10), "not a readable safetensors"),
    (lambda f: (f / "config.json").write_text("{oops"), "not valid JSON"),
    (lambda f: _edit_config(f, d_model=128), "has shape"),
    (lambda f: _edit_config(f, vocab_size=50), "tokens but config.json says 50"),
    (lambda f: _edit_config(f, format_version=99), "format version 99"),
    (lambda f: (f / "tokenizer.json").write_text("[]"), "not a tunesmith tokenizer"),
])
def test_damaged_folders_raise_model_errors_that_say_what_is_wrong(saved, damage, reason):
    folder, _, _ = saved
    damage(folder)
    with pytest.raises(ModelError, match=reason) as error:
        load_model_folder(folder)
    assert str(folder) in str(error.value)


def test_a_missing_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        load_model_folder(tmp_path / "nothing")


def _edit_config(folder, **changes):
    data = json.loads((folder / "config.json").read_text())
    data.update(changes)
    (folder / "config.json").write_text(json.dumps(data))
