"""Chord symbols: every spelling a lead sheet or a Harte label uses, and round trips."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunesmith.errors import RequestError
from tunesmith.harmony import (NO_CHORD, QUALITIES, Chord, harte_tones, parse_chord,
                               parse_harte, parse_progression)
from tunesmith.harmony.symbols import _ALIASES

from conftest import DATA

# text -> (symbol printed, Harte printed, pitch classes)
SPELLINGS = {
    "C": ("C", "C:maj", {0, 4, 7}),
    "Am": ("Am", "A:min", {9, 0, 4}),
    "F#m7b5": ("F#m7b5", "F#:hdim7", {6, 9, 0, 4}),
    "Bbmaj7": ("Bbmaj7", "Bb:maj7", {10, 2, 5, 9}),
    "G7sus4": ("G7sus4", "G:sus4(b7)", {7, 0, 2, 5}),
    "C/E": ("C/E", "C:maj/3", {0, 4, 7}),
    "Dm7/G": ("Dm7/G", "D:min7/4", {2, 5, 9, 0, 7}),
    "N.C.": ("N.C.", "N", set()),
    "Cmin": ("Cm", "C:min", {0, 3, 7}),
    "C-7": ("Cm7", "C:min7", {0, 3, 7, 10}),
    "CΔ7": ("Cmaj7", "C:maj7", {0, 4, 7, 11}),
    "C°": ("Cdim", "C:dim", {0, 3, 6}),
    "Cdim7": ("Cdim7", "C:dim7", {0, 3, 6, 9}),
    "Caug": ("Caug", "C:aug", {0, 4, 8}),
    "C+": ("Caug", "C:aug", {0, 4, 8}),
    "C6": ("C6", "C:maj6", {0, 4, 7, 9}),
    "Cm6": ("Cm6", "C:min6", {0, 3, 7, 9}),
    "C9": ("C9", "C:9", {0, 4, 7, 10, 2}),
    "Cadd9": ("Cadd9", "C:maj(9)", {0, 4, 7, 2}),
    "Csus2": ("Csus2", "C:sus2", {0, 2, 7}),
    "CMaj7": ("Cmaj7", "C:maj7", {0, 4, 7, 11}),
    "Cm(maj7)": ("Cm(maj7)", "C:minmaj7", {0, 3, 7, 11}),
    "E♭m7": ("Ebm7", "Eb:min7", {3, 6, 10, 1}),
    "Cø": ("Cm7b5", "C:hdim7", {0, 3, 6, 10}),
    "C6/9": ("C6/9", "C:maj6(9)", {0, 2, 4, 7, 9}),
    "A:min7/b3": ("Am7/C", "A:min7/b3", {9, 0, 4, 7}),
    "C:maj": ("C", "C:maj", {0, 4, 7}),
    "G:7(b9)/3": ("G7b9/B", "G:7(b9)/3", {7, 11, 2, 5, 8}),
    "N": ("N.C.", "N", set()),
    "C:(1,5)": ("C5", "C:5", {0, 7}),
    "Bb:sus4(b7)": ("Bb7sus4", "Bb:sus4(b7)", {10, 3, 5, 8}),
    "D:maj/b7": ("D/C", "D:maj/b7", {2, 6, 9, 0}),
}


@pytest.mark.parametrize("text", SPELLINGS)
def test_each_spelling_names_its_chord(text):
    symbol, harte, tones = SPELLINGS[text]
    chord = parse_chord(text)
    assert (chord.symbol(), chord.harte(), set(chord.tones())) == (symbol, harte, tones)


@pytest.mark.parametrize("quality", QUALITIES)
def test_every_quality_round_trips_through_symbol_and_harte(quality):
    for root in range(12):
        for bass_offset in (0, 3, 4, 7, 10):
            chord = Chord(root, quality, root + bass_offset)
            assert parse_chord(chord.symbol()) == chord, chord.symbol()
            assert parse_chord(chord.harte()) == chord, chord.harte()
            assert parse_chord(chord.symbol(flats=True)) == chord
            assert parse_chord(chord.symbol(flats=False)) == chord


@given(st.integers(0, 11), st.sampled_from(QUALITIES), st.integers(0, 11))
def test_round_trip_property(root, quality, bass):
    chord = Chord(root, quality, bass)
    assert parse_chord(chord.symbol()) == chord == parse_chord(chord.harte())
    assert chord.bass in chord.tones() and chord.root in chord.tones()


def test_every_alias_spelling_parses_on_every_kind_of_root():
    for suffix, quality in _ALIASES.items():
        for root_text, root in (("D", 2), ("Bb", 10), ("F#", 6)):
            assert parse_chord(root_text + suffix) == Chord(root, quality), root_text + suffix


@pytest.mark.parametrize("bad", ["H7", "Cmaj13#5b9/Q", "", "C:foo", "Cx7", "C/H", "7", "C::"])
def test_a_bad_symbol_is_one_line_naming_it(bad):
    with pytest.raises(RequestError) as info:
        parse_chord(bad)
    message = str(info.value)
    assert "\n" not in message and repr(bad) in message


def test_harte_labels_outside_the_vocabulary_need_strict_false():
    with pytest.raises(RequestError):
        parse_harte("C:min7(11)")
    assert parse_harte("C:min7(11)", strict=False) == Chord(0, "min7")
    assert harte_tones("C:min7(11)") == (0, frozenset({0, 3, 5, 7, 10}), 0)


def test_every_pop909_label_of_the_test_songs_parses():
    labels = {line.split()[2] for path in (DATA / "pop909").glob("*/chord_midi.txt")
              for line in path.read_text().splitlines() if line.strip()}
    assert len(labels) > 10
    for label in labels:
        chord = parse_harte(label)
        assert chord.harte() == label or parse_harte(chord.harte()) == chord


def test_progressions_one_chord_a_bar_or_bars_between_bars():
    assert parse_progression("C G Am F") == [[Chord(0)], [Chord(7)], [Chord(9, "min")], [Chord(5)]]
    bars = parse_progression("C G/B | Am Em/G | F | G7")
    assert [[c.symbol() for c in bar] for bar in bars] == [["C", "G/B"], ["Am", "Em/G"], ["F"], ["G7"]]
    assert parse_progression("| N.C. | C |") == [[NO_CHORD], [Chord(0)]]
    with pytest.raises(RequestError, match="empty bar"):
        parse_progression("C | | G")
    with pytest.raises(RequestError, match="'H7'"):
        parse_progression("C H7 G")


def test_no_chord_has_no_tones_and_transposing_keeps_the_shape():
    assert NO_CHORD.is_no_chord and NO_CHORD.tones() == frozenset()
    assert parse_chord("Dm7/G").transpose(3) == parse_chord("Fm7/Bb")
    with pytest.raises(RequestError):
        Chord(0, "major")


@pytest.mark.parametrize("text, spelled", [
    ("C#/F", "C#/E#"), ("Db/F", "C#/E#"), ("G#m/B", "G#m/B"), ("Abm7", "G#m7"),
    ("C#7/B", "C#7/B"), ("Cdim7/A", "Cdim7/A"), ("C/Bb", "C/Bb"), ("F#m7/E", "F#m7/E"),
    ("E/G#", "E/G#")])
def test_a_bass_that_is_a_chord_tone_is_spelled_as_that_tone(text, spelled):
    """The bass takes the letter of its degree above the root (the third of C# is E#);
    a bass outside the chord keeps the default name."""
    chord = parse_chord(text)
    assert chord.symbol() == spelled and parse_chord(spelled) == chord
