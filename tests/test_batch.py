"""`tunesmith batch`: a job file drafted in one run, going on past bad jobs, resumable
after a crash or Ctrl-C, never overwriting."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tunesmith
from tunesmith import batch
from tunesmith.cli import main
from tunesmith.model_folder import save_model_folder
from tunesmith.sample import GenerationRequest, generate

DATA = Path(__file__).parent / "data"

JOBS = [
    {"name": "dorian", "bars": 2, "key": "D dorian", "programs": ["flute"], "num_samples": 2, "seed": 5},
    {"bars": 0},
    "this line is not JSON",
    {"name": "words", "lyrics": "Twin-kle twin-kle lit-tle star", "seed": 7, "format": "mid,musicxml"},
    {"name": "more", "prompt": "bach_bwv66.6.mxl", "bars": 1, "seed": 3},
]


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    model, tok = tiny_model
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_model_folder(folder, model, tok, card={"note": "tiny test model"})
    return folder


def _job_file(folder: Path) -> Path:
    path = folder / "jobs.jsonl"
    lines = ["# two good jobs, two bad ones, one with a prompt"]
    lines += [job if isinstance(job, str) else json.dumps(job) for job in JOBS]
    path.write_text("\n".join(lines) + "\n")
    (folder / "bach_bwv66.6.mxl").write_bytes((DATA / "bach_bwv66.6.mxl").read_bytes())
    return path


def _journal(out: Path) -> dict:
    records = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    return {r["name"]: r for r in records}


def _mtimes(out: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in out.rglob("draft-*")}


def test_a_batch_goes_past_bad_jobs_and_resumes_without_rewriting(model_dir, tiny_model, tmp_path, capsys):
    jobs, out = _job_file(tmp_path), tmp_path / "out"
    argv = ["batch", str(jobs), "--model", str(model_dir), "--out", str(out)]
    assert main(argv) == 1  # two jobs failed; the others were drafted
    err = capsys.readouterr().err
    assert "bars must be 1-256" in err and "not a JSON object" in err
    journal = _journal(out)
    assert {n: r["status"] for n, r in journal.items()} == {
        "dorian": "done", "job-0003": "failed", "job-0004": "failed", "words": "done", "more": "done"}
    assert sorted(p.name for p in (out / "dorian").iterdir()) == [
        "draft-s5.json", "draft-s5.mid", "draft-s6.json", "draft-s6.mid"]
    assert (out / "words" / "draft-s7.musicxml").is_file()
    # a job's draft is the draft `generate` makes of the same request and seed
    model, tok = tiny_model
    alone = generate(model, tok, GenerationRequest(bars=2, key="D dorian", programs=["flute"], seed=6))[0]
    written = tunesmith.read(out / "dorian" / "draft-s6.mid")
    np.testing.assert_array_equal(written.tracks[0].notes["pitch"], alone.score.tracks[0].notes["pitch"])
    words = tunesmith.read(out / "words" / "draft-s7.mid")
    assert [lyric.text for _, lyric in words.all_lyrics()][:2] == ["Twin-", "kle"]

    before = _mtimes(out)
    assert main(argv) == 1  # done jobs are skipped, nothing is written again
    assert "3 already done" in capsys.readouterr().out
    assert _mtimes(out) == before

    # a crash after a job's files were written but before its journal line: the rerun
    # finds the same drafts on disk and keeps them
    lines = (out / "batch.jsonl").read_text().splitlines()
    (out / "batch.jsonl").write_text("\n".join(l for l in lines if '"dorian"' not in l) + "\n")
    assert main(argv) == 1
    assert _journal(out)["dorian"]["status"] == "done" and _mtimes(out) == before

    # a file of another draft under a job's name is never overwritten: the job fails
    foreign = out / "more" / "draft-s3.json"
    foreign.write_text('{"request": {"seed": 3}}')
    lines = (out / "batch.jsonl").read_text().splitlines()
    (out / "batch.jsonl").write_text("\n".join(l for l in lines if '"more"' not in l) + "\n")
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert foreign.read_text() == '{"request": {"seed": 3}}'


def test_an_interrupted_batch_goes_on_where_it_stopped(model_dir, tiny_model, tmp_path, monkeypatch):
    model, tok = tiny_model
    jobs = batch.read_jobs(_job_file(tmp_path))
    out = tmp_path / "out"
    from tunesmith import sample

    real, calls = sample.generate, []

    def stop_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sample, "generate", stop_at_the_second)
    from tunesmith.drafts import ModelInfo
    from tunesmith.pipeline import LoadedModel

    info = ModelInfo(path=str(model_dir), name="tiny", weights_sha256="x" * 64, corpus="tiny")
    loaded = LoadedModel(model, tok, info)
    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(jobs, out, loaded, ["mid"])
    assert list(_journal(out)) == ["dorian", "job-0003", "job-0004"]  # the second draft job was cut
    monkeypatch.setattr(sample, "generate", real)
    summary = batch.run_batch(jobs, out, loaded, ["mid"])
    assert summary["skipped"] == 1 and summary["done"] == 2 and summary["failed"] == 2


def test_a_job_file_with_a_name_twice_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"name": "a"}\n{"name": "a"}\n')
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
