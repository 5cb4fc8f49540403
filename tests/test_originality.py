"""The originality check finds a copied passage in any key and names its source."""
from __future__ import annotations

import numpy as np
import pytest

from tunesmith.cli import main
from tunesmith.errors import DataError
from tunesmith.evaluate.originality import (OriginalityIndex, build_index_from_corpus,
                                            build_index_from_files, check_originality)
from tunesmith.evaluate.sets import prepared_pieces
from tunesmith.io import write
from tunesmith.score import Score, TIME_SIGNATURE_DTYPE, Track, concat_notes, make_notes


@pytest.fixture(scope="module")
def index(prepared_corpus) -> OriginalityIndex:
    return build_index_from_corpus(prepared_corpus)


def _training_tunes(prepared_corpus) -> list[tuple[str, str, Score]]:
    """(name, title, score) of the train split's folk tunes that a test can copy bars
    from: one track, one meter, no pickup, at least 10 bars (which tunes the content
    hashes put in train may change as the readers change)."""
    tunes = []
    for name, score, record in prepared_pieces(prepared_corpus, "train"):
        starts = score.bar_starts()
        if (".abc" in name and len(score.tracks) == 1 and len(starts) >= 10
                and score.tracks[0].notes["onset"].min() == 0
                and len(np.unique(np.diff(starts))) == 1):
            tunes.append((name, record.get("title"), score))
    assert len(tunes) >= 2, [name for name, _, _ in tunes]
    return tunes


def _random_melody(rng, start: int, stop: int, tpq: int) -> np.ndarray:
    """Eighth notes of random pitches from tick ``start`` up to ``stop``."""
    onsets = np.arange(start, stop, tpq // 2)
    return make_notes(onsets, [tpq // 2] * len(onsets), rng.integers(55, 85, len(onsets)))


def _draft_with_copy(source: Score, first_bar: int, bars: int, shift: int,
                     seed: int) -> tuple[Score, int]:
    """Random bars, then ``bars`` bars of ``source``'s first (monophonic) track from
    ``first_bar`` moved by ``shift`` semitones, placed at the same bar number, then
    random bars. Returns the draft and the number of notes copied."""
    tpq = source.ticks_per_quarter
    starts = source.bar_starts()
    lo, hi = int(starts[first_bar]), int(starts[first_bar + bars])
    notes = source.tracks[0].notes
    copied = notes[(notes["onset"] >= lo) & (notes["onset"] < hi)].copy()
    copied["pitch"] += shift
    rng = np.random.default_rng(seed)
    bar = hi // (first_bar + bars) if first_bar == 0 else lo // first_bar
    assert np.all(np.diff(starts[:first_bar + bars + 1]) == bar), "the source has one meter"
    melody = concat_notes([_random_melody(rng, 0, lo, tpq), copied,
                           _random_melody(rng, hi, hi + 4 * bar, tpq)])
    draft = Score(tpq, [Track("Flute", program=73, notes=melody)],
                  time_signatures=source.time_signatures.copy())
    return draft, len(copied)


def test_finds_a_transposed_four_bar_copy_and_names_the_piece(prepared_corpus, index):
    name, title, source = _training_tunes(prepared_corpus)[0]
    draft, copied = _draft_with_copy(source, first_bar=4, bars=4, shift=5, seed=1)
    result = check_originality(draft.resample(960), index)  # another key and resolution
    assert result["piece"] == name and result["title"] == title
    assert result["start_bar"] == 4 and result["track"] == 0
    assert result["longest_bars"] == 4.0 and result["longest_notes"] == copied >= 8


def test_a_copy_in_the_middle_of_another_track_is_found(prepared_corpus, index):
    name, _, source = _training_tunes(prepared_corpus)[1]
    draft, copied = _draft_with_copy(source, first_bar=2, bars=4, shift=-3, seed=2)
    draft.tracks.insert(0, Track("Bass", program=33, notes=make_notes([0], [480], [40])))
    result = check_originality(draft, index)
    assert result["piece"] == name and result["track"] == 1
    assert result["start_bar"] == 2 and result["longest_bars"] == 4.0
    assert result["longest_notes"] == copied


def test_an_unrelated_melody_shares_no_long_run(prepared_corpus, index):
    rng = np.random.default_rng(7)
    draft = Score(480, [Track("Oboe", program=68, notes=_random_melody(rng, 0, 16 * 1920, 480))])
    result = check_originality(draft, index)
    assert result["longest_notes"] < 8 and result["longest_bars"] < 1.0, result
    # real held-out music shares at most a cadence or a scale-like figure
    for split in ("val", "test"):
        for name, score, _ in prepared_pieces(prepared_corpus, split):
            assert check_originality(score, index)["longest_bars"] < 2.0, name


def test_the_index_survives_saving_and_bad_files_are_refused(prepared_corpus, index, tmp_path):
    path = tmp_path / "index.npz"
    index.save(path)
    loaded = OriginalityIndex.load(path)
    assert np.array_equal(loaded.hashes, index.hashes) and loaded.names == index.names
    draft, _ = _draft_with_copy(_training_tunes(prepared_corpus)[0][2], 4, 4, 2, seed=3)
    assert check_originality(draft, loaded) == check_originality(draft, index)
    with pytest.raises(Exception):
        index.save(path)  # never overwritten silently
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        OriginalityIndex.load(bad)


def test_index_from_a_folder_of_files(data_dir, tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "excerpt.abc").write_bytes((data_dir / "oneills_excerpt.abc").read_bytes())
    (folder / "broken.mid").write_bytes(b"MThd\x00")
    skipped = []
    index = build_index_from_files(folder, on_skip=lambda name, reason: skipped.append(name))
    assert skipped == ["broken.mid"]
    assert index.names[0] == "excerpt.abc" and len(index.names) == 4
    import tunesmith

    tune = tunesmith.read(data_dir / "oneills_excerpt.abc", index=2)
    result = check_originality(tune, index)
    assert result["piece"] == "excerpt.abc#2"


def test_cli_builds_an_index_and_evaluate_reports_copies(prepared_corpus, tmp_path, capsys):
    index_path = tmp_path / "train.npz"
    assert main(["originality-index", "--data", str(prepared_corpus), "--out", str(index_path),
                 "--quiet"]) == 0
    assert main(["originality-index", "--data", str(prepared_corpus), "--out", str(index_path),
                 "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    drafts = tmp_path / "drafts"
    name, _, source = _training_tunes(prepared_corpus)[0]
    write(_draft_with_copy(source, 4, 4, 5, seed=4)[0], drafts / "copy.mid")
    rng = np.random.default_rng(5)
    write(Score(480, [Track("Oboe", program=68, notes=_random_melody(rng, 0, 8 * 1920, 480))]),
          drafts / "new.mid")
    out = tmp_path / "eval"
    assert main(["evaluate", "--reference", str(prepared_corpus), "--generated", str(drafts),
                 "--index", str(index_path), "--out", str(out), "--quiet"]) == 0
    import json

    report = json.loads((out / "evaluation.json").read_text())["metrics"]["originality"]
    by_name = {d["name"]: d for d in report["drafts"]}
    assert by_name["copy.mid"]["piece"] == name
    assert by_name["copy.mid"]["longest_bars"] == 4.0
    assert by_name["new.mid"]["longest_bars"] < 1.0
