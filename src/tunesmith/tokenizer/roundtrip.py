"""How faithfully a Score survives encode -> decode: the figures `tunesmith tokenize
--roundtrip` prints and the tests assert."""
from __future__ import annotations

import numpy as np

from ..gm import DRUMS
from ..score import Score
from .encode import assign_slots, quantize_durations
from . import Tokenizer


def _note_keys(score: Score, grid_per_tick: float, vocab, slots) -> np.ndarray:
    """Rows (program code, pitch, onset unit, duration unit) of the notes in ``slots``."""
    rows = []
    for code, track_ids in slots:
        for i in track_ids:
            notes = score.tracks[i].notes
            onset = np.rint(notes["onset"] * grid_per_tick).astype(np.int64)
            duration = vocab.duration_values[quantize_durations(vocab, notes["duration"] * grid_per_tick)]
            rows.append(np.stack([np.full(len(notes), code), notes["pitch"].astype(np.int64),
                                  onset, duration], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.int64)


def _multiset_matches(a: np.ndarray, b: np.ndarray) -> int:
    """How many rows of ``a`` find a distinct equal row in ``b``."""
    if not len(a) or not len(b):
        return 0
    both = np.concatenate([a, b])
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    count_a = np.bincount(inverse[: len(a)], minlength=inverse.max() + 1)
    count_b = np.bincount(inverse[len(a):], minlength=inverse.max() + 1)
    return int(np.minimum(count_a, count_b).sum())


def roundtrip_report(tokenizer: Tokenizer, score: Score) -> dict:
    """Encode and decode ``score``; compare notes on the grid.

    ``notes_recovered`` counts original notes whose program, pitch, grid onset and
    grid duration come back exactly. ``max_onset_error_ms`` is the largest distance
    between an original onset and its grid position, both timed by the original's
    tempo map (the timing cost of the grid itself; tempo bins are reported apart as
    ``max_tempo_error_percent``).
    """
    vocab = tokenizer.vocab
    ids = tokenizer.encode(score)
    decoded = tokenizer.decode(ids, ticks_per_quarter=480)
    grid = vocab.config.positions_per_quarter
    slots = assign_slots(score, vocab.config.max_tracks)
    original = _note_keys(score, grid / score.ticks_per_quarter, vocab, slots)
    decoded_slots = [(DRUMS if t.is_drum else t.program, [i]) for i, t in enumerate(decoded.tracks)]
    recovered = _note_keys(decoded, grid / 480, vocab, decoded_slots)
    onsets = np.concatenate([t.notes["onset"] for t in score.tracks]) if score.tracks else np.zeros(0)
    unit = score.ticks_per_quarter / grid
    snapped = np.rint(onsets / unit) * unit
    error_ms = (np.abs(score.ticks_to_seconds(snapped) - score.ticks_to_seconds(onsets)).max() * 1000
                if len(onsets) else 0.0)
    tempo_in = score.tempo_map()["qpm"]
    tempo_bins = vocab.tempo_values[np.abs(np.log(tempo_in)[:, None] - np.log(vocab.tempo_values)).argmin(1)]
    notes = score.note_count()
    return {
        "notes": notes,
        "notes_encoded": int(len(original)),
        "tokens": int(len(ids)),
        "tokens_per_note": round(len(ids) / max(notes, 1), 3),
        "notes_recovered": _multiset_matches(original, recovered),
        "notes_decoded": decoded.note_count(),
        "max_onset_error_ms": round(float(error_ms), 3),
        "max_tempo_error_percent": round(float(np.abs(tempo_bins / tempo_in - 1).max() * 100), 3),
        "bars": int(len(tokenizer.bar_offsets(ids))),
        "valid": _is_valid(tokenizer, ids),
    }


def _is_valid(tokenizer: Tokenizer, ids) -> bool:
    from ..errors import TokenizerError

    try:
        tokenizer.validate(ids)
    except TokenizerError:
        return False
    return True
