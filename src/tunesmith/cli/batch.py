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
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from ..batch import read_jobs, run_batch
    from ..drafts import load_model
    from ..errors import RequestError

    jobs = read_jobs(args.jobs)  # an unreadable job file fails before the model loads
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise RequestError(f"--device {args.device}: this torch build sees no CUDA GPU")
    if args.device == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tokenizer, info = load_model(args.model, args.device)
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="job", file=sys.stderr)
    summary = run_batch(jobs, Path(args.out), model, tokenizer, info, formats,
                        progress=(lambda done, total: bar.update(done - bar.n)) if bar else None)
    if bar:
        bar.close()
    print(f"{summary['done']} jobs done ({summary['drafts']} drafts), {summary['skipped']} already "
          f"done, {summary['failed']} failed; journal: {Path(args.out) / 'batch.jsonl'}")
    for failure in summary["failures"]:
        print(f"tunesmith: job failed: {failure}", file=sys.stderr)
    return 1 if summary["failed"] else 0
