"""Putting new material into the composer's own prompt, untouched.

The model reads a prompt through the tokenizer (onsets on its grid, velocities and
tempos in bins, instruments without names), but what a composer gets back must be
their prompt exactly as they wrote it plus what was generated: the same notes,
velocities, track names and tempo map. `merge_draft` takes the decoded draft and
returns (the whole piece, the generated material alone); the second is what the
originality check looks at, so a prompt is never reported as copied.
"""
from __future__ import annotations

import numpy as np

from ..gm import DRUMS, program_name
from ..score import NOTE_DTYPE, Score, Track, concat_notes
from ..tokenizer.encode import assign_slots


def _in_prompt_ticks(notes: np.ndarray, factor: float) -> np.ndarray:
    out = notes.copy()
    out["onset"] = np.rint(notes["onset"] * factor)
    out["duration"] = np.maximum(1, np.rint(notes["duration"] * factor))
    return out


def _select(notes: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    keep = notes["onset"] >= lo
    if hi is not None:
        keep &= notes["onset"] < hi
    return notes[keep]


def _empty_like(score: Score) -> Score:
    return Score(ticks_per_quarter=score.ticks_per_quarter, tempos=score.tempos.copy(),
                 time_signatures=score.time_signatures.copy(), key_signatures=score.key_signatures.copy(),
                 metadata=dict(score.metadata))


def merge_draft(prompt: Score, decoded: Score, mode: str, span_ticks: tuple[int, int | None],
                max_tracks: int, new_slot: int | None = None) -> tuple[Score, Score]:
    """(piece, generated) for a continuation (``span_ticks`` = (start of the new bars,
    None)), a bar infill (the span's start and end) or a track infill (``new_slot``).

    ``decoded`` is the draft decoded at 480 ticks per quarter, one track per slot;
    ``span_ticks`` are in those ticks. Slots map to the prompt's tracks as the
    tokenizer assigned them (`assign_slots`); a slot the prompt lacked becomes a new
    track named after its instrument.
    """
    factor = prompt.ticks_per_quarter / 480
    slots = assign_slots(prompt, max_tracks)
    piece, generated = prompt.copy(), _empty_like(prompt)
    lo, hi = span_ticks
    lo_p = int(round(lo * factor))
    hi_p = None if hi is None else int(round(hi * factor))
    for slot, track in enumerate(decoded.tracks):
        if mode == "infill_track" and slot != new_slot:
            continue
        new = _in_prompt_ticks(_select(track.notes, lo, hi) if mode != "infill_track" else track.notes, factor)
        if slot < len(slots):
            index = slots[slot][1][0]
            target = piece.tracks[index]
            if mode == "infill_bars":  # the prompt's notes that start inside the span make way
                old = target.notes
                target.notes = old[(old["onset"] < lo_p) | (old["onset"] >= hi_p)]
            elif mode == "infill_track":
                target.notes = np.zeros(0, dtype=NOTE_DTYPE)
            target.notes = concat_notes([target.notes, new])
            target.notes = target.notes[np.lexsort((target.notes["pitch"], target.notes["onset"]))]
            source = target
        else:
            code = DRUMS if track.is_drum else track.program
            source = Track(name=program_name(code), program=track.program, is_drum=track.is_drum, notes=new)
            piece.tracks.append(source)
        if len(new):
            generated.tracks.append(Track(source.name, source.program, source.is_drum, notes=new))
    if mode == "continue":  # meter or key changes the model made in the new bars
        for name in ("time_signatures", "key_signatures", "tempos"):
            table = getattr(decoded, name)
            later = table[table["tick"] >= lo].copy()
            later["tick"] = np.rint(later["tick"] * factor)
            setattr(piece, name, np.concatenate([getattr(piece, name), later]))
    return piece, generated
