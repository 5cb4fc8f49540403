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
