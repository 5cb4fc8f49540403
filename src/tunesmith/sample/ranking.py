"""Ranking drafts: the model's own likelihood, with loops and monotone lines last.

The log-likelihood alone rewards loops and monotone lines (a likelihood trap): they are
what the model finds most typical and a composer least useful, so `rank` puts them
after the others and drops near-duplicates.
"""
from __future__ import annotations

from ..score import Score


def _note_set(score: Score) -> set:
    return {(t.program, t.is_drum, int(n["pitch"]), int(n["onset"])) for t in score.tracks for n in t.notes}


LOOP_SHARE = 0.5
"""A draft more than this share of whose bars repeat an earlier bar exactly is a loop."""


REPETITION_COST = 0.5
"""Nats per token a draft's ranking loses per share of bars repeating an earlier bar: a
draft repeating half its bars loses 0.25, about the spread of mean log-likelihoods
between drafts, so accidental repetition decides between otherwise close drafts."""


def repeated_bar_share(score: Score) -> float:
    """Share of the bars with notes that repeat an earlier bar note for note (pitch,
    place in the bar, length, part): 0.5 for an AABB tune, 0.875 for a 2-bar loop
    played 8 times."""
    starts = list(score.bar_starts()) + [score.end_tick() + 1]
    bars = []
    for start, stop in zip(starts[:-1], starts[1:]):
        bar = tuple(sorted((i, int(n["pitch"]), int(n["onset"]) - int(start), int(n["duration"]))
                           for i, t in enumerate(score.tracks) for n in t.notes
                           if start <= n["onset"] < stop))
        if bar:
            bars.append(bar)
    return 1 - len(set(bars)) / len(bars) if bars else 0.0


def is_degenerate(score: Score) -> bool:
    """A loop (see `LOOP_SHARE`) or a line of fewer than three pitches: what the model
    finds most typical, and a composer least useful."""
    pitches = {int(p) for t in score.tracks if not t.is_drum for p in t.notes["pitch"]}
    return repeated_bar_share(score) > LOOP_SHARE or (score.note_count() >= 6 and len(pitches) < 3)


def rank(drafts: list[Draft], keep: int | None) -> list[Draft]:
    """With ``keep``: drafts that are not degenerate (`is_degenerate`) first, each group
    by the model's mean log-likelihood of its tokens, best first; near-duplicates
    (Jaccard >= 0.9 of notes) dropped. Without: every draft, in seed order.

    The log-likelihood alone rewards loops and monotone lines (a likelihood trap); they
    are kept only when there are not enough other drafts."""
    if keep is None:
        return drafts
    ordered = sorted(drafts, key=lambda d: (is_degenerate(d.generated), -d.mean_log_likelihood
                                            + REPETITION_COST * repeated_bar_share(d.generated)))
    chosen, seen = [], []
    for draft in ordered:
        notes = _note_set(draft.score)
        if any(len(notes & other) >= 0.9 * max(len(notes | other), 1) for other in seen):
            continue
        chosen.append(draft)
        seen.append(notes)
        if len(chosen) == keep:
            break
    return chosen
