"""`tunesmith song`: real songs drafted with the shipped model, read back as notes."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tunesmith
from tunesmith.lyrics.measure import pace, rests_after_lines, score_stresses
from tunesmith.lyrics.plan import Meter
from tunesmith.lyrics.song import SongSettings, check_settings, draft_songs, melody_request
from tunesmith.lyrics.text import parse_words
from tunesmith.score import lyrics_text

ENGLISH = (Path(__file__).parents[1] / "docs" / "harbour.txt").read_text(encoding="utf-8")
"""The README's worked song: a verse and a chorus, twice."""

GERMAN = """[Strophe]
Der Mond ist aufgegangen
die goldnen Sternlein prangen

[Refrain]
Wie ist die Welt so stille
und in der Dämmrung Hülle

[Refrain]
Wie ist die Welt so stille
und in der Dämmrung Hülle
"""


@pytest.fixture(scope="module")
def loaded():
    from tunesmith.pipeline import open_model

    return open_model()


def _songs(loaded, text, lang, **settings):
    sections = parse_words(text, lang)
    chosen = SongSettings(lang=lang, accompaniment="none", num_samples=2, **settings)
    return sections, draft_songs(loaded, sections, chosen, check_settings(chosen))


@pytest.fixture(scope="module")
def english(loaded):
    return _songs(loaded, ENGLISH, "en")


@pytest.fixture(scope="module")
def german(loaded):
    return _songs(loaded, GERMAN, "de", key="F major")


def _words(sections):
    return " ".join(line.replace("_", " ") for s in sections for line in s.lines).split()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["english", "german"])
def test_songs_sing_every_syllable_with_stress_on_strong_beats_and_breathe(which, request):
    sections, songs = request.getfixturevalue(which)
    syllables = [s for section in sections for line in section.syllables for s in line]
    lang = "de" if which == "german" else "en"
    for song in songs:
        melody = song.score.tracks[0]
        assert len(melody.notes) == sum(s.notes for s in syllables)           # melismas as marked
        assert len(melody.lyrics) == len(syllables)
        assert lyrics_text(melody.lyrics).replace(",", "").split() == [w.strip(",") for w in _words(sections)]
        counts = score_stresses(song.score, lang)
        assert counts.primary >= 4 and counts.primary_share >= 0.9
        rested, lines = rests_after_lines(song.score, song.line_ends)
        assert lines == sum(len(s.lines) for s in sections) and rested == lines
        assert melody.notes["pitch"].min() >= 60 and melody.notes["pitch"].max() <= 81  # soprano C4-A5
        assert pace(song.score)["fastest"] <= 4.0 + 1e-9


@pytest.mark.slow
def test_a_repeated_chorus_is_sung_to_identical_notes(english, german):
    for sections, songs in (english, german):
        sizes = [sum(len(line) for line in s.syllables) for s in sections]
        for song in songs:
            notes = np.sort(song.score.tracks[0].notes, order="onset")
            ticks = sorted(lyr.tick for lyr in song.score.tracks[0].lyrics)
            firsts = [ticks[i] for i in np.cumsum([0] + sizes[:-1])] + [int(notes["onset"].max()) + 1]
            sung = {}
            for section, start, stop in zip(sections, firsts, firsts[1:]):  # first syllable to the next's
                inside = notes[(notes["onset"] >= start) & (notes["onset"] < stop)]
                shape = [(int(n["onset"]) - start, int(n["duration"]), int(n["pitch"])) for n in inside]
                sung.setdefault(section.tune, []).append(shape)
            choruses = [shapes for tune, shapes in sung.items() if tune in ("Chorus", "Refrain")][0]
            assert len(choruses) == 2 and choruses[0] and choruses[0] == choruses[1]


@pytest.mark.slow
def test_the_lead_sheet_reads_back_through_music21_with_verses_in_order(english, tmp_path):
    from music21 import converter

    from tunesmith.lyrics.leadsheet import write_lead_sheet

    sections, songs = english
    path = tmp_path / "sheet.musicxml"
    write_lead_sheet(songs[0].sheet, songs[0].sheet_words, path, title="Harbour")
    parsed = converter.parse(str(path))
    verse_one, verse_two = [], []
    for n in parsed.parts[0].recurse().notes:
        for lyric in n.lyrics:
            (verse_one if lyric.number == 1 else verse_two).append(lyric)

    def words(lyrics):
        text = ""
        for lyric in lyrics:
            text += lyric.text + ("" if lyric.syllabic in ("begin", "middle") else " ")
        return text.split()

    assert words(verse_one) == _words(sections[:2])          # verse 1 and the chorus, once
    assert words(verse_two) == _words(sections[2:3])         # verse 2 under the verse's notes
    xml = path.read_text()
    assert "<extend" in xml and "<rehearsal" in xml and ">Chorus<" in xml
    if shutil.which("mscore3"):
        png = tmp_path / "sheet.png"
        done = subprocess.run(["mscore3", "-o", str(png), str(path)], capture_output=True,
                              env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}, timeout=120)
        assert done.returncode == 0 and (tmp_path / "sheet-1.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_rhythm_rule_forces_every_onset_and_duration(loaded):
    from tunesmith.lyrics.plan import plan_rhythm
    from tunesmith.lyrics.syllables import syllabify
    from tunesmith.pipeline import check, draft

    settings = SongSettings(num_samples=3, seed=11)
    plan = plan_rhythm([syllabify("Over the river and into the wood")], Meter(4, 4), 96)
    for result in draft(check(melody_request(settings, plan)), loaded):
        notes = np.sort(result.draft.score.tracks[0].notes, order="onset")
        assert (notes["onset"] // 40).tolist() == plan.onset.tolist()      # 480 ticks a quarter
        assert (notes["duration"] // 40).tolist() == plan.duration.tolist()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tunesmith", "song", *map(str, args)],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_song_cli_writes_a_song_with_its_accompaniment(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("[Verse]\nMorning comes across the water\n\n[Chorus]\nCarry me home\n\n"
                     "[Chorus]\nCarry me home\n")
    done = _cli(words, "--out", tmp_path / "out", "--format", "mid,musicxml", "--seed", 3)
    assert done.returncode == 0, done.stderr
    score = tunesmith.read(tmp_path / "out" / "song-s3.mid")
    assert [t.program for t in score.tracks] == [52, 0] and len(score.tracks[1].notes) > 0
    assert [m.text for m in score.markers] == ["Verse 1", "Chorus", "Chorus"]
    assert (tmp_path / "out" / "song-s3.musicxml").stat().st_size > 1000


@pytest.mark.parametrize("content, args, reason", [
    ("", [], "holds no words"),
    (" ".join(["la"] * 300), [], "a line of 300 syllables"),
    ("Hello there", ["--lang", "xx"], "unknown language 'xx'"),
    ("Hello there", ["--voice", "H9-Z2"], "bad range"),
    ("Hello there", ["--key", "Q major"], "key"),
    ("\n\n".join("\n".join(f"Line {j} of part {i} with words to sing" for j in range(9 - i)) for i in range(4)),
     [], "one draft sets at most"),
])
def test_bad_song_input_is_a_one_line_error(tmp_path, content, args, reason):
    words = tmp_path / "w.txt"
    words.write_text(content)
    done = _cli(words, "--out", tmp_path / "out", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("tunesmith: error: ") and done.stderr.count("\n") == 1
    assert reason in done.stderr and "Traceback" not in done.stderr


def test_a_missing_words_file_names_itself(tmp_path):
    done = _cli(tmp_path / "nope.txt", "--out", tmp_path / "out")
    assert done.returncode == 2 and f"{tmp_path / 'nope.txt'}:" in done.stderr


def test_words_set_to_an_existing_melody_follow_its_notes_and_stresses():
    from tunesmith.score import Score, Track, make_notes

    quarter = 480
    onsets = [i * quarter for i in range(14)] + [16 * quarter + i * quarter for i in range(6)]
    melody = Score(tracks=[Track("tune", 73, notes=make_notes(onsets, [quarter] * 20, [60 + i % 7 for i in range(20)]))])
    sections = parse_words("Morning comes across the water\nLight is on the open sea\n")
    settings = SongSettings(accompaniment="none")
    song = draft_songs(None, sections, settings, check_settings(settings), prompt=melody)[0]
    sung = song.score.tracks[0]
    assert sorted(sung.notes["onset"].tolist()) == onsets                        # the melody's own notes
    assert len(sung.lyrics) == 15 and lyrics_text(sung.lyrics).split() == _words(sections)
    assert score_stresses(song.score).primary_share >= 0.9
    assert len(song.line_ends) == 2
