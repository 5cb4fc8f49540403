#!/usr/bin/env python
"""Chord recognition accuracy on POP909 beside a plain triad template matcher.

    .venv/bin/python scripts/bench_chords.py [--pop909 DIR] [--songs 051-809] [--limit N] [--no-drafting]

For each song: read ``NNN.mid`` with ``tunesmith.read``, take its beats from
``beat_midi.txt``, recognise one chord per beat (`tunesmith.harmony.recognise`), and
score the chords against ``chord_midi.txt`` with MIREX "majmin" frame accuracy at 10
frames a second (`tunesmith.harmony.evaluation`: frames whose reference is not major,
minor or N are left out). The baseline scores every major and minor triad (binary
templates) against each window's duration-weighted pitch-class profile and takes the
best, over one-beat and over two-beat windows, with no smoothing.

The recogniser's weights were tuned on songs 001-050 only; the default songs 051-809
are held out. Prints ONE JSON line: accuracy pooled over all scored frames (and the
mean per song) for ours and both baselines, and songs per second of ours (reading the
MIDI file included). With drafting (the default): CPU seconds of a 16-bar piano and
bass draft with ``--chords`` beside the same request and seed without (goal: at most
1.2x), and the drafts' strong-beat chord-tone ratio.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import tunesmith
from tunesmith.harmony.evaluation import majmin_frames
from tunesmith.harmony.pop909 import read_beats, read_chord_labels
from tunesmith.harmony.recognise import (melody_tracks, merge_runs, recognise_notes,
                                         window_profiles)
from tunesmith.harmony.symbols import NO_CHORD, Chord

DEFAULT_POP909 = Path(__file__).resolve().parents[2] / "shared/corpus/open/pop909"


def song_notes(score) -> tuple[np.ndarray, ...]:
    """Onsets and offsets in seconds, pitches, velocities and melody flags (see
    `melody_tracks`) of every pitched note."""
    tracks = [t for t in score.tracks if not t.is_drum]
    flags = melody_tracks(tracks)
    notes = np.concatenate([t.notes for t in tracks] or
                           [np.zeros(0, dtype=tunesmith.score.NOTE_DTYPE)])
    melody = np.repeat(np.array(flags, dtype=bool), [len(t.notes) for t in tracks])
    onsets = score.ticks_to_seconds(notes["onset"])
    offsets = score.ticks_to_seconds(notes["onset"] + notes["duration"])
    return onsets, offsets, notes["pitch"], notes["velocity"].astype(np.float64), melody


def beat_bounds(beats: np.ndarray) -> np.ndarray:
    """Window boundaries: every beat, plus one beat after the last."""
    step = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    return np.append(beats, beats[-1] + step)


def baseline(notes, bounds) -> list[Chord]:
    """Best of the 24 major/minor triads per window (binary templates), N when silent."""
    onsets, offsets, pitches = notes[:3]
    profiles, _ = window_profiles(onsets, offsets, pitches, np.ones(len(pitches)), bounds)
    chords = [Chord(root, quality) for quality in ("maj", "min") for root in range(12)]
    templates = np.array([[pc in c.tones() for pc in range(12)] for c in chords], float)
    best = np.argmax(profiles @ templates.T, axis=1)
    silent = profiles.sum(axis=1) <= 0
    return [NO_CHORD if s else chords[k] for k, s in zip(best.tolist(), silent.tolist())]


def score_song(ref, bounds, chords) -> tuple[int, int]:
    segments = merge_runs(bounds, chords)
    return majmin_frames(*ref, [s for s, _, _ in segments], [e for _, e, _ in segments],
                         [c.harte() for _, _, c in segments])


def recognition_benchmark(folder: Path, songs: list[str], params=None) -> dict:
    """Pooled and per-song majmin accuracy of ours and the baselines over ``songs``,
    and our songs per second (MIDI reading and recognition, not the scoring)."""
    totals = {name: [0, 0] for name in ("ours", "baseline_1beat", "baseline_2beat")}
    per_song = {name: [] for name in totals}
    elapsed, frames = 0.0, 0
    for song in songs:
        ref = read_chord_labels(folder / song / "chord_midi.txt")
        frames += int(np.ceil(ref[1].max() * 10) - np.ceil(ref[0].min() * 10)) if len(ref[2]) else 0
        beats, strength = read_beats(folder / song / "beat_midi.txt")
        start = time.perf_counter()
        notes = song_notes(tunesmith.read(folder / song / f"{song}.mid"))
        bounds = beat_bounds(beats)
        ours = recognise_notes(*notes[:4], bounds, strength, params=params, melody=notes[4])
        elapsed += time.perf_counter() - start
        two = bounds[::2] if len(bounds) % 2 else np.append(bounds[::2], bounds[-1])
        results = {"ours": score_song(ref, bounds, ours),
                   "baseline_1beat": score_song(ref, bounds, baseline(notes, bounds)),
                   "baseline_2beat": score_song(ref, two, baseline(notes, two))}
        for name, (right, scored) in results.items():
            totals[name][0] += right
            totals[name][1] += scored
            if scored:
                per_song[name].append(right / scored)
    out = {}
    for name, (right, scored) in totals.items():
        out[f"{name}_majmin"] = round(right / max(scored, 1), 4)
        out[f"{name}_majmin_mean_per_song"] = round(float(np.mean(per_song[name] or [0])), 4)
    out["songs"] = len(songs)
    out["frames_scored"] = totals["ours"][1]
    out["frames_left_out_not_majmin"] = frames - totals["ours"][1]
    out["ours_songs_per_s"] = round(len(songs) / max(elapsed, 1e-9), 1)
    return out


# --- drafting over chords (masks) ---
DRAFT_REQUEST = dict(bars=16, key="C major", programs=["piano", "acoustic bass"])
DRAFT_CHORDS = "C G Am F | Dm7 G7 | C Em7/B Am | F G7"


def drafting_benchmark(seed: int, rounds: int = 3) -> dict:
    """CPU seconds of 16-bar drafts (two threads, the default model, the same seed) with
    ``--chords`` and without, alternated ``rounds`` times; the best of each is compared
    (the least disturbed by other work on the machine). Also the drafts' strong-beat
    chord-tone ratio against the progression, read back from MIDI."""
    import tempfile

    import torch

    from tunesmith.drafts import load_model
    from tunesmith.evaluate.harmony import chord_fit, progression_changes
    from tunesmith.sample import GenerationRequest, generate

    torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tok, _ = load_model(None)
    times = {"with": [], "without": []}
    fit, tokens = {}, {}
    for _ in range(rounds):
        for name, chords in (("without", None), ("with", DRAFT_CHORDS)):
            request = GenerationRequest(**DRAFT_REQUEST, chords=chords, seed=seed)
            start = time.process_time()
            draft = generate(model, tok, request)[0]
            times[name].append(time.process_time() - start)
            tokens[name] = draft.tokens_generated
            if chords:
                with tempfile.TemporaryDirectory() as folder:
                    tunesmith.write(draft.score, Path(folder) / "d.mid")
                    back = tunesmith.read(Path(folder) / "d.mid")
                fit = chord_fit(back, progression_changes(back, chords))
    best = {name: min(values) for name, values in times.items()}
    return {"draft_bars": 16, "draft_cpu_s_without_chords": round(best["without"], 3),
            "draft_cpu_s_with_chords": round(best["with"], 3),
            "draft_ratio_with_vs_without": round(best["with"] / best["without"], 3),
            "draft_tokens_without": tokens["without"], "draft_tokens_with": tokens["with"],
            "draft_ms_per_token_ratio": round(best["with"] / tokens["with"] / (best["without"] / tokens["without"]), 3),
            "draft_strong_beat_chord_tones": fit.get("strong_beat_chord_tones"),
            "draft_bass_on_chord_bass": fit.get("bass_on_chord_bass")}


def song_range(text: str) -> list[str]:
    lo, _, hi = text.partition("-")
    return [f"{i:03d}" for i in range(int(lo), int(hi or lo) + 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pop909", type=Path, default=DEFAULT_POP909)
    parser.add_argument("--songs", default="051-809", help="held out by default (tuned on 001-050)")
    parser.add_argument("--limit", type=int, default=0, help="every Nth song only (0: all)")
    parser.add_argument("--drafting", action=argparse.BooleanOptionalAction, default=True,
                        help="also time 16-bar drafts with --chords beside the same drafts without")
    parser.add_argument("--drafting-seed", type=int, default=0)
    args = parser.parse_args()
    songs = [s for s in song_range(args.songs) if (args.pop909 / s / "chord_midi.txt").exists()]
    if args.limit:
        songs = songs[::max(1, len(songs) // args.limit)][:args.limit]
    if not songs:
        print(f"bench_chords: no POP909 songs in {args.pop909}", file=sys.stderr)
        return 2
    result = {"bench": "chords", "tuned_on": "001-050", "songs_range": args.songs}
    result.update(recognition_benchmark(args.pop909, songs))
    result["ratio_vs_baseline_1beat"] = round(
        result["ours_majmin"] / max(result["baseline_1beat_majmin"], 1e-9), 3)
    if args.drafting:
        result.update(drafting_benchmark(args.drafting_seed))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
