"""Score <-> pretty_midi: the same notes, tempos, meters, keys, lyrics and markers."""
from __future__ import annotations

import numpy as np
import pytest

from tunesmith.io import read
from tunesmith.io.convert import score_from_pretty_midi, score_to_pretty_midi
from tunesmith.score import sort_notes

from conftest import REAL_MIDI


@pytest.mark.parametrize("name", ["pedrolcl__dmidiplayer/mozart_diesirae.mid",  # lyrics, keys
                                  "Yikai-Liao__symusic/1.midi",                # 132 tempos
                                  "cuthbertLab__music21/test18.mid",           # UTF-8 lyrics
                                  "craffel__pretty-midi/example.mid"])         # drums, meters
def test_pretty_midi_round_trip(name):
    score = read(REAL_MIDI / name)
    pm = score_to_pretty_midi(score)
    assert [(i.name, i.program, i.is_drum) for i in pm.instruments] == \
        [(t.name, t.program, t.is_drum) for t in score.tracks if len(t.notes)]
    first = min(note.start for note in pm.instruments[0].notes)
    onset = score.tracks[0].notes["onset"].min()
    assert first == pytest.approx(float(score.ticks_to_seconds(onset)), abs=1e-5)
    back = score_from_pretty_midi(pm)
    assert back.ticks_per_quarter == score.ticks_per_quarter
    for ours, theirs in zip([t for t in score.tracks if len(t.notes)], back.tracks):
        np.testing.assert_array_equal(sort_notes(ours.notes), sort_notes(theirs.notes))
        assert [(l.tick, l.text) for l in ours.lyrics] == [(l.tick, l.text) for l in theirs.lyrics]
    np.testing.assert_array_equal(back.time_signatures, score.time_signatures)
    np.testing.assert_array_equal(back.key_signatures, score.key_signatures)
    seconds = score.ticks_to_seconds(np.arange(0, score.end_tick(), 97))
    np.testing.assert_allclose(back.ticks_to_seconds(np.arange(0, score.end_tick(), 97)),
                               seconds, atol=1e-4)
    assert [(m.tick, m.text) for m in back.markers] == [(m.tick, m.text) for m in score.markers]
