"""An interpolated n-gram model over token ids: the baseline a transformer must beat.

A model that predicts the next token no better than counts of the last three tokens
has learnt little about music. `NGramModel` is fitted on the train split of a prepared
corpus and scores exactly the targets the transformer scores (see `tunesmith.evaluate.nll`).

Everything is numpy on arrays of n-gram *keys*: an n-gram ``(t1, ..., tn)`` is the
integer ``t1 V^(n-1) + ... + tn`` (V the vocabulary size), so counting is ``np.unique``
and lookup is ``np.searchsorted``; a few million tokens fit in seconds.

Smoothing (both interpolate every order down to a uniform distribution over the
vocabulary, so every token has a probability above zero and each distribution sums
to one):

- ``"kneser-ney"``: modified Kneser-Ney (Chen and Goodman, 1998): three absolute
  discounts per order estimated from counts of counts, lower orders built from
  continuation counts (in how many distinct contexts a shorter n-gram appears).
- ``"witten-bell"``: each context gives the lower order the weight of the number of
  distinct tokens seen after it.

Every sequence is preceded by ``order - 1`` padding tokens, so the first tokens of a
piece (or of an evaluation window) are predicted from a context of padding, in fitting
and in scoring alike. Padding is never a target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..errors import DataError

SMOOTHINGS = ("kneser-ney", "witten-bell")


@dataclass
class _Order:
    """Counts of the n-grams of one length ``n`` and of their contexts (length n-1).

    keys, counts: sorted n-gram keys and their (raw or continuation) counts.
    context_keys: sorted distinct contexts; context_total: summed counts after each;
    context_weight: the numerator of the weight that context gives the lower order
    (modified KN: D1 N1 + D2 N2 + D3 N3+; Witten-Bell: distinct tokens seen after it).
    discounts: (0, D1, D2, D3) for Kneser-Ney, all zero for Witten-Bell.
    """

    keys: np.ndarray
    counts: np.ndarray
    context_keys: np.ndarray
    context_total: np.ndarray
    context_weight: np.ndarray
    discounts: np.ndarray


def _lookup(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, found) of each query in ``sorted_keys``."""
    idx = np.searchsorted(sorted_keys, queries)
    idx = np.minimum(idx, max(len(sorted_keys) - 1, 0))
    found = (sorted_keys[idx] == queries) if len(sorted_keys) else np.zeros(len(queries), bool)
    return idx, found


def _modified_kn_discounts(counts: np.ndarray) -> np.ndarray:
    """(0, D1, D2, D3+) from the numbers of n-grams seen exactly 1-4 times (Chen and
    Goodman's estimates). Each Dk is kept in [0.1, k] (a zero discount would give the
    lower order no weight, and unseen tokens no probability); tables too sparse to
    estimate from fall back to 0.5, 1, 1.5."""
    n = [int(np.count_nonzero(counts == k)) for k in (1, 2, 3, 4)]
    if min(n) == 0:
        return np.array([0.0, 0.5, 1.0, 1.5])
    y = n[0] / (n[0] + 2 * n[1])
    d = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
    return np.array([0.0] + [float(np.clip(v, 0.1, k + 1)) for k, v in enumerate(d)])


def _build_order(keys: np.ndarray, counts: np.ndarray, vocab_size: int, smoothing: str) -> _Order:
    contexts = keys // vocab_size
    context_keys, starts = np.unique(contexts, return_index=True)
    total = np.add.reduceat(counts, starts).astype(np.float64)
    if smoothing == "kneser-ney":
        discounts = _modified_kn_discounts(counts)
        per_gram = discounts[np.minimum(counts, 3)]
        weight = np.add.reduceat(per_gram, starts)
    else:
        discounts = np.zeros(4)
        weight = np.diff(np.append(starts, len(keys))).astype(np.float64)
    return _Order(keys, counts.astype(np.float64), context_keys, total, weight, discounts)


class NGramModel:
    """An interpolated n-gram model over ids ``0 .. vocab_size - 1``; see the module docstring.

    Build one with `NGramModel.fit`; score with `log_prob` (natural log) or
    `window_nll` (a batch of evaluation windows, like the transformer's).
    """

    def __init__(self, orders: list[_Order], vocab_size: int, order: int, pad_id: int,
                 smoothing: str, tokens: int):
        self.orders, self.vocab_size, self.order = orders, vocab_size, order
        self.pad_id, self.smoothing, self.tokens = pad_id, smoothing, tokens

    def __repr__(self) -> str:
        return (f"NGramModel(order={self.order}, {self.smoothing}, vocab={self.vocab_size}, "
                f"fitted on {self.tokens} tokens)")

    @classmethod
    def fit(cls, sequences: Iterable[np.ndarray], vocab_size: int, order: int = 4,
            smoothing: str = "kneser-ney", pad_id: int = 0) -> "NGramModel":
        """Count the n-grams of ``sequences`` (token id arrays, e.g. whole pieces).

        Raises `DataError` if there is nothing to count or the keys would overflow.
        """
        if smoothing not in SMOOTHINGS:
            raise DataError(f"unknown smoothing {smoothing!r}; use {' or '.join(SMOOTHINGS)}")
        if order < 1 or float(vocab_size) ** order >= 2.0 ** 63:
            raise DataError(f"an order-{order} model over {vocab_size} tokens is not supported")
        pad = np.full(order - 1, pad_id, dtype=np.int64)
        parts = []
        for ids in sequences:
            parts += [pad, np.asarray(ids, dtype=np.int64)]
        stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        targets = np.flatnonzero(stream != pad_id)
        targets = targets[targets >= order - 1]
        if not len(targets):
            raise DataError("no tokens to fit the n-gram model on")
        if stream.max() >= vocab_size or stream.min() < 0:
            raise DataError(f"token ids outside the vocabulary of {vocab_size}")
        keys = np.zeros(len(targets), dtype=np.int64)
        for back in range(order - 1, -1, -1):  # the oldest context token first
            keys = keys * vocab_size + stream[targets - back]
        orders: list[_Order] = []
        grams, counts = np.unique(keys, return_counts=True)
        for n in range(order, 0, -1):  # highest order first; lower orders derived from it
            orders.append(_build_order(grams, counts, vocab_size, smoothing))
            if n == 1:
                break
            shorter = grams % vocab_size ** (n - 1)  # drop the oldest token
            if smoothing == "kneser-ney":  # continuation counts: distinct left extensions
                grams, counts = np.unique(shorter, return_counts=True)
            else:  # raw counts of the shorter n-grams
                grams, inverse = np.unique(shorter, return_inverse=True)
                counts = np.bincount(inverse.ravel(), weights=counts).astype(np.int64)
        return cls(orders[::-1], vocab_size, order, pad_id, smoothing, len(targets))

    # --- scoring -------------------------------------------------------------------------
    def log_prob(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Natural-log probability of each target given its context.

        contexts: ``(N, order - 1)`` ids, oldest first (``pad_id`` where the sequence had
        not started); targets: ``(N,)`` ids.
        """
        contexts = np.asarray(contexts, dtype=np.int64).reshape(len(targets), self.order - 1)
        targets = np.asarray(targets, dtype=np.int64)
        prob = np.full(len(targets), 1.0 / self.vocab_size)
        context_key = np.zeros(len(targets), dtype=np.int64)
        for n, table in enumerate(self.orders, start=1):
            if n > 1:  # lengthen the context by one older token
                context_key = context_key + contexts[:, -(n - 1)] * self.vocab_size ** (n - 2)
            c_idx, c_found = _lookup(table.context_keys, context_key)
            g_idx, g_found = _lookup(table.keys, context_key * self.vocab_size + targets)
            count = np.where(g_found, table.counts[g_idx], 0.0)
            discount = table.discounts[np.minimum(count, 3).astype(np.int64)]
            mass = np.maximum(count - discount, 0.0) + table.context_weight[c_idx] * prob
            denominator = table.context_total[c_idx]
            if self.smoothing == "witten-bell":
                denominator = denominator + table.context_weight[c_idx]
            prob = np.where(c_found, mass / np.where(c_found, denominator, 1.0), prob)
        return np.log(prob)

    def distribution(self, context) -> np.ndarray:
        """Probabilities of every token after ``context`` (``order - 1`` ids, oldest first)."""
        tokens = np.arange(self.vocab_size)
        contexts = np.tile(np.asarray(context, dtype=np.int64), (self.vocab_size, 1))
        return np.exp(self.log_prob(contexts, tokens))

    def window_nll(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-target NLL (nats) of a batch of windows ``(B, L)``, right-padded with
        ``pad_id``, scored like a language model: every non-padding token after the first
        of its row, given the tokens before it in the row.

        Returns ``(nll, mask)``, both ``(B, L - 1)``: ``mask`` marks the real targets.
        """
        windows = np.asarray(windows, dtype=np.int64)
        batch, length = windows.shape
        k = self.order - 1
        padded = np.concatenate([np.full((batch, k), self.pad_id, np.int64), windows], axis=1)
        targets = windows[:, 1:]
        mask = targets != self.pad_id
        # context of windows[:, j] is padded[:, j : j + k]
        contexts = np.zeros((batch, length - 1, k), dtype=np.int64)
        for i in range(k):
            contexts[:, :, i] = padded[:, 1 + i:length + i]
        nll = np.zeros(targets.shape)
        nll[mask] = -self.log_prob(contexts[mask], targets[mask])
        return nll, mask
