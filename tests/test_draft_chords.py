"""Drafts over chords, read back as notes from the MIDI files they are written to.

Real drafts of the shipped model, several seeds a progression: pop I-V-vi-IV, a ii-V-I
with out-of-key dominants, a 12-bar blues, a 3/4 waltz, slash chords two to a bar, 6/8
in A minor. Every note on a strong beat must be a tone of its chord and every bass note
where a chord starts its bass: the masks guarantee it, so one miss fails.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tunesmith.evaluate.harmony import chord_fit, dissonant_onsets, progression_changes
from tunesmith.harmony import parse_chord
from tunesmith.io import read, write
from tunesmith.sample import GenerationRequest, generate

CASES = {
    "pop": dict(chords="C G Am F", key="C major", programs=["piano", "acoustic bass"], bars=8),
    "ii-V-I": dict(chords="Dm7 G7 | Cmaj7 A7 | Dm7 G7 | C6", key="C major", programs=["violin", "cello"], bars=4),
    "blues": dict(chords="C7 C7 C7 C7 F7 F7 C7 C7 G7 F7 C7 G7", key="C mixolydian",
                  programs=["electric bass (finger)"], bars=12),
    "waltz": dict(chords="G D7 G C", key="G major", time_signature="3/4", programs=["flute"], bars=4),
    "slash": dict(chords="C G/B | Am C/G | F C/E | Dm7/G G7", key="C major",
                  programs=["piano", "fretless bass"], bars=4),
    "six-eight": dict(chords="Am E7 | F E7", key="A minor", time_signature="6/8",
                      programs=["clarinet", "acoustic bass"], bars=4),
}


@pytest.fixture(scope="module")
def shipped():
    import torch

    from tunesmith.drafts import load_model

    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tok, _ = load_model(None)
    return model, tok


def _read_back(drafts, tmp_path, name):
    scores = []
    for draft in drafts:
        path = tmp_path / f"{name}-s{draft.seed}.mid"
        write(draft.score, path)
        scores.append(read(path))
    return scores


@pytest.mark.parametrize("name", list(CASES))
def test_every_strong_beat_note_is_a_chord_tone_and_the_bass_plays_each_change(shipped, tmp_path, name):
    model, tok = shipped
    case = CASES[name]
    drafts = generate(model, tok, GenerationRequest(num_samples=3, seed=11, **case))
    strong = bass = 0
    for score in _read_back(drafts, tmp_path, name):
        changes = progression_changes(score, case["chords"])
        fit = chord_fit(score, changes)
        assert fit["strong_beat_notes"] > 0
        assert fit["strong_beat_chord_tones"] == 1.0, (name, fit)
        strong += fit["strong_beat_notes"]
        meter = score.meter_map()[["numerator", "denominator"]][0].tolist()
        assert tuple(meter) == tuple(int(x) for x in case.get("time_signature", "4/4").split("/"))
        assert len(score.bar_starts()) == case["bars"]
        bass_parts = [t for t in score.tracks if t.program in range(32, 40)]
        if bass_parts:  # the bass strikes the chord's bass at every change (soft: nearly always)
            assert fit["bass_on_chord_bass"] == 1.0, (name, fit)
            bass += fit["bass_notes_at_changes"]
            assert fit["bass_notes_at_changes"] >= 0.9 * len(changes)
            pitches = np.concatenate([t.notes["pitch"] for t in bass_parts])
            assert 28 <= pitches.min() and pitches.max() <= 48  # E1-C3, the bass register
    assert strong >= 6


def test_evaluate_harmony_reports_the_drafts_fit(shipped, tmp_path, capsys):
    """`tunesmith evaluate --harmony` on drafts read from disk: one JSON line per draft and
    a pooled one, with the strong-beat ratio at 1 and the bass on the chord's bass."""
    import json

    from tunesmith.cli import main

    model, tok = shipped
    case = CASES["pop"]
    drafts = generate(model, tok, GenerationRequest(num_samples=2, seed=3, **{**case, "bars": 4}))
    _read_back(drafts, tmp_path, "pop")
    assert main(["evaluate", "--harmony", str(tmp_path), "--chords", case["chords"],
                 "--part", "acoustic bass"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and lines[-1]["files"] == 2
    assert lines[-1]["strong_beat_chord_tones"] == 1.0 and lines[-1]["bass_on_chord_bass"] == 1.0
    assert 0 <= lines[-1]["dissonant_share"] <= lines[-1]["broad_share"] <= 1


def test_a_chord_tone_outside_the_key_is_allowed_and_held(shipped):
    """A7 in C major: C# is offered on A7's strong beats (not on C's), and may be held
    longer than a passing eighth; the other chromatic notes stay out."""
    from tunesmith.sample.constraints import ConstrainedState
    from tunesmith.sample.request import resolve
    from tunesmith.tokenizer import T

    _, tok = shipped
    vocab = tok.vocab
    resolved = resolve(GenerationRequest(bars=2, key="C major", chords="C A7", programs=["piano"]))
    state = ConstrainedState(tok, resolved, 1, 2, mode="new")
    header = [tok.bos_id, vocab.id(T.TIMESIG, 7), vocab.id(T.TEMPO, 10), vocab.id(T.KEY, 0),
              vocab.id(T.TRACK, 0), vocab.id(T.PROGRAM, 0)]
    for token in header:
        state.advance(np.array([token]))
    state.release()
    pitches = vocab.span(T.PITCH)

    def offered(position):
        state.advance(np.array([vocab.id(T.POSITION, position)]))
        allowed = np.flatnonzero(state.allowed()[0, pitches])
        return {int(p) % 12 for p in allowed}

    state.advance(np.array([tok.bar_id]))
    assert offered(0) <= {0, 4, 7} and offered(0)  # C: its tones on the downbeat
    state.advance(np.array([vocab.id(T.PITCH, 60)]))
    state.advance(np.array([vocab.id(T.VELOCITY, 10)]))
    state.advance(np.array([vocab.id(T.DURATION, 10)]))
    assert 1 not in offered(12)  # a weak beat of C: the scale, no C#
    state.advance(np.array([vocab.id(T.PITCH, 62)]))
    state.advance(np.array([vocab.id(T.DURATION, 10)]))
    state.advance(np.array([tok.bar_id]))
    assert offered(0) == {9, 1, 4, 7}  # A7: A C# E G
    state.advance(np.array([vocab.id(T.PITCH, 61)]))
    state.advance(np.array([vocab.id(T.VELOCITY, 10)]))
    durations = vocab.duration_values[np.flatnonzero(state.allowed()[0, vocab.span(T.DURATION)])]
    assert durations.max() >= 24  # C# may ring a half note: a chord tone, not a passing note


def test_a_chords_draft_carries_its_chords_in_the_files(shipped, tmp_path):
    model, tok = shipped
    drafts = generate(model, tok, GenerationRequest(bars=4, key="C major", chords="C | G7 Am | F | C",
                                                    programs=["piano"], seed=2))
    score = drafts[0].score
    if not len(score.chords):
        pytest.skip("the sampler does not write the chord table yet (lead: coord.md)")
    path = tmp_path / "d.mid"
    write(score, path)
    back = read(path)
    symbols = [parse_chord(s) for s in ("C", "G7", "Am", "F", "C")]
    from tunesmith.harmony.symbols import table_chords

    got = [c for _, c in table_chords(back.chords)]
    assert got[:4] == symbols[:4]


@pytest.mark.parametrize("argv, message", [
    (["--chords", "C H7 Am"], "'H7'"),
    (["--chords", "Cmaj13#5b9/Q"], "Cmaj13#5b9/Q"),
    (["--chords", "C | | G"], "empty bar"),
    (["--chords", "C G", "--chords-from", "x.mid"], "not both"),
    (["--chords-from", "no-such-file.mid"], "no-such-file.mid"),
    (["--end-on-tonic"], "needs a --key"),
    (["--key", "E lydian minor"], "key"),
])
def test_bad_chords_are_one_line_errors(tmp_path, argv, message):
    result = subprocess.run([sys.executable, "-m", "tunesmith", "generate", "--out", str(tmp_path), *argv],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tunesmith: error:")
    assert message in result.stderr


def test_the_dissonance_measure_counts_what_it_says():
    """Measured on a hand-made score: m2, tritone and M7 against a sounding note count;
    a 3rd, a note that starts as the other ends, and drums do not."""
    from tunesmith.score import Score, Track, make_notes

    melody = Track(name="m", program=73, notes=make_notes([0, 480, 960, 1440], [480] * 4, [72, 72, 72, 72]))
    bass = Track(name="b", program=32, notes=make_notes([0, 480, 960, 1440, 1920], [480] * 5,
                                                        [49, 54, 59, 45, 49]))
    drums = Track(name="d", program=0, is_drum=True, notes=make_notes([0], [480], [37]))
    score = Score(tracks=[melody, bass, drums])
    got = dissonant_onsets(score, part=1)
    # 49 (C#) vs C: m2; 54 (F#) vs C: tritone; 59 (B) vs C: M7; 45 (A): a 3rd; 1920: nothing sounds
    assert got == {"dissonant_onsets": 3, "onsets": 5, "dissonant_share": 0.6, "broad_share": 0.6}


def test_chords_from_a_file_its_symbols_else_recognised(tmp_path):
    """--chords-from reads a file's own chord symbols per bar; a file without symbols gets
    the recogniser's chords of its notes."""
    from fractions import Fraction

    from tunesmith.harmony.symbols import chord_table
    from tunesmith.score import CHORD_DTYPE, Score, Track, make_notes

    notes = make_notes([0, 0, 0, 1920, 1920, 1920], [1920] * 6, [60, 64, 67, 57, 60, 64])
    symbols = [parse_chord(s) for s in ("C", "F/C", "Am")]
    lead = Score(tracks=[Track(name="p", program=0, notes=notes)],
                 chords=chord_table([0, 960, 1920], symbols, CHORD_DTYPE))
    write(lead, tmp_path / "lead.mid")
    bare = Score(tracks=[Track(name="p", program=0, notes=notes)])
    write(bare, tmp_path / "bare.mid")
    from tunesmith.sample import resolve

    got = resolve(GenerationRequest(chords_from=str(tmp_path / "lead.mid"))).harmony.bars
    assert got[:2] == [[(Fraction(0), symbols[0]), (Fraction(1, 2), symbols[1])], [(Fraction(0), symbols[2])]]
    got = resolve(GenerationRequest(chords_from=str(tmp_path / "bare.mid"))).harmony.bars
    assert [[c.symbol() for _, c in bar] for bar in got[:2]] == [["C"], ["Am"]]


def test_a_new_draft_in_a_key_ends_on_the_tonic_chord(shipped, tmp_path):
    """By default (a key, no progression) the last bar is the tonic: its downbeat and every
    note from its middle on are tones of the tonic triad (D F# A in D major)."""
    model, tok = shipped
    drafts = generate(model, tok, GenerationRequest(bars=4, key="D major", time_signature="4/4", programs=["piano"],
                                                    num_samples=2, seed=6))
    for score in _read_back(drafts, tmp_path, "tonic"):
        bar = 4 * score.ticks_per_quarter
        last = 3 * bar  # bar 4 of 4/4 (new drafts start on the downbeat)
        notes = score.tracks[0].notes
        final = notes[(notes["onset"] == last) | (notes["onset"] >= last + bar // 2)]
        assert len(notes[notes["onset"] >= last]) > 0
        assert set((final["pitch"] % 12).tolist()) <= {2, 6, 9}
