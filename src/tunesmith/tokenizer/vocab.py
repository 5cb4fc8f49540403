"""The tokenizer's configuration and the vocabulary it defines.

The vocabulary is a list of token *types*, each a contiguous range of ids, so that a
token's type is one table lookup and its value is ``id - start``. Time is counted in
grid *units*: ``positions_per_quarter`` units per quarter note (12 by default, which
holds sixteenths (3 units) and eighth-note triplets (4 units) exactly).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum

import numpy as np

from ..errors import TokenizerError
from ..score import MODES


class T(IntEnum):
    """Token types, in vocabulary order."""

    PAD = 0
    BOS = 1
    EOS = 2
    FILL_HOLE = 3    # in the infilling format: "bars are missing here"
    FILL_START = 4   # the missing bars (or the missing track) follow
    FILL_END = 5     # end of the filled-in material
    FILL_TRACK = 6   # track infilling: the next Track token names the missing track
    CONTROL = 7      # reserved conditioning tokens (Ctrl_0..), unused by the encoder
    BAR = 8
    TIMESIG = 9
    TEMPO = 10
    KEY = 11
    TRACK = 12
    PROGRAM = 13
    POSITION = 14
    PITCH = 15
    VELOCITY = 16
    DURATION = 17
    CHORD = 18       # chord control at a chord change: root x quality, or N.C.
    CHORD_BASS = 19  # the chord's bass when it is not the root (slash chords)


CHORD_QUALITIES = ("maj", "min", "dim", "aug", "sus2", "sus4", "7", "maj7", "min7", "hdim7",
                   "dim7")
"""The qualities chord tokens name (``tunesmith.harmony`` quality names): every quality of
`harmony.QUALITIES` is written as the nearest of these (``maj9`` -> ``maj7``, ``13`` ->
``7``, ``add9`` -> ``maj``), so that 12 x 11 + 1 tokens cover pop, folk and art song."""

CHORD_REDUCTION = {
    "5": "maj", "maj6": "maj", "min6": "min", "minmaj7": "min", "aug7": "aug", "7b5": "7",
    "7sus4": "sus4", "add9": "maj", "madd9": "min", "69": "maj", "9": "7", "maj9": "maj7",
    "min9": "min7", "7b9": "7", "7#9": "7", "9sus4": "sus4", "11": "7", "min11": "min7",
    "13": "7", "maj13": "maj7", "min13": "min7",
}
"""Quality name -> the `CHORD_QUALITIES` name a chord token writes (others: themselves)."""


def default_durations(positions_per_quarter: int = 12) -> tuple[int, ...]:
    """Duration values in grid units: every unit up to four quarters (so any on-grid
    note up to a whole note is exact), then coarser steps up to 32 quarters."""
    q = positions_per_quarter
    values = set(range(1, 4 * q + 1))
    values |= set(range(4 * q + q // 2, 8 * q + 1, q // 2))
    values |= set(range(8 * q + q, 16 * q + 1, q))
    values |= set(range(16 * q + 2 * q, 32 * q + 1, 2 * q))
    return tuple(sorted(values))


def default_time_signatures(max_bar_quarters: int = 8) -> tuple[tuple[int, int], ...]:
    """Every n/d with d in 2, 4, 8, 16 whose bar is at most ``max_bar_quarters`` long."""
    return tuple((n, d) for d in (2, 4, 8, 16) for n in range(1, max_bar_quarters * d // 4 + 1))


@dataclass
class TokenizerConfig:
    """Everything that defines a vocabulary; saved in ``tokenizer.json``.

    positions_per_quarter: grid resolution, units per quarter note.
    max_tracks: instrument slots a piece may use (extra tracks of the same instrument
        are merged, further ones dropped).
    velocity_bins: MIDI velocity 1-127 is quantized to this many bins.
    tempo_bins, tempo_min, tempo_max: tempo bins, log-spaced, in quarters per minute.
    durations: allowed note lengths in grid units (``default_durations``).
    time_signatures: allowed meters as (numerator, denominator) pairs.
    num_controls: reserved ``Ctrl_i`` tokens for conditioning added later.
    chords: chord controls (``Chord_<root>:<quality>``, ``ChordBass_<pc>``) at each chord
        change, for models trained from chord-labelled data; off by default, so that
        models trained without them (the shipped one) keep their vocabulary, ids and
        ``tokenizer.json`` byte for byte (the field is written only when on).
    """

    positions_per_quarter: int = 12
    max_tracks: int = 16
    velocity_bins: int = 16
    tempo_bins: int = 64
    tempo_min: float = 30.0
    tempo_max: float = 300.0
    durations: tuple[int, ...] = field(default_factory=default_durations)
    time_signatures: tuple[tuple[int, int], ...] = field(default_factory=default_time_signatures)
    num_controls: int = 16
    chords: bool = False

    def __post_init__(self) -> None:
        self.durations = tuple(int(d) for d in self.durations)
        self.time_signatures = tuple((int(n), int(d)) for n, d in self.time_signatures)
        if self.positions_per_quarter < 1:
            raise TokenizerError("positions_per_quarter must be at least 1")
        if not self.durations or min(self.durations) < 1 or list(self.durations) != sorted(set(self.durations)):
            raise TokenizerError("durations must be distinct, increasing and at least 1 unit")
        if not 1 <= self.max_tracks <= 128:
            raise TokenizerError("max_tracks must be 1-128")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["durations"] = list(self.durations)
        data["time_signatures"] = [list(ts) for ts in self.time_signatures]
        if not self.chords:  # tokenizers from before chord controls: unchanged JSON
            del data["chords"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TokenizerConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def bar_units(self, numerator: int, denominator: int) -> float:
        """Length of a bar of this meter in grid units (may be fractional if unsupported)."""
        return numerator * 4 * self.positions_per_quarter / denominator

    def max_bar_units(self) -> int:
        return int(max(self.bar_units(n, d) for n, d in self.time_signatures))


_PC_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


class Vocabulary:
    """Token types laid out as contiguous id ranges, with their names and values."""

    def __init__(self, config: TokenizerConfig):
        self.config = config
        c = config
        self.tempo_values = np.exp(np.linspace(np.log(c.tempo_min), np.log(c.tempo_max), c.tempo_bins))
        self.velocity_values = np.rint(
            (np.arange(c.velocity_bins) + 0.5) * 127.0 / c.velocity_bins + 0.5).astype(np.int16)
        self.duration_values = np.asarray(c.durations, dtype=np.int64)
        self.meters = np.asarray(c.time_signatures, dtype=np.int64).reshape(-1, 2)
        self.meter_units = np.asarray([c.bar_units(n, d) for n, d in c.time_signatures])
        sizes = {
            T.PAD: 1, T.BOS: 1, T.EOS: 1, T.FILL_HOLE: 1, T.FILL_START: 1, T.FILL_END: 1,
            T.FILL_TRACK: 1, T.CONTROL: c.num_controls, T.BAR: 1,
            T.TIMESIG: len(c.time_signatures), T.TEMPO: c.tempo_bins, T.KEY: 12 * len(MODES),
            T.TRACK: c.max_tracks, T.PROGRAM: 129, T.POSITION: c.max_bar_units(),
            T.PITCH: 128, T.VELOCITY: c.velocity_bins, T.DURATION: len(c.durations),
            T.CHORD: 12 * len(CHORD_QUALITIES) + 1 if c.chords else 0,
            T.CHORD_BASS: 12 if c.chords else 0,
        }
        self.type_start = np.zeros(len(T) + 1, dtype=np.int64)
        for t in T:
            self.type_start[t + 1] = self.type_start[t] + sizes[t]
        self.size = int(self.type_start[-1])
        self.type_of = np.repeat(np.arange(len(T)), [sizes[t] for t in T]).astype(np.int64)
        self.value_of = np.arange(self.size) - self.type_start[self.type_of]
        # plain Python ints: per-step code (and torch.compile) reads them as constants
        self._first_ids = {t: int(self.type_start[t]) for t in T}
        self._spans = {t: slice(int(self.type_start[t]), int(self.type_start[t + 1])) for t in T}

    def id(self, kind: T, value: int = 0) -> int:
        """Token id of ``kind`` with ``value`` (e.g. ``id(T.PITCH, 60)``)."""
        return self._first_ids[kind] + int(value)

    def ids(self, kind: T, values) -> np.ndarray:
        return self.type_start[kind] + np.asarray(values, dtype=np.int64)

    def span(self, kind: T) -> slice:
        return self._spans[kind]

    def name(self, token: int) -> str:
        """Readable token name, e.g. ``Pitch_60``, ``TimeSig_3/4``, ``Key_D_dorian``."""
        kind = T(int(self.type_of[token]))
        value = int(self.value_of[token])
        if kind in (T.PAD, T.BOS, T.EOS, T.BAR, T.FILL_HOLE, T.FILL_START, T.FILL_END, T.FILL_TRACK):
            return {T.PAD: "PAD", T.BOS: "BOS", T.EOS: "EOS", T.BAR: "Bar", T.FILL_HOLE: "FillHole",
                    T.FILL_START: "FillStart", T.FILL_END: "FillEnd", T.FILL_TRACK: "FillTrack"}[kind]
        if kind == T.CONTROL:
            return f"Ctrl_{value}"
        if kind == T.TIMESIG:
            n, d = self.meters[value]
            return f"TimeSig_{n}/{d}"
        if kind == T.TEMPO:
            return f"Tempo_{self.tempo_values[value]:.1f}"
        if kind == T.KEY:
            from ..score import key_name

            return "Key_" + key_name(value // len(MODES), value % len(MODES)).replace(" ", "_")
        if kind == T.PROGRAM:
            return "Program_drums" if value == 128 else f"Program_{value}"
        if kind == T.VELOCITY:
            return f"Velocity_{self.velocity_values[value]}"
        if kind == T.DURATION:
            return f"Duration_{self.duration_values[value]}"
        if kind == T.CHORD:
            if value == 12 * len(CHORD_QUALITIES):
                return "Chord_N"
            return f"Chord_{_PC_NAMES[value // len(CHORD_QUALITIES)]}:{CHORD_QUALITIES[value % len(CHORD_QUALITIES)]}"
        if kind == T.CHORD_BASS:
            return f"ChordBass_{_PC_NAMES[value]}"
        return f"{kind.name.title()}_{value}"

    def names(self) -> list[str]:
        return [self.name(i) for i in range(self.size)]

    def to_json(self) -> str:
        return json.dumps({"format": "tunesmith-tokenizer", "version": 1,
                           "config": self.config.to_dict(), "vocab": self.names()}, indent=1)
