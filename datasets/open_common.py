"""What the recipes for the open corpora share: where the sets lie, staging converted
files, running `tunesmith prepare`, and the table of counts for ``datasets/README.md``.

The open sets (POP909, Groove MIDI, OpenScore Lieder and String Quartets) lie in
``$TUNESMITH_OPEN_CORPUS`` or, by default, ``../shared/corpus/open`` beside the checkout.
POP909 and Groove are first *staged*: each file is read, given what its side files say
(chords, keys, meter) or mapped (the drum kit), and written as a MIDI file into a
staging folder that `tunesmith prepare` then reads like any other. Staging is
resumable (a staged file is kept) and writes each file atomically.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SETS = ("pop909", "groove", "lieder", "quartets")


def open_corpus(name: str) -> Path:
    """The folder of one open set (``pop909``, ``groove``, ``lieder``, ``quartets``)."""
    root = os.environ.get("TUNESMITH_OPEN_CORPUS")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "corpus" / "open"
    return base / name


def staging_folder(out: Path, name: str) -> Path:
    """``OUT-staged/NAME``: beside the prepared folder (prepare refuses foreign files
    inside its own), named so that pieces are recorded as ``NAME/...``."""
    return out.parent / f"{out.name}-staged" / name


def stage(tasks: list[tuple], convert, workers: int) -> list[dict]:
    """Run ``convert(*task)`` for every task in a process pool; each returns a dict
    (``{"path": ..., "skipped": reason}`` for a file it could not convert)."""
    if workers <= 1:
        return [convert(*task) for task in tasks]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(convert, *zip(*tasks), chunksize=4)) if tasks else []


def write_staged(target: Path, build) -> dict:
    """Write the Score ``build()`` makes as ``target`` (atomically) unless it is there
    already; a source that cannot be read or converted gives ``{"path", "skipped": reason}``
    instead, so one bad file never stops a recipe."""
    import tunesmith
    from tunesmith.errors import TunesmithError

    if target.exists():
        return {"path": target.name}
    try:
        score = build()
        target.parent.mkdir(parents=True, exist_ok=True)
        tunesmith.write(score, target)
    except (TunesmithError, OSError, ValueError) as exc:
        return {"path": target.name, "skipped": " ".join(str(exc).split())[:200]}
    return {"path": target.name}


def tokenizer(chords: bool):
    """The tokenizer of a build: the default one, or with chord controls (v2 models)."""
    from tunesmith.tokenizer import Tokenizer, TokenizerConfig

    return Tokenizer(TokenizerConfig(chords=True)) if chords else Tokenizer()


def run_prepare(sources: list[Path], out: Path, workers: int, chords: bool,
                timeout_s: float = 600.0) -> tuple[dict, float]:
    """`tunesmith prepare` over ``sources`` into ``out``; (manifest, wall seconds)."""
    from tunesmith.prepare import PrepareConfig, prepare

    start = time.perf_counter()
    config = PrepareConfig([str(s) for s in sources], val_fraction=0.02, test_fraction=0.02,
                           timeout_s=timeout_s)
    manifest = prepare(config, out, tokenizer=tokenizer(chords), workers=workers,
                       progress=sys.stderr.isatty())
    return manifest, time.perf_counter() - start


def count_table(out: Path, group=lambda path: path.split("/")[0]) -> list[dict]:
    """Rows of files, pieces, notes, tokens and skips per group of ``pieces.jsonl`` paths
    (by default the first path component: the set)."""
    totals = defaultdict(lambda: defaultdict(int))
    files = defaultdict(set)
    for split in ("train", "val", "test"):
        for line in (out / split / "pieces.jsonl").read_text(encoding="utf-8").splitlines():
            meta = json.loads(line)
            row = totals[group(meta["path"])]
            files[group(meta["path"])].add(meta["path"])
            row["pieces"] += 1
            row[f"{split}_pieces"] += 1
            row["notes"] += meta["notes"]
            row["tokens"] += meta["tokens"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for key, entries in (("files_skipped", manifest["skipped_files"]),
                         ("pieces_skipped", manifest["skipped_pieces"]),
                         ("duplicates", manifest["duplicates"])):
        for entry in entries:
            totals[group(entry["path"])][key] += 1
    for name, paths in files.items():
        totals[name]["files"] = len(paths)
    return [{"group": name, **row} for name, row in sorted(totals.items())]


def markdown(rows: list[dict]) -> str:
    """The README table of ``count_table`` rows, with a total line."""
    head = ("| set | files read | pieces | train / val / test | notes | tokens | duplicates "
            "| files skipped |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
    total = defaultdict(int)
    for row in rows:
        for key, value in row.items():
            if key != "group":
                total[key] += value
    body = ""
    for row in rows + ([{"group": "**total**", **total}] if len(rows) > 1 else []):
        body += (f"| {row['group']} | {row.get('files', 0):,} | {row.get('pieces', 0):,} | "
                 f"{row.get('train_pieces', 0):,} / {row.get('val_pieces', 0):,} / "
                 f"{row.get('test_pieces', 0):,} | {row.get('notes', 0):,} | "
                 f"{row.get('tokens', 0):,} | {row.get('duplicates', 0):,} | "
                 f"{row.get('files_skipped', 0):,} |\n")
    return head + body


def report(out: Path, seconds: float, staged: list[dict] | None = None, group=None) -> dict:
    """Print the table, the skip reasons and one JSON line of counts and wall time."""
    rows = count_table(out, group) if group else count_table(out)
    print(markdown(rows))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    reasons = defaultdict(int)
    for entry in manifest["skipped_files"] + manifest["skipped_pieces"]:
        reasons[entry["reason"][:80]] += 1
    for entry in staged or []:
        if entry.get("skipped"):
            reasons["staging: " + entry["skipped"][:70]] += 1
    for reason, n in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"skipped {n}: {reason}", file=sys.stderr)
    summary = {"out": str(out), "wall_s": round(seconds, 1), **manifest["counts"],
               "staging_skipped": sum(1 for e in staged or [] if e.get("skipped"))}
    print(json.dumps(summary))
    return summary


def limited(files: list[Path], limit: int | None) -> list[Path]:
    """The first ``limit`` files in path order (all with None): a fixed slice for tries
    and tests."""
    files = sorted(files)
    return files if limit is None else files[:limit]
