"""Prepare OpenScore Lieder (1,314 songs, voice with lyrics and piano, CC0) for training.

    .venv/bin/python datasets/lieder.py --out data/lieder [--workers 2] [--chords] [--limit N]

Each ``.mxl`` is read by tunesmith's MusicXML reader (`io.musicxml_read`): the voice
keeps its lyrics (first verse) under its notes, the piano its two staves as two tracks,
repeats are played out. Tokens do not carry the words; the Score does. ``--limit N``
prepares the first N songs in path order (a try, or a test's slice). ``--chords`` uses
the tokenizer with chord controls (v2 models): chords are recognised from the notes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from open_common import limited, open_corpus, report, run_prepare, staging_folder

NAME = "lieder"
SUFFIX = ".mxl"


def sources(out: Path, limit: int | None, name: str = NAME, suffix: str = SUFFIX) -> list[Path]:
    """The set's folder, or for ``limit`` a staging folder of links to its first files
    (so pieces keep their ``NAME/composer/...`` paths either way)."""
    root = open_corpus(name)
    if not root.is_dir():
        raise SystemExit(f"{name}: error: {root}: no such folder (set TUNESMITH_OPEN_CORPUS)")
    if limit is None:
        return [root]
    staged = staging_folder(out, name)
    for path in limited(list(root.rglob(f"*{suffix}")), limit):
        link = staged / path.relative_to(root)
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return [staged]


def main(argv=None, name: str = NAME, suffix: str = SUFFIX, doc: str = __doc__) -> int:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--chords", action="store_true", help="tokenizer with chord controls")
    args = parser.parse_args(argv)
    manifest, seconds = run_prepare(sources(args.out, args.limit, name, suffix), args.out,
                                    args.workers, args.chords)
    report(args.out, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
