"""`tunesmith batch JOBS.jsonl --out DIR`: many requests in one run, resumable.

See `tunesmith.batch` for the job file. Exit code 0 when every job is done, 1 when some
failed (each is listed, and recorded in ``DIR/batch.jsonl``), 2 for a bad command line
or an unreadable job file.
"""
from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="draft every request of a job file (JSON Lines); resumable",
        description="Draft every request of a job file (one JSON request per line, the fields "
                    "of a draft's .json 'request', plus 'name' and 'format'). Jobs already "
                    "done in --out are skipped, so running it again resumes; a bad job is "
                    "reported and the batch goes on; nothing is overwritten.")
    p.add_argument("jobs", help="the job file (.jsonl)")
    p.add_argument("--model", help="a model folder (default: the shipped default model)")
    p.add_argument("--format", default="mid", help="comma list of mid,musicxml,wav,flac,png "
                                                   "(a job's own 'format' wins)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--out", required=True, help="output folder: one subfolder per job")
    p.add_argument("--shard", metavar="I/N",
                   help="draft only every N-th job from the I-th (one shard per SLURM array task "
                        "or GPU); shards keep their own journals in --out")
    p.add_argument("--merge", action="store_true",
                   help="join the shards' journals in --out into batch.jsonl (drafts nothing)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batch import merge_journals, parse_shard, read_jobs, run_batch
    from ..pipeline import open_model
    from ..render import parse_formats

    if args.merge:
        print(f"merged: {merge_journals(Path(args.out))}")
        return 0
    shard = parse_shard(args.shard) if args.shard else None
    jobs = read_jobs(args.jobs)  # an unreadable job file fails before the model loads
    formats = parse_formats(args.format)
    loaded = open_model(args.model, args.device)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="job", file=sys.stderr)
    summary = run_batch(jobs, Path(args.out), loaded, formats, shard=shard,
                        progress=(lambda done, total: bar.update(done - bar.n)) if bar else None)
    if bar:
        bar.close()
    print(f"{summary['done']} jobs done ({summary['drafts']} drafts), {summary['skipped']} already "
          f"done, {summary['failed']} failed; journal: {Path(args.out) / 'batch.jsonl'}")
    for failure in summary["failures"]:
        print(f"tunesmith: job failed: {failure}", file=sys.stderr)
    return 1 if summary["failed"] else 0
