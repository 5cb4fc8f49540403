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
