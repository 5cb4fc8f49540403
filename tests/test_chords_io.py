"""Chord symbols in and out of files: ABC, MusicXML (read back by music21 and MuseScore),
MIDI markers, POP909 labels, and the `tunesmith chords` command."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from music21 import converter, harmony

from tunesmith.cli import main
from tunesmith.errors import ReadError
from tunesmith.harmony import QUALITIES, Chord, parse_chord
from tunesmith.harmony.pop909 import add_chords, read_beats, read_chords
from tunesmith.harmony.symbols import chord_table, table_chords
from tunesmith.io import read, write
from tunesmith.score import CHORD_DTYPE, Marker, Score, Track, make_notes

from conftest import DATA

ABC = """X:1
T:Chords
M:4/4
L:1/4
K:C
"C"CEGc|"Am"A2 "F/A"F2|"G7"GBdf|"N.C."c4|]
"""
ABC_CHORDS = [(0, "C"), (1920, "Am"), (2880, "F/A"), (3840, "G7"), (5760, "N.C.")]
SYMBOLS = ["C", "Am7/G", "F#m7b5", "Bbmaj7", "G7sus4", "C/E", "Dm7/G", "N.C."] + [
    Chord(2, quality, bass).symbol() for quality in QUALITIES for bass in (2, 6)]
"""A lead sheet's symbols: the issue's examples, then every quality on D and over F#."""


def _chords(score) -> list[tuple[int, str]]:
    return [(tick, chord.symbol()) for tick, chord in table_chords(score.chords)]


def _lead_sheet(symbols=SYMBOLS) -> Score:
    """Two symbols a bar (one a half note), over a whole note a bar of a C major scale:
    few notes, so that music21 writes it quickly."""
    score = Score(ticks_per_quarter=480)
    n = (len(symbols) + 1) // 2
    score.tracks.append(Track("Melody", 0, notes=make_notes(
        np.arange(n) * 1920, [1920] * n, [60 + [0, 2, 4, 5, 7, 9, 11, 12][i % 8] for i in range(n)])))
    score.chords = chord_table(np.arange(len(symbols)) * 960,
                               [parse_chord(s) for s in symbols], CHORD_DTYPE)
    return score


def test_abc_chord_annotations_are_read_into_score_chords(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC)
    score = read(path)
    assert _chords(score) == ABC_CHORDS
    assert score.note_count() == 11  # the symbols did not become notes


def test_musicxml_harmony_round_trips_through_music21(tmp_path):
    score = _lead_sheet()
    path = tmp_path / "lead.musicxml"
    write(score, path)
    parsed = converter.parse(path, forceSource=True)
    found = [(int(h.getOffsetInHierarchy(parsed) * 480), h)
             for h in parsed.recurse().getElementsByClass(harmony.Harmony)]
    assert [tick for tick, _ in found] == [i * 960 for i in range(len(SYMBOLS))]
    assert len(set(SYMBOLS)) == len(SYMBOLS) == 8 + 2 * len(QUALITIES)
    from tunesmith.harmony.music21_chords import from_music21

    assert [from_music21(h).symbol() for _, h in found] == SYMBOLS  # music21's own objects
    assert _chords(read(path)) == _chords(score)                     # and our reader
    assert isinstance(found[SYMBOLS.index("N.C.")][1], harmony.NoChord)


@pytest.mark.skipif(shutil.which("mscore3") is None,
                    reason="MuseScore 3 is not installed (apt-get install musescore3)")
def test_musescore_reads_our_chord_symbols(tmp_path):
    path = tmp_path / "lead.musicxml"
    write(_lead_sheet(), path)
    out = tmp_path / "lead.mscx"
    result = subprocess.run(["mscore3", "-o", str(out), str(path)], capture_output=True,
                            timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-500:]
    text = out.read_text()
    names = [" ".join(re.findall(r"<name>([^<]*)</name>", h))
             for h in re.findall(r"<Harmony>(.*?)</Harmony>", text, re.S)]
    assert len(names) == len(SYMBOLS)
    # MuseScore's own names of what it read: D, Dm, ..., a bare N.C. (not "CN.C.")
    expected = {"C": "", "F#m7b5": "m7b5", "G7sus4": "7sus4", "N.C.": "N.C.", "D7b5": "7b5",
                "D9sus4": "9sus4", "Dm(maj7)": "mmaj7", "D7#5": "aug7", "D6/9": "69"}
    for symbol, name in expected.items():
        assert names[SYMBOLS.index(symbol)] == name, symbol


def test_midi_markers_carry_chords_and_leave_other_markers(tmp_path):
    score = _lead_sheet()
    score.markers = [Marker(0, "Verse"), Marker(1920 * 4, "Chorus")]
    path = tmp_path / "lead.mid"
    write(score, path)
    back = read(path)
    assert _chords(back) == _chords(score)
    assert [(m.tick, m.text) for m in back.markers] == [(0, "Verse"), (7680, "Chorus")]


def test_rehearsal_letters_are_not_chords(tmp_path):
    score = _lead_sheet()
    score.chords = score.chords[:0]
    for letters in ("ABC", "AABA", "ABAC"):  # sections, as --form writes them
        score.markers = [Marker(i * 1920, letter) for i, letter in enumerate(letters)]
        path = tmp_path / f"{letters}.mid"
        write(score, path)
        back = read(path)
        assert len(back.chords) == 0 and "".join(m.text for m in back.markers) == letters
    score.markers = [Marker(i * 1920, letter) for i, letter in enumerate("ADEA")]
    write(score, tmp_path / "ADEA.mid")
    assert _chords(read(tmp_path / "ADEA.mid")) == [(0, "A"), (1920, "D"), (3840, "E"), (5760, "A")]


def test_pop909_labels_are_read():
    folder = DATA / "pop909" / "098"
    rows = read_chords(folder / "chord_midi.txt")
    lines = (folder / "chord_midi.txt").read_text().split()
    assert len(rows) == len(lines) // 3
    start, end, chord = rows[0]
    assert (start, end, chord.harte()) == (float(lines[0]), float(lines[1]), lines[2])
    beats, strength = read_beats(folder / "beat_midi.txt")
    assert len(beats) > 20 and np.all(np.diff(beats) > 0)
    assert strength.tolist()[:5] == [0, 1, 0, 2, 0]  # a pickup: beats 3, 4 | 1, 2 ...
    score = read(folder / "098.mid")
    add_chords(score, folder / "chord_midi.txt")
    changes = table_chords(score.chords)
    assert len(changes) <= len(rows) and all(a[0] < b[0] for a, b in zip(changes, changes[1:]))
    seconds = score.ticks_to_seconds(score.chords["tick"])
    assert np.all(np.isin(np.round(seconds, 2), np.round([r[0] for r in rows], 2)))


def test_a_bad_pop909_file_is_one_line(tmp_path):
    path = tmp_path / "chord_midi.txt"
    path.write_text("0.0 1.0 C:maj\n1.0 2.0\n")
    with pytest.raises(ReadError, match="line 2: expected 3 columns"):
        read_chords(path)
    path.write_text("0.0 1.0 H:maj\n")
    with pytest.raises(ReadError) as info:
        read_chords(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def _cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_chords_command_prints_a_files_own_symbols_as_json(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC)
    code, out, _ = _cli("chords", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["source"] == "file"
    assert [c["symbol"] for c in report["chords"]] == [s for _, s in ABC_CHORDS]
    assert [c["start_beat"] for c in report["chords"]] == [0, 4, 6, 8, 12]
    assert report["chords"][1] == {"start": 2.0, "end": 3.0, "start_beat": 4.0,
                                   "symbol": "Am", "harte": "A:min"}


def test_chords_command_recognises_a_midi_file():
    code, out, _ = _cli("chords", str(DATA / "pop909" / "806" / "806.mid"), "--json", "--per", "bar")
    report = json.loads(out)
    assert code == 0 and report["source"] == "recognised" and len(report["chords"]) > 20
    first = report["chords"][0]
    assert set(first) == {"start", "end", "start_beat", "symbol", "harte"}
    assert all(a["end"] == b["start"] for a, b in zip(report["chords"], report["chords"][1:]))
    assert all(parse_chord(c["symbol"]) == parse_chord(c["harte"]) for c in report["chords"])


def test_chords_command_on_a_missing_file_is_one_line(tmp_path):
    code, out, err = _cli("chords", str(tmp_path / "nope.mid"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("tunesmith: error: ") and "nope.mid" in err


def test_score_copy_and_resample_carry_chords():
    score = _lead_sheet()
    assert _chords(score.copy()) == _chords(score)
    half = score.resample(240)
    assert [t for t, _ in _chords(half)] == [t // 2 for t, _ in _chords(score)]
    assert [s for _, s in _chords(half)] == SYMBOLS
    assert Chord(0) == table_chords(score.chords)[0][1]


def test_inspect_lists_the_chords(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC)
    code, out, _ = _cli("inspect", str(path), "--json")
    assert code == 0
    assert [(c["tick"], c["symbol"]) for c in json.loads(out)["pieces"][0]["chords"]] == ABC_CHORDS
    code, out, _ = _cli("inspect", str(path))
    assert "  chords: C at 0, Am at 1920, F/A at 2880, G7 at 3840, N.C. at 5760" in out


def test_the_piano_roll_writes_each_chord_symbol_above_its_bar():
    from tunesmith.render.pianoroll import draw_pianoroll

    score = _lead_sheet()
    ax = draw_pianoroll(score).axes[0]
    shown = [(int(round(t.get_position()[0])), t.get_text()) for t in ax.texts]
    assert shown == _chords(score)
    assert all(t.get_position()[1] > 1 for t in ax.texts)  # above the plot, in axes units


def test_midi_text_events_holding_symbols_are_read_as_chords(tmp_path):
    mido = pytest.importorskip("mido")
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    song.tracks.append(track)
    track.append(mido.MetaMessage("text", text="seed: 3", time=0))  # metadata, not a chord
    for i, symbol in enumerate(["Dm7", "G7", "Cmaj7", "A7b9"]):
        track.append(mido.MetaMessage("text", text=symbol, time=0 if i == 0 else 1920 - 480))
        track.append(mido.Message("note_on", note=62 + i, velocity=80, time=0))
        track.append(mido.Message("note_off", note=62 + i, velocity=0, time=480))
    path = tmp_path / "texts.mid"
    song.save(path)
    assert _chords(read(path)) == [(0, "Dm7"), (1920, "G7"), (3840, "Cmaj7"), (5760, "A7b9")]


def test_chords_command_names_the_file_when_recognition_refuses_it(monkeypatch):
    from tunesmith.harmony import recognise

    monkeypatch.setattr(recognise, "MAX_WINDOWS", 50)  # as if the song were endless
    path = DATA / "pop909" / "098" / "098.mid"
    code, out, err = _cli("chords", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"tunesmith: error: {path}: too long to name chords in")


def test_symbols_are_spelled_in_the_key_everywhere_they_are_written(tmp_path):
    from tunesmith.harmony.symbols import spelled_chords
    from tunesmith.score import KEY_DTYPE

    score = _lead_sheet(["C"] * 6)
    score.chords = chord_table([0, 1920, 3840], [parse_chord(s) for s in ("Db", "Bbm7/Ab", "Eb7")],
                               CHORD_DTYPE)
    score.key_signatures = np.array([(0, 8, 0), (3840, 9, 0)], dtype=KEY_DTYPE)  # Ab, then A major
    assert spelled_chords(score) == [(0, "Db"), (1920, "Bbm7/Ab"), (3840, "D#7")]
    write(score, tmp_path / "a.musicxml")
    write(score, tmp_path / "a.mid")
    xml = (tmp_path / "a.musicxml").read_text()
    assert "<root-step>D</root-step>\n          <root-alter>1</root-alter>" in xml  # D#7
    assert "<root-step>D</root-step>\n          <root-alter>-1</root-alter>" in xml  # Db
    assert _chords(read(tmp_path / "a.mid")) == _chords(score)


def test_chord_symbols_add_no_voices_or_rests_to_a_bar(tmp_path):
    """Two overlapping notes make bar 1 two voices; the symbols of every bar go into the
    first voice and add no voice (a whole-bar rest under the notes) anywhere."""
    from tunesmith.io.musicxml import score_to_music21
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = _lead_sheet(["C", "F", "G7", "C"])
    score.tracks[0].notes = make_notes([0, 240, 1920], [960, 960, 1920], [64, 67, 65])
    plain = score.copy()
    plain.chords = plain.chords[:0]
    xml = GeneralObjectExporter(score_to_music21(score)).parse().decode()
    bare = GeneralObjectExporter(score_to_music21(plain)).parse().decode()
    assert xml.count("<harmony") == 4
    assert xml.count("<backup") == bare.count("<backup") and xml.count("<rest") == bare.count("<rest")
    assert _chords(read_xml(xml, tmp_path)) == _chords(score)


def read_xml(text: str, folder) -> Score:
    path = folder / "x.musicxml"
    path.write_text(text)
    return read(path)
