"""The tokenizer: lossless on the grid, grammar-valid, windows and infilling formats."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunesmith
from tunesmith.errors import TokenizerError
from tunesmith.score import (KEY_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track,
                             make_notes, parse_key)
from tunesmith.tokenizer import T, Tokenizer, TokenizerConfig
from tunesmith.tokenizer.roundtrip import roundtrip_report

DATA = Path(__file__).parent / "data"
TOK = Tokenizer()
ALLOWED_DURATIONS = set(TOK.vocab.duration_values.tolist())


def note_rows(score: Score, ticks_per_quarter: int = 480) -> list[tuple]:
    """Sorted (program or 128 for drums, pitch, onset, duration) in ticks at a common resolution."""
    factor = ticks_per_quarter / score.ticks_per_quarter
    rows = []
    for track in score.tracks:
        kind = 128 if track.is_drum else track.program
        for n in track.notes:
            rows.append((kind, int(n["pitch"]), round(n["onset"] * factor), round(n["duration"] * factor)))
    return sorted(rows)


def test_bach_chorale_round_trip_is_exact():
    score = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    decoded = TOK.decode(TOK.encode(score))
    assert note_rows(decoded) == note_rows(score)
    assert [len(t.notes) for t in decoded.tracks] == [len(t.notes) for t in score.tracks]
    assert len(score.tracks) == 4
    np.testing.assert_array_equal(decoded.key_signatures[["tonic", "mode"]].tolist()[:1],
                                  score.key_signatures[["tonic", "mode"]].tolist()[:1])


@pytest.mark.parametrize("name", ["bach/bwv10.7", "bach/bwv26.6", "bach/bwv248.42-4"])
def test_music21_corpus_chorales_round_trip(name):
    music21 = pytest.importorskip("music21")
    path = music21.corpus.getWork(name)
    report = roundtrip_report(TOK, tunesmith.read(path))
    assert report["notes"] > 50
    assert report["notes_recovered"] == report["notes"]
    assert report["max_onset_error_ms"] == 0.0


def on_grid(score: Score, grid: int = 12) -> list[tuple]:
    """The notes of a real file whose onset and duration lie on the grid."""
    unit = score.ticks_per_quarter / grid
    rows = []
    for row in note_rows(score, score.ticks_per_quarter):
        if (row[2] / unit).is_integer() and (row[3] / unit).is_integer() and round(row[3] / unit) in ALLOWED_DURATIONS:
            rows.append((row[0], row[1], round(row[2] / unit), round(row[3] / unit)))
    return rows


def test_real_midi_notes_on_the_grid_come_back_exactly():
    """Every readable file of the real-world corpus: its on-grid notes come back exactly,
    and no note is lost or invented."""
    checked = 0
    for path in sorted((DATA / "real-midi").glob("*/*.mid*")):
        try:
            score = tunesmith.read(path)
        except tunesmith.TunesmithError:
            continue
        expected = on_grid(score)
        decoded = TOK.decode(TOK.encode(score))
        got = set(on_grid(decoded))
        assert [row for row in expected if row not in got] == [], path
        assert decoded.note_count() == score.note_count(), path
        checked += len(expected)
    assert checked > 5000


def test_tokens_validate_against_the_grammar():
    score = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    TOK.validate(TOK.encode(score))


def test_grammar_rejects_a_pitch_without_position():
    ids = TOK.encode(tunesmith.read(DATA / "bach_bwv66.6.mxl"))
    bar = int(TOK.bar_offsets(ids)[0])
    broken = np.concatenate([ids[: bar + 1], [TOK.vocab.id(T.PITCH, 60)]])
    with pytest.raises(TokenizerError, match="Pitch_60"):
        TOK.validate(broken)


def test_random_walks_through_the_grammar_always_decode():
    """Any sequence the grammar allows decodes with one note per Pitch and no hanging note."""
    rng = np.random.default_rng(0)
    batch = 8
    state = TOK.grammar.start(batch)
    seqs = [[] for _ in range(batch)]
    for _ in range(300):
        mask = state.allowed()
        assert mask.any(axis=1).all()
        # prefer musical tokens so walks are long enough to exercise bars and notes
        weights = mask * np.where(TOK.vocab.type_of == T.EOS, 0.02, 1.0)
        weights[:, np.isin(TOK.vocab.type_of, [T.FILL_HOLE, T.FILL_TRACK])] = 0  # tested apart
        tokens = [rng.choice(TOK.vocab_size, p=w / w.sum()) for w in weights]
        state.advance(np.array(tokens))
        for s, t in zip(seqs, tokens):
            s.append(t)
    for seq in seqs:
        ids = np.array(seq)
        ids = ids[: np.argmax(ids == TOK.eos_id) + 1] if (ids == TOK.eos_id).any() else ids
        pitches = (TOK.vocab.type_of[ids] == T.PITCH).sum()
        score = TOK.decode(ids)
        complete = pitches - (TOK.vocab.type_of[ids[-2:]] == T.PITCH).any()  # last note may be cut
        assert score.note_count() >= complete
        for track in score.tracks:
            assert (track.notes["duration"] > 0).all()


def test_windows_from_any_bar_are_valid_and_keep_their_notes():
    score = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    ids = TOK.encode(score)
    full = TOK.decode(ids)
    bars = TOK.bar_offsets(ids)
    starts = TOK.decode(ids).bar_starts()
    for k in (1, 4, len(bars) - 1):
        window = np.concatenate([TOK.header_at(ids, bars[k]), ids[bars[k]:]])
        TOK.validate(window)
        part = TOK.decode(window)
        shift = int(starts[k])
        expected = [r for r in note_rows(full) if r[2] >= shift]
        got = [(r[0], r[1], r[2] + shift, r[3]) for r in note_rows(part)]
        assert got == expected


def test_infill_bars_format_is_valid_and_splices_back():
    ids = TOK.encode(tunesmith.read(DATA / "bach_bwv66.6.mxl"))
    for first, last in [(0, 1), (3, 5), (7, 8)]:
        rearranged = TOK.infill_bars(ids, first, last)
        TOK.validate(rearranged)
        assert (rearranged == TOK.vocab.id(T.FILL_HOLE)).sum() == 1
        assert note_rows(TOK.decode(rearranged)) == note_rows(TOK.decode(ids))


def test_infill_track_format_is_valid_and_splices_back():
    ids = TOK.encode(tunesmith.read(DATA / "bach_bwv66.6.mxl"))
    for slot in (0, 3):
        rearranged = TOK.infill_track(ids, slot)
        TOK.validate(rearranged)
        fill = int(np.flatnonzero(rearranged == TOK.vocab.id(T.FILL_START))[0])
        assert len(TOK.bar_offsets(rearranged[fill:])) == len(TOK.bar_offsets(ids))
        assert note_rows(TOK.decode(rearranged)) == note_rows(TOK.decode(ids))


def test_transpose_moves_pitched_tracks_and_key_but_not_drums():
    score = Score(ticks_per_quarter=480, key_signatures=np.array([(0, *parse_key("D dorian"))], dtype=KEY_DTYPE))
    score.tracks = [Track("Flute", 73, notes=make_notes([0, 480], [480, 480], [74, 76])),
                    Track("Drums", 0, True, notes=make_notes([0, 480], [120, 120], [36, 38]))]
    up = TOK.decode(TOK.transpose(TOK.encode(score), 3))
    assert up.tracks[0].notes["pitch"].tolist() == [77, 79]
    assert up.tracks[1].notes["pitch"].tolist() == [36, 38]
    assert up.key_signatures["tonic"].tolist() == [5]
    assert TOK.transpose(TOK.encode(score), 40) is None  # flute cannot play that high


def test_save_and_load_rebuilds_the_same_vocabulary(tmp_path):
    config = TokenizerConfig(max_tracks=4, velocity_bins=8)
    tok = Tokenizer(config)
    tok.save(tmp_path / "tokenizer.json")
    again = Tokenizer.load(tmp_path / "tokenizer.json")
    assert again.vocab.names() == tok.vocab.names()
    assert again.config == config
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="bad.json"):
        Tokenizer.load(tmp_path / "bad.json")


def test_tokens_per_note_stay_low_on_a_melody():
    score = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    soprano = Score(ticks_per_quarter=score.ticks_per_quarter, tracks=[score.tracks[0]],
                    tempos=score.tempos, time_signatures=score.time_signatures)
    ids = TOK.encode(soprano)
    assert len(ids) / soprano.note_count() < 4.0


# --- property test: random on-grid scores -------------------------------------------------
METERS = [(4, 4), (3, 4), (6, 8), (2, 2), (5, 4), (7, 8)]


@st.composite
def on_grid_scores(draw):
    tpq = draw(st.sampled_from([96, 480, 960]))
    unit = tpq // 12
    n_tracks = draw(st.integers(1, 4))
    durations = TOK.vocab.duration_values[TOK.vocab.duration_values <= 96]
    tracks = []
    for i in range(n_tracks):
        drum = draw(st.booleans()) if i == n_tracks - 1 else False
        n = draw(st.integers(1, 25))
        onsets = draw(st.lists(st.integers(0, 12 * 24), min_size=n, max_size=n))
        lengths = draw(st.lists(st.sampled_from(durations.tolist()), min_size=n, max_size=n))
        pitches = draw(st.lists(st.integers(35, 81) if drum else st.integers(21, 108), min_size=n, max_size=n))
        program = 0 if drum else draw(st.integers(0, 127))
        tracks.append(Track(f"t{i}", program, drum,
                            notes=make_notes(np.array(onsets) * unit, np.array(lengths) * unit, pitches, 90)))
    first = draw(st.sampled_from(METERS))
    second = draw(st.sampled_from(METERS))
    bar1 = first[0] * 4 * tpq // first[1]
    change_bar = draw(st.integers(1, 4))
    sigs = np.array([(0, *first), (change_bar * bar1, *second)], dtype=TIME_SIGNATURE_DTYPE)
    tempos = np.array([(0, draw(st.floats(40, 200))), (draw(st.integers(0, 40)) * unit, draw(st.floats(40, 200)))],
                      dtype=TEMPO_DTYPE)
    return Score(ticks_per_quarter=tpq, tracks=tracks, tempos=tempos, time_signatures=sigs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(on_grid_scores())
def test_random_on_grid_scores_round_trip_exactly(score):
    ids = TOK.encode(score)
    decoded = TOK.decode(ids)
    assert note_rows(decoded) == note_rows(score)
    # meters come back at the bars where they change
    want = [tuple(r) for r in score.meter_map()[["numerator", "denominator"]].tolist()]
    got = [tuple(r) for r in decoded.meter_map()[["numerator", "denominator"]].tolist()]
    assert got == [m for i, m in enumerate(want) if i == 0 or m != want[i - 1]][: len(got)]
    # tempos within half a bin
    ratio = decoded.tempo_map()["qpm"][0] / score.tempo_map()["qpm"][0]
    assert abs(np.log(ratio)) <= np.log(TOK.vocab.tempo_values[1] / TOK.vocab.tempo_values[0]) / 2 + 1e-9
    assert (TOK.vocab.type_of[ids] != T.PAD).all()
    assert ids.max() < TOK.vocab_size
