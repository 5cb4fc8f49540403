"""Long prompts work as short ones do: a part written against 128 bars, bars 100-103 of
128 redone, each with the rest of the piece read back unchanged; and the drafting path
is one: batch drafts carry what generate's do, a bad format fails before the model."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import tunesmith
from tunesmith import pipeline
from tunesmith.cli import main
from tunesmith.sample import GenerationRequest

BARS = 128
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def model():
    return pipeline.open_model()


@pytest.fixture(scope="module")
def long_melody(tmp_path_factory):
    """A real reel (O'Neill's) played over and over to 128 bars, as a MIDI file."""
    tune = tunesmith.read(DATA / "oneills_excerpt.abc")
    bar = _bar_ticks(tune)
    notes = tune.tracks[0].notes
    whole = int(notes["onset"].max() // bar)          # complete bars of the tune
    notes = notes[notes["onset"] + notes["duration"] <= whole * bar]
    copies = -(-BARS // whole)
    tiled = np.concatenate([notes.copy() for _ in range(copies)])
    tiled["onset"] += np.repeat(np.arange(copies) * whole * bar, len(notes))
    tiled = tiled[tiled["onset"] + tiled["duration"] <= BARS * bar]
    score = tune.copy()
    score.tracks = score.tracks[:1]
    score.tracks[0].notes = tiled
    score.time_signatures = score.time_signatures[:1]
    score.key_signatures = score.key_signatures[:1]
    score.tempos = score.tempos[:1]
    path = tmp_path_factory.mktemp("long") / "reel128.mid"
    tunesmith.write(score, path)
    return path


def _bar_ticks(score) -> int:
    starts = score.bar_starts()
    return int(starts[1] - starts[0])


def _notes_by_bar(score, track, bar_ticks):
    notes = track.notes
    return {int(b): sorted(zip(notes["onset"][notes["onset"] // bar_ticks == b].tolist(),
                               notes["pitch"][notes["onset"] // bar_ticks == b].tolist(),
                               notes["duration"][notes["onset"] // bar_ticks == b].tolist()))
            for b in np.unique(notes["onset"] // bar_ticks)}


def test_a_bass_line_for_128_bars_leaves_the_melody_as_written(model, long_melody):
    prompt = tunesmith.read(long_melody)
    assert len(prompt.bar_starts()) == BARS
    results = tunesmith.generate(GenerationRequest(prompt=str(long_melody), infill_program="acoustic bass",
                                                   seed=4), model=model)
    piece = results[0].draft.score
    melody = [t for t in piece.tracks if t.program == prompt.tracks[0].program and not t.is_drum][0]
    assert np.array_equal(melody.notes, prompt.tracks[0].notes)   # the prompt, note for note
    bass = [t for t in piece.tracks if t.program == 32]
    assert len(bass) == 1
    bar = _bar_ticks(piece)
    bars_with_bass = np.unique(bass[0].notes["onset"] // bar)
    assert len(bars_with_bass) == BARS                              # every bar, the last ones too
    assert bass[0].notes["onset"].max() + 0 < BARS * bar
    assert len(piece.bar_starts()) == BARS


def test_bars_100_to_103_of_128_are_redrafted_and_every_other_bar_kept(model, long_melody):
    prompt = tunesmith.read(long_melody)
    results = tunesmith.generate(GenerationRequest(prompt=str(long_melody), infill_bars="100-103", seed=1),
                                 model=model)
    piece = results[0].draft.score
    bar = _bar_ticks(prompt)
    before = _notes_by_bar(prompt, prompt.tracks[0], bar)
    after = _notes_by_bar(piece, piece.tracks[0], bar)
    redone = set(range(99, 103))                                    # bars 100-103, from 0
    assert {b: n for b, n in before.items() if b not in redone} == {b: n for b, n in after.items() if b not in redone}
    assert all(b in after for b in redone)                          # the span holds new notes
    assert any(before.get(b) != after.get(b) for b in redone)


def _job_file(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(job) for job in [
        {"name": "a", "bars": 4, "key": "D dorian", "programs": ["flute"], "seed": 3},
        {"name": "b", "bars": 4, "key": "G major", "num_samples": 2, "seed": 5},
        {"name": "c", "bars": 3, "time_signature": "3/4", "seed": 9},
    ]) + "\n")
    return path


def test_batch_drafts_carry_generates_provenance_and_originality(tmp_path):
    jobs = _job_file(tmp_path)
    assert main(["batch", str(jobs), "--out", str(tmp_path / "batch")]) == 0
    assert main(["generate", "--bars", "4", "--key", "D dorian", "--program", "flute", "--seed", "3",
                 "--out", str(tmp_path / "single")]) == 0
    from_batch = json.loads((tmp_path / "batch" / "a" / "draft-s3.json").read_text())
    from_generate = json.loads((tmp_path / "single" / "draft-s3.json").read_text())
    assert set(from_batch) == set(from_generate)
    for field in ("training_corpus", "model_licence", "weights_sha256", "request", "originality"):
        assert from_batch[field] == from_generate[field], field
    assert from_batch["training_corpus"] != "unknown" and from_batch["originality"] is not None
    assert "non-commercial" in from_batch["model_licence"]
    midi_a = (tmp_path / "batch" / "a" / "draft-s3.mid").read_bytes()
    assert midi_a == (tmp_path / "single" / "draft-s3.mid").read_bytes()


def test_two_shards_of_a_batch_write_exactly_the_files_of_one_run(tmp_path):
    jobs = _job_file(tmp_path)
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    assert main(["batch", str(jobs), "--out", str(whole)]) == 0
    for shard in ("1/2", "2/2"):
        assert main(["batch", str(jobs), "--out", str(sharded), "--shard", shard]) == 0
    assert main(["batch", str(jobs), "--out", str(sharded), "--merge"]) == 0

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*.mid")}

    assert files(whole) == files(sharded) and len(files(whole)) == 4
    merged = [json.loads(line)["name"] for line in (sharded / "batch.jsonl").read_text().splitlines()]
    assert merged == ["a", "b", "c"] and not list(sharded.glob("batch.shard-*"))


def test_a_bad_format_is_refused_before_the_model_loads(tmp_path, monkeypatch, capsys):
    loaded = []
    real = pipeline.open_model
    monkeypatch.setattr(pipeline, "open_model", lambda *a, **k: loaded.append(1) or real(*a, **k))
    started = time.perf_counter()
    code = main(["generate", "--bars", "4", "--format", "mid,mp3", "--out", str(tmp_path)])
    elapsed = time.perf_counter() - started
    assert code == 2 and not loaded and elapsed < 2.0
    assert "unknown format 'mp3'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
