"""Chords as a person reads them: segments of a Score's chords and their JSON form,
shared by `tunesmith chords --json` and every draft's ``.json``."""
from __future__ import annotations

from .recognise import recognise_score
from .symbols import flats_at, table_chords


def chord_segments(score, per: str = "beat", recognise: bool = False
                   ) -> tuple[str, list[tuple[int, int, object]]]:
    """("file" or "recognised", [(start tick, end tick, Chord)]) for a Score."""
    if len(score.chords) and not recognise:
        rows = table_chords(score.chords[score.chords["tick"].argsort(kind="stable")])
        end = max(score.end_tick(), rows[-1][0] + score.ticks_per_quarter)
        ends = [tick for tick, _ in rows[1:]] + [end]
        return "file", [(tick, stop, chord) for (tick, chord), stop in zip(rows, ends)]
    return "recognised", recognise_score(score, per)


def chord_dicts(score, segments) -> list[dict]:
    """JSON-ready chords: start and end in seconds, start_beat in quarter notes from the
    start, symbol (spelled in the key in force) and Harte label (as ``tunesmith chords
    --json`` and drafts' .json)."""
    if not segments:
        return []
    starts = score.ticks_to_seconds([s for s, _, _ in segments])
    ends = score.ticks_to_seconds([e for _, e, _ in segments])
    flats = flats_at(score, [s for s, _, _ in segments])
    return [{"start": round(float(a), 3), "end": round(float(b), 3),
             "start_beat": round(tick / score.ticks_per_quarter, 3),
             "symbol": chord.symbol(flat), "harte": chord.harte()}
            for a, b, (tick, _, chord), flat in zip(starts, ends, segments, flats)]
