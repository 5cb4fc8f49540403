"""``tunesmith originality-index``: index a training corpus's melodies for copy checks."""
from __future__ import annotations

import argparse
import sys

from ..errors import RequestError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "originality-index", help="index a corpus's melodies to check drafts for copying",
        description="Reduce every pitched track of every training piece to its melodic line "
                    "and index its transposition-invariant n-grams of (interval, onset time) "
                    "in an .npz, so that a draft can be checked for passages it shares with "
                    "the corpus (tunesmith evaluate --index, and generate).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="PREPARED_DIR",
                        help="a prepared corpus: index its train split (see --split)")
    source.add_argument("--files", metavar="DIR", help="a folder of music files")
    parser.add_argument("--split", default="train", choices=("train", "val", "test"),
                        help="split of --data to index (default: train)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the index (.npz)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..evaluate.originality import build_index_from_corpus, build_index_from_files

    out = Path(args.out)
    if out.suffix != ".npz":
        raise RequestError("the index is an .npz file: name --out FILE.npz", out)
    if out.exists() and not args.overwrite:
        raise RequestError("already exists (use --overwrite or another --out)", out)
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        def progress(items):
            return tqdm(items, desc="indexing", unit="piece", leave=False, file=sys.stderr)
    if args.data:
        index = build_index_from_corpus(args.data, args.split, progress=progress)
    else:
        def warn(name: str, reason: str) -> None:
            print(f"tunesmith: warning: {name}: {reason} (skipped)", file=sys.stderr)

        index = build_index_from_files(args.files, progress=progress, on_skip=warn)
    index.save(out, overwrite=args.overwrite)
    print(f"{out}: {len(index.names)} pieces, {len(index.hashes):,} melodic {index.ngram}-grams "
          f"from {index.corpus}")
    return 0
