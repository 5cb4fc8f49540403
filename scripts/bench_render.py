#!/usr/bin/env python
"""Real-time factor of our WAV rendering beside the ``fluidsynth`` CLI.

    .venv/bin/python scripts/bench_render.py tests/data/real-midi [--soundfont SF2]

Renders every MIDI file of FOLDER (recursively) that tunesmith reads, with the same
SoundFont, both ways, one file after the other in this process:

* ours: ``tunesmith.read`` + `render(score, "wav", ...)` (synthesis, normalization and
  a 24-bit WAV written), timed per file;
* peer: ``fluidsynth -ni -F out.wav -r 44100 SF2 FILE`` with its default reverb and
  chorus, as a user would run it (Debian package ``fluidsynth``; needed only here).

Prints one JSON line: seconds of audio, wall seconds and real-time factor of each, and
``ratio`` = our real-time factor / fluidsynth's. Goal: ratio >= 4 and ours >= 300x.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

import tunesmith
from tunesmith.errors import TunesmithError
from tunesmith.io import MIDI_SUFFIXES
from tunesmith.render import render
from tunesmith.render.audio import RELEASE_SECONDS, default_soundfont


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--soundfont", type=Path, default=default_soundfont())
    args = parser.parse_args()
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        print("bench_render: the fluidsynth CLI is missing (apt-get install fluidsynth)",
              file=sys.stderr)
        return 2
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    audio_seconds = ours = peer = 0.0
    used, skipped = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in tqdm(files, desc="bench_render", unit="file", file=sys.stderr):
            try:
                start = time.perf_counter()
                score = tunesmith.read(path)
                if score.note_count() == 0:
                    raise TunesmithError("no notes")
                render(score, "wav", tmp, stem="ours", soundfont=args.soundfont, overwrite=True)
                elapsed = time.perf_counter() - start
            except TunesmithError:
                skipped += 1  # unreadable or empty: neither side is timed
                continue
            start = time.perf_counter()
            result = subprocess.run(
                [fluidsynth, "-ni", "-q", "-F", f"{tmp}/peer.wav", "-r", "44100",
                 str(args.soundfont), str(path)], capture_output=True, timeout=600)
            peer_elapsed = time.perf_counter() - start
            if result.returncode != 0:
                skipped += 1
                continue
            ours += elapsed
            peer += peer_elapsed
            audio_seconds += score.duration_seconds() + RELEASE_SECONDS
            used += 1
    ours_rt = audio_seconds / ours if ours else 0.0
    peer_rt = audio_seconds / peer if peer else 0.0
    print(json.dumps({
        "benchmark": "render_wav", "folder": str(args.folder), "files": used,
        "skipped": skipped, "soundfont": args.soundfont.name,
        "audio_seconds": round(audio_seconds, 1),
        "ours_seconds": round(ours, 3), "ours_realtime_x": round(ours_rt, 1),
        "fluidsynth_seconds": round(peer, 3), "fluidsynth_realtime_x": round(peer_rt, 1),
        "ratio": round(ours_rt / peer_rt, 2) if peer_rt else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
