"""A `Score` as the JSON the page draws its piano roll from.

The browser draws (parts coloured, bars numbered, chord symbols and lyrics) and moves
the playhead, so the server sends only numbers: notes in ticks, bar starts in ticks,
and the tempo map that turns the audio's seconds into ticks.
"""
from __future__ import annotations

import numpy as np

from ..score import Score


def roll_json(score: Score) -> dict:
    """Notes per track as flat ``[onset, duration, pitch, velocity, ...]`` lists (ticks,
    MIDI pitch), ``bars`` (the tick of each bar start, then the end tick), ``tempos``
    (``[tick, quarters per minute]``), ``lyrics`` and ``chords`` (``[tick, text]``)."""
    end = max(score.end_tick(), 1)
    bars = [int(b) for b in score.bar_starts(end) if b < end] or [0]
    tracks = []
    for track in score.tracks:
        notes = np.sort(track.notes, order="onset")
        flat = np.stack([notes["onset"], notes["duration"], notes["pitch"], notes["velocity"]],
                        axis=1).astype(np.int64).ravel().tolist() if len(notes) else []
        tracks.append({"name": track.name, "program": int(track.program),
                       "drum": bool(track.is_drum), "notes": flat})
    lyrics = [[int(lyric.tick), lyric.text] for _, lyric in score.all_lyrics()]
    return {"tpq": int(score.ticks_per_quarter), "end": int(end), "bars": bars + [int(end)],
            "tempos": [[int(t), float(q)] for t, q in score.tempo_map().tolist()],
            "tracks": tracks, "lyrics": lyrics, "chords": chord_rows(score),
            "title": score.metadata.get("title", "")}


def chord_rows(score: Score) -> list[list]:
    """``[tick, symbol]`` for each chord of ``score.chords`` when the Score has chords
    (a table with ``tick`` and a text column, or objects with ``tick`` and ``symbol``/
    ``text``/``name``); empty otherwise."""
    chords = getattr(score, "chords", None)
    if chords is None or len(chords) == 0:
        return []
    try:  # the chords engineer's table (tick, root, quality, bass) and its symbols
        from ..harmony.symbols import table_chords

        return [[int(tick), chord.symbol()] for tick, chord in table_chords(chords)]
    except (ImportError, AttributeError, KeyError, ValueError, TypeError):
        pass
    rows = []
    names = getattr(getattr(chords, "dtype", None), "names", None)
    for item in chords:
        if names:
            tick = item["tick"]
            text = next((item[n] for n in ("symbol", "text", "name", "figure") if n in names), "")
        else:
            tick = getattr(item, "tick", None)
            text = next((getattr(item, n) for n in ("symbol", "text", "name", "figure")
                         if hasattr(item, n)), "")
            if tick is None and isinstance(item, (tuple, list)) and len(item) >= 2:
                tick, text = item[0], item[1]
        if tick is None:
            continue
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        rows.append([int(tick), str(text)])
    return rows
