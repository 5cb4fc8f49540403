"""Chord recognition: profiles, the meter grid, small scores read back as chords, and
MIREX majmin accuracy on three real POP909 songs against their labels."""
from __future__ import annotations

import numpy as np
import pytest

from tunesmith.harmony import NO_CHORD, Chord, parse_chord
from tunesmith.harmony.evaluation import majmin_frames
from tunesmith.harmony.pop909 import read_beats, read_chord_labels
from tunesmith.harmony.recognise import (melody_tracks, meter_grid, merge_runs,
                                         recognise_notes, recognise_score, window_profiles)
from tunesmith.io import read
from tunesmith.score import Score, Track, make_notes

from conftest import DATA

TPQ = 480
BAR = 4 * TPQ


def _block_chords(symbols, octave=48, beats=4) -> Track:
    """Each chord's tones (bass an octave below) held for ``beats`` quarters."""
    onsets, durations, pitches = [], [], []
    for i, symbol in enumerate(symbols):
        chord = parse_chord(symbol)
        start = i * beats * TPQ
        tones = [octave + (chord.root + step) % 12 for step in chord.intervals()]
        for pitch in tones + [octave - 12 + chord.bass]:
            onsets.append(start)
            durations.append(beats * TPQ)
            pitches.append(pitch)
    return Track("Piano", 0, notes=make_notes(onsets, durations, pitches))


def _symbols(segments) -> list[str]:
    return [chord.symbol() for _, _, chord in segments]


def test_profiles_weigh_each_note_by_its_overlap_with_each_window():
    # a C held over two windows and a bit of a third; an E in window 1 only
    profiles, bass = window_profiles([0.0, 1.0], [2.5, 2.0], [60, 64], [1.0, 2.0],
                                     [0.0, 1.0, 2.0, 3.0], bass_span=2)
    assert profiles[:, 0].tolist() == [1.0, 1.0, 0.5]
    assert profiles[:, 4].tolist() == [0.0, 2.0, 0.0]
    assert bass[1, 4] == 0.0 and bass[1, 0] == 1.0  # E is 4 semitones above the bass


def test_a_pop_progression_in_block_chords_is_named_bar_by_bar():
    score = Score(ticks_per_quarter=TPQ, tracks=[_block_chords(["C", "G/B", "Am", "F", "Dm7", "G7", "C"])])
    assert _symbols(recognise_score(score, "bar")) == ["C", "G/B", "Am", "F", "Dm7", "G7", "C"]
    segments = recognise_score(score, "beat")  # changes only where the chords change
    assert [start for start, _, _ in segments] == [i * BAR for i in range(7)]


def test_a_melody_over_an_accompaniment_does_not_change_the_chords():
    chords = _block_chords(["C", "F", "G", "C"])
    # a busy line of passing notes on top: D, F, A, B over C; E, G, B, D over F ...
    n = 32
    melody = Track("Melody", 73, notes=make_notes(np.arange(n) * TPQ // 2, [TPQ // 2] * n,
                                                   [74, 77, 81, 83, 76, 79, 83, 86] * 4))
    score = Score(ticks_per_quarter=TPQ, tracks=[melody, chords])
    assert melody_tracks(score.tracks) == [True, False]
    assert _symbols(recognise_score(score, "bar")) == ["C", "F", "G", "C"]


def test_a_melody_alone_still_gets_chords_and_silence_is_no_chord():
    arpeggios = [60, 64, 67, 72, 57, 60, 64, 69]  # C then Am, a quarter each
    notes = make_notes(np.r_[np.arange(8) * TPQ, 12 * TPQ], [TPQ] * 9, arpeggios + [60])
    score = Score(ticks_per_quarter=TPQ, tracks=[Track("Flute", 73, notes=notes)])
    assert melody_tracks(score.tracks) == [False]
    assert _symbols(recognise_score(score, "bar")) == ["C", "Am", "N.C.", "C"]


def test_meter_grids_follow_the_meter():
    score = Score(ticks_per_quarter=TPQ, time_signatures=[(0, 6, 8), (2 * 3 * TPQ, 3, 4)])
    score.tracks.append(Track(notes=make_notes([0], [6 * TPQ + 3 * TPQ], [60])))
    bounds, strength = meter_grid(score, "beat")
    # 6/8: two dotted-quarter beats a bar (the second a half bar); 3/4: three quarters
    assert bounds.tolist() == [0, 720, 1440, 2160, 2880, 3360, 3840, 4320]
    assert strength.tolist() == [2, 1, 2, 1, 2, 0, 0]
    assert meter_grid(score, "bar")[0].tolist() == [0, 1440, 2880, 4320]
    with pytest.raises(Exception, match="unknown chord grid"):
        meter_grid(score, "quaver")


def test_majmin_frames_follow_the_mirex_rules():
    ref = ([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], ["C:maj", "A:min7", "G:sus4", "N"])
    # a seventh and an inversion reduce to the triad; sus4 is not scored; N must be N
    assert majmin_frames(*ref, [0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0],
                         ["C:7", "A:min/b3", "C:maj", "N"]) == (30, 30)
    assert majmin_frames(*ref, [0.0], [4.0], ["C:min"]) == (0, 30)
    assert majmin_frames(*ref, [0.0], [2.0], ["C:maj"]) == (20, 30)  # after 2 s: N, right at 3-4


def _pop909_accuracy(song: str) -> tuple[int, int]:
    folder = DATA / "pop909" / song
    score = read(folder / f"{song}.mid")
    beats, strength = read_beats(folder / "beat_midi.txt")
    bounds = np.append(beats, beats[-1] + np.median(np.diff(beats)))
    tracks = [t for t in score.tracks if not t.is_drum]
    notes = np.concatenate([t.notes for t in tracks])
    melody = np.repeat(melody_tracks(tracks), [len(t.notes) for t in tracks])
    chords = recognise_notes(score.ticks_to_seconds(notes["onset"]),
                             score.ticks_to_seconds(notes["onset"] + notes["duration"]),
                             notes["pitch"], notes["velocity"].astype(float), bounds, strength,
                             melody=melody)
    segments = merge_runs(bounds, chords)
    return majmin_frames(*read_chord_labels(folder / "chord_midi.txt"),
                         [s for s, _, _ in segments], [e for _, e, _ in segments],
                         [c.harte() for _, _, c in segments])


def test_recognition_accuracy_on_three_pop909_songs():
    """Songs the recogniser was not tuned on (tuned on 001-050). Ours: 0.91-0.95 each,
    0.93 pooled; a plain triad template match per beat scores 0.76-0.83 on them, and our
    chords shifted one beat late 0.50-0.64: both fail."""
    right = scored = 0
    for song in ("098", "326", "806"):
        r, s = _pop909_accuracy(song)
        assert s > 400 and r / s > 0.88, (song, r / s)
        right, scored = right + r, scored + s
    assert right / scored > 0.91


def test_chords_recognised_from_a_real_file_cover_it_without_gaps():
    score = read(DATA / "pop909" / "326" / "326.mid")
    segments = recognise_score(score, "beat")
    assert segments[0][0] == 0 and segments[-1][1] >= score.end_tick()
    assert all(a[1] == b[0] for a, b in zip(segments, segments[1:]))
    assert all(a[2] != b[2] for a, b in zip(segments, segments[1:]))
    assert len({c for _, _, c in segments} - {NO_CHORD}) >= 6
    assert isinstance(segments[1][2], Chord)


def test_an_endless_note_is_a_one_line_error_not_a_memory_blowup():
    from tunesmith.errors import RequestError

    score = Score(ticks_per_quarter=1, tracks=[Track(notes=make_notes([0], [2**31 - 1], [60]))])
    with pytest.raises(RequestError, match="too long to name chords in"):
        recognise_score(score)


def test_thousands_of_endless_notes_are_refused_in_one_line():
    from tunesmith.errors import RequestError

    n = 2000
    notes = make_notes(np.zeros(n, int), np.full(n, 150_000 * TPQ), 36 + np.arange(n) % 60)
    score = Score(ticks_per_quarter=TPQ, tracks=[Track(notes=notes)])
    with pytest.raises(RequestError, match="too many held notes"):
        recognise_score(score)
