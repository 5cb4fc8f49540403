"""Hum it (`--prompt-audio`, issue 14): a monophonic take becomes a prompt Score. Known
melodies, rendered by our own synthesizer at 80, 120 and 160 bpm and sung by sine tones
with vibrato and a drifting tuning, must come back with at least 90% of their notes:
onset within a sixteenth, pitch exact."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

import tunesmith
from tunesmith.errors import ReadError
from tunesmith.io.audio_prompt import read_audio_prompt
from tunesmith.score import TEMPO_DTYPE, Score, Track, make_notes

# (onset, duration) in quarter notes, MIDI pitch: eighths, a dotted rhythm, a sixteenth
FOLK = [(0, 1, 67), (1, .5, 69), (1.5, .5, 71), (2, 1, 72), (3, 1, 71), (4, .5, 69),
        (4.5, .5, 67), (5, 1, 69), (6, 2, 67), (8, .75, 64), (8.75, .25, 66), (9, 1, 67),
        (10, 1, 71), (11, 1, 69), (12, 1, 67), (13, 1, 66), (14, 2, 67)]
# a sung line with a leap, a repeated note (re-sung) and a low ending
SONG = [(0, 1, 62), (1, 1, 62), (2, 1, 66), (3, .5, 69), (3.5, .5, 71), (4, 1.5, 74),
        (5.5, .5, 71), (6, 1, 69), (7, 1, 66), (8, 2, 64), (10, 2, 62)]


def recovered(score: Score, melody, bpm: float) -> float:
    """Fraction of the melody's notes found in ``score``: a note of the same pitch whose
    onset, in seconds from the first note, is within a sixteenth of the true one."""
    notes = score.tracks[0].notes
    seconds = score.ticks_to_seconds(notes["onset"])
    seconds = seconds - seconds[0]
    sixteenth = 60 / bpm / 4
    hits = 0
    for onset, _, pitch in melody:
        true = (onset - melody[0][0]) * 60 / bpm
        near = np.abs(seconds - true) <= sixteenth
        hits += bool((near & (notes["pitch"] == pitch)).any())
    return hits / len(melody)


@pytest.mark.parametrize("bpm", [80, 120, 160])
def test_a_synthesized_flute_line_comes_back(bpm, tmp_path):
    score = Score(480, tempos=np.array([(0, float(bpm))], dtype=TEMPO_DTYPE))
    score.tracks.append(Track("Flute", 73, notes=make_notes(
        [int(o * 480) for o, _, _ in FOLK], [int(d * 456) for _, d, _ in FOLK],
        [p for *_, p in FOLK], 90)))
    tunesmith.render(score, "wav", tmp_path)
    heard = read_audio_prompt(tmp_path / "score.wav")
    assert recovered(heard, FOLK, bpm) >= 0.9
    assert len(heard.tracks[0].notes) <= len(FOLK) + 2        # few notes that are not there
    qpm = heard.tempo_map()["qpm"][0]
    assert min(abs(qpm / bpm - r) for r in (0.5, 1, 2)) < 0.03  # the tempo, or its octave
    assert (heard.tracks[0].notes["onset"] % 40 == 0).all()   # on the 12-per-quarter grid


def sung(melody, bpm: float, rate: int = 22_050, vibrato: float = 0.4,
         drift: float = 0.3, detune: float = 0.0) -> np.ndarray:
    """A sine-tone 'singer': three partials, a 20 ms attack and 40 ms release with a
    breath before each note, vibrato of ``vibrato`` semitones at 5.5 Hz setting in after
    150 ms, tuning drifting linearly from ``detune - drift`` to ``detune + drift``
    semitones over the take, and a little noise."""
    rng = np.random.default_rng(0)
    beat = 60 / bpm
    total = (melody[-1][0] + melody[-1][1]) * beat + 0.5
    t = np.arange(int(total * rate)) / rate
    out = np.zeros_like(t)
    for onset, duration, pitch in melody:
        start, length = onset * beat, duration * beat - 0.05
        span = (t >= start) & (t < start + length)
        local = t[span] - start
        bend = vibrato * np.sin(2 * np.pi * 5.5 * local) * np.clip((local - 0.15) / 0.1, 0, 1)
        tuning = detune + drift * (2 * t[span] / total - 1)
        freq = 440 * 2 ** ((pitch - 69 + bend + tuning) / 12)
        phase = 2 * np.pi * np.cumsum(freq) / rate
        envelope = np.minimum(np.clip(local / 0.02, 0, 1), np.clip((length - local) / 0.04, 0, 1))
        out[span] = envelope * (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase))
    out = 0.3 * out / np.abs(out).max() + 0.003 * rng.standard_normal(len(out))
    return out.astype(np.float32)


@pytest.mark.parametrize("bpm, vibrato, drift, detune", [
    (96, 0.4, 0.3, 0.0),     # wide vibrato, tuning drifting 60 cents over the take
    (132, 0.25, 0.15, -0.3),  # a singer 30 cents flat throughout, drifting as well
])
def test_a_sine_singer_with_vibrato_and_drift_comes_back(bpm, vibrato, drift, detune, tmp_path):
    take = tmp_path / "take.wav"
    soundfile.write(take, sung(SONG, bpm, vibrato=vibrato, drift=drift, detune=detune), 22_050)
    heard = read_audio_prompt(take)
    assert recovered(heard, SONG, bpm) >= 0.9
    assert len(heard.tracks[0].notes) <= len(SONG) + 1


def test_a_given_tempo_and_meter_are_the_prompts(tmp_path):
    take = tmp_path / "take.flac"
    soundfile.write(take, sung(SONG, 100), 22_050)
    heard = read_audio_prompt(take, tempo=100, meter=(3, 4), program=40)
    assert heard.tempo_map()["qpm"][0] == 100 and tuple(heard.meter_map()[0].tolist()[1:]) == (3, 4)
    assert heard.tracks[0].program == 40
    onsets = heard.tracks[0].notes["onset"] / 480  # quarters: the written rhythm exactly
    assert onsets.tolist() == [o for o, _, _ in SONG]


def test_bad_takes_are_one_line_errors(tmp_path):
    with pytest.raises(ReadError, match="no such audio file"):
        read_audio_prompt(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ReadError, match="cannot read it as audio"):
        read_audio_prompt(tmp_path / "text.wav")
    soundfile.write(tmp_path / "silence.wav", np.zeros(22_050, dtype=np.float32), 22_050)
    with pytest.raises(ReadError, match="no notes heard"):
        read_audio_prompt(tmp_path / "silence.wav")


def test_generate_reads_the_take_as_its_prompt_before_the_model(tmp_path, capsys):
    """The pipeline's checks turn --prompt-audio into the prompt Score; bad takes and
    conflicting options are one line with exit code 2."""
    from tunesmith.cli import main
    from tunesmith.pipeline import check
    from tunesmith.sample import GenerationRequest

    take = tmp_path / "take.wav"
    soundfile.write(take, sung(SONG, 120), 22_050)
    checked = check(GenerationRequest(bars=2, prompt_audio=str(take), tempo=120.0,
                                      programs=["violin"]))
    assert checked.prompt.tracks[0].program == 40
    assert checked.prompt.tracks[0].notes["pitch"].tolist() == [p for *_, p in SONG]
    for args, reason in ((["--prompt-audio", str(tmp_path / "none.wav")], "no such audio file"),
                         (["--prompt-audio", str(take), "--prompt", str(take)], "not both"),
                         (["--prompt-audio", str(tmp_path / "x.mid")], "not an audio file")):
        assert main(["generate", *args, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tunesmith: error:") and "\n" not in err and reason in err, err


def test_reading_a_recording_as_a_score_points_to_prompt_audio(tmp_path):
    soundfile.write(tmp_path / "take.wav", sung(SONG, 120), 22_050)
    with pytest.raises(ReadError, match="--prompt-audio"):
        tunesmith.read(tmp_path / "take.wav")


def test_a_two_second_take_of_one_repeated_note(tmp_path):
    """Four A4s a quarter apart with breaths between (the note is re-struck, its pitch
    never changes); shorter than the tuning window."""
    t = np.arange(2 * 22_050) / 22_050
    take = 0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 0.5) < 0.4)
    soundfile.write(tmp_path / "aaaa.wav", take.astype(np.float32), 22_050)
    heard = read_audio_prompt(tmp_path / "aaaa.wav", tempo=120)
    notes = heard.tracks[0].notes
    assert notes["pitch"].tolist() == [69] * 4 and notes["onset"].tolist() == [0, 480, 960, 1440]
