"""The recipes for the open corpora (datasets/pop909.py, groove.py, lieder.py,
quartets.py) on a slice of each set in tests/data, end to end: what each recipe keeps
(POP909's chords, keys and roles; the Groove kit as GM drums with human timing and
velocities; Lieder lyrics; the quartets' four parts), a tiny model trained on each
prepared set, and a two-"node" torchrun (gloo) run whose ranks agree."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tunesmith
from tunesmith.tokenizer import T, Tokenizer
from tunesmith.train import TrainConfig, train
from tunesmith.train.plot import read_log

from conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "datasets"))
import groove  # noqa: E402
import lieder  # noqa: E402
import pop909  # noqa: E402

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
GM_KIT = set(range(35, 60))  # kick .. ride 2: General MIDI's drum-kit pieces


@pytest.fixture(scope="module")
def open_corpus(tmp_path_factory):
    """tests/data's slices laid out as ../shared/corpus/open is."""
    root = tmp_path_factory.mktemp("open")
    shutil.copytree(DATA / "pop909", root / "pop909")
    for name in ("groove", "lieder", "quartets"):
        shutil.copytree(DATA / name, root / name)
    previous = os.environ.get("TUNESMITH_OPEN_CORPUS")
    os.environ["TUNESMITH_OPEN_CORPUS"] = str(root)
    yield root
    if previous is None:
        del os.environ["TUNESMITH_OPEN_CORPUS"]
    else:
        os.environ["TUNESMITH_OPEN_CORPUS"] = previous


@pytest.fixture(scope="module")
def prepared(open_corpus, tmp_path_factory):
    """Each set prepared by its recipe (POP909 and Groove with chord controls)."""
    out = tmp_path_factory.mktemp("prepared")
    pop909.main(["--out", str(out / "pop909"), "--workers", "1", "--chords"])
    groove.main(["--out", str(out / "groove"), "--workers", "1", "--chords"])  # drums: none
    lieder.main(["--out", str(out / "lieder"), "--workers", "1"])
    lieder.main(["--out", str(out / "quartets"), "--workers", "1"], name="quartets")
    return out


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_pop909_keeps_roles_chords_keys_and_a_downbeat_barline(prepared):
    from tunesmith.harmony.pop909 import read_beats, read_chords, seconds_to_ticks

    counts = manifest(prepared / "pop909")["counts"]
    assert counts["pieces"] == 3 and counts["files_skipped"] == 0
    song = DATA / "pop909" / "098"
    raw = tunesmith.read(song / "098.mid")
    staged = tunesmith.read(prepared / "pop909-staged" / "pop909" / "098.mid")
    assert {t.name: t.program for t in staged.tracks} == {"MELODY": 52, "BRIDGE": 0, "PIANO": 0}
    # chord_midi.txt's labels, read back from the staged file (consecutive repeats merged)
    labels = [c for _, _, c in read_chords(song / "chord_midi.txt")]
    merged = [c for i, c in enumerate(labels) if i == 0 or c != labels[i - 1]]
    from tunesmith.harmony.symbols import table_chords
    assert [c for _, c in table_chords(staged.chords)] == merged
    # the first labelled downbeat now falls on a barline
    times, strength = read_beats(song / "beat_midi.txt")
    downbeat = int(seconds_to_ticks(raw, [times[np.flatnonzero(strength == 2)[0]]])[0])
    shift = int(staged.tracks[0].notes["onset"].min() - raw.tracks[0].notes["onset"].min())
    bar = int(staged.time_signatures["numerator"][0]) * staged.ticks_per_quarter
    assert (downbeat + shift) % bar == 0
    # chord controls are in the shards: the POP909 labels feed training
    tok = Tokenizer.load(prepared / "pop909" / "tokenizer.json")
    ids = np.concatenate([np.fromfile(p, dtype=np.uint16)
                          for p in (prepared / "pop909").glob("*/shard-*.bin")])
    assert tok.config.chords and (tok.vocab.type_of[ids] == T.CHORD).sum() >= len(merged)


def test_groove_drums_are_general_midi_with_human_timing_and_velocities(prepared):
    assert manifest(prepared / "groove")["counts"]["pieces"] == 3
    staged = sorted((prepared / "groove-staged").rglob("*.mid"))   # the reggae beat first
    raw = tunesmith.read(DATA / "groove" / staged[0].relative_to(prepared / "groove-staged" / "groove"))
    assert {22, 26, 55} <= set(raw.tracks[0].notes["pitch"].tolist())    # TD-11's own notes
    for path in staged:
        drums = tunesmith.read(path).tracks[0]
        assert drums.is_drum and set(drums.notes["pitch"].tolist()) <= GM_KIT
        assert len(set(drums.notes["velocity"].tolist())) >= 5          # dynamics kept
    # human timing: onsets as played, not snapped to sixteenths by the recipe
    drums = tunesmith.read(staged[0]).tracks[0]
    assert {42, 46, 49} <= set(drums.notes["pitch"].tolist())            # hats and crash in GM
    np.testing.assert_array_equal(drums.notes["onset"], raw.tracks[0].notes["onset"])
    sixteenth = 480 // 4
    assert (drums.notes["onset"] % sixteenth != 0).mean() > 0.5


def test_lieder_keep_their_words_and_quartets_their_four_parts(prepared):
    for name, pieces in (("lieder", 2), ("quartets", 1)):
        counts = manifest(prepared / name)["counts"]
        assert counts["pieces"] == pieces and counts["files_skipped"] == 0
    song = tunesmith.read(next((DATA / "lieder").rglob("lc5001925.mxl")))
    assert song.tracks[0].lyrics and len(song.tracks) == 3             # voice, piano x 2
    quartet = tunesmith.read(next((DATA / "quartets").rglob("*.mxl")))
    assert [t.program for t in quartet.tracks] == [40, 40, 41, 42]
    rows = [json.loads(line) for line in
            (prepared / "quartets" / "train" / "pieces.jsonl").read_text().splitlines()]
    assert rows[0]["programs"] == [40, 41, 42] and rows[0]["path"].startswith("quartets/")


def tiny_run(steps: int = 30) -> dict:
    return {"model": {"preset": "tiny", "context_length": 64},
            "data": {"transpose": [-2, 2], "infill_fraction": 0.2},
            "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5, "weight_decay": 0.0},
            "train": {"steps": steps, "batch_size": 8, "device": "cpu", "eval_every": 0,
                      "checkpoint_every": steps, "keep_checkpoints": 1, "log_every": 5}}


@pytest.mark.parametrize("name", ["pop909", "groove", "lieder", "quartets"])
def test_a_tiny_model_learns_from_each_prepared_set(prepared, tmp_path, name):
    torch.set_num_threads(1)
    result = train(TrainConfig.from_dict(tiny_run()), tmp_path / "run",
                   data_dir=prepared / name, progress=False)
    losses = [r["loss"] for r in read_log(tmp_path / "run" / "log.jsonl") if "loss" in r]
    assert result.step == 30 and losses[-1] < losses[0] - 1.0, losses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_under_torchrun_train_in_sync(prepared, tmp_path):
    """The README's multi-node command, with two "nodes" on this machine (gloo, CPU)."""
    config = tmp_path / "run.toml"
    config.write_text(TrainConfig.from_dict(tiny_run(steps=20)).to_toml())
    port, run_dir = free_port(), tmp_path / "two-nodes"
    launches = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(node),
         "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", str(port),
         "-m", "tunesmith", "train", "--data", str(prepared / "groove"), "--config", str(config),
         "--out", str(run_dir), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
        for node in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in launches]
    assert [p.returncode for p in launches] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    log = read_log(run_dir / "log.jsonl")
    checks = [r["rank_checksums"] for r in log if "rank_checksums" in r]
    assert checks and all(len(c) == 2 and c[0] == c[1] for c in checks)
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0] - 1.0
    state = json.loads((run_dir / "checkpoints" / "step-00000020" / "state.json").read_text())
    assert state["world_size"] == 2
