"""Syllables and stress from linguistic data, song text, and the rhythm plan (no model)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunesmith.errors import ReadError, RequestError
from tunesmith.lyrics import syllabify
from tunesmith.lyrics.align import align, split_to_fit
from tunesmith.lyrics.plan import Meter, metric_weight, on_strong_beat, plan_rhythm, shortest_step
from tunesmith.lyrics.syllables import PRIMARY, UNSTRESSED
from tunesmith.lyrics.text import MAX_LINE_SYLLABLES, parse_words, read_words


def texts(line, lang="en"):
    return [s.text for s in syllabify(line, lang)]


def stressed(line, lang="en"):
    """The syllables of ``line`` carrying a primary stress."""
    return [s.text for s in syllabify(line, lang) if s.stress == PRIMARY]


def test_english_words_are_split_by_the_dictionary_whether_hyphenated_or_not():
    assert texts("Twinkle twinkle little star") == ["Twin-", "kle", "twin-", "kle", "lit-", "tle", "star"]
    assert texts("unforgettable") == ["un-", "for-", "get-", "ta-", "ble"]
    assert texts("beautiful morning, across") == ["beau-", "ti-", "ful", "morn-", "ing,", "a-", "cross"]


def test_english_stress_comes_from_cmu_and_function_words_are_unstressed():
    assert stressed("The beautiful morning of my unforgettable yesterday") == ["beau-", "morn-", "get-", "yes-"]
    line = syllabify("the river and the sea")
    assert [s.stress for s in line] == [UNSTRESSED, PRIMARY, UNSTRESSED, UNSTRESSED, UNSTRESSED, PRIMARY]
    assert line[1].primary_of_long_word and not line[5].primary_of_long_word


def test_user_hyphens_override_the_split_and_unknown_words_fall_back_to_vowel_groups():
    assert texts("wa-ter-fall") == ["wa-", "ter-", "fall"]
    assert texts("be-au-ti-ful") == ["be-", "au-", "ti-", "ful"]  # four, as the user wrote
    assert len(syllabify("glorfindelish")) == 4  # not in the dictionary: vowel groups
    assert [s.stress for s in syllabify("glorfindelish")] == [PRIMARY, UNSTRESSED, UNSTRESSED, UNSTRESSED]


def test_underscore_holds_a_syllable_over_more_notes():
    line = syllabify("sing it loud_ _ and love_")
    assert [(s.text, s.notes) for s in line] == [("sing", 1), ("it", 1), ("loud", 3), ("and", 1), ("love", 2)]


def test_german_stress_falls_on_the_stem_after_unstressed_prefixes():
    assert texts("Vergangenheit", "de") == ["Ver-", "gan-", "gen-", "heit"]
    assert stressed("Vergangenheit bekommen gelaufen", "de") == ["gan-", "kom-", "lau-"]
    assert stressed("Sonne aufgegangen Erde", "de") == ["Son-", "auf-", "Er-"]
    assert [s.stress for s in syllabify("der Mond und die Sterne", "de")] == [0, 2, 0, 0, 2, 0]


def test_romance_languages_stress_the_penultimate_unless_written_and_french_the_last_full_syllable():
    assert stressed("mañana cantare città", "it") == ["ña-", "ta-", "tà"]
    assert stressed("corazón mañana", "es") == ["zón", "ña-"]
    assert stressed("lune Pierrot chanterai", "fr") == ["lu-", "rot", "rai"]


def test_an_unknown_language_is_a_one_line_error():
    with pytest.raises(RequestError, match="unknown language 'xx'"):
        syllabify("hello", "xx")


WORDS = (Path(__file__).parents[1] / "docs" / "harbour.txt").read_text(encoding="utf-8")
"""The README's worked song: a verse and a chorus, twice."""


def test_song_text_names_sections_and_gives_repeats_their_tune():
    sections = parse_words(WORDS)
    assert [(s.name, s.tune) for s in sections] == [
        ("Verse 1", "Verse"), ("Chorus", "Chorus"), ("Verse 2", "Verse"), ("Chorus", "Chorus")]
    assert [len(line) for line in sections[0].syllables] == [8, 7]


def test_untagged_sections_find_their_chorus_and_verses():
    untagged = "\n".join(line for line in WORDS.splitlines() if not line.startswith("["))
    untagged += "\n\nSomething new at last\nand then again\nand once more\n"
    sections = parse_words(untagged)
    assert [s.tune for s in sections] == ["Verse", "Chorus", "Verse", "Chorus", "Bridge"]


def test_bad_words_files_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(ReadError, match="holds no words") as caught:
        read_words(empty)
    assert str(empty) in str(caught.value) and "\n" not in str(caught.value)
    long = tmp_path / "long.txt"
    long.write_text(" ".join(["la"] * 300) + "\n")
    with pytest.raises(ReadError, match="a line of 300 syllables"):
        read_words(long)
    with pytest.raises(ReadError, match="unknown language"):
        read_words(long, "klingon")
    assert MAX_LINE_SYLLABLES < 300


def test_metric_weights_of_common_meters():
    assert metric_weight([0, 12, 24, 36, 6], Meter(4, 4)).tolist() == [3, 1, 2, 1, 0]
    assert metric_weight([0, 12, 24], Meter(3, 4)).tolist() == [3, 1, 1]
    assert metric_weight([0, 6, 18, 24], Meter(6, 8)).tolist() == [3, 0, 2, 0]


@pytest.mark.parametrize("meter, tempo", [(Meter(4, 4), 96), (Meter(3, 4), 120), (Meter(6, 8), 72)])
def test_the_plan_puts_stresses_on_strong_beats_breathes_and_keeps_a_singable_pace(meter, tempo):
    sections = parse_words(WORDS)
    lines = [line for s in sections[:2] for line in s.syllables]
    plan = plan_rhythm(lines, meter, tempo, [2, 2])
    flat = [s for line in lines for s in line]
    assert len(plan) == sum(s.notes for s in flat)                    # melismas as marked
    assert plan.first.sum() == len(flat)                               # one onset per syllable
    starts = plan.onset[plan.first]
    stresses = np.array([s.stress == PRIMARY for s in flat])
    assert on_strong_beat(starts[stresses], meter).all()
    ends = plan.onset + plan.duration
    assert (plan.onset[1:] >= ends[:-1]).all()                         # one voice
    for line in range(len(lines)):                                     # a breath after each line
        last = np.flatnonzero(plan.line == line)[-1]
        following = plan.onset[last + 1] if last + 1 < len(plan) else plan.bars * meter.bar
        assert following - ends[last] >= meter.beat
        assert plan.duration[last] >= 2 * meter.beat                    # on a long note
    seconds = np.diff(starts) / 12 * 60 / tempo
    assert seconds.min() >= 1 / 4 - 1e-9                               # at most 4 syllables a second
    # phrase starts agree within a section: each line's first stress on a downbeat
    for line in range(len(lines)):
        stressed_onsets = plan.onset[(plan.line == line) & plan.first & stresses[plan.syllable]]
        assert stressed_onsets[0] % meter.bar == 0


def test_the_shortest_syllable_follows_the_tempo():
    assert shortest_step(96, Meter(4, 4)) == 6     # eighths: 3.2 a second
    assert shortest_step(60, Meter(4, 4)) == 3     # sixteenths: 4 a second
    assert shortest_step(160, Meter(4, 4)) == 12   # quarters: 2.7 a second


def test_alignment_puts_stresses_on_strong_notes_and_holds_the_rest():
    meter = Meter(4, 4)
    onsets = np.arange(0, 96, 12)                  # eight quarter notes, two bars
    syllables = syllabify("the morning sea")       # the MORN-ing SEA: 4 syllables
    starts = align(onsets, np.full(8, 12), syllables, meter)
    begun = {int(s): int(onsets[j]) for j, s in enumerate(starts) if s >= 0}
    assert sorted(begun) == [0, 1, 2, 3]
    assert metric_weight(begun[1], meter) >= 2 and metric_weight(begun[3], meter) >= 2
    ons, durs = split_to_fit(np.array([0, 48]), np.array([48, 48]), 4)
    assert ons.tolist() == [0, 24, 48, 72] and durs.tolist() == [24, 24, 24, 24]
