"""Instruments played as they are, read back as notes from written MIDI files.

One band of the shipped model (violin, cello, flute, bass, drums), several seeds: no
bowed string sounds more than two notes at once, the flute one, the bass stays in
E1-C3 and the cello in C2-A4 unless --range says otherwise, the drums play kit pieces
only. Harmonic and melodic minor are keys. The rules' masks are the same array code in
numpy and in torch (the GPU path).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tunesmith.gm import KIT_PIECES, comfortable_range
from tunesmith.io import read, write
from tunesmith.sample import GenerationRequest, generate, resolve
from tunesmith.sample.constraints import ConstrainedState
from tunesmith.tokenizer import Tokenizer

BAND = ["violin", "cello", "flute", "acoustic bass", "drums"]


@pytest.fixture(scope="module")
def shipped():
    from tunesmith.drafts import load_model

    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tok, _ = load_model(None)
    return model, tok


def _most_at_once(notes) -> int:
    """Most notes of one part sounding together (a note ending where another starts
    does not overlap it)."""
    on, off = notes["onset"], notes["onset"] + notes["duration"]
    return int(max(((on <= t) & (off > t)).sum() for t in on)) if len(on) else 0


@pytest.fixture(scope="module")
def band(shipped, tmp_path_factory):
    model, tok = shipped
    drafts = generate(model, tok, GenerationRequest(bars=4, key="G major", programs=BAND, num_samples=3, seed=4))
    folder = tmp_path_factory.mktemp("band")
    scores = []
    for draft in drafts:
        write(draft.score, folder / f"s{draft.seed}.mid")
        scores.append(read(folder / f"s{draft.seed}.mid"))
    return scores


def test_strings_at_most_two_notes_winds_one(band):
    for score in band:
        by_program = {t.program: t for t in score.tracks if not t.is_drum}
        assert _most_at_once(by_program[40].notes) <= 2 and _most_at_once(by_program[42].notes) <= 2
        assert _most_at_once(by_program[73].notes) == 1


def test_each_part_in_its_register_and_drums_on_kit_pieces(band):
    drum_notes = 0
    for score in band:
        for track in score.tracks:
            if track.is_drum:
                assert set(track.notes["pitch"].tolist()) <= KIT_PIECES
                drum_notes += len(track.notes)
                continue
            low, high = comfortable_range(track.program)
            assert low <= track.notes["pitch"].min() and track.notes["pitch"].max() <= high, track.program
    assert drum_notes > 0
    assert comfortable_range(32) == (28, 48) and comfortable_range(42) == (36, 69)


def test_range_overrides_the_register(shipped):
    model, tok = shipped
    drafts = generate(model, tok, GenerationRequest(bars=2, programs=["acoustic bass"], pitch_range="C3-C4",
                                                    num_samples=2, seed=1))
    pitches = np.concatenate([d.score.tracks[0].notes["pitch"] for d in drafts])
    assert pitches.min() >= 48 and pitches.max() <= 60  # above the bass's default register


@pytest.mark.parametrize("key, scale", [
    ("E harmonic minor", {4, 6, 7, 9, 11, 0, 3}),
    ("E melodic minor", {4, 6, 7, 9, 11, 1, 3}),
    ("E minor", {4, 6, 7, 9, 11, 0, 2, 1, 3}),  # the raised 6th and 7th allowed by default
    ("E dorian", {4, 6, 7, 9, 11, 1, 2}),
])
def test_minor_forms_are_keys(key, scale):
    resolved = resolve(GenerationRequest(key=key))
    assert set(resolved.scale) == scale
    assert resolved.key == ((4, 1) if "minor" in key else (4, 2))  # the key signature stays E minor


def test_harmonic_minor_drafts_use_its_leading_tone(shipped):
    model, tok = shipped
    drafts = generate(model, tok, GenerationRequest(bars=4, key="A harmonic minor", programs=["oboe"],
                                                    num_samples=3, seed=2))
    pcs = {int(p) % 12 for d in drafts for p in d.score.tracks[0].notes["pitch"]}
    assert pcs <= {9, 11, 0, 2, 4, 5, 8}


@pytest.mark.parametrize("request_", [
    GenerationRequest(bars=3, key="C major", chords="C G/B | Am F", programs=["piano", "acoustic bass"]),
    GenerationRequest(bars=2, key="D minor", programs=["violin", "flute", "drums"]),
    GenerationRequest(bars=2, chords="A7 Dm", time_signature="6/8", programs=["cello", "tuba"]),
])
def test_rules_mask_the_same_in_numpy_and_torch(request_):
    """Random walks through the grammar: the torch copy of the state (as on a GPU) allows
    exactly what the numpy state allows at every step, and keeps the same rule fields."""
    tok = Tokenizer()
    resolved = resolve(request_)
    batch = 6
    host = ConstrainedState(tok, resolved, batch, request_.bars, start_on_downbeat=True,
                            every_part_every_bar=len(resolved.programs) > 1)
    host.advance(np.full(batch, tok.bos_id))
    host.release()
    device = host.map_arrays(torch.as_tensor)
    rng = np.random.default_rng(0)
    for step in range(150):
        expected = host.allowed(tokens_left=150 - step)
        got = device.allowed(tokens_left=torch.tensor(150 - step))
        np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"step {step}")
        choice = np.array([rng.choice(np.flatnonzero(row)) for row in expected])
        host.advance(choice)
        device.advance(torch.as_tensor(choice))
    for mine, theirs in zip(host.rules, device.rules):
        for name in mine.FIELDS:
            np.testing.assert_array_equal(getattr(theirs, name).numpy(), getattr(mine, name), err_msg=name)
