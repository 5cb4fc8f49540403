"""Chord controls in the tokenizer: off by default (the shipped model's vocabulary and
ids unchanged), and with ``TokenizerConfig(chords=True)`` a round trip of the chords."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunesmith
from tunesmith.harmony import parse_chord
from tunesmith.harmony.symbols import chord_table, table_chords
from tunesmith.score import CHORD_DTYPE, Score, Track, make_notes
from tunesmith.tokenizer import T, Tokenizer, TokenizerConfig

DATA = Path(__file__).parent / "data"
SHIPPED = Path(tunesmith.__file__).parent / "models" / "default" / "tokenizer.json"
CHORDS = Tokenizer(TokenizerConfig(chords=True))


def lead_sheet(symbols, chord_ticks) -> Score:
    """A four-bar melody in 4/4 (quarters) under the given chords."""
    score = Score(ticks_per_quarter=480)
    onsets = np.arange(16) * 480
    score.tracks.append(Track("Melody", 0, notes=make_notes(onsets, [480] * 16,
                                                           [60, 64, 67, 72] * 4)))
    score.chords = chord_table(chord_ticks, [parse_chord(s) for s in symbols], CHORD_DTYPE)
    return score


def test_shipped_tokenizer_json_loads_unchanged_and_chords_are_off():
    shipped = Tokenizer.load(SHIPPED)
    assert not shipped.config.chords
    assert shipped.vocab.to_json() == SHIPPED.read_text(encoding="utf-8")   # byte for byte
    assert shipped.vocab_size == Tokenizer().vocab_size == 689
    assert "chords" not in shipped.config.to_dict()
    # a Score with chords encodes to the same ids as without them
    score = lead_sheet(["C", "Am"], [0, 3840])
    plain = lead_sheet(["C"], [0])
    plain.chords = plain.chords[:0]
    np.testing.assert_array_equal(shipped.encode(score), shipped.encode(plain))


def test_chords_round_trip_with_slash_chords_no_chord_and_changes_between_notes():
    symbols = ["C", "G/B", "Am7", "N.C.", "F#m7b5", "Dm/F"]
    ticks = [0, 960, 1920, 3840, 4800, 6000]   # two chords in bar 1, one mid-bar in bar 4
    score = lead_sheet(symbols, ticks)
    ids = CHORDS.encode(score)
    CHORDS.grammar.validate(ids)
    names = [CHORDS.vocab.name(i) for i in ids]
    assert "Chord_C:maj" in names and "Chord_N" in names and "ChordBass_B" in names
    back = CHORDS.decode(ids)
    assert [(t, c.symbol()) for t, c in table_chords(back.chords)] == \
        [(t, parse_chord(s).symbol()) for t, s in zip(ticks, symbols)]
    assert [n[:3] for n in back.tracks[0].notes.tolist()] == [n[:3] for n in score.tracks[0].notes.tolist()]


def test_a_chord_off_the_note_onsets_gets_its_own_position():
    score = lead_sheet(["C", "F"], [0, 240])   # F on an off-beat eighth, no note there
    ids = CHORDS.encode(score)
    CHORDS.grammar.validate(ids)
    assert [t for t, _ in table_chords(CHORDS.decode(ids).chords)] == [0, 240]


def test_rich_qualities_are_written_as_the_nearest_token_quality():
    score = lead_sheet(["Cmaj9", "G13", "Dm11", "Eadd9"], [0, 1920, 3840, 5760])
    back = CHORDS.decode(CHORDS.encode(score))
    assert [c.symbol() for _, c in table_chords(back.chords)] == ["Cmaj7", "G7", "Dm7", "E"]


def test_without_chord_symbols_the_recognised_chords_are_written():
    chorale = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    assert len(chorale.chords) == 0
    ids = CHORDS.encode(chorale)
    CHORDS.grammar.validate(ids)
    kinds = CHORDS.vocab.type_of[ids]
    assert (kinds == T.CHORD).sum() >= 10           # a chorale changes chord every beat or two
    back = CHORDS.decode(ids)
    assert len(back.chords) == (kinds == T.CHORD).sum()
    # the notes are the same as without chords
    plain = Tokenizer().decode(Tokenizer().encode(chorale))
    assert [t.notes.tolist() for t in back.tracks] == [t.notes.tolist() for t in plain.tracks]


def test_drums_alone_have_no_chords_and_encode_as_without_chord_controls():
    drums = Score(ticks_per_quarter=480)
    drums.tracks.append(Track("Kit", 0, True, notes=make_notes([0, 240, 480, 720], [60] * 4,
                                                             [36, 42, 38, 42])))
    ids = CHORDS.encode(drums)
    CHORDS.grammar.validate(ids)
    assert not (CHORDS.vocab.type_of[ids] == T.CHORD).any()
    assert [CHORDS.vocab.name(i) for i in ids] == [Tokenizer().vocab.name(i)
                                                   for i in Tokenizer().encode(drums)]


def test_grammar_allows_chords_only_after_a_position():
    state = CHORDS.grammar.start(1)
    ids = CHORDS.encode(lead_sheet(["C"], [0]))
    first_bar = int(np.flatnonzero(ids == CHORDS.bar_id)[0])
    for token in ids[:first_bar + 1]:
        state.advance(np.array([token]))
    allowed = state.allowed()[0]
    assert not allowed[CHORDS.vocab.span(T.CHORD)].any()          # right after Bar: no
    state.advance(np.array([CHORDS.vocab.id(T.POSITION, 0)]))
    assert state.allowed()[0][CHORDS.vocab.span(T.CHORD)].all()   # after Position: any chord


@pytest.mark.parametrize("chords", [False, True])
def test_save_and_load_keep_the_flag(tmp_path, chords):
    tok = Tokenizer(TokenizerConfig(chords=chords))
    tok.save(tmp_path / "tokenizer.json")
    again = Tokenizer.load(tmp_path / "tokenizer.json")
    assert again.config.chords is chords and again.vocab_size == tok.vocab_size
    assert tok.vocab_size == 689 + (12 * 11 + 1 + 12 if chords else 0)
