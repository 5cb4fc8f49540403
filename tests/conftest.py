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
