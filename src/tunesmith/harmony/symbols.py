"""Chord symbols: the one place that parses, prints and spells chords.

A `Chord` is a root pitch class (0 = C), a quality name from `QUALITIES` and a bass
pitch class; `NO_CHORD` is ``N.C.``. Lead-sheet symbols (``F#m7b5``, ``Dm7/G``) and Harte
labels (``A:min7/b3``, ``G:7(b9)/3``, ``N``) both parse to it, and it prints either::

    >>> parse_chord("Dm7/G").harte()
    'D:min7/4'
    >>> parse_chord("A:min7/b3").symbol()
    'Am7/C'
    >>> sorted(parse_chord("G7").tones())
    [2, 5, 7, 11]

Quality names are Harte's shorthands where Harte has one (``maj``, ``min7``, ``hdim7``);
a Score's chord table (``score.CHORD_DTYPE``) stores a quality as its index in
`QUALITIES`, so append new qualities at the end, never reorder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import RequestError

# name: (semitones above the root, lead-sheet suffix printed, Harte label printed)
_QUALITY_TABLE = (
    ("maj", (0, 4, 7), "", "maj"),
    ("min", (0, 3, 7), "m", "min"),
    ("dim", (0, 3, 6), "dim", "dim"),
    ("aug", (0, 4, 8), "aug", "aug"),
    ("sus2", (0, 2, 7), "sus2", "sus2"),
    ("sus4", (0, 5, 7), "sus4", "sus4"),
    ("5", (0, 7), "5", "5"),
    ("maj6", (0, 4, 7, 9), "6", "maj6"),
    ("min6", (0, 3, 7, 9), "m6", "min6"),
    ("7", (0, 4, 7, 10), "7", "7"),
    ("maj7", (0, 4, 7, 11), "maj7", "maj7"),
    ("min7", (0, 3, 7, 10), "m7", "min7"),
    ("dim7", (0, 3, 6, 9), "dim7", "dim7"),
    ("hdim7", (0, 3, 6, 10), "m7b5", "hdim7"),
    ("minmaj7", (0, 3, 7, 11), "m(maj7)", "minmaj7"),
    ("aug7", (0, 4, 8, 10), "7#5", "aug(b7)"),
    ("7b5", (0, 4, 6, 10), "7b5", "7(*5,b5)"),
    ("7sus4", (0, 5, 7, 10), "7sus4", "sus4(b7)"),
    ("add9", (0, 2, 4, 7), "add9", "maj(9)"),
    ("madd9", (0, 2, 3, 7), "madd9", "min(9)"),
    ("69", (0, 2, 4, 7, 9), "6/9", "maj6(9)"),
    ("9", (0, 2, 4, 7, 10), "9", "9"),
    ("maj9", (0, 2, 4, 7, 11), "maj9", "maj9"),
    ("min9", (0, 2, 3, 7, 10), "m9", "min9"),
    ("7b9", (0, 1, 4, 7, 10), "7b9", "7(b9)"),
    ("7#9", (0, 3, 4, 7, 10), "7#9", "7(#9)"),
    ("9sus4", (0, 2, 5, 7, 10), "9sus4", "sus4(b7,9)"),
    ("11", (0, 2, 4, 5, 7, 10), "11", "11"),
    ("min11", (0, 2, 3, 5, 7, 10), "m11", "min11"),
    ("13", (0, 2, 4, 5, 7, 9, 10), "13", "13"),
    ("maj13", (0, 2, 4, 5, 7, 9, 11), "maj13", "maj13"),
    ("min13", (0, 2, 3, 5, 7, 9, 10), "m13", "min13"),
)

QUALITIES: tuple[str, ...] = tuple(row[0] for row in _QUALITY_TABLE)
"""Every chord quality, by name; ``score.CHORD_DTYPE``'s ``quality`` indexes this."""

QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {row[0]: row[1] for row in _QUALITY_TABLE}
"""Semitones above the root (0-11) of each quality's tones."""

_SUFFIX = {row[0]: row[2] for row in _QUALITY_TABLE}
_HARTE = {row[0]: row[3] for row in _QUALITY_TABLE}
_BY_INTERVALS = {frozenset(row[1]): row[0] for row in _QUALITY_TABLE}

NC_SYMBOL = "N.C."

# Lead-sheet suffix spellings (exact case) -> quality. Words of 3+ letters also match
# in any case ("CMaj7", "Cmin"); "M7" and "m7" differ, so short ones are exact.
_ALIASES = {
    "": "maj", "M": "maj", "maj": "maj", "major": "maj", "Δ": "maj", "^": "maj",
    "m": "min", "min": "min", "mi": "min", "-": "min", "minor": "min",
    "dim": "dim", "°": "dim", "o": "dim", "m(b5)": "dim", "mb5": "dim",
    "aug": "aug", "+": "aug", "+5": "aug",
    "sus2": "sus2", "sus4": "sus4", "sus": "sus4", "5": "5", "no3": "5",
    "6": "maj6", "maj6": "maj6", "M6": "maj6", "add6": "maj6",
    "m6": "min6", "min6": "min6", "-6": "min6", "mi6": "min6",
    "7": "7", "dom7": "7", "dom": "7",
    "maj7": "maj7", "M7": "maj7", "Δ7": "maj7", "ma7": "maj7", "j7": "maj7", "^7": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7", "mi7": "min7",
    "dim7": "dim7", "°7": "dim7", "o7": "dim7",
    "m7b5": "hdim7", "ø": "hdim7", "ø7": "hdim7", "min7b5": "hdim7", "-7b5": "hdim7",
    "m7(b5)": "hdim7", "mi7b5": "hdim7", "hdim7": "hdim7",
    "m(maj7)": "minmaj7", "mmaj7": "minmaj7", "mM7": "minmaj7", "minmaj7": "minmaj7",
    "-Δ7": "minmaj7", "m(M7)": "minmaj7", "-maj7": "minmaj7", "mΔ7": "minmaj7",
    "7#5": "aug7", "aug7": "aug7", "+7": "aug7", "7+5": "aug7", "7(#5)": "aug7", "7+": "aug7",
    "7b5": "7b5", "7(b5)": "7b5", "7-5": "7b5",
    "7sus4": "7sus4", "7sus": "7sus4", "sus7": "7sus4",
    "add9": "add9", "add2": "add9", "(add9)": "add9", "2": "add9",
    "madd9": "madd9", "m(add9)": "madd9", "-add9": "madd9", "minadd9": "madd9",
    "6/9": "69", "69": "69", "6add9": "69", "6(9)": "69",
    "9": "9", "dom9": "9", "maj9": "maj9", "M9": "maj9", "Δ9": "maj9", "ma9": "maj9",
    "m9": "min9", "min9": "min9", "-9": "min9", "mi9": "min9",
    "7b9": "7b9", "7(b9)": "7b9", "7-9": "7b9", "7#9": "7#9", "7(#9)": "7#9", "7+9": "7#9",
    "9sus4": "9sus4", "9sus": "9sus4",
    "11": "11", "m11": "min11", "min11": "min11", "-11": "min11", "mi11": "min11",
    "13": "13", "maj13": "maj13", "M13": "maj13", "Δ13": "maj13",
    "m13": "min13", "min13": "min13", "-13": "min13",
}
_ALIASES_LOWER = {key.lower(): value for key, value in _ALIASES.items()
                  if re.search(r"[a-zA-Z]{3}", key)}

_NOTE_BASE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"": 0, "#": 1, "##": 2, "b": -1, "bb": -2, "x": 2}
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
"""Default spelling of each pitch class in printed symbols."""
_MINOR_NAMES = NAMES[:8] + ("G#",) + NAMES[9:]

_DEGREE = {"1": 0, "2": 2, "3": 4, "4": 5, "5": 7, "6": 9, "7": 11,
           "9": 2, "11": 5, "13": 9}
_INTERVAL_DEGREE = ("1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7")

# Harte shorthands not in QUALITIES, read as their tones (mir_eval's table)
_HARTE_EXTRA = {"": (0, 4, 7), "1": (0,), "b9": (0, 1, 4, 7, 10), "#9": (0, 3, 4, 7, 10),
                "#11": (0, 2, 4, 6, 7, 10), "b13": (0, 2, 4, 5, 7, 8, 10)}


# letters above the root of each chord-tone interval: the bass of C#/E# is E#, not F
_INTERVAL_LETTERS = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4, 8: 4, 9: 5, 10: 6, 11: 6}
_LETTERS = "CDEFGAB"
_ACCIDENTAL_TEXT = {0: "", 1: "#", 2: "##", 11: "b", 10: "bb"}


def _bass_name(root_name: str, chord: "Chord") -> str | None:
    """The bass spelled as the chord tone it is (a third of C# is E#), or None when the
    bass is not a chord tone or would need more than a double accidental."""
    interval = (chord.bass - chord.root) % 12
    if interval not in QUALITY_INTERVALS[chord.quality]:
        return None
    letter = _LETTERS[(_LETTERS.index(root_name[0]) + _INTERVAL_LETTERS[interval]) % 7]
    accidental = _ACCIDENTAL_TEXT.get((chord.bass - _NOTE_BASE[letter]) % 12)
    return None if accidental is None else letter + accidental


def note_names(chord: "Chord", flats: bool | None = None) -> tuple[str, ...]:
    """The 12 note names a chord's symbol is spelled with: flats, sharps, or by default
    `NAMES` (``G#`` for minor chords: G#m lives in E and B major, Abm rarely)."""
    if flats is not None:
        return FLAT_NAMES if flats else SHARP_NAMES
    minor = 3 in chord.intervals() and 4 not in chord.intervals()
    return _MINOR_NAMES if minor else NAMES


@dataclass(frozen=True)
class Chord:
    """A chord: ``root`` and ``bass`` pitch classes 0-11 (0 = C) and a quality name from
    `QUALITIES`. `NO_CHORD` (``N.C.``) has root and bass -1 and quality ``"N"``."""

    root: int
    quality: str = "maj"
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality == "N":
            object.__setattr__(self, "root", -1)
            object.__setattr__(self, "bass", -1)
            return
        if self.quality not in QUALITY_INTERVALS:
            raise RequestError(f"unknown chord quality {self.quality!r}: "
                               f"use one of {', '.join(QUALITIES)}")
        object.__setattr__(self, "root", int(self.root) % 12)
        bass = self.root if self.bass is None else self.bass
        object.__setattr__(self, "bass", int(bass) % 12)

    @property
    def is_no_chord(self) -> bool:
        return self.quality == "N"

    def intervals(self) -> tuple[int, ...]:
        """Semitones above the root of the quality's tones (the bass not included)."""
        return () if self.is_no_chord else QUALITY_INTERVALS[self.quality]

    def tones(self) -> frozenset[int]:
        """Pitch classes sounding in this chord, the bass included (empty for N.C.)."""
        if self.is_no_chord:
            return frozenset()
        return frozenset({(self.root + i) % 12 for i in self.intervals()} | {self.bass})

    def symbol(self, flats: bool | None = None) -> str:
        """Lead-sheet symbol: ``"F#m7b5"``, ``"C/E"``, ``"N.C."``. Roots are spelled by
        `NAMES` unless ``flats`` picks flat or sharp names for every note."""
        if self.is_no_chord:
            return NC_SYMBOL
        names = note_names(self, flats)
        text = names[self.root] + _SUFFIX[self.quality]
        if self.bass == self.root:
            return text
        return f"{text}/{_bass_name(names[self.root], self) or names[self.bass]}"

    def harte(self) -> str:
        """Harte label: ``"A:min7/b3"``, ``"C:maj"``, ``"N"``; the bass as a degree."""
        if self.is_no_chord:
            return "N"
        text = f"{NAMES[self.root]}:{_HARTE[self.quality]}"
        if self.bass != self.root:
            text += "/" + _INTERVAL_DEGREE[(self.bass - self.root) % 12]
        return text

    def transpose(self, semitones: int) -> "Chord":
        if self.is_no_chord:
            return self
        return Chord(self.root + semitones, self.quality, self.bass + semitones)

    def __str__(self) -> str:
        return self.symbol()


NO_CHORD = Chord(-1, "N", -1)
"""No chord (``N.C.``, Harte ``N``): silence, or music with no harmony to name."""


def _note(text: str, whole: str) -> int:
    match = re.fullmatch(r"([A-Ga-g])(#|##|b|bb|x)?", text)
    if not match:
        raise RequestError(f"bad chord symbol {whole!r}: {text!r} is not a note name")
    return (_NOTE_BASE[match.group(1).upper()] + _ACCIDENTAL[match.group(2) or ""]) % 12


def _normalise(text: str) -> str:
    return (text.strip().replace("♯", "#").replace("♭", "b").replace("∆", "Δ")
            .replace("º", "°").replace("Ø", "ø"))


def parse_chord(text: str) -> Chord:
    """Parse a lead-sheet symbol (``Am``, ``Bbmaj7``, ``C/E``, ``N.C.``) or a Harte
    label (``A:min7/b3``, ``N``). Raises `RequestError` naming a bad symbol."""
    raw = str(text)
    text = _normalise(raw)
    if text.upper() in ("N.C.", "N.C", "NC", "N", "X", "N/C"):
        return NO_CHORD
    if ":" in text:
        return parse_harte(text)
    match = re.fullmatch(r"([A-G](?:##|#|bb|b)?)(.*?)(?:/([A-Ga-g](?:##|#|bb|b)?))?", text)
    if not match:
        raise RequestError(f"bad chord symbol {raw!r}: expected a root A-G, e.g. 'Am7' or 'C/E'")
    root = _note(match.group(1), raw)
    suffix = match.group(2)
    quality = _ALIASES.get(suffix) or _ALIASES_LOWER.get(suffix.lower())
    if quality is None:
        raise RequestError(f"bad chord symbol {raw!r}: unknown quality {suffix!r}")
    bass = root if match.group(3) is None else _note(match.group(3), raw)
    return Chord(root, quality, bass)


def _degree_semitones(degree: str, whole: str) -> int:
    match = re.fullmatch(r"([#b]*)(\d+)", degree)
    if not match or match.group(2) not in _DEGREE:
        raise RequestError(f"bad chord label {whole!r}: {degree!r} is not a scale degree")
    return (_DEGREE[match.group(2)] + match.group(1).count("#") - match.group(1).count("b")) % 12


def harte_tones(label: str) -> tuple[int, frozenset[int], int]:
    """Root, the set of semitones above it (the bass included, as mir_eval does) and the
    bass interval of a Harte label; root -1 and an empty set for ``N``/``X``."""
    whole = label
    label = _normalise(label)
    if label in ("N", "X"):
        return -1, frozenset(), -1
    match = re.fullmatch(r"([A-G](?:##|#|bb|b)?)(?::([^(/]*))?(?:\(([^)]*)\))?(?:/(.+))?", label)
    if not match:
        raise RequestError(f"bad chord label {whole!r}: expected e.g. 'A:min7/b3'")
    root = _note(match.group(1), whole)
    shorthand = match.group(2)
    if not shorthand:
        shorthand = "" if match.group(3) is None else "1"  # "C:(1,5)" lists every tone
    if shorthand in QUALITY_INTERVALS:
        tones = set(QUALITY_INTERVALS[shorthand])
    elif shorthand in _HARTE_EXTRA:
        tones = set(_HARTE_EXTRA[shorthand])
    else:
        raise RequestError(f"bad chord label {whole!r}: unknown shorthand {shorthand!r}")
    for degree in filter(None, (d.strip() for d in (match.group(3) or "").split(","))):
        if degree.startswith("*"):
            tones.discard(_degree_semitones(degree[1:], whole))
        else:
            tones.add(_degree_semitones(degree, whole))
    bass = 0 if match.group(4) is None else _degree_semitones(match.group(4), whole)
    return root, frozenset(tones | {0, bass}), bass


def parse_harte(label: str, strict: bool = True) -> Chord:
    """A Chord from a Harte label. A tone set outside `QUALITIES` raises `RequestError`,
    or with ``strict=False`` falls back to the shorthand's own quality (``C:min7(11)``
    -> ``C:min7``), else to major or minor by its third."""
    root, tones, bass = harte_tones(label)
    if root < 0:
        return NO_CHORD
    without_bass = harte_tones(label.split("/")[0])[1]
    quality = _BY_INTERVALS.get(without_bass) or _BY_INTERVALS.get(tones)
    if quality is None and not strict:
        shorthand = re.sub(r"[(/].*", "", label.split(":", 1)[1]) if ":" in label else "maj"
        if shorthand in QUALITY_INTERVALS:
            quality = shorthand
        else:
            quality = "min" if 3 in tones and 4 not in tones else "maj"
    if quality is None:
        raise RequestError(f"bad chord label {label!r}: tones not in the chord vocabulary")
    return Chord(root, quality, root + bass)


def parse_progression(text: str) -> list[list[Chord]]:
    """Chords per bar: ``"C G Am F"`` is one chord a bar; with ``|`` each bar holds the
    chords between bars (``"C G/B | Am | F G7"``), splitting the bar evenly."""
    text = str(text).strip()
    if not text:
        raise RequestError("empty chord progression")
    if "|" in text:
        bars = [part.split() for part in text.strip("|").split("|")]
        if any(not bar for bar in bars):
            raise RequestError(f"chord progression {text!r} has an empty bar between '|'")
        return [[parse_chord(symbol) for symbol in bar] for bar in bars]
    return [[parse_chord(symbol)] for symbol in text.split()]


def chord_table(ticks, chords, dtype: np.dtype) -> np.ndarray:
    """A Score chord table (``score.CHORD_DTYPE``) from chords starting at ``ticks``."""
    table = np.zeros(len(chords), dtype=dtype)
    table["tick"] = np.asarray(ticks, dtype=np.int64)
    table["root"] = [c.root for c in chords]
    table["quality"] = [-1 if c.is_no_chord else QUALITIES.index(c.quality) for c in chords]
    table["bass"] = [c.bass for c in chords]
    return table


def table_chords(table: np.ndarray) -> list[tuple[int, Chord]]:
    """(tick, Chord) for each row of a Score chord table."""
    return [(int(tick), NO_CHORD if quality < 0 else Chord(root, QUALITIES[quality], bass))
            for tick, root, quality, bass in table[["tick", "root", "quality", "bass"]].tolist()]


def flats_at(score, ticks) -> list[bool | None]:
    """For each tick, how the key in force there spells black keys: True in flat keys,
    False in sharp keys, None in C major / A minor or with no key (`NAMES` then)."""
    from ..score import key_signature_sharps

    keys = np.sort(score.key_signatures, order="tick")
    if len(keys) == 0:
        return [None] * len(ticks)
    index = np.searchsorted(keys["tick"], np.asarray(ticks, dtype=np.int64), "right") - 1
    sharps = [key_signature_sharps(int(t), int(m)) for t, m in zip(keys["tonic"], keys["mode"])]
    return [None if i < 0 or sharps[i] == 0 else sharps[i] < 0 for i in index.tolist()]


def spelled_chords(score) -> list[tuple[int, str]]:
    """(tick, symbol) of a score's chord changes, each spelled in the key in force
    (``Db`` in Ab major, ``C#`` in A major)."""
    if len(score.chords) == 0:
        return []
    rows = table_chords(np.sort(score.chords, order="tick"))
    flats = flats_at(score, [tick for tick, _ in rows])
    return [(tick, chord.symbol(flat)) for (tick, chord), flat in zip(rows, flats)]
