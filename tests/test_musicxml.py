"""MusicXML output, checked by the clients that read it: music21 reads back the same
pitches and durations, and MuseScore converts it without errors."""
from __future__ import annotations

import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import music21
import numpy as np
import pytest

import tunesmith
from tunesmith.errors import WriteError
from tunesmith.io.musicxml import write_musicxml
from tunesmith.score import (KEY_DTYPE, MODES, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Lyric, Score,
                             Track, make_notes)

DATA = Path(__file__).parent / "data"


def bach() -> Score:
    return tunesmith.read(DATA / "bach_bwv66.6.mxl")


def folk_with_triplets() -> Score:
    score = tunesmith.read(DATA / "oneills_excerpt.abc", index=0)  # "Fare You Well"
    assert (score.tracks[0].notes["duration"] == 160).any()  # eighth-note triplets
    return score


def song_with_drums_and_lyrics() -> Score:
    """Two bars of 3/4 in D minor: a sung line with a hyphenated word, and a drum kit."""
    score = Score(480, tempos=np.array([(0, 90.0)], dtype=TEMPO_DTYPE),
                  time_signatures=np.array([(0, 3, 4)], dtype=TIME_SIGNATURE_DTYPE),
                  key_signatures=np.array([(0, 2, MODES.index("minor"))], dtype=KEY_DTYPE))
    words = ["hal-", "le-", "lu-", "jah", "sing", "on"]
    onsets = [0, 480, 960, 1440, 2400, 2880]
    score.tracks.append(Track(
        "Voice", 73, notes=make_notes(onsets, [480, 480, 480, 960, 480, 1440],
                                      [62, 65, 70, 69, 73, 74]),
        lyrics=[Lyric(t, w) for t, w in zip(onsets, words)]))
    score.tracks.append(Track("Drums", 0, True, notes=make_notes(
        [0, 0, 480, 960, 960, 1440, 1680, 1920, 2400, 2880],
        [240] * 10, [36, 42, 38, 36, 42, 38, 38, 36, 38, 49])))
    return score


def expected_events(score: Score, track: Track) -> list[tuple[Fraction, Fraction, tuple]]:
    """(offset, quarter length, pitches) per chord, as the Score says."""
    q = Fraction(1, score.ticks_per_quarter)
    chords: dict[tuple, list[int]] = {}
    for onset, duration, pitch, _ in track.notes.tolist():
        chords.setdefault((onset * q, duration * q), []).append(pitch)
    return sorted((on, dur, tuple(sorted(p))) for (on, dur), p in chords.items())


def read_back_events(part) -> list[tuple[Fraction, Fraction, tuple]]:
    events = []
    for element in part.stripTies().flatten().notes:
        pitches = tuple(sorted(p.midi for p in element.pitches)) if element.pitches else ()
        events.append((Fraction(element.offset), Fraction(element.quarterLength), pitches))
    return sorted(events)


@pytest.mark.parametrize("make", [bach, folk_with_triplets, song_with_drums_and_lyrics],
                         ids=["bach-chorale", "folk-triplets", "drums-lyrics"])
def test_music21_reads_back_the_same_pitches_and_durations(make, tmp_path):
    score = make()
    path = tmp_path / "piece.musicxml"
    write_musicxml(score, path)
    back = music21.converter.parse(path)
    assert len(back.parts) == len(score.tracks)
    for track, part in zip(score.tracks, back.parts):
        expected = expected_events(score, track)
        got = read_back_events(part)
        if track.is_drum:  # unpitched: compare rhythm only (pitch is a staff position)
            assert [e[:2] for e in got] == [e[:2] for e in expected]
        else:
            assert got == expected
        assert part.partName == track.name or not track.name


def test_folk_triplets_are_written_as_tuplets(tmp_path):
    path = tmp_path / "folk.musicxml"
    write_musicxml(folk_with_triplets(), path)
    text = path.read_text()
    assert "<time-modification>" in text and "<tuplet " in text


def test_lyrics_keys_tempo_and_drum_staff(tmp_path):
    path = tmp_path / "song.musicxml"
    write_musicxml(song_with_drums_and_lyrics(), path)
    back = music21.converter.parse(path)
    voice, drums = back.parts
    sung = [(n.lyrics[0].text, n.lyrics[0].syllabic) for n in voice.flatten().notes]
    assert sung == [("hal", "begin"), ("le", "middle"), ("lu", "middle"), ("jah", "end"),
                    ("sing", "single"), ("on", "single")]
    # spelled in D minor: B flat from the key, C sharp as the raised leading tone
    assert [n.pitch.name for n in voice.flatten().notes] == ["D", "F", "B-", "A", "C#", "D"]
    assert voice.flatten().getElementsByClass("KeySignature")[0].sharps == -1
    assert voice.flatten().getElementsByClass("MetronomeMark")[0].number == 90
    assert isinstance(drums.flatten().getElementsByClass("Clef")[0], music21.clef.PercussionClef)
    assert all(isinstance(n, (music21.note.Unpitched, music21.percussion.PercussionChord))
               for n in drums.flatten().notes)
    # every bar of both parts is full: rests fill the gaps
    for part in (voice, drums):
        for measure in part.getElementsByClass("Measure"):
            assert measure.duration.quarterLength == 3


def test_flat_keys_spell_with_flats_and_sharp_keys_with_sharps(tmp_path):
    score = Score(480, key_signatures=np.array([(0, 3, 0), (1920, 11, 0)], dtype=KEY_DTYPE))
    # E-flat major then B major: pitch classes 3, 8, 10 then 3, 6, 8
    score.tracks.append(Track("Piano", 0, notes=make_notes(
        [0, 480, 960, 1920, 2400, 2880], [480] * 6, [63, 68, 70, 63, 66, 68])))
    path = tmp_path / "keys.musicxml"
    write_musicxml(score, path)
    names = [n.pitch.name for n in music21.converter.parse(path).flatten().notes]
    assert names == ["E-", "A-", "B-", "D#", "F#", "G#"]


def test_performance_times_are_snapped_to_a_readable_grid(tmp_path):
    score = Score(480)  # a played line: onsets a few ticks off the beat
    score.tracks.append(Track("Piano", 0, notes=make_notes(
        [3, 478, 965, 1437], [470, 482, 230, 495], [60, 62, 64, 65])))
    path = tmp_path / "played.musicxml"
    write_musicxml(score, path)
    got = read_back_events(music21.converter.parse(path).parts[0])
    assert got == [(0, 1, (60,)), (1, 1, (62,)), (2, Fraction(1, 2), (64,)), (3, 1, (65,))]


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "taken.musicxml"
    path.write_text("mine")
    with pytest.raises(WriteError, match="already exists"):
        write_musicxml(bach(), path)
    assert path.read_text() == "mine"
    write_musicxml(bach(), path, overwrite=True)
    assert "<score-partwise" in path.read_text()


MSCORE = shutil.which("mscore3") or shutil.which("mscore") or shutil.which("musescore")


@pytest.mark.skipif(MSCORE is None, reason="MuseScore (Debian musescore3) is not installed; "
                                           ".ci/run installs it where apt-get works")
@pytest.mark.parametrize("make", [bach, folk_with_triplets, song_with_drums_and_lyrics],
                         ids=["bach-chorale", "folk-triplets", "drums-lyrics"])
def test_musescore_converts_it(make, tmp_path):
    source = tmp_path / "piece.musicxml"
    write_musicxml(make(), source)
    pdf = tmp_path / "piece.pdf"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path))
    result = subprocess.run([MSCORE, "-o", str(pdf), str(source)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = result.stderr + result.stdout
    assert "success" in output and "not a valid" not in output
    assert pdf.stat().st_size > 1000


def test_a_bar_without_notes_has_one_rest_even_when_other_bars_need_two_voices(tmp_path):
    """Bar 1 holds two overlapping lines (two voices); bar 2 is silent; bar 3 one line.
    Editors should see one whole-bar rest in bar 2 and no empty second voice in bar 3."""
    score = Score(480, tracks=[Track("Piano", 0, notes=make_notes(
        [0, 240, 1440, 3840, 4800], [1440, 1440, 480, 960, 960], [60, 67, 64, 62, 64]))])
    path = tmp_path / "voices.musicxml"
    write_musicxml(score, path)
    part = music21.converter.parse(path).parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures[0].voices) == 2
    assert [v.id for v in measures[0].voices] == ["1", "2"]
    silent = measures[1]
    assert not silent.voices and len(silent.notesAndRests) == 1 and silent.notesAndRests[0].isRest
    assert not measures[2].voices and [n.pitch.midi for n in measures[2].notes] == [62, 64]
    assert read_back_events(part) == expected_events(score, score.tracks[0])


def test_karaoke_syllables_are_hyphenated_in_musicxml(tmp_path):
    """A .kar file marks words with spaces; in MusicXML its syllables get begin/end."""
    score = tunesmith.read(DATA / "real-midi/pedrolcl__dmidiplayer/Negra_Sombra.kar")
    path = tmp_path / "negra.musicxml"
    write_musicxml(score, path)
    singer = next(p for p in music21.converter.parse(path).parts if p.lyrics())
    sung = [(lyric.text, lyric.syllabic) for n in singer.flatten().notes for lyric in n.lyrics]
    assert sung[:4] == [("Can", "begin"), ("do", "end"), ("pen", "begin"), ("so", "end")]
    assert {syllabic for _, syllabic in sung} == {"begin", "middle", "end", "single"}


def test_notes_on_the_token_grid_keep_their_times(tmp_path):
    """The tokenizer's grid is 12 per quarter: 32nd-note triplets are written exactly,
    not snapped to sixteenths (which merged them into chords and added a bar)."""
    score = Score(480, time_signatures=np.array([(0, 3, 4)], dtype=TIME_SIGNATURE_DTYPE))
    score.tracks.append(Track("Piano", 0, notes=make_notes(
        [0, 1320, 1360, 1400, 1440], [1320, 40, 40, 40, 1440], [60, 83, 85, 87, 64])))
    path = tmp_path / "triplets.musicxml"
    write_musicxml(score, path)
    part = music21.converter.parse(path).parts[0]
    assert len(part.getElementsByClass("Measure")) == 2
    assert read_back_events(part) == expected_events(score, score.tracks[0])
