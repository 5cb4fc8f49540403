"""``tunesmith prepare``: folders of music files to token shards for training."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import DataError, RequestError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare", help="turn folders of music files into token shards for training",
        description="Read every music file under SRC (MIDI, MusicXML, ABC, kern), tokenize "
                    "each piece and write train/val/test token shards, indexes and a "
                    "manifest to --out. Re-run the same command to resume an interrupted "
                    "run; the result is identical to an uninterrupted one.")
    parser.add_argument("sources", nargs="+", metavar="SRC",
                        help="files and folders to read (with --merge: the part folders)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--tokenizer", metavar="CONFIG",
                        help="tokenizer.json, or a folder holding one (a model or prepared "
                             "corpus), to use (default: the default tokenizer)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="worker processes (default: 2)")
    parser.add_argument("--val", type=float, default=0.02, metavar="FRACTION",
                        help="share of pieces held out for validation (default: 0.02)")
    parser.add_argument("--test", type=float, default=0.02, metavar="FRACTION",
                        help="share of pieces held out for testing (default: 0.02)")
    parser.add_argument("--shard", metavar="I/N",
                        help="prepare only part I of N (for cluster job arrays); join the "
                             "parts with --merge")
    parser.add_argument("--merge", action="store_true",
                        help="join part folders made with --shard 1/N .. N/N into --out")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="skip a file that takes longer to read (default: 600)")
    parser.add_argument("--shard-tokens", type=int, default=1 << 26, metavar="TOKENS",
                        help="tokens per shard file at most (default: 67108864)")
    parser.add_argument("--clean", action="store_true",
                        help="delete DIR/work when done (no resuming or adding files later)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _parse_part(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise RequestError(f"--shard {text!r}: write it as I/N, e.g. 3/16")
    return i, n


def run(args: argparse.Namespace) -> int:
    from ..prepare import PrepareConfig, merge, prepare, remove_work_folder

    if args.merge:
        manifest = merge(args.sources, args.out)
    else:
        tokenizer = None
        if args.tokenizer:
            from ..tokenizer import Tokenizer

            path = Path(args.tokenizer)
            tokenizer = Tokenizer.load(path / "tokenizer.json" if path.is_dir() else path)
        config = PrepareConfig(args.sources, val_fraction=args.val, test_fraction=args.test,
                               timeout_s=args.timeout, shard_tokens=args.shard_tokens,
                               part=_parse_part(args.shard))
        if args.workers < 1:
            raise RequestError("--workers must be at least 1")
        try:
            manifest = prepare(config, args.out, tokenizer=tokenizer, workers=args.workers,
                               progress=not args.quiet)
        except KeyboardInterrupt:
            raise RequestError("interrupted; run the same command again to resume "
                               "(finished files are kept in its work folder)", args.out) from None
    if args.clean:
        remove_work_folder(args.out)
    print(summary(manifest, args.out))
    counts = manifest["counts"]
    if not counts["pieces"]:  # the manifest says why (every skipped file has its reason)
        raise DataError(f"no piece could be prepared from {counts['files']} file(s); "
                        "see manifest.json for each file's reason", args.out)
    empty = [name for name, split in counts["splits"].items() if not split["pieces"]]
    if empty:
        print(f"tunesmith: warning: no pieces fell in the {' and '.join(empty)} split(s): "
              "the corpus is small for the fractions asked (--val/--test)", file=sys.stderr)
    return 0


def summary(manifest: dict, out) -> str:
    """A few lines a person reads after a run: counts per split and what was skipped."""
    counts = manifest["counts"]
    lines = [f"{out}: {counts['files']} files, {counts['pieces']} pieces, "
             f"{counts['tokens']:,} tokens, {counts['notes']:,} notes"]
    for split, c in counts["splits"].items():
        lines.append(f"  {split:5s} {c['pieces']:7d} pieces {c['tokens']:12,d} tokens "
                     f"in {c['shards']} shard(s)")
    lines.append(f"  skipped: {counts['files_skipped']} files, {counts['pieces_skipped']} "
                 f"pieces; {counts['duplicates']} duplicates dropped (see manifest.json)")
    return "\n".join(lines)
