"""Audio a composer can trust: the right length, sound where notes are and silence where
they are not, never clipping, stems that sum to the mix, a vocal take where it was put."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from tunesmith.errors import ReadError
from tunesmith.render import render, render_audio
from tunesmith.render.audio import (PEAK_CEILING_DBFS, RELEASE_SECONDS, SAMPLE_RATE,
                                    default_soundfont, synthesize)
from tunesmith.score import TEMPO_DTYPE, Score, Track, make_notes

BAR = 1920  # ticks per 4/4 bar at 480 per quarter; at 120 qpm a bar lasts 2 s
BAR_SECONDS = 2.0


def gapped() -> Score:
    """Bar 1 a piano chord and a bass note, bar 2 silent, bar 3 drums, bar 4 strings."""
    score = Score(480, tempos=np.array([(0, 120.0)], dtype=TEMPO_DTYPE))
    score.tracks.append(Track("Piano", 0, notes=make_notes([0, 0, 0], [1800] * 3, [60, 64, 67])))
    score.tracks.append(Track("Bass", 33, notes=make_notes([0], [1800], [36])))
    score.tracks.append(Track("Drums", 0, True, notes=make_notes(
        2 * BAR + np.arange(0, BAR, 240), [100] * 8, [36, 42] * 4)))
    score.tracks.append(Track("Strings", 48, notes=make_notes([3 * BAR], [BAR], [55])))
    return score


def rms_per_bar(audio: np.ndarray, bars: int) -> np.ndarray:
    step = int(BAR_SECONDS * SAMPLE_RATE)
    return np.array([np.sqrt(np.mean(audio[i * step:(i + 1) * step] ** 2)) for i in range(bars)])


def test_synthesizer_smoke_a4_sounds_at_440_hz():
    """Catches a synthesizer upgrade that breaks rendering (see NOTES.md on symusic 0.6)."""
    score = Score(480)
    score.tracks.append(Track("Flute", 73, notes=make_notes([0], [960], [69], 100)))
    [audio] = synthesize(score)
    assert audio.dtype == np.float32 and audio.shape == (int((1.0 + RELEASE_SECONDS)
                                                             * SAMPLE_RATE), 2)
    body = audio[int(0.2 * SAMPLE_RATE):int(0.9 * SAMPLE_RATE), 0]
    assert np.sqrt(np.mean(body ** 2)) > 0.01
    spectrum = np.abs(np.fft.rfft(body * np.hanning(len(body))))
    peak_hz = np.fft.rfftfreq(len(body), 1 / SAMPLE_RATE)[np.argmax(spectrum)]
    assert abs(peak_hz - 440.0) < 5.0


def test_length_sound_and_silence_per_bar(tmp_path):
    score = gapped()
    path = render(score, "wav", tmp_path)["wav"][0]
    audio, rate = soundfile.read(path)
    assert rate == SAMPLE_RATE and audio.shape[1] == 2
    assert len(audio) == int(round((4 * BAR_SECONDS + RELEASE_SECONDS) * SAMPLE_RATE))
    level = rms_per_bar(audio, 4)
    assert level[[0, 2, 3]].min() > 10 ** (-40 / 20)  # notes sound: louder than -40 dBFS
    assert level[1] < 10 ** (-80 / 20)  # bar 2 has no note: silent
    # the strings' last note keeps a release tail that fades out to silence
    tail = audio[int(4 * BAR_SECONDS * SAMPLE_RATE):]
    assert np.abs(tail[:2205]).max() > 0.01 and np.abs(tail[-441:]).max() < 1e-3


def test_never_clips_and_is_loudness_normalized():
    score = Score(480)  # 36 loud simultaneous notes: far over full scale raw
    for name, program in (("Brass", 61), ("Strings", 48), ("Organ", 19)):
        score.tracks.append(Track(name, program, notes=make_notes(
            [0] * 12, [1920] * 12, list(range(48, 84, 3)), 127)))
    [raw] = synthesize(score)
    [mix] = render_audio(score)
    assert np.abs(raw).max() > 1.0  # the synthesizer itself would clip
    assert np.abs(mix).max() <= 10 ** (PEAK_CEILING_DBFS / 20) + 1e-6
    quiet = Score(480)
    quiet.tracks.append(Track("Flute", 73, notes=make_notes([0], [1920], [72], 20)))
    [mix] = render_audio(quiet)
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(mix[:int(1.9 * SAMPLE_RATE)] ** 2)))
    assert -18.0 < rms_dbfs < -14.0  # brought up to about the -16 dBFS target


def test_stems_have_the_mix_length_and_sum_to_it(tmp_path):
    score = gapped()
    paths = render(score, "wav,flac", tmp_path, stems=True)
    for fmt in ("wav", "flac"):
        mix, _ = soundfile.read(paths[fmt][0])
        stems = [soundfile.read(p)[0] for p in paths[fmt][1:]]
        assert [p.name for p in paths[fmt][1:]] == [f"score.{n}.{fmt}" for n in
                                                    ("Piano", "Bass", "Drums", "Strings")]
        assert {len(s) for s in stems} == {len(mix)}
        assert np.abs(np.sum(stems, axis=0) - mix).max() < 1e-4  # 24-bit rounding only
        # each stem holds only its own track: the drums stem is silent outside bar 3
        drums = rms_per_bar(stems[2], 4)
        assert drums[2] > 1e-3 and drums[[0, 1, 3]].max() < 1e-6
    one_track = Score(480)
    one_track.tracks.append(Track("Solo", 0, notes=make_notes([0], [480], [60])))
    solo = render(one_track, "wav", tmp_path / "solo", stems=True)["wav"]
    assert [p.name for p in solo] == ["score.wav", "score.Solo.wav"]
    assert all(p.is_file() for p in solo)


def test_vocal_take_at_another_rate_lands_at_its_offset(tmp_path):
    """A mono 22.05 kHz take with a click 0.5 s in, placed 1.25 s after the start at
    -6 dB: the click is heard at 1.75 s, in the vocals stem and in the mix."""
    take_rate = 22_050
    take = np.zeros(take_rate * 2, dtype=np.float32)
    take[take_rate // 2:take_rate // 2 + 22] = 0.8  # a 1 ms click
    take_path = tmp_path / "take.wav"
    soundfile.write(take_path, take, take_rate)
    score = gapped()
    paths = render(score, "wav", tmp_path / "out", vocals=take_path, vocals_offset=1.25,
                   vocals_gain_db=-6.0)
    names = [p.name for p in paths["wav"]]
    assert names[-1] == "score.vocals.wav" and len(names) == 2 + len(score.tracks)
    mix, _ = soundfile.read(paths["wav"][0])
    vocals, _ = soundfile.read(paths["wav"][-1])
    backing = np.sum([soundfile.read(p)[0] for p in paths["wav"][1:-1]], axis=0)
    expected = int(1.75 * SAMPLE_RATE)
    assert abs(int(np.argmax(np.abs(vocals[:, 0]))) - expected) <= 30  # within 0.7 ms
    assert abs(int(np.argmax(np.abs(mix - backing)[:, 0])) - expected) <= 30
    assert np.allclose(vocals[:, 0], vocals[:, 1])  # mono take centred
    assert len(vocals) == len(mix)


def test_vocal_take_longer_than_the_backing_extends_every_stem(tmp_path):
    take = np.full((SAMPLE_RATE * 3, 2), 0.1, dtype=np.float32)
    take_path = tmp_path / "long.flac"
    soundfile.write(take_path, take, SAMPLE_RATE)
    score = gapped()
    paths = render(score, "wav", tmp_path / "out", vocals=take_path, vocals_offset=8.0)
    lengths = {len(soundfile.read(p)[0]) for p in paths["wav"]}
    assert lengths == {11 * SAMPLE_RATE}


def test_bad_soundfont_and_take_fail_before_anything_is_written(tmp_path):
    not_a_soundfont = tmp_path / "fake.sf2"
    not_a_soundfont.write_bytes(b"RIFF....WAVEfmt ")
    with pytest.raises(ReadError, match="not a SoundFont"):
        render(gapped(), "mid,wav", tmp_path / "a", soundfont=not_a_soundfont)
    with pytest.raises(ReadError, match="no such vocal take"):
        render(gapped(), "mid,wav", tmp_path / "b", vocals=tmp_path / "missing.wav")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert default_soundfont().is_file()


def test_drums_sound_whatever_kit_number_the_file_names():
    """Real files put drum kits other than 0 on channel 10 (Mr. Blue Sky: 33); most GM
    SoundFonts have only the standard kit, so the synthesizer plays kit 0."""
    onsets = np.arange(8) * 240
    for kit in (0, 33):
        score = Score(ticks_per_quarter=480, tracks=[
            Track("Drums", program=kit, is_drum=True, notes=make_notes(onsets, [120] * 8, [36, 42] * 4, 100))])
        audio = render_audio(score)[0]
        assert 20 * np.log10(np.sqrt(np.mean(audio ** 2))) > -40, kit
