"""The sampler's on-device path drafts exactly what the host path drafts.

On a GPU the grammar and the request's constraints run as torch ops inside CUDA graphs
(`tunesmith.sample.device_decode`); on a CPU they run as numpy on the host. Both are
the same array-API code, so: (1) the torch state's mask equals the numpy state's at
every step of random walks under every kind of constraint, and (2) whole drafts from
the device path (run eagerly on the CPU here) equal the host path's token for token.
A last test compares the captured CUDA graphs with the host loop where a GPU exists.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import tunesmith
from tunesmith.sample import GenerationRequest, generate, resolve
from tunesmith.sample import sampler
from tunesmith.sample.constraints import ConstrainedState
from tunesmith.tokenizer import Tokenizer

DATA = Path(__file__).parent / "data"
TOK = Tokenizer()

REQUESTS = [
    GenerationRequest(bars=4),
    GenerationRequest(bars=3, key="D dorian", time_signature="3/4", tempo=96, programs=["flute"],
                      pitch_range="C4-C6"),
    GenerationRequest(bars=3, key="A minor", chromatic=True, max_polyphony=2, notes_per_bar=(2, 5),
                      programs=["0", "33"]),
    GenerationRequest(bars=None, programs=["drums", "piano"]),
    GenerationRequest(lyrics="Twin-kle twin-kle lit-tle star, how I won-der what you are."),
    GenerationRequest(bars=6, max_repeated_bars=0, phrase_bars=2, programs=["violin"]),  # form rules
]


@pytest.mark.parametrize("request_index", range(len(REQUESTS)))
def test_torch_state_masks_equal_numpy_state_masks(request_index):
    request = REQUESTS[request_index]
    resolved = resolve(request)
    batch, budget = 8, 160
    exact = request.bars is not None and not request.lyrics
    host = ConstrainedState(TOK, resolved, batch, request.bars or 4, exact=exact,
                            start_on_downbeat=request_index % 2 == 0,
                            every_part_every_bar=len(resolved.programs) > 1)
    host.advance(np.full(batch, TOK.bos_id))
    rng = np.random.default_rng(request_index)
    for _ in range(3):  # a little of the header forced, as a prompt would be
        host.advance(np.array([rng.choice(np.flatnonzero(row)) for row in host.allowed()]))
    host.release()
    device = host.map_arrays(torch.as_tensor)
    kinds = set()
    for step in range(budget):
        tokens_left = budget - step  # the budget mask bites near the end
        expected = host.allowed(tokens_left=tokens_left)
        got = device.allowed(tokens_left=torch.tensor(tokens_left))
        np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"step {step}")
        choice = np.array([rng.choice(np.flatnonzero(row)) for row in expected])
        kinds.update(TOK.vocab.type_of[choice].tolist())
        host.advance(choice)
        device.advance(torch.as_tensor(choice))
    for (owner, name), (moved, _) in zip(host.fields(), device.fields()):  # the state's, grammar's, rules'
        np.testing.assert_array_equal(getattr(moved, name).numpy(), getattr(owner, name), err_msg=name)
    assert len(kinds) >= 6  # the walk went through bars, positions, pitches, durations...


def _drafts(model, tok, request, prompt=None, on_device=False, monkeypatch=None):
    monkeypatch.setattr(sampler, "_decode_on_device", lambda device: on_device)
    return generate(model, tok, request, prompt=prompt)


@pytest.mark.parametrize("generation, prompt", [
    (GenerationRequest(bars=4, num_samples=4, seed=3, key="E minor", max_polyphony=3), None),
    (GenerationRequest(bars=None, num_samples=3, seed=5, repetition_penalty=1.3, top_k=30), None),
    (GenerationRequest(bars=2, num_samples=2, seed=7, prompt="x"), "bach_bwv66.6.mxl"),
    (GenerationRequest(infill_bars="2-3", prompt="x", num_samples=2, seed=9), "bach_bwv66.6.mxl"),
    (GenerationRequest(infill_program="acoustic bass", prompt="x", num_samples=2, seed=11), "bach_bwv66.6.mxl"),
    (GenerationRequest(bars=3, num_samples=3, seed=13, programs=["0", "32"], notes_per_bar=(3, 9),
                       max_polyphony=3), None),
    (GenerationRequest(lyrics="Twin-kle twin-kle lit-tle star, how I won-der", num_samples=2, seed=15), None),
])
def test_device_path_drafts_equal_host_path_drafts(tiny_model, monkeypatch, generation, prompt):
    model, tok = tiny_model
    torch.set_num_threads(1)
    score = tunesmith.read(DATA / prompt) if prompt else None
    host = _drafts(model, tok, generation, score, on_device=False, monkeypatch=monkeypatch)
    device = _drafts(model, tok, generation, score, on_device=True, monkeypatch=monkeypatch)
    for a, b in zip(host, device):
        np.testing.assert_array_equal(a.ids, b.ids)
        assert a.tokens_generated == b.tokens_generated
        assert a.mean_log_likelihood == pytest.approx(b.mean_log_likelihood, abs=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("compile", [False, True], ids=["graphs", "compiled-graphs"])
def test_cuda_graph_drafts_match_the_host_loop_on_the_gpu(monkeypatch, compile):
    """The captured graphs (and their torch.compile'd version) replay the same steps: on
    one GPU the shipped model's drafts agree with the host loop's, and every one is valid
    and exact. A rare rounding difference between the static and the ordinary model step
    may change a token, so at most two drafts in sixteen may differ. Needs no training
    (nor symusic/music21), so it runs on a bare GPU machine."""
    from tunesmith.model_folder import load_model_folder

    model, tok = load_model_folder(Path(tunesmith.__file__).parent / "models" / "default", "cuda")
    request = GenerationRequest(bars=4, num_samples=16, seed=1, key="G major", max_polyphony=2,
                                programs=["73", "42"], repetition_penalty=1.1)  # flute, cello
    monkeypatch.setattr(sampler, "_decode_on_device", lambda device: False)
    host = generate(model, tok, request)
    monkeypatch.setattr(sampler, "_decode_on_device", lambda device: True)
    device = generate(model, tok, request, compile=compile)
    same = sum(np.array_equal(a.ids, b.ids) for a, b in zip(host, device))
    assert same >= 14
    for draft in device:
        tok.validate(draft.ids)
        assert len(tok.bar_offsets(draft.ids)) == 4
        assert sorted(t.program for t in draft.score.tracks) == [42, 73]


def test_the_device_step_compiles_as_one_graph_and_drafts_the_same(tiny_model, monkeypatch):
    """torch.compile(fullgraph=True) traces the whole step (grammar, constraints, choice,
    model) without a break; the aot_eager backend checks the trace without a C compiler."""
    model, tok = tiny_model
    request = GenerationRequest(bars=2, num_samples=2, seed=21, key="C major", max_polyphony=2, notes_per_bar=(3, 8),
                                repetition_penalty=1.2)
    monkeypatch.setattr(sampler, "_decode_on_device", lambda device: True)
    eager = generate(model, tok, request)
    torch._dynamo.reset()
    compiled = generate(model, tok, request, compile="aot_eager")
    for a, b in zip(eager, compiled):
        np.testing.assert_array_equal(a.ids, b.ids)
