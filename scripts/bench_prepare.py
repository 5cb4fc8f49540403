"""Benchmark `tunesmith prepare` against MidiTok on the MIDI files of a folder.

    .venv/bin/python scripts/bench_prepare.py FOLDER [--workers 2] [--repeat 3]

Both sides start from the files on disk and use the same number of worker processes:
ours is the whole ``prepare`` run (reading with symusic, tokenizing, hashing, writing
the work records, shards, indexes and manifest); the peer is MidiTok 3.1.0 REMI with
``use_programs=True`` (``symusic.Score(path)`` then ``tokenizer.encode``) in a process
pool. Only ``.mid``/``.midi`` files are timed, since the peer reads nothing else. The
best of ``--repeat`` runs of each side is kept (a shared machine is noisy); the sides
alternate so that both see the same load. Prints one JSON line; ``ratio`` is our
files/s over the peer's.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

_peer = None


def _peer_setup() -> None:
    """Build the peer's tokenizer (in the parent, before forking: imports are not timed)."""
    global _peer
    import miditok

    _peer = miditok.REMI(miditok.TokenizerConfig(use_programs=True))


def _peer_encode(path: str) -> int:
    """Tokens MidiTok makes of one file (-1 if it cannot read or encode it)."""
    import symusic

    try:
        return len(_peer.encode(symusic.Score(path)).ids)
    except Exception:
        return -1


def run_peer(files: list[str], workers: int) -> dict:
    _peer_setup()
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.map(_peer_encode, files, chunksize=1)
    seconds = time.perf_counter() - start
    tokens = sum(c for c in counts if c > 0)
    return {"seconds": round(seconds, 3), "files_per_s": round(len(files) / seconds, 1),
            "tokens": tokens, "tokens_per_s": round(tokens / seconds),
            "failed_files": sum(c < 0 for c in counts)}


def run_ours(folder: Path, workers: int) -> dict:
    import tunesmith.io.midi  # noqa: F401  (imported before forking, as for the peer)
    from tunesmith.prepare import PrepareConfig, prepare

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        manifest = prepare(PrepareConfig([folder]), Path(out) / "prepared", workers=workers,
                           progress=False)
        seconds = time.perf_counter() - start
    counts = manifest["counts"]
    return {"seconds": round(seconds, 3), "files_per_s": round(counts["files"] / seconds, 1),
            "tokens": counts["tokens"], "tokens_per_s": round(counts["tokens"] / seconds),
            "pieces": counts["pieces"], "skipped_files": counts["files_skipped"],
            "skipped_pieces": counts["pieces_skipped"], "duplicates": counts["duplicates"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    files = sorted(str(p) for p in args.folder.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not files:
        print(f"bench_prepare: no .mid/.midi files under {args.folder}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        # the same files for both sides: a flat folder of links (names made unique)
        flat = Path(tmp) / "midi"
        flat.mkdir()
        for i, path in enumerate(files):
            os.symlink(os.path.abspath(path), flat / f"{i:05d}_{Path(path).name}")
        ours, peer = [], []
        for _ in range(args.repeat):
            peer.append(run_peer(files, args.workers))
            ours.append(run_ours(flat, args.workers))
    best_ours = min(ours, key=lambda r: r["seconds"])
    best_peer = min(peer, key=lambda r: r["seconds"])
    print(json.dumps({
        "benchmark": "prepare", "folder": str(args.folder), "files": len(files),
        "workers": args.workers, "repeat": args.repeat, "cpus": os.cpu_count(),
        "tunesmith": best_ours, "miditok_remi_programs": best_peer,
        "ratio": round(best_ours["files_per_s"] / best_peer["files_per_s"], 2),
        "ratio_tokens_per_s": round(best_ours["tokens_per_s"] / best_peer["tokens_per_s"], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
