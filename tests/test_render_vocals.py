"""Layering a vocal take (issue 12): the backing's level never depends on the take,
`--vocals-gain` is exactly what lands in the vocals stem, and `--no-normalize` exists."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from tunesmith.render import render, render_audio
from tunesmith.render.audio import SAMPLE_RATE, synthesize
from tunesmith.score import TEMPO_DTYPE, Score, Track, make_notes

BAR = 1920


def band() -> Score:
    score = Score(480, tempos=np.array([(0, 120.0)], dtype=TEMPO_DTYPE))
    score.tracks.append(Track("Piano", 0, notes=make_notes([0, 0, BAR], [1800] * 3, [60, 64, 67])))
    score.tracks.append(Track("Drums", 0, True, notes=make_notes(
        np.arange(0, 2 * BAR, 240), [100] * 16, [36, 42] * 8)))
    return score


def _takes(tmp_path):
    """Two takes that differ in level and content: a quiet sung 'A' at 44.1 kHz stereo
    and a loud mono 'E' at 22.05 kHz."""
    t = np.arange(int(3.0 * 44_100)) / 44_100
    quiet = 0.05 * np.sin(2 * np.pi * 220 * t)
    soundfile.write(tmp_path / "quiet.wav", np.stack([quiet, quiet * 0.8], 1), 44_100)
    t = np.arange(int(4.0 * 22_050)) / 22_050
    soundfile.write(tmp_path / "loud.flac", 0.7 * np.sin(2 * np.pi * 330 * t), 22_050)
    return tmp_path / "quiet.wav", tmp_path / "loud.flac"


def test_backing_stems_are_identical_whatever_the_take(tmp_path):
    quiet, loud = _takes(tmp_path)
    stems = {}
    for name, take, gain in (("none", None, 0.0), ("quiet", quiet, 0.0), ("loud", loud, 3.0)):
        paths = render(band(), "wav", tmp_path / name, stems=True, vocals=take,
                       vocals_gain_db=gain)["wav"]
        stems[name] = [soundfile.read(p)[0] for p in paths[1:3]]  # piano, drums
    n = len(stems["none"][0])
    for name in ("quiet", "loud"):
        for a, b in zip(stems["none"], stems[name]):
            assert np.array_equal(a, b[:n]) and not b[n:].any()
    drums_peak = 20 * np.log10(np.abs(stems["none"][1]).max())
    assert -30 < drums_peak < -1


def test_vocals_gain_is_what_lands_in_the_stem(tmp_path):
    quiet, _ = _takes(tmp_path)
    read, _ = soundfile.read(quiet)
    for gain in (0.0, -6.0, 6.0):
        paths = render(band(), "wav", tmp_path / f"g{gain}", vocals=quiet, vocals_gain_db=gain)["wav"]
        stem, _ = soundfile.read(paths[-1])
        expected = read * 10 ** (gain / 20)
        assert np.abs(stem[:len(expected)] - expected).max() < 1e-5  # 24-bit rounding only
        mix, _ = soundfile.read(paths[0])
        backing = sum(soundfile.read(p)[0] for p in paths[1:-1])
        assert np.abs(mix - backing - stem).max() < 1e-4            # stems sum to the mix


def test_a_mix_that_would_clip_warns_and_stems_stay_exact(tmp_path, capsys):
    _, loud = _takes(tmp_path)
    paths = render(band(), "wav", tmp_path / "o", vocals=loud, vocals_gain_db=6.0)["wav"]
    assert "tunesmith: warning: the mix peaks at" in capsys.readouterr().err
    stem, _ = soundfile.read(paths[-1])
    assert np.abs(stem).max() == pytest.approx(min(0.7 * 10 ** (6 / 20), 1.0), abs=2e-3)


def test_no_normalize_keeps_the_synthesizers_level(tmp_path):
    score = band()
    [raw] = synthesize(score)
    [kept] = render_audio(score, normalize=False)
    [normal] = render_audio(score)
    assert np.array_equal(raw, kept) and not np.allclose(raw, normal)
    from tunesmith.cli import main

    from tunesmith.io.midi import write_midi

    write_midi(score, tmp_path / "band.mid")
    assert main(["render", str(tmp_path / "band.mid"), "--format", "wav", "--no-normalize",
                 "--out", str(tmp_path / "cli")]) == 0
    written, _ = soundfile.read(tmp_path / "cli" / "band.wav")
    assert written.shape == raw.shape and np.abs(written - np.clip(raw, -1, 1)).max() < 1e-4
