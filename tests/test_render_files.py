"""`tunesmith.render` as a composer uses it: the MIDI it writes reads back with the same
notes, programs, tempos and lyrics; the piano roll shows tracks, bars and lyrics; files
are never overwritten silently; the CLI reports bad requests in one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

import tunesmith
from tunesmith.cli import main
from tunesmith.errors import RequestError, WriteError
from tunesmith.render import plan, render, stem_names
from tunesmith.render.pianoroll import draw_pianoroll
from tunesmith.score import (KEY_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Lyric, Score, Track,
                             make_notes, sort_notes)

DATA = Path(__file__).parent / "data"


def band() -> Score:
    """Four bars: a sung flute line with lyrics, a bass, and drums; a tempo change."""
    score = Score(480, tempos=np.array([(0, 100.0), (3840, 80.0)], dtype=TEMPO_DTYPE),
                  time_signatures=np.array([(0, 4, 4)], dtype=TIME_SIGNATURE_DTYPE),
                  key_signatures=np.array([(0, 7, 0)], dtype=KEY_DTYPE))
    melody = [0, 480, 960, 1440, 1920, 2880, 3840, 5760]
    score.tracks.append(Track("Flute", 73, notes=make_notes(
        melody, [480, 480, 480, 480, 960, 960, 1920, 1920], [67, 69, 71, 72, 74, 72, 71, 67], 90),
        lyrics=[Lyric(t, w) for t, w in zip(melody, ["Sing", "a", "hap-", "py", "song", "to",
                                                       "the", "end"])]))
    score.tracks.append(Track("Bass", 33, notes=make_notes(
        [0, 1920, 3840, 5760], [1920] * 4, [43, 48, 50, 43], 100)))
    score.tracks.append(Track("Drums", 0, True, notes=make_notes(
        np.arange(0, 7680, 480), [120] * 16, [36, 42, 38, 42] * 4, 100)))
    return score


def test_midi_round_trip_keeps_notes_programs_tempos_and_lyrics(tmp_path):
    score = band()
    paths = render(score, "mid", tmp_path, stem="band")
    back = tunesmith.read(paths["mid"][0])
    assert [(t.name, t.program, t.is_drum) for t in back.tracks] == [
        (t.name, t.program, t.is_drum) for t in score.tracks]
    scale = back.ticks_per_quarter / score.ticks_per_quarter
    for ours, theirs in zip(score.tracks, back.tracks):
        expected = sort_notes(ours.notes)
        got = sort_notes(theirs.notes)
        assert np.array_equal(got["onset"], expected["onset"] * scale)
        assert np.array_equal(got["duration"], expected["duration"] * scale)
        assert np.array_equal(got["pitch"], expected["pitch"])
        assert np.array_equal(got["velocity"], expected["velocity"])
    assert np.allclose(back.tempo_map()["qpm"], [100.0, 80.0], atol=0.01)
    assert [(lyr.tick, lyr.text) for lyr in back.tracks[0].lyrics] == [
        (int(lyr.tick * scale), lyr.text) for lyr in score.tracks[0].lyrics]


def test_pianoroll_shows_tracks_bars_and_lyrics(tmp_path):
    score = band()
    fig = draw_pianoroll(score)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Flute", "Bass",
                                                                   "Drums (drums)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    assert [t.get_text() for t in ax.texts] == [lyr.text for lyr in score.tracks[0].lyrics]
    path = render(score, "png", tmp_path)["png"][0]
    image = imread(path)[..., :3]
    assert image.shape[0] >= 400 and image.shape[1] >= 800
    colours = np.unique(np.round(image.reshape(-1, 3), 2), axis=0)
    for handle in ax.get_legend().legend_handles:  # each track's colour is on the picture
        face = np.array(to_rgb(handle.get_facecolor()))
        blended = face * 0.85 + 0.15  # drawn at alpha 0.85 on white
        assert (np.abs(colours - blended).max(axis=1) <= 0.02).any()


def test_nothing_is_overwritten_and_nothing_half_written(tmp_path):
    score = band()
    (tmp_path / "score.png").write_bytes(b"mine")
    with pytest.raises(WriteError, match="already exists"):
        render(score, "mid,png", tmp_path)
    assert not (tmp_path / "score.mid").exists()  # checked before writing anything
    assert (tmp_path / "score.png").read_bytes() == b"mine"
    render(score, "mid,png", tmp_path, overwrite=True)
    assert (tmp_path / "score.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_output_names_and_bad_requests(tmp_path):
    score = band()
    score.tracks.append(Track("Flute", 73, notes=make_notes([0], [480], [79])))
    score.tracks.append(Track("", 0, notes=make_notes([0], [480], [60])))
    assert stem_names(score, vocals=True) == ["Flute", "Bass", "Drums", "Flute-2", "track5",
                                              "vocals"]
    planned = plan(score, "midi, WAV", tmp_path, stem="song", stems=True)
    assert [p.name for p in planned["wav"]] == [
        "song.wav", "song.Flute.wav", "song.Bass.wav", "song.Drums.wav", "song.Flute-2.wav",
        "song.track5.wav"]
    assert planned["mid"] == [tmp_path / "song.mid"]
    with pytest.raises(RequestError, match="unknown format 'mp3'"):
        plan(score, "wav,mp3", tmp_path)
    with pytest.raises(RequestError, match="add wav or flac"):
        plan(score, "mid", tmp_path, stems=True)
    with pytest.raises(RequestError, match="no notes"):
        render(Score(), "png", tmp_path)


def test_cli_renders_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    source = DATA / "bach_bwv66.6.mxl"
    assert main(["render", str(source), "--format", "mid,png", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "bach_bwv66.6.mid"), str(out / "bach_bwv66.6.png")]
    before = (out / "bach_bwv66.6.mid").read_bytes()
    assert main(["render", str(source), "--format", "mid", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tunesmith: error: ") and "already exists" in error
    assert error.count("\n") == 1
    assert (out / "bach_bwv66.6.mid").read_bytes() == before
    assert main(["render", str(source), "--format", "ogg", "--out", str(out)]) == 2
    assert "unknown format 'ogg'" in capsys.readouterr().err
