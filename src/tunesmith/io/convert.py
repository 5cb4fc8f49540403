"""`Score` to and from ``pretty_midi.PrettyMIDI``, the MIDI object many users know.

pretty_midi keeps times in seconds and lyrics in one list for the whole piece; we keep
ticks and lyrics per track. The conversions are exact for tick-aligned music:

- to pretty_midi, the score goes through MIDI bytes (our writer, then pretty_midi's own
  reader with UTF-8 text), so pretty_midi builds its tempo map itself; markers become
  ``text_events``;
- from pretty_midi, seconds become ticks through the tempo map at ``pm.resolution``
  ticks per quarter, vectorized; lyrics go to the instrument whose note onsets they
  match; ``text_events`` become markers.
"""
from __future__ import annotations

import io

import numpy as np

from ..score import (KEY_DTYPE, MODES, NOTE_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Lyric,
                     Marker, Score, Track)
from .midi import merge_lyric_only_tracks, score_to_symusic


def score_to_pretty_midi(score: Score):
    """A ``pretty_midi.PrettyMIDI`` with the score's notes, programs, drums, tempos,
    meters, keys (major/minor only, as in MIDI), lyrics and markers (as text events)."""
    import pretty_midi

    data = score_to_symusic(score).dumps_midi()
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data), charset="utf-8")
    pm.text_events = [pretty_midi.Text(marker.text, float(seconds)) for marker, seconds in
                      zip(score.markers, score.ticks_to_seconds([m.tick for m in score.markers]))]
    return pm


def score_from_pretty_midi(pm) -> Score:
    """A `Score` at ``pm.resolution`` ticks per quarter from a ``pretty_midi.PrettyMIDI``."""
    tpq = int(pm.resolution)
    to_ticks = _seconds_to_ticks(pm)
    score = Score(ticks_per_quarter=tpq)
    for instrument in pm.instruments:
        raw = np.array([(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes],
                       dtype=np.float64).reshape(-1, 4)
        notes = np.zeros(len(raw), dtype=NOTE_DTYPE)
        notes["onset"] = to_ticks(raw[:, 0])
        notes["duration"] = np.maximum(to_ticks(raw[:, 1]) - notes["onset"], 1)
        notes["pitch"] = raw[:, 2]
        notes["velocity"] = np.clip(raw[:, 3], 1, 127)
        score.tracks.append(Track(name=instrument.name, program=int(instrument.program),
                                  is_drum=bool(instrument.is_drum), notes=notes))
    times, qpms = pm.get_tempo_changes()
    score.tempos = np.zeros(len(times), dtype=TEMPO_DTYPE)
    score.tempos["tick"], score.tempos["qpm"] = to_ticks(times), qpms
    sigs = pm.time_signature_changes
    score.time_signatures = np.array(
        [(int(to_ticks(s.time)), s.numerator, s.denominator) for s in sigs],
        dtype=TIME_SIGNATURE_DTYPE).reshape(-1)
    keys = pm.key_signature_changes  # key_number: 0-11 major tonics, 12-23 minor
    score.key_signatures = np.array(
        [(int(to_ticks(k.time)), k.key_number % 12,
          MODES.index("minor" if k.key_number >= 12 else "major")) for k in keys],
        dtype=KEY_DTYPE).reshape(-1)
    if pm.lyrics:
        ticks = to_ticks([lyric.time for lyric in pm.lyrics])
        holder = Track(name="Lyrics", lyrics=[Lyric(int(t), lyric.text)
                                              for t, lyric in zip(ticks, pm.lyrics)])
        score.tracks.append(holder)
        merge_lyric_only_tracks(score)
    score.markers = [Marker(int(t), text.text) for t, text in
                     zip(to_ticks([t.time for t in pm.text_events]), pm.text_events)]
    return score


def _seconds_to_ticks(pm):
    """A vectorized seconds -> nearest tick function for ``pm``'s tempo map."""
    times, qpms = pm.get_tempo_changes()
    if len(times) == 0 or times[0] > 0:
        times, qpms = np.concatenate([[0.0], times]), np.concatenate([[120.0], qpms])
    ticks_per_second = qpms / 60.0 * pm.resolution
    change_ticks = np.concatenate([[0.0], np.cumsum(np.diff(times) * ticks_per_second[:-1])])

    def to_ticks(seconds):
        seconds = np.asarray(seconds, dtype=np.float64)
        i = np.clip(np.searchsorted(times, seconds, side="right") - 1, 0, len(times) - 1)
        return np.rint(change_ticks[i] + (seconds - times[i]) * ticks_per_second[i]).astype(
            np.int64)

    return to_ticks
