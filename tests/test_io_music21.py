"""MusicXML, ABC and **kern through music21: notes compared with music21's own reading."""
from __future__ import annotations

from fractions import Fraction

import pytest
from music21 import converter

from tunesmith.io import read, read_pieces
from tunesmith.score import key_name

from conftest import DATA, REAL_MIDI


def _music21_notes(path) -> list[tuple[int, int, int]]:
    """(onset, duration, pitch) at 480 ticks per quarter as music21 itself sees them,
    ties merged, one row per chord pitch; shifted by a pickup bar's missing beats, as
    our reader pads a pickup to a full first bar."""
    parsed = converter.parse(path, forceSource=True, storePickle=False).stripTies()
    first = parsed.parts[0].getElementsByClass("Measure")[0] if parsed.parts else None
    shift = Fraction(first.paddingLeft) if first is not None else Fraction(0)
    rows = []
    for element in parsed.flatten().notes:
        onset = int((Fraction(element.offset) + shift) * 480)
        duration = int(Fraction(element.duration.quarterLength) * 480)
        rows += [(onset, duration, p.midi) for p in element.pitches]
    return sorted(rows)


def _our_notes(score) -> list[tuple[int, int, int]]:
    return sorted((int(n["onset"]), int(n["duration"]), int(n["pitch"]))
                  for t in score.tracks for n in t.notes)


def test_bach_chorale_notes_match_music21():
    path = DATA / "bach_bwv66.6.mxl"
    score = read(path)
    assert score.ticks_per_quarter == 480
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert _our_notes(score) == _music21_notes(path)
    assert key_name(*score.key_signatures[0].tolist()[1:]) == "F# minor"
    assert score.time_signatures.tolist() == [(0, 4, 4)]


def test_kern_chorale_notes_match_music21():
    path = REAL_MIDI / "CPJKU__partitura/chor228.krn"
    score = read(path)
    assert len(score.tracks) == 4
    assert _our_notes(score) == _music21_notes(path)
    assert score.tempos.tolist() == [(0, 100.0)]


def test_every_tune_of_a_tunebook_is_read_with_its_mode():
    pieces = list(read_pieces(DATA / "oneills_excerpt.abc"))
    titles = [p.metadata["title"] for p in pieces]
    assert sorted(titles) == sorted(["Fare You Well", "The Dark Woman of the Glen",
                                     "Rory Dall's Sister's Lament", "Barney O'Finnegan"])
    keys = {p.metadata["title"]: key_name(*p.key_signatures[0].tolist()[1:]) for p in pieces}
    assert keys["Rory Dall's Sister's Lament"] == "A dorian"
    assert keys["Barney O'Finnegan"] == "D mixolydian"
    assert keys["Fare You Well"] == "D major"
    assert [p.metadata["index"] for p in pieces] == ["0", "1", "2", "3"]


def test_triplets_and_32nds_land_exactly_on_ticks():
    dark_woman = [p for p in read_pieces(DATA / "oneills_excerpt.abc")
                  if p.metadata["title"] == "The Dark Woman of the Glen"][0]
    onsets = dark_woman.tracks[0].notes["onset"] % 480
    assert 160 in onsets and 320 in onsets   # eighth-note triplets: thirds of a quarter
    assert 60 in onsets or 420 in onsets     # 32nd notes


def test_tunebook_repeats_play_each_strain_twice():
    reel = next(read_pieces(REAL_MIDI / "salu133445__muspy/tunebook.abc"))
    written = converter.parse(REAL_MIDI / "salu133445__muspy/tunebook.abc",
                              forceSource=True, storePickle=False).scores[0]
    assert reel.note_count() == 2 * len(written.flatten().notes)


def test_abc_matches_abc2midi_rendering():
    """english1.mid is abc2midi's rendering of the first tune of english.abc."""
    ours = next(read_pieces(REAL_MIDI / "magenta__note-seq/english.abc"))
    theirs = read(REAL_MIDI / "magenta__note-seq/english1.mid")
    assert ours.tracks[0].notes["pitch"].tolist() == theirs.tracks[0].notes["pitch"].tolist()


@pytest.mark.parametrize("name", ["salu133445__muspy/73a-Percussion.xml"])
def test_unpitched_percussion_becomes_drum_tracks(name):
    score = read(REAL_MIDI / name)
    assert [t.is_drum for t in score.tracks] == [False, True, True]


def test_lyrics_land_on_note_onsets():
    score = read(REAL_MIDI / "salu133445__muspy/33i-Ties-NotEnded.xml")
    track = score.tracks[0]
    assert track.lyrics and all(l.tick in track.notes["onset"] for l in track.lyrics)


def test_index_picks_a_tune_and_a_missing_one_is_an_error():
    from tunesmith.errors import ReadError

    assert read(DATA / "oneills_excerpt.abc", index=3).note_count() > 0
    with pytest.raises(ReadError, match="no piece number 9"):
        read(DATA / "oneills_excerpt.abc", index=9)
