"""Prepare POP909 (909 pop songs, 809 here; MIT for the data, the songs are commercial
Chinese pop) for training, with its chord and key labels.

    .venv/bin/python datasets/pop909.py --out data/pop909 [--workers 2] [--chords] [--limit N]

Each song ``NNN/NNN.mid`` is staged (``OUT-staged/pop909/NNN.mid``) with what its side
files say, then prepared:

- roles: MELODY (the sung line) becomes GM 52 (Choir Aahs, as OpenScore's voice parts
  read), BRIDGE (the second melody) and PIANO (the accompaniment) acoustic piano (0);
  the track names are kept;
- meter: beats per bar from ``beat_midi.txt`` (the commonest count between downbeats;
  the MIDI files say 2/4 or 4/4 whatever the song), and the piece shifted so that its
  first downbeat falls on a barline (a pickup gets rests before it);
- chords: ``chord_midi.txt`` (Harte labels) into ``Score.chords`` through
  `tunesmith.harmony.pop909` (written as MIDI markers, read back by the MIDI reader);
- keys: ``key_audio.txt`` (``Gb:maj``) as key signatures at their times.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from open_common import limited, open_corpus, report, run_prepare, stage, staging_folder, write_staged

PROGRAMS = {"MELODY": 52, "BRIDGE": 0, "PIANO": 0}
"""GM program per POP909 track name."""


def meter_and_shift(score, beats_path: Path) -> tuple[int, int]:
    """(beats per bar, ticks to shift the piece by so its first downbeat is a barline)."""
    from tunesmith.harmony.pop909 import read_beats, seconds_to_ticks

    times, strength = read_beats(beats_path)
    downbeats = np.flatnonzero(strength == 2)
    if len(downbeats) < 2:
        return 4, 0
    gaps = np.diff(downbeats)
    numerator = int(np.bincount(gaps).argmax())
    numerator = numerator if 2 <= numerator <= 8 else 4
    first = int(seconds_to_ticks(score, [times[downbeats[0]]])[0])
    bar = numerator * score.ticks_per_quarter
    return numerator, (-first) % bar


def key_rows(score, keys_path: Path) -> list[tuple[int, int, int]]:
    """(tick, tonic, mode) from ``key_audio.txt`` (``start end Gb:maj``)."""
    from tunesmith.harmony.pop909 import seconds_to_ticks
    from tunesmith.score import parse_key

    rows = []
    if not keys_path.is_file():  # a song folder without key labels: no key
        return []
    for line in keys_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        tonic, mode = parse_key(parts[2].replace(":", " "))
        rows.append((float(parts[0]), tonic, mode))
    if not rows:
        return []
    ticks = seconds_to_ticks(score, [r[0] for r in rows])
    return [(0 if i == 0 else int(t), tonic, mode)
            for i, (t, (_, tonic, mode)) in enumerate(zip(ticks, rows))]


def stage_song(folder: str, target: str) -> dict:
    """Read one song folder, apply its labels and write it as ``target`` (a .mid)."""
    return write_staged(Path(target), lambda: _labelled_song(Path(folder)))


def _labelled_song(folder: Path):
    import tunesmith
    from tunesmith.harmony.pop909 import add_chords
    from tunesmith.score import KEY_DTYPE, TIME_SIGNATURE_DTYPE

    score = tunesmith.read(folder / f"{folder.name}.mid")
    for track in score.tracks:
        track.program = PROGRAMS.get(track.name.strip().upper(), track.program)
    add_chords(score, folder / "chord_midi.txt")
    keys = key_rows(score, folder / "key_audio.txt")
    numerator, shift = meter_and_shift(score, folder / "beat_midi.txt")
    if shift:
        for track in score.tracks:
            track.notes["onset"] += shift
            for lyric in track.lyrics:
                lyric.tick += shift
        score.chords["tick"] += shift
        score.tempos["tick"][1:] += shift
        keys = [(t + shift if t else 0, tonic, mode) for t, tonic, mode in keys]
    score.time_signatures = np.array([(0, numerator, 4)], dtype=TIME_SIGNATURE_DTYPE)
    score.key_signatures = np.array(keys, dtype=KEY_DTYPE)
    return score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N songs")
    parser.add_argument("--chords", action="store_true", help="tokenizer with chord controls")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = open_corpus("pop909")
    staged = staging_folder(args.out, "pop909")
    songs = limited([p for p in root.iterdir() if (p / f"{p.name}.mid").is_file()], args.limit)
    results = stage([(str(s), str(staged / f"{s.name}.mid")) for s in songs], stage_song,
                    args.workers)
    run_prepare([staged], args.out, args.workers, args.chords)
    report(args.out, time.perf_counter() - start, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
