"""`tunesmith prepare`: manifests, resume, stable splits, cluster parts, the CLI."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import tunesmith.io
from tunesmith.cli import main
from tunesmith.prepare import PrepareConfig, merge, prepare
from tunesmith.prepare.pieces import content_hash, split_of
from tunesmith.tokenizer import Tokenizer

DATA = Path(__file__).parent / "data"

REAL = DATA / "real-midi"
GOOD_MIDI = ["CPJKU__partitura/mozart_k265_var1.mid", "kovaxis__midly/Levels.mid",
             "jazz-soft__test-midi-files/test-all-gm-percussion.mid",
             "Natooz__MidiTok/6338816_Etude No. 4.mid", "Yikai-Liao__symusic/issue78_dump_abc.mid",
             "jazz-soft__test-midi-files/test-multichannel-chords-3.mid"]


def _corpus(root: Path, names=GOOD_MIDI) -> Path:
    """Copy real files into ``root/corpus`` (a folder of the given MIDI files)."""
    folder = root / "corpus"
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(REAL / name, folder / Path(name).name)
    return folder


def _output_bytes(out: Path) -> dict[str, bytes]:
    """Every file a prepare run produced, except its work folder."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and "work" not in p.relative_to(out).parts}


@pytest.fixture
def hostile_reader(monkeypatch):
    """A reader that hangs on files named hang.mid and kills its process on crash.mid
    (the workers are forked, so they inherit the patch)."""
    real = tunesmith.io.read_pieces

    def reader(path):
        name = Path(path).name
        if name == "hang.mid":
            time.sleep(3600)
        if name == "crash.mid":
            os._exit(9)
        yield from real(path)

    monkeypatch.setattr(tunesmith.io, "read_pieces", reader)


def test_manifest_lists_pieces_duplicates_and_every_bad_file(tmp_path, hostile_reader):
    folder = _corpus(tmp_path)
    shutil.copy(REAL / GOOD_MIDI[0], folder / "copy_of_mozart.mid")        # a duplicate
    shutil.copy(REAL / "jazz-soft__test-midi-files/test-not-a-midi-file.mid", folder / "text.mid")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "hang.mid").write_bytes(b"")
    (folder / "crash.mid").write_bytes(b"")
    (folder / "notes.txt").write_text("not music")                           # not walked
    out = tmp_path / "out"

    start = time.monotonic()
    manifest = prepare(PrepareConfig([folder], timeout_s=3), out, progress=False)
    assert time.monotonic() - start < 60  # the hanging file did not hold the run

    counts = manifest["counts"]
    assert counts["files"] == 11 and counts["files_skipped"] == 4
    skipped = {Path(e["path"]).name: e["reason"] for e in manifest["skipped_files"]}
    assert set(skipped) == {"text.mid", "empty.mid", "hang.mid", "crash.mid"}
    assert "MThd" in skipped["text.mid"] and "empty" in skipped["empty.mid"]
    assert skipped["hang.mid"] == "timed out after 3 s"
    assert "crashed" in skipped["crash.mid"]
    # the copy is dropped, the file that sorts first is kept
    assert [(d["path"], d["same_as"]["path"]) for d in manifest["duplicates"]] == [
        ("corpus/mozart_k265_var1.mid", "corpus/copy_of_mozart.mid")]
    assert counts["pieces"] == len(GOOD_MIDI)
    assert counts["pieces"] == sum(s["pieces"] for s in counts["splits"].values())

    # every stored piece is exactly the tokenizer's encoding of what the reader gives
    tokenizer = Tokenizer.load(out / "tokenizer.json")
    seen = 0
    for split in ("train", "val", "test"):
        index = np.load(out / split / "index.npy")
        metas = [json.loads(line) for line in (out / split / "pieces.jsonl").read_text().splitlines()]
        assert len(metas) == len(index) == counts["splits"][split]["pieces"]
        assert [(m["path"], m["piece"]) for m in metas] == sorted((m["path"], m["piece"]) for m in metas)
        for row, meta in zip(index, metas):
            shard = np.memmap(out / split / f"shard-{row['shard']:05d}.bin", dtype="uint16", mode="r")
            ids = shard[row["offset"]:row["offset"] + row["length"]]
            score = tunesmith.io.read(folder / Path(meta["path"]).name, meta["piece"])
            assert np.array_equal(ids, tokenizer.encode(score))
            assert meta["hash"] == content_hash(score)
            assert split_of(meta["hash"], 0.02, 0.02) == split
            assert meta["notes"] == score.note_count() and meta["tokens"] == len(ids)
            assert meta["bars"] == len(tokenizer.bar_offsets(ids))
            seen += 1
    assert seen == counts["pieces"]


def test_a_tunebook_gives_one_piece_per_tune(prepared_corpus):
    tunes = [json.loads(line) for split in ("train", "val", "test")
             for line in (prepared_corpus / split / "pieces.jsonl").read_text().splitlines()
             if "oneills_excerpt.abc" in line]
    assert sorted(m["piece"] for m in tunes) == [0, 1, 2, 3]
    assert len({m["hash"] for m in tunes}) == 4 and {m["meter"] for m in tunes} >= {"2/4", "3/4"}
    assert all(m["title"] for m in tunes)


def test_interrupted_run_resumes_to_identical_bytes(tmp_path):
    folder = _corpus(tmp_path)
    config = PrepareConfig([folder], shard_tokens=2000)  # several shards per split
    whole = prepare(config, tmp_path / "whole", progress=False)
    assert whole["counts"]["splits"]["train"]["shards"] > 1

    finished = []

    def interrupt_after_three(name):
        finished.append(name)
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(config, tmp_path / "resumed", workers=2, on_file=interrupt_after_three)
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    again = []
    prepare(config, tmp_path / "resumed", progress=False, on_file=again.append)
    # only files unfinished at the interrupt are read again
    assert again and not set(again) & set(finished)
    assert _output_bytes(tmp_path / "resumed") == _output_bytes(tmp_path / "whole")


def test_adding_files_never_moves_a_piece_to_another_split(tmp_path):
    folder = _corpus(tmp_path, GOOD_MIDI[:3])
    before = prepare(PrepareConfig([folder], val_fraction=0.3, test_fraction=0.3),
                     tmp_path / "before", progress=False)
    for name in GOOD_MIDI[3:]:
        shutil.copy(REAL / name, folder)
    after = prepare(PrepareConfig([folder], val_fraction=0.3, test_fraction=0.3),
                    tmp_path / "after", progress=False)
    assert after["counts"]["pieces"] > before["counts"]["pieces"]

    def splits(out):
        return {(m["path"], m["piece"]): split for split in ("train", "val", "test")
                for m in map(json.loads, (out / split / "pieces.jsonl").read_text().splitlines())}

    old, new = splits(tmp_path / "before"), splits(tmp_path / "after")
    assert len({*old.values()}) > 1  # the check means something only if splits differ
    assert {key: new[key] for key in old} == old


def test_split_fractions_follow_the_hash():
    rng = np.random.default_rng(0)
    digests = [rng.bytes(16).hex() for _ in range(20000)]
    chosen = [split_of(d, 0.05, 0.1) for d in digests]
    assert chosen.count("test") / len(chosen) == pytest.approx(0.1, abs=0.01)
    assert chosen.count("val") / len(chosen) == pytest.approx(0.05, abs=0.01)


def test_cluster_parts_merge_into_the_single_run_bytes(tmp_path):
    folder = _corpus(tmp_path)
    # a duplicate of Levels.mid (in part 3) that falls in part 1: merge must drop it
    shutil.copy(REAL / GOOD_MIDI[1], folder / "zz_dup.mid")
    (folder / "broken.mid").write_bytes(b"MThd")
    single = prepare(PrepareConfig([folder]), tmp_path / "single", progress=False)
    parts = []
    for i in (1, 2, 3):
        out = tmp_path / f"part{i}"
        prepare(PrepareConfig([folder], part=(i, 3)), out, progress=False)
        parts.append(out)
    files_per_part = [json.loads((p / "manifest.json").read_text())["counts"]["files"] for p in parts]
    assert sum(files_per_part) == single["counts"]["files"] and min(files_per_part) > 0
    assert not json.loads((parts[0] / "manifest.json").read_text())["duplicates"]
    merged = merge(parts, tmp_path / "merged")
    assert [d["path"] for d in merged["duplicates"]] == ["corpus/zz_dup.mid"]
    assert _output_bytes(tmp_path / "merged") == _output_bytes(tmp_path / "single")

    with pytest.raises(Exception, match="1/3 .. 3/3"):
        merge(parts[:2], tmp_path / "incomplete")


def test_cli_prepares_and_reports_bad_input_in_one_line(tmp_path, capsys):
    folder = _corpus(tmp_path, GOOD_MIDI[:2])
    assert main(["prepare", str(folder), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "2 files, 2 pieces" in capsys.readouterr().out
    assert main(["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing: no such file or folder" in err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("precious")
    assert main(["prepare", str(folder), "--out", str(tmp_path / "taken"), "--quiet"]) == 2
    assert "not a prepared corpus" in capsys.readouterr().err
    assert (tmp_path / "taken" / "thesis.tex").read_text() == "precious"
    assert main(["prepare", str(folder), "--out", str(tmp_path / "o3"), "--shard", "4/3"]) == 2


def test_content_hash_ignores_resolution_and_leading_silence_not_notes():
    score = tunesmith.io.read(DATA / "bach_bwv66.6.mxl")
    digest = content_hash(score)
    later = score.copy()
    for track in later.tracks:
        track.notes["onset"] += 4 * score.ticks_per_quarter      # a bar of silence first
    assert content_hash(later) == digest
    assert content_hash(score.resample(10080)) == digest
    changed = score.copy()
    changed.tracks[0].notes["pitch"][5] += 1
    assert content_hash(changed) != digest
