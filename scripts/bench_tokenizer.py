"""Tokenizer speed and compactness beside MidiTok's REMI, on the same MIDI files.

    python scripts/bench_tokenizer.py FOLDER [--repeat 3]

Both sides parse each file from disk, encode it and decode the tokens back to a score
(MidiTok: REMI with use_programs=True, its documented multi-instrument setting).
Files either side cannot read, and damaged files (which symusic alone, the peer's parser,
reads differently from run to run), are left out of both. Prints one JSON line: files/s,
tokens/s and tokens per note for each, and ``ratio`` = our files/s over MidiTok's.
Needs the bench extra: ``pip install -e .[bench]``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

MIDI_SUFFIXES = (".mid", ".midi")


def _ours(paths):
    from tunesmith.io import read
    from tunesmith.tokenizer import Tokenizer

    tok = Tokenizer()
    tokens = notes = 0
    for path in paths:
        score = read(path)
        ids = tok.encode(score)
        tok.decode(ids)
        tokens += len(ids)
        notes += score.note_count()
    return tokens, notes


def _miditok(paths):
    import miditok
    import symusic

    tok = miditok.REMI(miditok.TokenizerConfig(use_programs=True))
    tokens = notes = 0
    for path in paths:
        score = symusic.Score(str(path))
        seq = tok.encode(score)
        seq = seq if not isinstance(seq, list) else seq[0]
        tok.decode(seq)
        tokens += len(seq.ids)
        notes += sum(len(t.notes) for t in score.tracks)
    return tokens, notes


def usable(paths):
    """Files both tokenizers can handle (the comparison must be like for like)."""
    import miditok
    import symusic

    from tunesmith.errors import TunesmithError
    from tunesmith.io import read

    tok = miditok.REMI(miditok.TokenizerConfig(use_programs=True))
    keep = []
    for path in paths:
        try:
            if "recovered" in read(path).metadata:
                continue  # damaged: symusic alone reads past its buffer (varies run to run)
            score = symusic.Score(str(path))
            if sum(len(t.notes) for t in score.tracks) == 0:
                continue
            tok.encode(score)
        except (TunesmithError, Exception):  # noqa: BLE001 - a peer's failure just excludes the file
            continue
        keep.append(path)
    return keep


def timed(fn, paths, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        tokens, notes = fn(paths)
        best = min(best, time.perf_counter() - start)
    return best, tokens, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each side")
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    paths = usable(paths)
    ours_s, ours_tokens, ours_notes = timed(_ours, paths, args.repeat)
    peer_s, peer_tokens, peer_notes = timed(_miditok, paths, args.repeat)
    result = {
        "bench": "tokenizer", "files": len(paths),
        "tunesmith_files_per_s": round(len(paths) / ours_s, 1),
        "tunesmith_tokens_per_s": round(ours_tokens / ours_s),
        "tunesmith_tokens_per_note": round(ours_tokens / ours_notes, 3),
        "miditok_files_per_s": round(len(paths) / peer_s, 1),
        "miditok_tokens_per_s": round(peer_tokens / peer_s),
        "miditok_tokens_per_note": round(peer_tokens / peer_notes, 3),
        "ratio": round(peer_s / ours_s, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
