"""The small things a user hits first (issue 12): each a real call, as a user makes it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def test_render_is_callable_every_time_in_one_process(tmp_path):
    """`tunesmith.render(...)` twice, then after importing a render submodule, in a fresh
    process (this one has imported tunesmith.render already)."""
    code = f"""
import tunesmith
from tunesmith.score import Score, Track, make_notes
score = Score(tracks=[Track(name="flute", program=73, notes=make_notes([0, 480], [480, 480], [60, 64]))])
tunesmith.render(score, "mid", r"{tmp_path}", stem="a")
tunesmith.render(score, "mid", r"{tmp_path}", stem="b")
import tunesmith.render.audio
import tunesmith.render.pianoroll as roll
tunesmith.render(score, "mid", r"{tmp_path}", stem="c")
assert tunesmith.render.render is not None and roll.draw_pianoroll
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mid", "b.mid", "c.mid"]


def test_render_callable_when_submodule_imported_first(tmp_path):
    code = f"""
import tunesmith.render.audio
import tunesmith
from tunesmith.score import Score, Track, make_notes
score = Score(tracks=[Track(name="flute", program=73, notes=make_notes([0], [480], [60]))])
tunesmith.render(score, "mid", r"{tmp_path}", stem="a")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.mid").is_file()


@pytest.mark.parametrize("text, expected", [
    ("Em", "E minor"), ("F#m", "F# minor"), ("Bbm", "Bb minor"), ("C", "C major"),
    ("Cmaj", "C major"), ("E minor", "E minor"), ("e minor", "E minor"), ("e", "E minor"),
    ("D dorian", "D dorian"), ("Bb", "Bb major"), ("E flat major", "Eb major"),
    ("F sharp minor", "F# minor"), ("Dmix", "D mixolydian"), ("Ador", "A dorian"),
    ("A aeolian", "A minor"), ("Ebmaj", "Eb major"), ("D-dorian", "D dorian"),
])
def test_key_forms_musicians_write(text, expected):
    from tunesmith.score import key_name, parse_key

    assert key_name(*parse_key(text)) == expected


@pytest.mark.parametrize("text, reason", [
    ("Cm7", "'m7' is not a mode"), ("H minor", "use a tonic and a mode"),
    ("minor", "has no tonic"), ("E blues", "'blues' is not a mode"), ("", "unknown key"),
])
def test_bad_keys_are_one_line_request_errors(text, reason):
    from tunesmith.errors import RequestError
    from tunesmith.score import parse_key

    with pytest.raises(RequestError, match=reason):
        parse_key(text)


def test_a_mode_added_to_the_table_is_parsed(monkeypatch):
    """The parser reads its modes from `MODES`, so the harmony work's new modes need no
    parser change."""
    import tunesmith.score as score

    monkeypatch.setattr(score, "MODES", score.MODES + ("harmonic minor",))
    assert score.parse_key("E harmonic minor") == (4, len(score.MODES) - 1)
    assert score.parse_key("E harm") == (4, len(score.MODES) - 1)


@pytest.mark.parametrize("text, meter, qpm", [
    ("72", None, 72), ("72", (4, 4), 72), ("72", (6, 8), 108), ("72", (12, 8), 108),
    ("72", (3, 8), 72), ("72 dotted-quarter", None, 108), ("72 dotted quarters", (4, 4), 108),
    ("72 half", None, 144), ("72 eighth", (6, 8), 36), ("72 quarter", (6, 8), 72),
    ("q=72", (6, 8), 72), ("q.=72", None, 108), ("dotted quarter = 72", None, 108),
    ("h = 60", None, 120), ("96 bpm", None, 96),
])
def test_tempo_in_the_beat_a_musician_counts(text, meter, qpm):
    from tunesmith.sample.tempo import parse_tempo

    assert parse_tempo(text, meter) == pytest.approx(qpm)


@pytest.mark.parametrize("text", ["", "abc", "72 furlongs", "nan", "inf", "-120", "0",
                                  "1e308", "q=", "72 dotted", "5000"])
def test_bad_tempos_are_request_errors(text):
    from tunesmith.errors import RequestError
    from tunesmith.sample.tempo import parse_tempo

    with pytest.raises(RequestError, match="tempo"):
        parse_tempo(text)


@pytest.mark.parametrize("args, reason", [
    (["--seed", "99999999999999999999"], "seed 99999999999999999999 is outside 0 to"),
    (["--seed", "-1"], "seed -1 is outside"),
    (["--seed", str(2**63 - 2**32 - 2), "--num-samples", "4"], "seed + num_samples"),
    (["--num-samples", "99999999999999999999"], "more than 1,000,000 drafts"),
    (["--temperature", "nan"], "temperature must be a finite number"),
    (["--top-p", "nan"], "top_p must be a finite number"),
    (["--repetition-penalty", "inf"], "repetition_penalty must be a finite number"),
    (["--key", ""], "key is empty"), (["--time-signature", ""], "time signature is empty"),
    (["--time-signature", "999999999999999999999/4"], "is not a meter"),
    (["--range", ""], "pitch range is empty"),
    (["--tempo", "72 furlongs"], "bad tempo"), (["--tempo", "nan"], "bad tempo"),
    (["--key", "Em7"], "'m7' is not a mode"), (["--prompt", ""], "prompt is empty"),
    (["--notes-per-bar", "99999999999999999999-99999999999999999999"], "notes per bar"),
])
def test_malformed_requests_are_one_line_before_the_model_loads(args, reason, tmp_path, capsys):
    from tunesmith.cli import main

    assert main(["generate", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tunesmith: error:") and "\n" not in err and reason in err, err
    assert not (tmp_path / "out").exists()


def test_six_eight_at_72_lasts_what_a_musician_expects(tmp_path):
    """`--tempo 72` in 6/8 counts dotted quarters: 2 bars = 4 beats at 72 = 3.33 s (a
    quarter-note reading would make it 5 s); the output line names the unit. The draft
    also carries the model's licence."""
    result = subprocess.run(
        [sys.executable, "-m", "tunesmith", "generate", "--bars", "2", "--time-signature",
         "6/8", "--tempo", "72", "--program", "flute", "--format", "mid,musicxml",
         "--out", str(tmp_path)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "6/8 at 72 dotted-quarter bpm (108 qpm)" in result.stdout
    import json

    import tunesmith

    score = tunesmith.read(tmp_path / "draft-s0.mid")
    assert score.tempo_map()["qpm"][0] == pytest.approx(108, abs=0.01)
    velocities = np.concatenate([t.notes["velocity"] for t in score.tracks])
    assert len(np.unique(velocities)) >= 3  # dynamics: the model alone writes one velocity
    assert float(score.ticks_to_seconds(score.bar_starts(3 * 6 * 240)[2])) == pytest.approx(10 / 3, abs=0.01)
    record = json.loads((tmp_path / "draft-s0.json").read_text())
    assert record["request"]["tempo"] == 108
    # the default model's licence is non-commercial: every draft says so, where users look
    assert record["model_licence"].startswith("non-commercial")
    assert b"licence: non-commercial" in (tmp_path / "draft-s0.mid").read_bytes()
    assert "licence: non-commercial" in (tmp_path / "draft-s0.musicxml").read_text()


@pytest.mark.parametrize("args, reason", [
    (["--device", "nonsense"], "'nonsense' is not a device"),
    (["--max-copied-bars", "nan"], "max copied bars must be a number of bars"),
    (["--max-copied-bars", "-1"], "max copied bars must be a number of bars"),
])
def test_bad_device_and_originality_threshold_are_one_line(args, reason, tmp_path, capsys):
    from tunesmith.cli import main

    assert main(["generate", "--bars", "1", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tunesmith") and "error:" in err and "\n" not in err and reason in err, err
    assert not (tmp_path / "out").exists()
