"""The in-memory music model: a `Score` of `Track`s whose notes are numpy arrays.

Everything in tunesmith passes through this module: readers build a `Score`, the
tokenizer turns one into ids and back, the renderer writes one to files. Times are
integer ticks at ``Score.ticks_per_quarter`` resolution; pitches are MIDI numbers
(60 = middle C); velocities are MIDI 1-127; tempos are quarter notes per minute.

Notes are a structured array (``NOTE_DTYPE``) per track, not an object per note, so
that a corpus of millions of notes stays cheap to hold and to transform::

    >>> import numpy as np
    >>> from tunesmith.score import Score, Track, make_notes
    >>> score = Score(ticks_per_quarter=480)
    >>> score.tracks.append(Track("Flute", program=73,
    ...                           notes=make_notes([0, 480], [480, 960], [74, 76], [80, 80])))
    >>> score.end_tick()
    1440

A data model only: reading and writing files (``tunesmith.read``, ``tunesmith.write``)
and conversions to pretty_midi and music21 objects (``tunesmith.io.convert``) live in
`tunesmith.io`, which imports this module, never the other way round.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

NOTE_DTYPE = np.dtype([("onset", "i8"), ("duration", "i8"), ("pitch", "i2"), ("velocity", "i2")])
"""One row per note: onset and duration in ticks, MIDI pitch 0-127, velocity 1-127."""

TEMPO_DTYPE = np.dtype([("tick", "i8"), ("qpm", "f8")])
"""Tempo changes: from ``tick`` on, ``qpm`` quarter notes per minute."""

TIME_SIGNATURE_DTYPE = np.dtype([("tick", "i8"), ("numerator", "i2"), ("denominator", "i2")])
"""Meter changes: from ``tick`` on (normally a bar start), numerator/denominator."""

KEY_DTYPE = np.dtype([("tick", "i8"), ("tonic", "i2"), ("mode", "i2")])
"""Key changes: tonic pitch class (0 = C) and an index into ``MODES``."""

CHORD_DTYPE = np.dtype([("tick", "i8"), ("root", "i2"), ("quality", "i2"), ("bass", "i2")])
"""Chord changes: from ``tick`` on, root and bass pitch classes (0 = C) and an index into
``tunesmith.harmony.QUALITIES``; root, quality and bass -1 mean no chord (N.C.)."""

MODES = ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian")
"""Mode names; a key's ``mode`` field indexes this tuple."""

MODE_INTERVALS = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
"""Semitones above the tonic of each mode's seven degrees."""

# Semitones from a mode's tonic down to its relative major tonic (dorian on D -> C major).
_MODE_OFFSET_FROM_MAJOR = {"major": 0, "minor": 9, "dorian": 2, "phrygian": 4,
                           "lydian": 5, "mixolydian": 7, "locrian": 11}

DEFAULT_QPM = 120.0


def make_notes(onsets: Sequence[int], durations: Sequence[int], pitches: Sequence[int],
               velocities: Sequence[int] | int = 80) -> np.ndarray:
    """Build a ``NOTE_DTYPE`` array from parallel sequences (ticks, ticks, MIDI, MIDI)."""
    n = len(onsets)
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["onset"] = onsets
    notes["duration"] = durations
    notes["pitch"] = pitches
    notes["velocity"] = velocities
    return notes


def as_table(rows, dtype: np.dtype) -> np.ndarray:
    """A structured array of ``dtype`` from an array or a list of tuples such as
    ``[(0, 90.0), (1920, 120.0)]``."""
    if isinstance(rows, np.ndarray) and rows.dtype.names:
        return rows.astype(dtype)
    return np.array([tuple(row) for row in rows], dtype=dtype)


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Notes ordered by onset, then pitch, then duration (the canonical order)."""
    order = np.lexsort((notes["duration"], notes["pitch"], notes["onset"]))
    return notes[order]


def key_signature_sharps(tonic: int, mode: int) -> int:
    """Sharps (positive) or flats (negative) of the key signature, -7..7, as in MIDI.

    >>> key_signature_sharps(2, MODES.index("dorian"))  # D dorian has C major's signature
    0
    """
    major_tonic = (tonic - _MODE_OFFSET_FROM_MAJOR[MODES[mode]]) % 12
    sharps = (major_tonic * 7) % 12  # steps round the circle of fifths
    return sharps - 12 if sharps > 6 else sharps  # prefer F (-1) .. B (5), Gb (-6) over F#


MODE_ALIASES = {"m": "minor", "min": "minor", "maj": "major", "ionian": "major",
                "aeolian": "minor"}
"""Other names musicians write for a mode (``Em``, ``Cmaj``, ``A aeolian``). Every name in
``MODES`` is accepted as well, multi-word ones included, and so is any prefix of three
letters or more that names one mode (ABC's ``Dmix``, ``Ador``)."""

_KEY_RE = re.compile(r"^([A-Ga-g])(##|#|bb|b|[sf](?=\s|$))?(?:\s*(sharp|flat)\b)?\s*(.*)$",
                     re.IGNORECASE)


def parse_key(text: str) -> tuple[int, int]:
    """Parse a key as musicians write it: ``"D dorian"``, ``"F# minor"``, ``"e minor"``,
    ``"Em"``, ``"Bbm"``, ``"Cmaj"``, ``"Bb"``, ``"E flat major"``, ``"Dmix"``.

    Returns ``(tonic_pitch_class, mode_index)``. A tonic alone is major, or minor when
    written in lower case (``"c"``, as in music21 and ABC). Mode names come from ``MODES``
    and ``MODE_ALIASES``, so a mode added there is parsed too. Raises ``RequestError``
    with the accepted forms otherwise.
    """
    from .errors import RequestError

    clean = " ".join(text.replace("♯", "#").replace("♭", "b").replace("-", " ").split())
    if clean.lower() in MODES + tuple(MODE_ALIASES):
        raise RequestError(f"key {text!r} has no tonic: give one, e.g. 'D {clean.lower()}'")
    match = _KEY_RE.match(clean)
    if not match:
        raise RequestError(f"unknown key {text!r}: use a tonic and a mode, e.g. 'D dorian' or 'Em'")
    letter, accidental, word, rest = match.groups()
    tonic = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter.upper()]
    tonic += {None: 0, "#": 1, "s": 1, "##": 2, "b": -1, "f": -1, "bb": -2}[
        (accidental or "").lower() or None]
    tonic += {None: 0, "sharp": 1, "flat": -1}[word.lower() if word else None]
    if not rest:
        mode = "minor" if letter.islower() else "major"
    else:
        mode = _mode_name(rest.lower())
        if mode is None:
            raise RequestError(f"unknown key {text!r}: {rest!r} is not a mode; modes are "
                               f"{', '.join(MODES)} (or m, min, maj)")
    return tonic % 12, MODES.index(mode)


def _mode_name(text: str) -> str | None:
    """The ``MODES`` entry that ``text`` names (a name, an alias or a unique prefix of at
    least three letters), else None."""
    if text in MODES:
        return text
    if text in MODE_ALIASES:
        return MODE_ALIASES[text]
    if len(text) >= 3:
        found = {m for m in MODES if m.startswith(text)}
        found |= {m for a, m in MODE_ALIASES.items() if a.startswith(text)}
        if len(found) == 1:
            return found.pop()
    return None


PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def key_name(tonic: int, mode: int) -> str:
    """``"D dorian"`` for tonic 2, mode index 2."""
    return f"{PITCH_CLASS_NAMES[tonic % 12]} {MODES[mode]}"


LYRIC_CONTINUES = "-"
"""A lyric syllable ending with this continues the word on the next note."""


@dataclass
class Lyric:
    """A syllable or word sung at ``tick`` (the onset of the note it belongs to). A
    syllable ending in `LYRIC_CONTINUES` continues its word: ``"hal-" "le-" "lu-" "jah"``."""

    tick: int
    text: str


def lyrics_text(lyrics: list[Lyric]) -> str:
    """The words of a list of lyrics, as text: ``"hal-" "le-" "lu-" "jah" "sing"`` gives
    ``"halleluja sing"``."""
    text = ""
    for lyric in sorted(lyrics, key=lambda lyr: lyr.tick):
        syllable = lyric.text.strip()
        continues = syllable.endswith(LYRIC_CONTINUES) and len(syllable) > 1
        text += syllable[:-1] if continues else syllable + " "
    return text.strip()


@dataclass
class Marker:
    """A named point in the piece (a rehearsal mark, "Chorus", a cue), at ``tick``."""

    tick: int
    text: str


@dataclass
class Track:
    """One instrument part: a name, a General MIDI program (0-127) and its notes.

    ``is_drum`` tracks play on MIDI channel 10; their pitches are GM percussion keys and
    their program is ignored by General MIDI players. ``lyrics`` belong to this part.
    """

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=NOTE_DTYPE))
    lyrics: list[Lyric] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.notes.dtype != NOTE_DTYPE:
            self.notes = np.asarray(self.notes).astype(NOTE_DTYPE)

    def __repr__(self) -> str:
        kind = "drums" if self.is_drum else f"program {self.program}"
        return f"Track({self.name!r}, {kind}, {len(self.notes)} notes, {len(self.lyrics)} lyrics)"


@dataclass
class Score:
    """A piece of music: tracks plus tempo, meter, key, lyrics and markers, in ticks.

    Empty ``tempos`` means 120 quarters per minute; empty ``time_signatures`` means 4/4;
    the first entry of each normally sits at tick 0. ``metadata`` holds free text such
    as the title, the source file and, for generated music, its provenance.
    """

    ticks_per_quarter: int = 480
    tracks: list[Track] = field(default_factory=list)
    tempos: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=TEMPO_DTYPE))
    time_signatures: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=TIME_SIGNATURE_DTYPE))
    key_signatures: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=KEY_DTYPE))
    markers: list[Marker] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    chords: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=CHORD_DTYPE))
    """Chord symbols (``CHORD_DTYPE``), from the file or a request; sorted by tick."""

    def __post_init__(self) -> None:
        self.chords = as_table(self.chords, CHORD_DTYPE)
        self.tempos = as_table(self.tempos, TEMPO_DTYPE)
        self.time_signatures = as_table(self.time_signatures, TIME_SIGNATURE_DTYPE)
        self.key_signatures = as_table(self.key_signatures, KEY_DTYPE)

    def __repr__(self) -> str:
        return (f"Score(tpq={self.ticks_per_quarter}, {len(self.tracks)} tracks, "
                f"{self.note_count()} notes, {len(self.tempos)} tempos, "
                f"{len(self.time_signatures)} meters, {len(self.key_signatures)} keys, "
                f"{len(self.chords)} chords)")

    # --- queries ---------------------------------------------------------------------
    def note_count(self) -> int:
        return int(sum(len(t.notes) for t in self.tracks))

    def end_tick(self) -> int:
        """The tick at which the last note ends (0 for a score with no notes)."""
        ends = [int((t.notes["onset"] + t.notes["duration"]).max()) for t in self.tracks
                if len(t.notes)]
        return max(ends, default=0)

    def tempo_map(self) -> np.ndarray:
        """Tempo changes sorted by tick, with one at tick 0 (120 qpm if none was given)."""
        tempos = np.sort(self.tempos, order="tick")
        if len(tempos) == 0 or tempos["tick"][0] > 0:
            first = np.array([(0, tempos["qpm"][0] if len(tempos) else DEFAULT_QPM)],
                             dtype=TEMPO_DTYPE)
            tempos = np.concatenate([first, tempos])
        # keep the last of several changes at one tick
        keep = np.append(tempos["tick"][1:] != tempos["tick"][:-1], True)
        return tempos[keep]

    def meter_map(self) -> np.ndarray:
        """Time signatures sorted by tick, with one at tick 0 (4/4 if none was given)."""
        sigs = np.sort(self.time_signatures, order="tick")
        if len(sigs) == 0 or sigs["tick"][0] > 0:
            first = np.array([(0, *(sigs[["numerator", "denominator"]][0].tolist()
                                    if len(sigs) else (4, 4)))], dtype=TIME_SIGNATURE_DTYPE)
            sigs = np.concatenate([first, sigs])
        keep = np.append(sigs["tick"][1:] != sigs["tick"][:-1], True)
        return sigs[keep]

    def ticks_to_seconds(self, ticks) -> np.ndarray:
        """Seconds at each tick under the tempo map (vectorized)."""
        ticks = np.asarray(ticks, dtype=np.float64)
        tempos = self.tempo_map()
        seconds_per_tick = 60.0 / (tempos["qpm"] * self.ticks_per_quarter)
        starts = tempos["tick"].astype(np.float64)
        start_seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * seconds_per_tick[:-1])])
        idx = np.searchsorted(starts, ticks, side="right") - 1
        idx = np.clip(idx, 0, len(starts) - 1)
        return start_seconds[idx] + (ticks - starts[idx]) * seconds_per_tick[idx]

    def duration_seconds(self) -> float:
        return float(self.ticks_to_seconds(self.end_tick()))

    def bar_starts(self, until_tick: int | None = None) -> np.ndarray:
        """Tick of every bar start up to and including the bar that holds ``until_tick``
        (default: the last tick a note sounds). Meter changes that fall inside a bar
        start a new bar there, as MIDI players do."""
        end = max(self.end_tick() - 1, 0) if until_tick is None else int(until_tick)
        sigs = self.meter_map()
        starts = []
        for i, (tick, num, den) in enumerate(sigs.tolist()):
            bar = max(1, num * self.ticks_per_quarter * 4 // den)
            stop = sigs["tick"][i + 1] if i + 1 < len(sigs) else max(end + 1, tick + 1)
            starts.append(np.arange(tick, stop, bar, dtype=np.int64))
        return np.concatenate(starts) if starts else np.zeros(1, dtype=np.int64)

    def bar_start(self, index: int) -> int:
        """Tick where bar ``index`` (from 0) starts, past the last note too (the last
        meter runs on): `bar_starts` extended as far as needed."""
        meters = self.meter_map()
        longest = int(max(max(1, num * self.ticks_per_quarter * 4 // den)
                          for num, den in meters[["numerator", "denominator"]].tolist()))
        starts = self.bar_starts()
        if index >= len(starts):
            starts = self.bar_starts(until_tick=int(starts[-1]) + (index - len(starts) + 1) * longest)
        return int(starts[index])

    def copy(self) -> "Score":
        return copy.deepcopy(self)

    def all_lyrics(self) -> list[tuple[int, Lyric]]:
        """(track index, lyric) for every lyric, by tick."""
        return sorted(((i, lyr) for i, t in enumerate(self.tracks) for lyr in t.lyrics),
                      key=lambda item: item[1].tick)

    # --- transformations -------------------------------------------------------------
    def resample(self, ticks_per_quarter: int) -> "Score":
        """A copy at another resolution; times are rounded to the nearest new tick and
        notes keep a duration of at least one tick."""
        factor = ticks_per_quarter / self.ticks_per_quarter
        out = self.copy()
        out.ticks_per_quarter = ticks_per_quarter

        def scale(values):
            return np.rint(np.asarray(values, dtype=np.float64) * factor).astype(np.int64)

        for track in out.tracks:
            track.notes["onset"] = scale(track.notes["onset"])
            track.notes["duration"] = np.maximum(1, scale(track.notes["duration"]))
            for lyric in track.lyrics:
                lyric.tick = int(scale(lyric.tick))
        for table in (out.tempos, out.time_signatures, out.key_signatures, out.chords):
            table["tick"] = scale(table["tick"])
        for marker in out.markers:
            marker.tick = int(scale(marker.tick))
        return out


def concat_notes(parts: Iterable[np.ndarray]) -> np.ndarray:
    """Concatenate note arrays (an empty ``NOTE_DTYPE`` array when there are none)."""
    parts = list(parts)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=NOTE_DTYPE)
