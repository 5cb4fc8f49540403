"""Training on a real (tiny) prepared corpus: the loss falls, runs resume bit for bit,
two gloo processes stay in sync, failures stop cleanly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from tunesmith.cli import main
from tunesmith.data import TokenWindows
from tunesmith.errors import ModelError, RequestError, WriteError
from tunesmith.model import TransformerLM
from tunesmith.model_folder import load_model_folder
from tunesmith.tokenizer import T
from tunesmith.train import TrainConfig, train
from tunesmith.train.checkpoint import checkpoint_model, list_checkpoints
from tunesmith.train.plot import read_log

CONTEXT = 64


def run_config(**train_overrides) -> dict:
    """A tiny run that takes a few seconds on two cores."""
    return {
        "model": {"preset": "tiny", "context_length": CONTEXT},
        "data": {"transpose": [-3, 3], "infill_fraction": 0.5},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5, "weight_decay": 0.0},
        "train": {"steps": 40, "batch_size": 8, "device": "cpu", "eval_every": 20,
                  "eval_batches": 4, "checkpoint_every": 10, "keep_checkpoints": 2,
                  "log_every": 5, **train_overrides},
    }


def write_config(path: Path, **train_overrides) -> Path:
    path.write_text(TrainConfig.from_dict(run_config(**train_overrides)).to_toml())
    return path


# One thread per process: the models are tiny, and on a busy two-core machine a second
# spinning thread per process slows training several times over.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunesmith", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=ONE_THREAD)


def final_weights(run_dir: Path) -> dict:
    return load_file(run_dir / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def trained_run(prepared_corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    config = TrainConfig.from_dict(run_config(steps=60, checkpoint_every=20))
    result = train(config, run_dir, data_dir=prepared_corpus, progress=False)
    return run_dir, result


def test_the_loss_falls_on_a_tiny_corpus(trained_run):
    run_dir, result = trained_run
    losses = [r["loss"] for r in read_log(run_dir / "log.jsonl") if "loss" in r]
    assert losses[0] > 5.5  # about ln(vocabulary) at the start
    assert np.mean(losses[-3:]) < losses[0] - 2.0
    val = [r["val_loss"] for r in read_log(run_dir / "log.jsonl") if "val_loss" in r]
    assert len(val) == 3 and val[-1] < losses[0] - 1.5
    assert result.step == 60 and result.model_dir == run_dir / "model"
    assert (run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in list_checkpoints(run_dir)] == ["step-00000040", "step-00000060"]
    record = next(r for r in read_log(run_dir / "log.jsonl") if r.get("step") == 10)
    assert record["tokens_per_s"] > 0 and record["lr"] > 0 and record["mfu"] is None


def test_infill_windows_are_learned(trained_run, prepared_corpus):
    """The loss on the middle bars of infilling windows (what follows FillStart) falls."""
    run_dir, _ = trained_run
    trained, tokenizer = load_model_folder(run_dir / "model")
    config = TrainConfig.load(run_dir / "config.toml")
    torch.manual_seed(config.train.seed)  # the run's initial weights
    untrained = TransformerLM(trained.config).eval()
    windows = TokenWindows(prepared_corpus, "val", context_length=CONTEXT, seed=7,
                           infill_fraction=1.0)
    batch = torch.from_numpy(windows.batch(0, 32))
    fill_start = tokenizer.vocab.id(T.FILL_START)
    after_fill = (batch == fill_start).long().cumsum(1).bool()
    targets = batch[:, 1:].masked_fill(~after_fill[:, :-1], tokenizer.pad_id)
    assert (targets != tokenizer.pad_id).sum() > 100

    def middle_loss(model):
        with torch.no_grad():
            logits = model(batch[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                               ignore_index=tokenizer.pad_id).item()

    before, after = middle_loss(untrained), middle_loss(trained)
    assert after < before - 1.5, (before, after)


def test_a_checkpoint_exports_to_a_model_folder(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    checkpoint = run_dir / "checkpoints" / "step-00000040"
    assert main(["export", str(checkpoint), "--out", str(tmp_path / "m40")]) == 0
    exported, _ = load_model_folder(tmp_path / "m40")
    original, _, state = checkpoint_model(checkpoint)
    assert state["step"] == 40
    ids = torch.arange(1, 33).reshape(1, 32)
    with torch.no_grad():
        assert torch.equal(exported(ids), original(ids))
    assert main(["export", str(checkpoint), "--out", str(tmp_path / "m40")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_killed_run_resumes_to_exactly_the_weights_of_an_uninterrupted_one(
        prepared_corpus, tmp_path):
    # two micro-batches per step, so the data position counts micro-batches too
    config = write_config(tmp_path / "run.toml", steps=60, eval_every=0, batch_size=4,
                          grad_accum=2)
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    common = ["--data", prepared_corpus, "--config", config, "--no-progress"]
    train(TrainConfig.load(config), whole, data_dir=prepared_corpus, progress=False)

    proc = subprocess.Popen([sys.executable, "-m", "tunesmith", "train", *map(str, common),
                             "--out", str(broken)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ONE_THREAD)
    first = broken / "checkpoints" / "step-00000010"
    deadline = time.monotonic() + 60
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists() and not (broken / "model").exists(), "the run was not cut short"

    resumed = cli("train", "--out", broken, "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    a, b = final_weights(whole), final_weights(broken)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[name], b[name]) for name in a)
    steps = [r["step"] for r in read_log(broken / "log.jsonl") if "loss" in r]
    assert steps == sorted(set(steps))  # records of re-run steps were replaced, not doubled


def test_ctrl_c_checkpoints_stops_and_says_how_to_resume(prepared_corpus, tmp_path):
    config = write_config(tmp_path / "run.toml", steps=400, checkpoint_every=200)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tunesmith", "train", "--data",
                             str(prepared_corpus), "--config", str(config), "--out", str(run_dir),
                             "--no-progress"], stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    deadline = time.monotonic() + 60
    log = run_dir / "log.jsonl"
    while time.monotonic() < deadline and not (log.exists() and '"loss"' in log.read_text()):
        time.sleep(0.01)  # a step is done (on a busy machine the log opens well before it)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    [checkpoint] = list_checkpoints(run_dir)
    stopped_at = json.loads((checkpoint / "state.json").read_text())["step"]
    assert 0 < stopped_at < 400


def test_two_gloo_processes_train_in_sync(prepared_corpus, tmp_path):
    config = write_config(tmp_path / "run.toml", steps=20)
    run_dir = tmp_path / "ddp"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "tunesmith", "train", "--data", str(prepared_corpus), "--config", str(config),
         "--out", str(run_dir), "--no-progress"],
        capture_output=True, text=True, timeout=180, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr[-3000:]
    log = read_log(run_dir / "log.jsonl")
    checks = [r["rank_checksums"] for r in log if "rank_checksums" in r]
    assert len(checks) == 2 and all(len(c) == 2 and c[0] == c[1] for c in checks)
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0] - 1.0
    # Both processes' batches counted: 2 x 8 windows of 64 tokens per step.
    assert [r["tokens_seen"] for r in log if "loss" in r][-1] == 20 * 2 * 8 * CONTEXT
    state = json.loads((run_dir / "checkpoints" / "step-00000020" / "state.json").read_text())
    assert state["world_size"] == 2
    assert load_file(run_dir / "checkpoints" / "step-00000020" / "optimizer.safetensors"
                     ).keys() >= {"rng.cpu.0", "rng.cpu.1"}
    # ...and a 2-process run resumes only with 2 processes.
    again = cli("train", "--out", run_dir, "--resume")
    assert again.returncode == 2 and "same number" in again.stderr


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
        prepared_corpus, tmp_path):
    data = run_config(steps=10, checkpoint_every=1)
    data["optim"].update(lr=1e30, min_lr=1e30, warmup_steps=0, grad_clip=0.0)
    run_dir = tmp_path / "nan"
    with pytest.raises(ModelError, match="not finite") as error:
        train(TrainConfig.from_dict(data), run_dir, data_dir=prepared_corpus, progress=False)
    assert "step-00000001, is kept" in str(error.value)
    assert [p.name for p in list_checkpoints(run_dir)] == ["step-00000001"]
    assert "error" in read_log(run_dir / "log.jsonl")[-1]
    assert not (run_dir / "model").exists()


def test_run_configs_round_trip_and_reject_mistakes(tmp_path):
    config = TrainConfig.from_dict(run_config())
    path = tmp_path / "c.toml"
    config.save(path)
    assert TrainConfig.load(path).to_dict() == config.to_dict()
    for example in Path(__file__).parent.parent.glob("configs/*.toml"):
        TrainConfig.load(example)  # every shipped example is valid
    bad = [({"train": {"stpes": 5}}, "unknown keys in \\[train\\]: stpes"),
           ({"train": {"steps": "many"}}, "train.steps must be int"),
           ({"model": {"preset": "huge"}}, "unknown model preset"),
           ({"model": {"width": 3}}, "unknown \\[model\\] keys: width"),
           ({"optim": {"lr": 1e-3, "min_lr": 1e-2}}, "min_lr <= lr"),
           ({"loop": {}}, "unknown tables loop")]
    for data, reason in bad:
        with pytest.raises(RequestError, match=reason):
            TrainConfig.from_dict(data, source="x.toml")
    path.write_text("[train\nsteps = 3")
    with pytest.raises(RequestError, match="not a readable TOML"):
        TrainConfig.load(path)


def test_a_run_folder_is_never_reused_silently_and_resume_checks_the_config(
        trained_run, prepared_corpus, tmp_path):
    run_dir, _ = trained_run
    config = TrainConfig.from_dict(run_config())
    with pytest.raises(WriteError, match="--resume"):
        train(config, run_dir, data_dir=prepared_corpus, progress=False)
    with pytest.raises(RequestError, match="train.steps"):
        train(config, run_dir, data_dir=prepared_corpus, resume=True, progress=False)
    with pytest.raises(ModelError, match="nothing to resume"):
        train(None, tmp_path / "empty", resume=True, progress=False)
    missing = cli("train", "--data", tmp_path / "nowhere", "--config",
                  write_config(tmp_path / "c.toml"), "--out", tmp_path / "new")
    assert missing.returncode == 2 and "no such prepared corpus" in missing.stderr
