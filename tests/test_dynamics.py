"""Dynamics for drafts (`tunesmith.sample.dynamics`), on a real band arrangement whose
velocities are first flattened to the model's one value, 76."""
from __future__ import annotations

import numpy as np
import pytest

import tunesmith
from tunesmith.sample.dynamics import apply_dynamics, beat_strength, shape_draft, track_roles
from tunesmith.score import Score, Track, make_notes

BLUE_SKY = "real-midi/Natooz__MidiTok/Mr. Blue Sky.mid"


@pytest.fixture(scope="module")
def flat_band(request):
    from conftest import DATA

    score = tunesmith.read(DATA / BLUE_SKY)
    for track in score.tracks:
        track.notes["velocity"] = 76
    return score


def _by_name(score, name):
    return next(t for t in score.tracks if t.name == name)


def test_meter_accents_and_phrases(flat_band):
    score = apply_dynamics(flat_band.copy())
    melody = _by_name(score, "Melody").notes
    level, phrase = beat_strength(score, melody["onset"].astype(np.int64))
    v = melody["velocity"].astype(float)
    assert v[level == 0].mean() > v[level == 2].mean() + 8      # downbeats over weak beats
    assert v[level == 2].mean() > v[level >= 3].mean() + 4      # beats over off-beats
    middle, ends = (phrase > 0.35) & (phrase < 0.65), phrase > 0.9
    assert v[middle & (level == 2)].mean() > v[ends & (level == 2)].mean() + 8   # swell, taper
    assert len(np.unique(v)) > 8 and v.min() >= 1 and v.max() <= 127


def test_roles_put_the_band_under_the_melody(flat_band):
    score = apply_dynamics(flat_band.copy())
    roles = track_roles(score)
    assert roles[0] == "melody" and roles[score.tracks.index(_by_name(score, "Drums"))] == "drums"
    mean = {t.name: t.notes["velocity"].mean() for t in score.tracks}
    for name in ("Piano", "Bass", "Strings"):
        assert mean[name] < mean["Melody"] - 3, (name, mean)
        for level in (0, 2):  # like for like: on the downbeat, on a weak beat
            assert _mean_at(score, name, level) < _mean_at(score, "Melody", level) - 3


def _mean_at(score, name, level):
    notes = _by_name(score, name).notes
    levels, _ = beat_strength(score, notes["onset"].astype(np.int64))
    return notes["velocity"][levels == level].mean()


def test_drums_backbeat_and_soft_off_beat_hats(flat_band):
    score = apply_dynamics(flat_band.copy())
    drums = _by_name(score, "Drums").notes
    level, _ = beat_strength(score, drums["onset"].astype(np.int64))
    v, pitch = drums["velocity"].astype(float), drums["pitch"]
    snare, hats = np.isin(pitch, [38, 40]), np.isin(pitch, [42, 44, 46])
    assert snare.sum() > 50 and hats.sum() > 50
    assert v[snare & (level == 2)].mean() > v[hats].mean() + 15       # backbeat over hats
    assert v[hats & (level <= 2)].mean() > v[hats & (level >= 3)].mean() + 8


def test_deterministic_and_flat_keeps_the_draft(flat_band):
    a, b = apply_dynamics(flat_band.copy()), apply_dynamics(flat_band.copy())
    assert all(np.array_equal(x.notes, y.notes) for x, y in zip(a.tracks, b.tracks))
    flat = apply_dynamics(flat_band.copy(), "flat")
    assert all((t.notes["velocity"] == 76).all() for t in flat.tracks)
    from tunesmith.errors import RequestError

    with pytest.raises(RequestError, match="unknown dynamics 'loud'"):
        apply_dynamics(flat_band.copy(), "loud")


def test_a_prompts_own_notes_keep_their_velocities():
    """A continuation: the prompt's bars (velocity 50 as written) stay; only the
    generated material is shaped, in the piece and in `generated` alike."""
    tpq = 480
    onsets = np.arange(0, 8 * 4 * tpq, tpq)
    piece = Score(tracks=[Track("Flute", 73, notes=make_notes(onsets, [tpq] * len(onsets),
                                                              [72] * len(onsets), 76))])
    prompt_part = onsets < 4 * 4 * tpq
    piece.tracks[0].notes["velocity"][prompt_part] = 50
    generated = Score(tracks=[Track("Flute", 73, notes=piece.tracks[0].notes[~prompt_part].copy())])
    prompt = Score(tracks=[Track("Flute", 73, notes=piece.tracks[0].notes[prompt_part].copy())])
    shape_draft(piece, generated, prompt=prompt)
    v = piece.tracks[0].notes["velocity"]
    assert (v[prompt_part] == 50).all()
    assert len(np.unique(v[~prompt_part])) > 3 and (v[~prompt_part] != 76).any()
    assert abs(v[~prompt_part].mean() - 50) < 1   # played at the prompt's level
    assert np.array_equal(generated.tracks[0].notes["velocity"], v[~prompt_part])


def test_without_a_prompt_every_note_is_shaped():
    """A --form draft's `generated` leaves out its repeated sections, which are new
    music all the same: without a prompt every note gets dynamics."""
    tpq = 480
    onsets = np.arange(0, 8 * 4 * tpq, tpq)
    piece = Score(tracks=[Track("Flute", 73, notes=make_notes(onsets, [tpq] * len(onsets),
                                                              [72] * len(onsets), 76))])
    drafted = Score(tracks=[Track("Flute", 73, notes=piece.tracks[0].notes[:16].copy())])
    shape_draft(piece, drafted)
    v = piece.tracks[0].notes["velocity"]
    assert np.array_equal(v[:16], v[16:])                   # the copy is shaped like its A
    assert len(np.unique(v)) > 3 and np.array_equal(drafted.tracks[0].notes["velocity"], v[:16])
