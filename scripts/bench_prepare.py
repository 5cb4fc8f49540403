"""Benchmark `tunesmith prepare` against MidiTok on the MIDI files of a folder, and
tunesmith's MusicXML reader against music21's parse.

    .venv/bin/python scripts/bench_prepare.py FOLDER [--workers 2] [--repeat 3]
    .venv/bin/python scripts/bench_prepare.py --musicxml QUARTETS LIEDER [--per-folder 12] [--old]

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

MUSICXML_NOTE = """MusicXML section (``--musicxml FOLDER...``): a fixed sample of ``--per-folder``
files of each folder (evenly spaced in path order), read one after another in this
process: ours is ``tunesmith.read`` (`io.musicxml_read`: the Score, ties merged, repeats
played out); the peer is music21's plain ``converter.parse`` (its stream only, before
any of the work a Score needs); ``--old`` adds tunesmith's previous path (music21's
parse, then ``stripTies`` and ``expandRepeats`` in `io.music21_read`), slow on quartets.
``ratio`` is music21's seconds over ours."""


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


def musicxml_sample(folders: list[Path], per_folder: int) -> list[Path]:
    """``per_folder`` files of each folder, evenly spaced in sorted path order."""
    picked = []
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mxl", ".musicxml", ".xml"))
        step = max(1, len(files) // max(1, per_folder))
        picked += files[step // 2::step][:per_folder]
    return picked


def run_musicxml(files: list[Path], old: bool) -> dict:
    """Wall and CPU seconds per side over ``files`` (each file read by each side in
    turn; CPU seconds are this process's, which a busy shared machine inflates less)."""
    import warnings

    from music21 import converter

    import tunesmith
    from tunesmith.io.music21_read import _parse, score_from_music21

    def music21_parse(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converter.parse(path, forceSource=True, storePickle=False)
        return 0

    sides = {"tunesmith": lambda p: tunesmith.read(p).note_count(), "music21_parse": music21_parse}
    if old:
        sides["tunesmith_old"] = lambda p: score_from_music21(_parse(p)).note_count()
    wall = dict.fromkeys(sides, 0.0)
    cpu = dict.fromkeys(sides, 0.0)
    notes = dict.fromkeys(sides, 0)
    for path in files:
        for name, read in sides.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            notes[name] += read(path)
            wall[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu
    del notes["music21_parse"]
    return {"seconds": {k: round(v, 2) for k, v in wall.items()},
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()}, "notes": notes}


def main_musicxml(args) -> int:
    files = musicxml_sample(args.musicxml, args.per_folder)
    if not files:
        print("bench_prepare: no MusicXML files under the --musicxml folders", file=sys.stderr)
        return 2
    result = run_musicxml(files, args.old)
    seconds = result["seconds"]
    out = {"benchmark": "prepare_musicxml", "folders": [str(f) for f in args.musicxml],
           "files": len(files), **result,
           "files_per_s": round(len(files) / seconds["tunesmith"], 2),
           "ratio": round(seconds["music21_parse"] / seconds["tunesmith"], 2),
           "ratio_cpu": round(result["cpu_seconds"]["music21_parse"]
                              / result["cpu_seconds"]["tunesmith"], 2)}
    if args.old:
        out["ratio_old"] = round(result["cpu_seconds"]["tunesmith_old"]
                                 / result["cpu_seconds"]["tunesmith"], 2)
    print(json.dumps(out))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=MUSICXML_NOTE)
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--musicxml", type=Path, nargs="+", metavar="FOLDER",
                        help="time the MusicXML reader on a sample of these folders instead")
    parser.add_argument("--per-folder", type=int, default=12)
    parser.add_argument("--old", action="store_true", help="also time the previous reader")
    args = parser.parse_args(argv)
    if args.musicxml:
        return main_musicxml(args)
    if args.folder is None:
        parser.error("give a FOLDER of MIDI files, or --musicxml FOLDER...")

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
