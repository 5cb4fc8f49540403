"""Held-out negative log-likelihood of a model folder, beside a 4-gram baseline.

Both models score exactly the same targets: the evaluation windows of
`tunesmith.data.TokenWindows.eval_windows` (every piece of the split once, each window
starting at a bar with the piece's header restated), every token after the first of
each window. NLL is in nats (natural log, the unit of the training loss):

- per token: summed NLL / number of targets;
- per note: summed NLL / number of notes (Pitch tokens) among the targets, i.e. what a
  note costs with its share of the bars, positions, tracks and durations around it.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from ..data import TokenWindows
from ..errors import DataError
from ..tokenizer import T
from .ngram import NGramModel


def fit_ngram(data_dir: str | os.PathLike, order: int = 4,
              smoothing: str = "kneser-ney") -> NGramModel:
    """An n-gram model fitted on every piece of the train split of a prepared corpus."""
    train = TokenWindows(data_dir, "train", context_length=2)
    pieces = (train.piece(i) for i in range(train.num_pieces))
    return NGramModel.fit(pieces, train.tokenizer.vocab_size, order=order, smoothing=smoothing,
                          pad_id=train.tokenizer.pad_id)


def _summary(nll_sum: float, tokens: int, notes: int) -> dict:
    per_token = nll_sum / tokens if tokens else float("nan")
    return {"nll_per_token": round(per_token, 5),
            "bits_per_token": round(per_token / math.log(2), 5),
            "perplexity": round(math.exp(per_token), 4) if tokens else float("nan"),
            "nll_per_note": round(nll_sum / notes, 4) if notes else float("nan")}


def evaluate_nll(data_dir: str | os.PathLike, split: str = "val", model_dir=None,
                 batch_size: int = 16, max_batches: int | None = None, device: str = "auto",
                 ngram_order: int = 4, smoothing: str = "kneser-ney", context_length: int = 1024,
                 progress: Callable | None = None) -> dict:
    """NLL of the model in ``model_dir`` (if given) and of an n-gram model fitted on the
    train split, over the ``split`` of the prepared corpus in ``data_dir``.

    context_length: window length when there is no model (the model's own otherwise).
    max_batches: score only the first batches (a quick look at a large split).
    progress: wraps the batch iterator (e.g. ``tqdm``), given ``total=None``.
    Returns a JSON-ready dict: counts, ``model`` and ``ngram`` summaries (see
    `_summary`) and ``ratio`` = model NLL per token / n-gram NLL per token.
    """
    model = tokenizer = None
    if model_dir is not None:
        import torch

        from ..model_folder import load_model_folder

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model, tokenizer = load_model_folder(model_dir, device=device)
        context_length = model.config.context_length
    windows = TokenWindows(data_dir, split, context_length=context_length)
    if tokenizer is not None and tokenizer.vocab.names() != windows.tokenizer.vocab.names():
        raise DataError(f"the corpus was tokenized with another vocabulary than the model "
                        f"in {model_dir} reads", data_dir)
    vocab = windows.tokenizer.vocab
    pitches = vocab.span(T.PITCH)
    ngram = fit_ngram(data_dir, order=ngram_order, smoothing=smoothing)

    sums = {"model": 0.0, "ngram": 0.0}
    tokens = notes = rows = 0
    batches = windows.iter_eval(batch_size)
    if progress is not None:
        batches = progress(batches)
    for index, batch in enumerate(batches):
        if max_batches is not None and index >= max_batches:
            break
        nll, mask = ngram.window_nll(batch)
        targets = batch[:, 1:]
        sums["ngram"] += float(nll[mask].sum())
        tokens += int(mask.sum())
        notes += int(((targets >= pitches.start) & (targets < pitches.stop)).sum())
        rows += int((batch[:, 0] != windows.tokenizer.pad_id).sum())
        if model is not None:
            sums["model"] += _model_nll_sum(model, batch, windows.tokenizer.pad_id)
    if not tokens:
        raise DataError(f"split {split!r} has no tokens to score", data_dir)
    result = {
        "data": os.fspath(data_dir), "split": split, "windows": rows, "tokens": tokens,
        "notes": notes, "context_length": context_length,
        "ngram": {"order": ngram_order, "smoothing": smoothing,
                  "train_tokens": ngram.tokens, **_summary(sums["ngram"], tokens, notes)},
    }
    if model is not None:
        result["model"] = {"folder": os.fspath(model_dir), "parameters": model.num_params(),
                           **_summary(sums["model"], tokens, notes)}
        result["ratio"] = round(sums["model"] / sums["ngram"], 4)
    return result


def _model_nll_sum(model, batch: np.ndarray, pad_id: int) -> float:
    """Summed NLL (nats) of the model over a batch's real targets, without gradients."""
    import torch

    from ..model import summed_cross_entropy

    device = next(model.parameters()).device
    with torch.inference_mode():
        ids = torch.from_numpy(batch).to(device)
        return float(summed_cross_entropy(model(ids[:, :-1]), ids[:, 1:], pad_id))
