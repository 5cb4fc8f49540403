"""Build the v2 training corpus: the default corpus (music21's folk songs and chorales)
plus POP909, Groove, OpenScore Lieder and String Quartets, in one prepared folder whose
tokenizer has chord controls.

    .venv/bin/python datasets/v2.py --out data/v2 [--workers 16] [--commercial]

One ``tunesmith prepare`` run over every source (so splits, duplicates and the
manifest cover them all), after staging POP909 (chords, keys, roles) and Groove (GM
kit) as their recipes do. ``--commercial`` leaves out the Essen folk songs, the one
source whose permission is non-commercial (see datasets/README.md): every source left
then allows commercial use, with credit to Groove's authors (CC BY 4.0) and POP909's
(MIT; its arrangements are of commercial songs, say so where it matters).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import groove
import pop909
from lieder import sources as score_sources
from music21_default import DEFAULT_COLLECTIONS, corpus_root
from music21_default import sources as music21_sources
from open_common import limited, open_corpus, report, run_prepare, stage, staging_folder


def style_of(path: str) -> str:
    """The style a piece is counted under: folk, chorale, pop, drums, lieder, quartet."""
    top = path.split("/")[0]
    return {"bach": "chorale", "pop909": "pop", "groove": "drums", "lieder": "lieder",
            "quartets": "quartet"}.get(top, "folk")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--commercial", action="store_true",
                        help="leave out essenFolksong (non-commercial permission)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true",
                        help="a try in a minute: 2 small files per music21 collection, "
                             "the first 3 files of each open set")
    args = parser.parse_args(argv)
    limit = 3 if args.quick else None
    start = time.perf_counter()

    pop_root, groove_root = open_corpus("pop909"), open_corpus("groove")
    pop_staged = staging_folder(args.out, "pop909")
    groove_staged = staging_folder(args.out, "groove")
    songs = limited([p for p in pop_root.iterdir() if (p / f"{p.name}.mid").is_file()], limit)
    staged = stage([(str(s), str(pop_staged / f"{s.name}.mid")) for s in songs],
                   pop909.stage_song, args.workers)
    files = limited(list(groove_root.rglob("*.mid")), limit)
    staged += stage([(str(f), str(groove_staged / f.relative_to(groove_root))) for f in files],
                    groove.stage_file, args.workers)

    collections = [c for c in DEFAULT_COLLECTIONS if not (args.commercial and c == "essenFolksong")]
    sources = music21_sources(collections, args.quick) if args.quick else \
        [corpus_root() / c for c in collections]
    sources += [pop_staged, groove_staged]
    for name in ("lieder", "quartets"):
        sources += score_sources(args.out, limit, name)
    run_prepare(sources, args.out, args.workers, chords=True, timeout_s=args.timeout)
    report(args.out, time.perf_counter() - start, staged,
           group=style_of)
    return 0


if __name__ == "__main__":
    sys.exit(main())
