"""`prepare` on absurd pieces: long silences are cut to two empty bars, pieces that need
far too many tokens a note are skipped with the reason, and damaged files give the same
shards in every run."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tunesmith.io import read, write
from tunesmith.prepare import PrepareConfig, prepare
from tunesmith.prepare.silence import MAX_EMPTY_BARS, cap_silences
from tunesmith.score import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track, make_notes

DATA = Path(__file__).parent / "data"
BAR = 4 * 480  # ticks of a 4/4 bar at 480 per quarter


def _two_notes_an_hour_apart() -> Score:
    """Bar 1 and bar 1,001 (about 33 minutes at 120 qpm), a 3/4 meter from bar 500 on."""
    score = Score(480, [Track("Piano", notes=make_notes([0, 1000 * BAR + 480], [480, 960],
                                                         [60, 64]))])
    score.time_signatures = np.array([(0, 4, 4), (499 * BAR, 3, 4)],
                                     dtype=TIME_SIGNATURE_DTYPE)
    return score


def test_long_silences_keep_two_empty_bars_and_every_position_in_its_bar():
    score = _two_notes_an_hour_apart()
    capped, removed = cap_silences(score)
    starts = capped.bar_starts()
    assert len(starts) == 1 + MAX_EMPTY_BARS + 1 and removed == len(score.bar_starts()) - 4
    onsets = capped.tracks[0].notes["onset"]
    # the second note: beat 2 of the bar after the two kept empty bars, still in 3/4
    assert onsets[0] == 0 and onsets[1] - starts[-1] == 480
    assert capped.time_signatures.tolist() == [(0, 4, 4), (3 * BAR, 3, 4)]
    assert [(t.notes["duration"]).tolist() for t in capped.tracks] == [[480, 960]]
    assert cap_silences(capped)[1] == 0  # nothing left to cut


def test_a_note_held_over_empty_bars_is_not_silence():
    score = Score(480, [Track("Organ", notes=make_notes([0, 20 * BAR], [10 * BAR, 480],
                                                        [48, 60]))])
    capped, removed = cap_silences(score)
    assert removed == 20 - 10 - MAX_EMPTY_BARS
    assert capped.tracks[0].notes["onset"].tolist() == [0, (10 + MAX_EMPTY_BARS) * BAR]


def test_prepare_cuts_silences_and_skips_token_floods(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(_two_notes_an_hour_apart(), corpus / "sparse.mid")
    # one note held for 20 bars under a tempo change every 1/12 quarter: 784 tokens
    flood = Score(480, [Track("Piano", notes=make_notes([0], [20 * BAR], [60]))])
    flood.tempos = np.array([(i * 40, (60, 140)[i % 2]) for i in range(960)], dtype=TEMPO_DTYPE)
    write(flood, corpus / "flood.mid")
    shutil.copy(DATA / "bach_bwv66.6.mxl", corpus)
    manifest = prepare(PrepareConfig([str(corpus)], val_fraction=0, test_fraction=0),
                       tmp_path / "out", progress=False, workers=1)
    pieces = [json.loads(line) for line in
              (tmp_path / "out" / "train" / "pieces.jsonl").read_text().splitlines()]
    sparse = next(p for p in pieces if p["path"].endswith("sparse.mid"))
    assert sparse["bars"] == 4 and sparse["tokens"] < 40
    assert sparse["empty_bars_removed"] == cap_silences(read(corpus / "sparse.mid"))[1] > 600
    bach = next(p for p in pieces if p["path"].endswith(".mxl"))
    assert "empty_bars_removed" not in bach
    [skipped] = manifest["skipped_pieces"]
    assert skipped["path"].endswith("flood.mid")
    assert "tokens for 1 notes" in skipped["reason"] and "more than 40" in skipped["reason"]
    assert manifest["config"]["max_empty_bars"] == 2


def test_damaged_files_give_byte_identical_shards_in_two_runs(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA / "damaged", corpus)
    for name in ["jazz-soft__test-midi-files/test-corrupt-file-missing-byte.mid",
                 "ahlstromcj__midicvt/b4uacuse-seq24.midi",
                 "nfroidure__midifile/MIDIBadHeaderTracksNum.mid"]:
        shutil.copy(DATA / "real-midi" / name, corpus)
    outputs = []
    for run in ("a", "b"):
        prepare(PrepareConfig([str(corpus)], val_fraction=0.3, test_fraction=0.3),
                tmp_path / run, progress=False, workers=2)
        outputs.append({p.relative_to(tmp_path / run).as_posix(): p.read_bytes()
                        for p in sorted((tmp_path / run).rglob("*"))
                        if p.is_file() and "work" not in p.relative_to(tmp_path / run).parts})
    assert outputs[0] == outputs[1]
    assert read(corpus / "b4uacuse-seq24.midi").note_count() == 7673
