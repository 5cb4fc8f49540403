"""Form and phrasing: sections that repeat where the form says, no accidental loops,
phrases that breathe.

The masks are checked token by token on a state fed a bar over and over (numpy and
torch alike); the drafts come from the shipped model, are written as MIDI and read
back, and their notes are compared bar by bar.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

import tunesmith
from tunesmith.errors import RequestError
from tunesmith.sample import GenerationRequest, generate, resolve
from tunesmith.sample.constraints import ConstrainedState
from tunesmith.sample.form import parse_form
from tunesmith.tokenizer import T, Tokenizer
from tunesmith.tokenizer.encode import meter_index

TOK = Tokenizer()
V = TOK.vocab


@pytest.fixture(scope="module")
def shipped():
    from tunesmith.drafts import load_model

    torch.set_num_threads(2)
    model, tok, _ = load_model(None)
    return model, tok


def _read_back(draft, tmp_path, name):
    path = tmp_path / f"{name}.mid"
    tunesmith.write(draft.score, path)
    return tunesmith.read(path)


def _bars(score, count):
    """Each of the first ``count`` bars' notes: (place in the bar, pitch, length) tuples."""
    starts = score.bar_starts(until_tick=score.end_tick() + 8 * score.ticks_per_quarter)
    notes = np.concatenate([t.notes for t in score.tracks])
    return [tuple(sorted((int(n["onset"] - a), int(n["pitch"]), int(n["duration"]))
                         for n in notes if a <= n["onset"] < b))
            for a, b in zip(starts[:count], starts[1:count + 1])]


def _repeated(bars):
    seen, count = set(), 0
    for bar in bars:
        if bar:
            count += bar in seen
            seen.add(bar)
    return count


# --- parsing --------------------------------------------------------------------------------

def test_forms_parse_with_letters_names_and_counts():
    assert [(s.name, s.bars, s.repeat) for s in parse_form("AABA", 32)] == [
        ("A", 8, False), ("A", 8, True), ("B", 8, False), ("A", 8, True)]
    assert [s.bars for s in parse_form("A8 A8 B8 A8", None)] == [8, 8, 8, 8]
    sections = parse_form("verse8 chorus4 verse chorus bridge", 40)
    assert [(s.name, s.bars) for s in sections] == [("verse", 8), ("chorus", 4), ("verse", 8),
                                                     ("chorus", 4), ("bridge", 16)]


@pytest.mark.parametrize("form, bars, words", [
    ("", 8, "empty"), ("AABA", 30, "do not split"), ("A8 A4", None, "two lengths"),
    ("A8 ?B", None, "bad form section"), ("A B", None, "--bars"), ("A200 B200", None, "256")])
def test_bad_forms_are_one_line_errors(form, bars, words):
    with pytest.raises(RequestError, match=words) as caught:
        resolve(GenerationRequest(form=form, bars=bars))
    assert "\n" not in str(caught.value)


def test_cli_bad_form_is_one_line_and_exit_2(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tunesmith", "generate", "--form", "AABA", "--bars", "30",
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "do not split" in run.stderr


# --- masks, token by token --------------------------------------------------------------------

def _state(request, batch=1):
    state = ConstrainedState(TOK, resolve(request), batch, request.bars, exact=True, start_on_downbeat=True)
    state.advance(np.full(batch, TOK.bos_id))
    state.release()
    return state


def _feed(state, tokens):
    """Advance through ``tokens``, each of which the mask must allow."""
    for token in tokens:
        assert state.allowed(tokens_left=900)[0, token], V.name(token)
        state.advance(np.array([token]) if isinstance(state.bar_start, np.ndarray) else torch.tensor([token]))


def _header():
    """4/4, a tempo, one violin part."""
    return [V.id(T.TIMESIG, meter_index(V, 4, 4)), V.id(T.TEMPO, 30), V.id(T.TRACK, 0), V.id(T.PROGRAM, 40)]


def _duration(units):
    return V.id(T.DURATION, int(np.flatnonzero(V.duration_values == units)[0]))


def _bar(pitches, lengths):
    """A bar of one part: notes one after another from the downbeat."""
    tokens, at = [TOK.bar_id], 0
    for k, (pitch, length) in enumerate(zip(pitches, lengths)):
        tokens += [V.id(T.POSITION, at), V.id(T.PITCH, pitch)]
        tokens += [V.id(T.VELOCITY, 10)] if k == 0 else []
        tokens.append(_duration(length))
        at += length
    return tokens


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_anti_loop_forbids_the_note_that_completes_one_copy_too_many(library):
    state = _state(GenerationRequest(bars=8, max_repeated_bars=1, phrase_bars=0))
    if library == "torch":
        state = state.map_arrays(torch.as_tensor)
    bar = _bar([62, 64, 66, 67], [12, 12, 12, 12])
    _feed(state, _header() + bar + bar)          # one copy: allowed
    _feed(state, bar[:-1])                       # the second copy, up to its last note's length
    mask = np.asarray(state.allowed(tokens_left=900)[0])
    assert not mask[_duration(12)]               # completing it is forbidden
    assert mask[_duration(6)] and mask[_duration(24)]  # any other length is fine
    _feed(state, [_duration(6), TOK.bar_id])     # a new bar: the piece goes on
    _feed(state, _bar([69, 67], [24, 24]))


def test_anti_loop_masks_agree_between_numpy_and_torch_while_copying():
    """A walk that copies its first bar whenever the mask lets it, and otherwise picks
    the lowest token allowed: both libraries give the same masks at every step."""
    request = GenerationRequest(bars=8, max_repeated_bars=2, phrase_bars=4)
    host = _state(request, batch=2)
    device = host.map_arrays(torch.as_tensor)
    bar = _bar([62, 64, 66, 67], [12, 12, 12, 12])
    plan = _header() + bar * 8 + [TOK.eos_id]
    taken = 0
    for token in plan:
        expected = host.allowed(tokens_left=900)
        np.testing.assert_array_equal(device.allowed(tokens_left=torch.tensor(900)).numpy(), expected)
        choice = np.where(expected[:, token], token, expected.argmax(axis=1))
        taken += int(choice[0] == token)
        host.advance(choice)
        device.advance(torch.as_tensor(choice))
        if (host.grammar.phase == 21).all():
            break
    assert taken < len(plan)  # the mask turned the walk away from copying


def test_phrase_end_bar_closes_on_a_long_note_or_a_rest():
    state = _state(GenerationRequest(bars=8, phrase_bars=2, max_repeated_bars=None))
    eighths = _bar([62, 64, 66, 67, 69, 71, 72], [6] * 7)
    _feed(state, _header() + eighths)            # bar 1: no phrase end, runs on
    mask = state.allowed(tokens_left=900)[0]
    assert mask[V.id(T.POSITION, 42)]
    _feed(state, eighths)                         # bar 2 ends a phrase
    mask = state.allowed(tokens_left=900)[0]
    assert not mask[V.id(T.POSITION, 42)]        # an eighth more would leave no breath
    assert mask[TOK.bar_id]                       # the last eighth rests: the phrase breathes
    _feed(state, [TOK.bar_id] + _bar([62, 64, 66, 67], [12] * 4))  # bar 3
    _feed(state, [TOK.bar_id, V.id(T.POSITION, 0), V.id(T.PITCH, 62), V.id(T.VELOCITY, 10)])
    mask = state.allowed(tokens_left=900)[0]     # bar 4 ends a phrase: a short note must leave room
    assert mask[_duration(6)] and mask[_duration(12)] and mask[_duration(48)]
    _feed(state, [_duration(6), V.id(T.POSITION, 6), V.id(T.PITCH, 64), _duration(36)])
    assert state.allowed(tokens_left=900)[0, TOK.bar_id]


# --- drafts, read back as notes -------------------------------------------------------------

def test_aaba_gives_identical_a_sections_and_a_different_b(shipped, tmp_path):
    model, tok = shipped
    request = GenerationRequest(bars=16, form="AABA", key="D major", programs=["violin"], num_samples=2, seed=3)
    for draft in generate(model, tok, request):
        score = _read_back(draft, tmp_path, f"aaba{draft.seed}")
        bars = _bars(score, 16)
        a1, a2, b, a3 = bars[0:4], bars[4:8], bars[8:12], bars[12:16]
        assert a1 == a2 == a3 and any(a1)
        assert b != a1 and any(b)
        starts = draft.score.bar_starts(until_tick=draft.score.end_tick())
        assert [(m.tick, m.text) for m in draft.score.markers] == [  # rehearsal marks
            (int(starts[i]), name) for i, name in zip((0, 4, 8, 12), "AABA")]


def test_vary_keeps_the_rhythm_and_redrafts_pitches(shipped, tmp_path):
    model, tok = shipped
    request = GenerationRequest(bars=12, form="A4 B4 A4", vary=True, key="A minor", programs=["flute"],
                                num_samples=1, seed=5)
    score = _read_back(generate(model, tok, request)[0], tmp_path, "vary")
    bars = _bars(score, 12)
    rhythm = [[(at, length) for at, _, length in bar] for bar in bars]
    assert rhythm[8:12] == rhythm[0:4]
    assert [[p for _, p, _ in bar] for bar in bars[8:12]] != [[p for _, p, _ in bar] for bar in bars[0:4]]


def test_drafts_without_a_form_repeat_no_more_bars_than_the_limit(shipped, tmp_path):
    """The same seeds without the mask repeat more (at top-p 0.95, 6 of 16 such violin
    drafts were loops, up to 14 of 16 bars copied)."""
    model, tok = shipped
    request = GenerationRequest(bars=16, key="D major", programs=["violin"], num_samples=5, seed=0,
                                top_p=0.95, max_repeated_bars=2, phrase_bars=0)
    drafts = generate(model, tok, request)
    counts = [_repeated(_bars(_read_back(d, tmp_path, f"loop{d.seed}"), 16)) for d in drafts]
    assert max(counts) <= 2, counts
    free = generate(model, tok, replace(request, max_repeated_bars=None))
    free_counts = [_repeated(_bars(_read_back(d, tmp_path, f"free{d.seed}"), 16)) for d in free]
    assert max(free_counts) > 2, free_counts


def test_phrase_ends_of_drafts_breathe(shipped, tmp_path):
    model, tok = shipped
    request = GenerationRequest(bars=8, programs=["flute"], max_polyphony=1, num_samples=3, seed=11)
    for draft in generate(model, tok, request):
        score = _read_back(draft, tmp_path, f"breath{draft.seed}")
        tpq = score.ticks_per_quarter
        starts = score.bar_starts(until_tick=score.end_tick() + 4 * tpq)
        notes = score.tracks[0].notes
        for bar in (3, 7):  # the 4th and 8th bars
            a, z = int(starts[bar]), int(starts[bar + 1])
            inside = notes[(notes["onset"] >= a) & (notes["onset"] < z)]
            ends = np.append(inside["onset"][1:], z)  # the next onset, or the barline
            rests = ends - (inside["onset"] + inside["duration"])
            assert (inside["duration"] >= tpq).any() or (rests >= tpq // 2).any() or not len(inside)
