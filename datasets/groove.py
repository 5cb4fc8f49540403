"""Prepare Magenta's Groove MIDI Dataset (1,021 human drum performances, CC BY 4.0) for
training, its Roland TD-11 kit mapped to General MIDI drums.

    .venv/bin/python datasets/groove.py --out data/groove [--workers 2] [--limit N]

Each performance is staged (``OUT-staged/groove/drummerN/sessionM/...mid``) and then
prepared:

- the kit: the TD-11 sends a few notes that are not the same drum in General MIDI
  (`ROLAND_TO_GM`, after the dataset's documented mapping): hi-hat edge hits 22 and 26,
  the floor tom's rim 58 (GM: vibraslap), the crash edges 52 and 55 (GM: Chinese cymbal,
  splash); every other note is already the GM drum it names;
- timing: the performances are not quantised. Onsets are kept as played, to the
  tokenizer's grid of 12 per quarter (a 16th-note triplet; at 120 bpm 42 ms), the
  finest the tokens hold; nothing is snapped to a coarser grid or moved toward it;
- velocities are kept (the tokenizer's 16 bins), since they carry the groove;
- the tempo and meter are the file's own (the bpm and meter of ``info.csv``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from open_common import limited, open_corpus, report, run_prepare, stage, staging_folder, write_staged

ROLAND_TO_GM = {22: 42, 26: 46, 58: 43, 52: 57, 55: 49}
"""TD-11 notes that General MIDI plays as another instrument -> the GM drum they are:
HH closed edge -> closed hi-hat, HH open edge -> open hi-hat, tom 3 rim -> high floor
tom, crash 2 edge -> crash 2, crash 1 edge -> crash 1. (Magenta's GMD page lists the
TD-11 notes with their GM names; 22 and 26 have none, 58/52/55 name other sounds.)"""


def gm_pitches(pitches: np.ndarray) -> np.ndarray:
    """TD-11 drum notes as General MIDI drum notes."""
    table = np.arange(128, dtype=pitches.dtype)
    for roland, gm in ROLAND_TO_GM.items():
        table[roland] = gm
    return table[np.clip(pitches, 0, 127)]


def stage_file(source: str, target: str) -> dict:
    """Read one performance, map its kit to GM drums and write it as ``target``."""
    return write_staged(Path(target), lambda: _performance(source))


def _performance(source: str):
    import tunesmith

    score = tunesmith.read(source)
    for track in score.tracks:
        track.is_drum = True
        track.name = track.name or "Drums"
        track.notes["pitch"] = gm_pitches(track.notes["pitch"])
    return score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--chords", action="store_true",
                        help="tokenizer with chord controls (drums carry none)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = open_corpus("groove")
    staged = staging_folder(args.out, "groove")
    files = limited(list(root.rglob("*.mid")), args.limit)
    results = stage([(str(f), str(staged / f.relative_to(root))) for f in files], stage_file,
                    args.workers)
    run_prepare([staged], args.out, args.workers, args.chords)
    report(args.out, time.perf_counter() - start, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
