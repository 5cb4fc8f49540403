"""Shared test fixtures: paths to the test data (see tests/data/SOURCES.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REAL_MIDI = DATA / "real-midi"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def real_midi() -> Path:
    """The hostile real-world corpus (tests/data/real-midi, sources in its README)."""
    return REAL_MIDI


TINY_CORPUS = ["bach_bwv66.6.mxl", "oneills_excerpt.abc",
               *(f"real-midi/{name}" for name in (
                   "CPJKU__partitura/mozart_k265_var1.mid", "Natooz__MidiTok/6338816_Etude No. 4.mid",
                   "jazz-soft__test-midi-files/test-all-gm-percussion.mid", "kovaxis__midly/Levels.mid",
                   "pedrolcl__dmidiplayer/Negra_Sombra.kar", "magenta__note-seq/english.abc",
                   "salu133445__muspy/tunebook.abc"))]
"""Nine small files (15 pieces: chorale, folk tunes, piano, drums, a band) whose content
hashes put pieces in all three splits at 20% val and 20% test."""


@pytest.fixture(scope="session")
def prepared_corpus(tmp_path_factory) -> Path:
    """A tiny corpus prepared with `tunesmith prepare` (train/val/test all non-empty), for
    tests of the dataset and of training."""
    from tunesmith.prepare import PrepareConfig, prepare

    out = tmp_path_factory.mktemp("prepared")
    config = PrepareConfig([DATA / name for name in TINY_CORPUS], val_fraction=0.2, test_fraction=0.2)
    manifest = prepare(config, out, progress=False)
    assert all(s["pieces"] for s in manifest["counts"]["splits"].values()), manifest["counts"]
    return out


@pytest.fixture(scope="session")
def tiny_model(prepared_corpus, tmp_path_factory):
    """A tiny model trained for a few seconds on the tiny corpus, as a model folder
    (model, tokenizer): enough to sample from, far from musical."""
    import torch

    from tunesmith.model_folder import load_model_folder
    from tunesmith.train.config import TrainConfig
    from tunesmith.train.loop import train

    config = TrainConfig.from_dict({
        "model": {"preset": "tiny", "context_length": 1024},
        "data": {"transpose": [-2, 2], "infill_fraction": 0.3},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5, "weight_decay": 0.0},
        "train": {"steps": 40, "batch_size": 4, "seed": 0, "device": "cpu", "eval_every": 40,
                  "eval_batches": 1, "checkpoint_every": 40, "keep_checkpoints": 1, "log_every": 20},
    })
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(config, tmp_path_factory.mktemp("tiny_run"), data_dir=prepared_corpus, progress=False)
    finally:
        torch.set_num_threads(threads)
    return load_model_folder(result.model_dir)
