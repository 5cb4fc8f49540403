"""Chord symbols between music21 (``harmony.ChordSymbol``, MusicXML ``<harmony>``, ABC
``"Am"``) and `Chord`.

Reading goes by the tones music21 realises (root, bass and pitch classes), not by its
figure text, since MusicXML ``kind`` values and ABC spellings vary; writing gives music21
a MusicXML ``kind`` plus degree changes, which MuseScore and music21 both read back.
"""
from __future__ import annotations

import bisect
import re
from fractions import Fraction

import numpy as np

from .symbols import (_BY_INTERVALS, NO_CHORD, Chord, _bass_name, flats_at, note_names,
                      table_chords)

# our quality -> (MusicXML/music21 kind, [(modType, degree, semitone alteration)]). Only
# MusicXML's own kind values (music21's "suspended-fourth-seventh" shows as garbage in
# MuseScore); an added degree 7 is the minor seventh, as MuseScore writes and reads it.
_KIND = {
    "maj": ("major", []), "min": ("minor", []), "dim": ("diminished", []),
    "aug": ("augmented", []), "sus2": ("suspended-second", []),
    "sus4": ("suspended-fourth", []), "5": ("power", []), "maj6": ("major-sixth", []),
    "min6": ("minor-sixth", []), "7": ("dominant-seventh", []),
    "maj7": ("major-seventh", []), "min7": ("minor-seventh", []),
    "dim7": ("diminished-seventh", []), "hdim7": ("half-diminished-seventh", []),
    "minmaj7": ("minor-major-seventh", []), "aug7": ("augmented-seventh", []),
    "7b5": ("dominant-seventh", [("alter", 5, -1)]),
    "7sus4": ("suspended-fourth", [("add", 7, 0)]),
    "add9": ("major", [("add", 9, 0)]), "madd9": ("minor", [("add", 9, 0)]),
    "69": ("major-sixth", [("add", 9, 0)]), "9": ("dominant-ninth", []),
    "maj9": ("major-ninth", []), "min9": ("minor-ninth", []),
    "7b9": ("dominant-seventh", [("add", 9, -1)]),
    "7#9": ("dominant-seventh", [("add", 9, 1)]),
    "9sus4": ("suspended-fourth", [("add", 7, 0), ("add", 9, 0)]),
    "11": ("dominant-11th", []), "min11": ("minor-11th", []), "13": ("dominant-13th", []),
    "maj13": ("major-13th", []), "min13": ("minor-13th", []),
}


def _music21_name(name: str) -> str:
    """``Bb`` -> ``B-`` (music21 writes flats as minus signs)."""
    return name[0] + name[1:].replace("b", "-")


def to_music21(chord: Chord, flats: bool | None = None):
    """A ``music21.harmony.ChordSymbol`` (or ``NoChord``) for ``chord``; black keys
    spelled as flats, sharps, or (None) as in `symbols.NAMES`."""
    from music21 import harmony

    if chord.is_no_chord:
        return harmony.NoChord()
    kind, steps = _KIND[chord.quality]
    names = note_names(chord, flats)
    root = names[chord.root]
    bass = None if chord.bass == chord.root else (_bass_name(root, chord) or names[chord.bass])
    symbol = harmony.ChordSymbol(root=_music21_name(root), kind=kind,
                                 bass=None if bass is None else _music21_name(bass))
    for mod_type, degree, alter in steps:
        symbol.addChordStepModification(harmony.ChordStepModification(mod_type, degree, alter))
    return symbol


def from_music21(symbol) -> Chord:
    """The `Chord` a music21 ``Harmony`` names (``NoChord`` -> N.C.); by its realised
    tones, else by the major or minor third of its root."""
    from music21 import harmony

    if isinstance(symbol, harmony.NoChord) or symbol.root() is None:
        return NO_CHORD
    root = symbol.root().pitchClass
    bass_pitch = symbol.bass()
    bass = root if bass_pitch is None else bass_pitch.pitchClass
    tones = {(p.pitchClass - root) % 12 for p in symbol.pitches} | {0}
    for step in symbol.getChordStepModifications():  # MusicXML's added 7 is the minor 7th
        if step.modType == "add" and step.degree == 7:
            alter = int(step.interval.semitones) if step.interval is not None else 0
            tones.discard((11 + alter) % 12)
            tones.add((10 + alter) % 12)
    tones = frozenset(tones)
    found = [q for q in (_BY_INTERVALS.get(tones), _BY_INTERVALS.get(tones - {(bass - root) % 12}))
             if q is not None]
    steps = len(symbol.getChordStepModifications())
    same_kind = [q for q in found if _KIND[q] and _KIND[q][0] == symbol.chordKind
                 and len(_KIND[q][1]) == steps]
    quality = (same_kind or found or [None])[0]
    if quality is None:
        quality = "min" if 3 in tones and 4 not in tones else "maj"
    return Chord(root, quality, bass)


def chords_from_walks(walks, tpq: int, dtype: np.dtype) -> np.ndarray:
    """A chord table (``dtype``) of the ``Harmony`` objects among the (offset in quarters,
    element) walks of a score's parts: the first part that has any gives them."""
    from music21 import harmony

    from .symbols import chord_table

    for walk in walks:
        found = [(int(round(Fraction(offset) * tpq)), from_music21(element))
                 for offset, element in walk if isinstance(element, harmony.Harmony)]
        if found:
            found.sort(key=lambda item: item[0])
            return chord_table([t for t, _ in found], [c for _, c in found], dtype)
    return np.zeros(0, dtype=dtype)


def music21_symbols(score, quarters) -> list[tuple[object, object]]:
    """(offset in quarters, ChordSymbol) for the score's chord table, spelled in the key
    in force; ``quarters`` maps an array of ticks to offsets (the notation grid)."""
    if len(score.chords) == 0:
        return []
    rows = table_chords(np.sort(score.chords, order="tick"))
    ticks = [tick for tick, _ in rows]
    offsets = quarters(np.array(ticks, dtype=np.int64))
    return [(offset, to_music21(chord, flat)) for offset, (_, chord), flat
            in zip(offsets, rows, flats_at(score, ticks))]


def insert_symbols(part, symbols) -> None:
    """Put (offset, ChordSymbol) pairs into the bars of a part that music21 has already
    laid out: into each bar's first voice, at the offset within the bar. Inserted before
    the layout, a symbol (a zero-length chord to music21) made voices of its own, each
    drawn with a whole-bar rest; and its low pitches chose a bass clef."""
    from music21 import stream

    measures = list(part.getElementsByClass(stream.Measure))
    starts = [Fraction(m.offset) for m in measures]
    for offset, symbol in symbols if measures else ():
        index = max(0, bisect.bisect_right(starts, Fraction(offset)) - 1)
        measure = measures[index]
        target = measure.voices[0] if measure.hasVoices() else measure
        target.insert(Fraction(offset) - starts[index], symbol)


_NO_CHORD_XML = re.compile(rb'<root>\s*<root-step text="">[A-G]</root-step>\s*</root>\s*'
                           rb'(<kind text="N.C.">none</kind>)')


def no_chord_xml(data: bytes) -> bytes:
    """MusicXML with music21's N.C. (a hidden C root, kind ``none``) written as a bare
    ``<kind text="N.C.">none</kind>``: MuseScore 3 shows the hidden root ("CN.C."),
    and music21 reads both forms as ``NoChord``."""
    return _NO_CHORD_XML.sub(rb"\1", data)
