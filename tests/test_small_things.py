"""The small things a user hits first (issue 12): each a real call, as a user makes it."""
from __future__ import annotations

import subprocess
import sys

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
