"""Evaluation: the n-gram baseline, held-out NLL of a model folder, the objective
metrics against values worked out by hand, the Yang-Lerch comparison, and the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tunesmith.io import write
from tunesmith.cli import main
from tunesmith.data import TokenWindows
from tunesmith.evaluate.metrics import compare_sets, piece_metrics, set_metrics
from tunesmith.evaluate.ngram import NGramModel
from tunesmith.evaluate.nll import evaluate_nll
from tunesmith.evaluate.sets import load_set
from tunesmith.score import Score, Track, make_notes


def _train_pieces(corpus):
    train = TokenWindows(corpus, "train", context_length=2)
    return [train.piece(i) for i in range(train.num_pieces)], train.tokenizer


HELD_OUT_TUNES = {"english.abc#1", "oneills_excerpt.abc#2", "tunebook.abc#1"}
"""Three folk tunes of the fixture, held out by name (whatever split their hash gives
them) so that the other tunes of their books teach the style."""


def _pieces_by_name(corpus) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train", "val", "test"):
        windows = TokenWindows(corpus, split, context_length=2)
        for i, line in enumerate((corpus / split / "pieces.jsonl").read_text().splitlines()):
            record = json.loads(line)
            name = record["path"] + (f"#{record['piece']}" if record["piece"] else "")
            out[name] = windows.piece(i)
    return out


# --- the n-gram baseline -------------------------------------------------------------------

@pytest.mark.parametrize("smoothing", ["kneser-ney", "witten-bell"])
def test_ngram_beats_a_unigram_on_held_out_music(prepared_corpus, smoothing):
    pieces = _pieces_by_name(prepared_corpus)
    assert HELD_OUT_TUNES <= set(pieces)
    fit = [ids for name, ids in pieces.items() if name not in HELD_OUT_TUNES]
    vocab_size = TokenWindows(prepared_corpus, "train", context_length=2).tokenizer.vocab_size

    def held_out_nll(order):
        model = NGramModel.fit(fit, vocab_size, order=order, smoothing=smoothing)
        scored = [model.window_nll(pieces[name][None, :]) for name in sorted(HELD_OUT_TUNES)]
        return sum(nll[mask].sum() for nll, mask in scored) / sum(m.sum() for _, m in scored)

    four, one = held_out_nll(4), held_out_nll(1)
    assert np.isfinite(four) and four < 0.75 * one, (four, one)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "witten-bell"])
def test_ngram_probabilities_sum_to_one(prepared_corpus, smoothing):
    pieces, tok = _train_pieces(prepared_corpus)
    model = NGramModel.fit(pieces, tok.vocab_size, order=4, smoothing=smoothing)
    contexts = [pieces[0][5:8], pieces[1][:3], [tok.pad_id] * 3,   # seen, start of a piece
                [tok.pad_id, tok.pad_id, tok.bos_id], [7, 300, 600]]  # ... and never seen
    for context in contexts:
        p = model.distribution(context)
        assert p.shape == (tok.vocab_size,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-9)


def test_witten_bell_bigram_by_hand():
    # vocabulary 0 (pad) .. 3; one sequence 1 2 1 2 3
    model = NGramModel.fit([np.array([1, 2, 1, 2, 3])], 4, order=2, smoothing="witten-bell")
    # unigram: counts 1:2, 2:2, 3:1 (5 tokens, 3 types), mixed with uniform 1/4
    p2 = (2 + 3 * 0.25) / (5 + 3)
    # after 1: "2" twice, one type
    assert np.exp(model.log_prob([[1]], [2]))[0] == pytest.approx((2 + 1 * p2) / (2 + 1))
    # after 3 (never a context): the unigram alone
    assert np.exp(model.log_prob([[3]], [2]))[0] == pytest.approx(p2)


def test_held_out_nll_of_a_model_folder(prepared_corpus, tmp_path):
    from tunesmith.model import ModelConfig, TransformerLM
    from tunesmith.model_folder import save_model_folder

    _, tok = _train_pieces(prepared_corpus)
    model = TransformerLM(ModelConfig(vocab_size=tok.vocab_size, context_length=128,
                                      d_model=32, n_layers=1, n_heads=2))
    save_model_folder(tmp_path / "model", model, tok)
    result = evaluate_nll(prepared_corpus, "val", model_dir=tmp_path / "model", batch_size=4)
    windows = list(TokenWindows(prepared_corpus, "val", context_length=128).eval_windows())
    assert result["windows"] == len(windows)
    assert result["tokens"] == sum(len(w) - 1 for w in windows)
    # an untrained model spreads its bets over the vocabulary: about ln(V) nats per token
    assert result["model"]["nll_per_token"] == pytest.approx(math.log(tok.vocab_size), abs=0.3)
    assert result["ngram"]["nll_per_token"] < result["model"]["nll_per_token"]
    per_note = result["model"]["nll_per_token"] * result["tokens"] / result["notes"]
    assert result["model"]["nll_per_note"] == pytest.approx(per_note, rel=1e-3)
    assert result["ratio"] == pytest.approx(
        result["model"]["nll_per_token"] / result["ngram"]["nll_per_token"], rel=1e-3)


# --- metrics of one piece ------------------------------------------------------------------

def _scale(tpq: int = 480) -> Score:
    """C major scale, C4 to B4, one quarter note each, in 4/4."""
    return Score(tpq, [Track("Piano", notes=make_notes(np.arange(7) * tpq, [tpq] * 7,
                                                       [60, 62, 64, 65, 67, 69, 71]))])


def test_metrics_of_a_c_major_scale():
    m = piece_metrics(_scale())
    assert m["pitch_class_entropy"] == pytest.approx(math.log2(7))
    assert m["pitch_range"] == 11 and m["pitch_count"] == 7
    assert m["scale_consistency"] == 1.0
    assert m["polyphony"] == 1.0
    assert m["inter_onset_interval"] == 1.0 and m["note_density"] == 1.0
    assert m["empty_beat_rate"] == 0.0
    # bar 1 has onsets on beats 1-4, bar 2 on beats 1-3: one of 48 grid steps differs
    assert m["groove_consistency"] == pytest.approx(1 - 1 / 48)
    assert piece_metrics(_scale(96)) == pytest.approx(m)  # resolution does not matter


def test_metrics_of_a_chord_a_rest_and_drums():
    # C-E-G for two beats, a rest, D for one beat; drums on every beat
    tpq = 480
    piano = make_notes([0, 0, 0, 3 * tpq], [2 * tpq] * 3 + [tpq], [60, 64, 67, 62])
    drums = make_notes(np.arange(4) * tpq, [tpq // 4] * 4, [36] * 4)
    score = Score(tpq, [Track("Piano", notes=piano)])
    m = piece_metrics(score)
    assert m["polyphony"] == pytest.approx((3 * 24 + 1 * 12) / 36)
    assert m["empty_beat_rate"] == 0.5  # beats 2 and 3 start nothing
    assert m["inter_onset_interval"] == 3.0 and m["note_density"] == 1.0
    assert m["scale_consistency"] == 1.0 and m["pitch_range"] == 7
    score.tracks.append(Track("Drums", is_drum=True, notes=drums))
    with_drums = piece_metrics(score)
    assert with_drums["pitch_range"] == 7 and with_drums["pitch_count"] == 4  # drums ignored
    assert with_drums["empty_beat_rate"] == 0.0 and with_drums["note_density"] == 2.0
    assert with_drums["inter_onset_interval"] == 1.0


def test_metrics_of_an_empty_piece_are_undefined():
    assert all(math.isnan(v) for v in piece_metrics(Score()).values())


# --- comparing sets (Yang and Lerch) --------------------------------------------------------

def _noise(count: int, seed: int) -> list[Score]:
    """Pieces of random pitches (0-127) at random times and lengths."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(count):
        n = int(rng.integers(50, 400))
        onsets = np.sort(rng.integers(0, 480 * 64, n))
        notes = make_notes(onsets, rng.integers(1, 960, n), rng.integers(0, 128, n))
        pieces.append(Score(480, [Track("Noise", notes=notes)]))
    return pieces


def test_a_set_overlaps_itself_and_not_noise(prepared_corpus):
    real = [s for split in ("train", "val", "test")
            for s in load_set(prepared_corpus, split=split).scores]
    assert len(real) >= 14
    reference = set_metrics(real)
    same = compare_sets(reference, reference)
    assert same["mean_oa"] >= 0.9, same["mean_oa"]
    noise = compare_sets(reference, set_metrics(_noise(30, seed=0)))
    assert noise["mean_oa"] < 0.6 and noise["mean_kl"] > 20 * same["mean_kl"]
    # random pitches are nothing like music; random rhythms may resemble some of it
    pitch = ("pitch_class_entropy", "pitch_range", "pitch_count", "scale_consistency")
    assert max(noise["metrics"][name]["oa"] for name in pitch) < 0.4
    assert np.mean([noise["metrics"][name]["oa"] for name in pitch]) < 0.2
    assert compare_sets(set_metrics(_noise(30, seed=0)), reference)["mean_oa"] == noise["mean_oa"]
    # two draws of the same noise are alike
    twins = compare_sets(set_metrics(_noise(30, seed=1)), set_metrics(_noise(30, seed=2)))
    assert twins["mean_oa"] >= 0.8


# --- the command ---------------------------------------------------------------------------

def test_cli_likelihood_and_metrics(prepared_corpus, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(prepared_corpus), "--context", "256",
                 "--out", str(out), "--quiet"]) == 0
    likelihood = json.loads((out / "evaluation.json").read_text())["likelihood"]
    assert likelihood["split"] == "val" and likelihood["ngram"]["nll_per_token"] > 0
    assert "model" not in likelihood
    assert main(["evaluate", "--data", str(prepared_corpus), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err

    generated = tmp_path / "drafts"
    for i, score in enumerate(_noise(4, seed=3)):
        write(score, generated / f"draft{i}.mid")
    (generated / "broken.mid").write_bytes(b"MThd\x00\x00")
    out2 = tmp_path / "eval2"
    assert main(["evaluate", "--reference", str(prepared_corpus), "--generated",
                 str(generated), "--out", str(out2), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "broken.mid" in err and "Traceback" not in err
    report = json.loads((out2 / "evaluation.json").read_text())["metrics"]
    assert report["generated"]["pieces"] == 4
    assert report["generated"]["skipped"][0]["name"] == "broken.mid"
    assert report["reference"]["pieces"] == len(load_set(prepared_corpus, "test").scores)
    assert 0 <= report["mean_oa"] <= 1
    assert (out2 / "distributions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_are_one_line(prepared_corpus, tmp_path, capsys):
    cases = [["evaluate", "--out", str(tmp_path / "a")],
             ["evaluate", "--reference", str(prepared_corpus), "--out", str(tmp_path / "b")],
             ["evaluate", "--data", str(prepared_corpus), "--model", str(tmp_path / "none"),
              "--out", str(tmp_path / "c")],
             ["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "d")]]
    for argv in cases:
        assert main(argv + ["--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tunesmith: error:") and err.count("\n") == 1, err
