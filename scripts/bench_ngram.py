"""The 4-gram baseline's speed beside NLTK's interpolated language models, same tokens.

    python scripts/bench_ngram.py PREPARED_DIR [--smoothing kneser-ney] [--peer-tokens 200000]
                                  [--peer-targets 3000] [--tile 10]

Both sides fit an order-4 model on the first ``--peer-tokens`` train tokens of a
prepared corpus (whole pieces, padded on the left) and score the first
``--peer-targets`` targets of the val split's evaluation windows (context length
1024, the same targets `tunesmith evaluate` scores). NLTK: ``KneserNeyInterpolated`` or
``WittenBellInterpolated`` from ``nltk.lm``. Then ours alone fits the whole train split
repeated ``--tile`` times (to reach millions of tokens; a timing only: repeated pieces
change the discounts, so that NLL means nothing) and scores the whole val split.
Prints one JSON line; ``ratio`` = our fit+score time over NLTK's on the shared part.
Needs the bench extra: ``pip install -e .[bench]`` (nltk).
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from tunesmith.data import TokenWindows
from tunesmith.evaluate.ngram import NGramModel


def _pieces(data, limit=None):
    train = TokenWindows(data, "train", context_length=2)
    pieces, total = [], 0
    for i in range(train.num_pieces):
        piece = train.piece(i)
        if limit is not None and total + len(piece) > limit:
            piece = piece[:limit - total]
        pieces.append(piece)
        total += len(piece)
        if limit is not None and total >= limit:
            break
    return pieces, train.tokenizer


def _targets(data, limit=None):
    """(contexts, targets) of the val split's evaluation windows: 3 ids before each."""
    val = TokenWindows(data, "val", context_length=1024)
    contexts, targets = [], []
    for window in val.eval_windows():
        padded = np.concatenate([[0, 0, 0], window])
        for j in range(1, len(window)):
            contexts.append(padded[j:j + 3])
            targets.append(window[j])
    contexts, targets = np.array(contexts), np.array(targets)
    return (contexts, targets) if limit is None else (contexts[:limit], targets[:limit])


def _ours(pieces, vocab_size, contexts, targets, smoothing):
    start = time.perf_counter()
    model = NGramModel.fit(pieces, vocab_size, order=4, smoothing=smoothing)
    fitted = time.perf_counter()
    nll = -model.log_prob(contexts, targets).mean()
    scored = time.perf_counter()
    return {"fit_s": round(fitted - start, 4), "score_s": round(scored - fitted, 4),
            "nll_per_token": round(float(nll), 4)}


def _nltk(pieces, contexts, targets, smoothing):
    from nltk.lm import KneserNeyInterpolated, WittenBellInterpolated
    from nltk.util import everygrams

    start = time.perf_counter()
    cls = KneserNeyInterpolated if smoothing == "kneser-ney" else WittenBellInterpolated
    model = cls(4)
    text = [[str(t) for t in np.concatenate([[0, 0, 0], piece]).tolist()] for piece in pieces]
    grams = [[g for g in everygrams(sentence, max_len=4) if g[-1] != "0"] for sentence in text]
    model.fit(grams, [w for sentence in text for w in sentence])
    fitted = time.perf_counter()
    total = 0.0
    for context, target in zip(contexts.tolist(), targets.tolist()):
        p = model.score(str(target), [str(c) for c in context])
        total += -math.log(p) if p > 0 else float("inf")
    scored = time.perf_counter()
    return {"fit_s": round(fitted - start, 4), "score_s": round(scored - fitted, 4),
            "nll_per_token": round(total / len(targets), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--smoothing", default="kneser-ney", choices=("kneser-ney", "witten-bell"))
    parser.add_argument("--peer-tokens", type=int, default=200_000)
    parser.add_argument("--peer-targets", type=int, default=3000)
    parser.add_argument("--tile", type=int, default=10)
    args = parser.parse_args()

    pieces, tok = _pieces(args.data, args.peer_tokens)
    contexts, targets = _targets(args.data, args.peer_targets)
    ours = _ours(pieces, tok.vocab_size, contexts, targets, args.smoothing)
    peer = _nltk(pieces, contexts, targets, args.smoothing)
    all_pieces, _ = _pieces(args.data)
    all_contexts, all_targets = _targets(args.data)
    full = _ours(all_pieces * args.tile, tok.vocab_size, all_contexts, all_targets, args.smoothing)
    full["train_tokens"] = int(sum(len(p) for p in all_pieces)) * args.tile
    full["val_targets"] = len(all_targets)
    print(json.dumps({
        "benchmark": "ngram", "smoothing": args.smoothing, "order": 4,
        "train_tokens": int(sum(len(p) for p in pieces)), "targets": len(targets),
        "ours": ours, "nltk": peer,
        "ratio": round((ours["fit_s"] + ours["score_s"]) / (peer["fit_s"] + peer["score_s"]), 5),
        "ours_full": full}))


if __name__ == "__main__":
    main()
