"""Request rules as small objects, each narrowing the next token's mask.

The shape is Hugging Face's logits processors: each rule is built from the request,
checks its own arguments, and in `Rule.apply` narrows a batch's boolean (batch, vocab)
mask in place; `Rule.advance` follows the tokens chosen. `ConstrainedState` applies the
rules in order after its own structural masks (bars, key, range, lyrics), so a rule only
states what it adds. Rules are written against the array API numpy and torch share
(``state.xp``): whole-array operations, no loops over the batch or the vocabulary, no
branches on the data, so the same rule runs on the host and inside a CUDA graph.

Adding a rule is adding a builder to `RULE_BUILDERS`: a function of a `RuleContext`
that returns a `Rule`, or None when the request does not ask for it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class RuleContext:
    """What a rule is built from: the request, the batch and what the plan writes.

    ``mode``: "new", "continue", "infill_bars" or "infill_track"; ``target_bars``: bars
    written after the prompt (or inside the hole); ``prompt``: the composer's Score
    (None for a new piece, or for one window of a long track infill); ``span``: the
    infilled bars (from 0, inclusive)."""

    tokenizer: object
    resolved: object
    batch_size: int
    target_bars: int
    mode: str = "new"
    prompt: object = None
    span: tuple[int, int] | None = None


class Rule:
    """One constraint; see the module docstring.

    ``FIELDS`` names the array attributes that change as tokens are consumed (moved to
    the device and kept at fixed addresses for CUDA graphs); every other ndarray
    attribute is a constant table. ``soft`` rules are given up, with the density and
    the budget, where the masks would otherwise leave a row nothing to choose."""

    FIELDS: tuple[str, ...] = ()
    soft: bool = False

    def apply(self, state, mask) -> None:
        """Narrow ``mask`` (batch, vocab) in place; ``state`` is the `ConstrainedState`
        (its grammar's phase, position, slot and bar, and its own counters)."""

    def advance(self, state, kind, value) -> None:
        """Follow one token per row: ``kind`` and ``value`` are (batch,) integer arrays of
        the token consumed; ``state`` has already moved past it."""

    def map_arrays(self, convert) -> "Rule":
        """A copy whose array attributes are ``convert(array)``."""
        moved = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) or name in self.FIELDS:
                setattr(moved, name, convert(value))
        return moved


def clamp(xp, x, low=None, high=None):
    """``x`` limited to [low, high] with ``where``: numpy does it in ~1 us where
    array_api_compat's ``clip`` takes ~15 us, and torch keeps a plain kernel."""
    if low is not None:
        x = xp.where(x < low, low, x)
    if high is not None:
        x = xp.where(x > high, high, x)
    return x


RULE_BUILDERS: list[Callable[[RuleContext], Rule | None]] = []
"""Builders applied in this order; each module of rules registers its own below."""


def build_rules(context: RuleContext) -> list[Rule]:
    """The rules a request asks for, in the order of `RULE_BUILDERS`."""
    return [rule for build in RULE_BUILDERS if (rule := build(context)) is not None]


from . import lyrics  # noqa: E402,F401  registers its rules
from . import form  # noqa: E402,F401  registers its rules
from . import harmony  # noqa: E402,F401  registers its rules (chords; before idioms, which narrow after it)
from . import idioms  # noqa: E402,F401  registers its rules
from . import rhythm  # noqa: E402,F401  registers its rules
