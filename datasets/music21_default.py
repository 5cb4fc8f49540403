"""Build tunesmith's default training corpus from the corpus inside the music21 package.

Works offline: music21's pip package ships the files. Usage, from the repository root::

    .venv/bin/python datasets/music21_default.py --out data/default            # full build
    .venv/bin/python datasets/music21_default.py --out /tmp/m21-try --quick     # a few files each

The run is ``tunesmith prepare`` over the collections below (resumable: re-run the same
command after an interruption), then a table of pieces, notes and tokens per collection
(the one in ``datasets/README.md``) and the list of held-out pieces
(``datasets/music21_default_heldout.tsv``: the val and test splits, chosen by content
hash, with their titles).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

DEFAULT_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "bach")
"""Folk melodies (Essen, O'Neill's 1850, Ryan's Mammoth, Aird's Airs) and Bach's
four-part chorales."""

EXTRA_COLLECTIONS = ("palestrina", "monteverdi", "beethoven", "haydn", "mozart", "josquin",
                     "trecento", "miscFolk", "nottingham-dataset")
"""Worth adding for polyphony and instrumental writing (``--extra``): Palestrina's masses,
Monteverdi's madrigals, string quartets, Renaissance and trecento pieces, more folk."""

HELD_OUT_LIST = Path(__file__).with_name("music21_default_heldout.tsv")


def corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def sources(collections, quick: bool) -> list[Path]:
    """The folders to prepare, or with ``quick`` the two smallest readable files of each."""
    from tunesmith.io import READABLE_SUFFIXES

    root = corpus_root()
    if not quick:
        return [root / name for name in collections]
    picked = []
    for name in collections:
        files = sorted((p for p in (root / name).rglob("*") if p.suffix.lower() in READABLE_SUFFIXES),
                       key=lambda p: (p.stat().st_size, p.name))
        picked += files[:2]
    return picked


def collection_table(out: Path) -> tuple[list[dict], dict]:
    """Rows of pieces, notes, tokens and bars per collection and split, from pieces.jsonl."""
    totals = defaultdict(lambda: defaultdict(int))
    for split in ("train", "val", "test"):
        for line in (out / split / "pieces.jsonl").read_text(encoding="utf-8").splitlines():
            meta = json.loads(line)
            row = totals[meta["path"].split("/")[0]]
            row["pieces"] += 1
            row[f"{split}_pieces"] += 1
            row["notes"] += meta["notes"]
            row["tokens"] += meta["tokens"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["skipped_files"]:
        totals[entry["path"].split("/")[0]]["files_skipped"] += 1
    for entry in manifest["skipped_pieces"]:
        totals[entry["path"].split("/")[0]]["pieces_skipped"] += 1
    for entry in manifest["duplicates"]:
        totals[entry["path"].split("/")[0]]["duplicates"] += 1
    return [{"collection": name, **row} for name, row in sorted(totals.items())], manifest


def markdown(rows: list[dict]) -> str:
    head = ("| collection | pieces | train / val / test | notes | tokens | duplicates dropped "
            "| pieces failed | files failed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
    body = ""
    total = defaultdict(int)
    for row in rows:
        for key, value in row.items():
            if key != "collection":
                total[key] += value
    for row in rows + [{"collection": "**total**", **total}]:
        body += (f"| {row['collection']} | {row.get('pieces', 0):,} | {row.get('train_pieces', 0):,} / "
                 f"{row.get('val_pieces', 0):,} / {row.get('test_pieces', 0):,} | "
                 f"{row.get('notes', 0):,} | {row.get('tokens', 0):,} | {row.get('duplicates', 0):,} | "
                 f"{row.get('pieces_skipped', 0):,} | {row.get('files_skipped', 0):,} |\n")
    return head + body


def held_out(out: Path) -> str:
    lines = ["split\tpath\tpiece\ttitle\tcontent_hash"]
    for split in ("val", "test"):
        for line in (out / split / "pieces.jsonl").read_text(encoding="utf-8").splitlines():
            meta = json.loads(line)
            title = " ".join(meta["title"].split())
            lines.append(f"{split}\t{meta['path']}\t{meta['piece']}\t{title}\t{meta['hash']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (e.g. data/default)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="two small files per collection, to try the recipe in seconds")
    parser.add_argument("--extra", action="store_true",
                        help=f"add {', '.join(EXTRA_COLLECTIONS)}")
    parser.add_argument("--write-held-out", action="store_true",
                        help=f"write the held-out list to {HELD_OUT_LIST.name} (full builds)")
    args = parser.parse_args(argv)

    from tunesmith.prepare import PrepareConfig, prepare

    collections = DEFAULT_COLLECTIONS + (EXTRA_COLLECTIONS if args.extra else ())
    config = PrepareConfig(sources(collections, args.quick), val_fraction=0.02, test_fraction=0.02)
    prepare(config, args.out, workers=args.workers)
    rows, manifest = collection_table(Path(args.out))
    print(markdown(rows))
    for entry in manifest["skipped_files"]:
        print(f"skipped file {entry['path']}: {entry['reason']}", file=sys.stderr)
    for entry in manifest["skipped_pieces"]:
        print(f"skipped piece {entry['path']}#{entry['piece']}: {entry['reason']}", file=sys.stderr)
    if args.write_held_out:
        HELD_OUT_LIST.write_text(held_out(Path(args.out)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
