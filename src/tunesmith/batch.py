"""Batch composition: a job file of many requests, drafted in one run, resumable.

A job file is JSON Lines: one request per line, with the fields of
`tunesmith.sample.GenerationRequest` (those a draft's ``.json`` records under
``request``), plus optionally ``name`` (the job's output folder; default ``job-NNNN``
from its line number) and ``format`` (``"mid,musicxml"``; default the run's). Blank
lines and lines starting with ``#`` are skipped; a prompt path is relative to the job
file. Example::

    {"name": "dorian-flute", "bars": 8, "key": "D dorian", "tempo": 96, "programs": ["flute"], "num_samples": 4}
    {"lyrics": "Twin-kle twin-kle lit-tle star", "seed": 7, "format": "mid,musicxml"}

Each job's drafts go to ``OUT/<name>/`` as `tunesmith generate` writes them, and a line
per finished job is appended to ``OUT/batch.jsonl`` (done, or failed with its reason).
Running the same job file again skips the jobs recorded as done, so a run stopped by a
crash or Ctrl-C goes on where it stopped. A bad job is recorded and the batch goes on.
Nothing is overwritten: a draft whose files exist is skipped if its ``.json`` records the
same request, seed and weights (a job cut short by a crash), and fails the job if not.
Each job goes through the same drafting path as `tunesmith generate` (`tunesmith.pipeline`:
the same checks, provenance and originality check). With ``shard=(I, N)`` a run drafts
every N-th job from the I-th and keeps its own journal, ``batch.shard-I-of-N.jsonl``;
`merge_journals` joins them into ``batch.jsonl``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import RequestError, TunesmithError

JOURNAL = "batch.jsonl"


@dataclass
class Job:
    """One line of a job file: its request's fields, or why the line cannot be read."""

    number: int                 # line number in the job file, from 1
    name: str
    fields: dict | None
    formats: str | list[str] | None
    error: str | None = None


def read_jobs(path: str | os.PathLike) -> list[Job]:
    """The jobs of a job file; a line that is not a JSON object is a job with an error."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RequestError(f"cannot read the job file ({exc})", path) from None
    jobs, names = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = f"job-{number:04d}"
        try:
            fields = json.loads(line)
            if not isinstance(fields, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            jobs.append(Job(number, name, None, None, f"not a JSON object ({exc})"))
            continue
        name = str(fields.pop("name", name))
        if not name or Path(name).name != name or name in (".", ".."):
            jobs.append(Job(number, f"job-{number:04d}", None, None, f"bad job name {name!r}"))
            continue
        if name in names:
            raise RequestError(f"line {number}: job name {name!r} is used twice", path)
        names.add(name)
        formats = fields.pop("format", None)  # parsed with the request, by pipeline.check
        if fields.get("prompt") and not Path(fields["prompt"]).is_absolute():
            fields["prompt"] = str(path.parent / fields["prompt"])
        jobs.append(Job(number, name, fields, formats))
    if not jobs:
        raise RequestError("the job file holds no job", path)
    return jobs


def select_shard(jobs: list[Job], shard: tuple[int, int] | None) -> list[Job]:
    """The jobs of shard ``(I, N)`` (from 1): every N-th job of the file, starting with
    the I-th, so N machines (a SLURM array, one `torchrun` rank per GPU) split a job file
    without talking to each other, and the shards together are exactly the whole run."""
    if shard is None:
        return jobs
    index, count = shard
    return [job for position, job in enumerate(jobs) if position % count == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise RequestError(f"bad shard {text!r}: use I/N, e.g. 1/4") from None
    if not 1 <= index <= count:
        raise RequestError(f"bad shard {text!r}: I must be between 1 and N")
    return index, count


def journal_name(shard: tuple[int, int] | None) -> str:
    """``batch.jsonl``, or ``batch.shard-I-of-N.jsonl`` for one shard of a run."""
    return JOURNAL if shard is None else f"batch.shard-{shard[0]}-of-{shard[1]}.jsonl"


def _records(out: Path) -> list[dict]:
    """Every readable record of every journal in ``out`` (shards' and the merged one)."""
    records = []
    for journal in sorted(out.glob("batch*.jsonl")):
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut by a crash
                continue
    return records


def finished_jobs(out: Path) -> set[str]:
    """Names of the jobs any journal in ``out`` records as done."""
    return {record["name"] for record in _records(out) if record.get("status") == "done"}


def merge_journals(out: Path) -> Path:
    """Write ``out/batch.jsonl`` as one journal of every shard's: the last record of each
    job, in job-file order; the shards' journals are then removed."""
    from .atomic import write_text

    last: dict[str, dict] = {}
    for record in _records(out):
        if record["name"] not in last or record.get("status") == "done":
            last[record["name"]] = record
    ordered = sorted(last.values(), key=lambda record: record.get("line", 0))
    path = out / JOURNAL
    write_text(path, "".join(json.dumps(record) + "\n" for record in ordered), overwrite=True)
    for journal in out.glob("batch.shard-*.jsonl"):
        journal.unlink()
    return path


def _journal(out: Path, name: str, record: dict) -> None:
    """Append one job's record and make it durable before the next job starts."""
    with open(out / name, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def run_batch(jobs: list[Job], out: Path, loaded, formats: list[str], progress=None,
              shard: tuple[int, int] | None = None) -> dict:
    """Draft every job (of ``shard``, if given) not yet done in ``out`` through the one
    drafting path (`tunesmith.pipeline`); returns counts and the failures.
    ``progress``, if given, is called after each job with (jobs handled, total)."""
    from .pipeline import check, draft
    from .sample import GenerationRequest

    out.mkdir(parents=True, exist_ok=True)
    done = finished_jobs(out)
    mine = select_shard(jobs, shard)
    journal = journal_name(shard)
    summary = {"jobs": len(mine), "skipped": 0, "done": 0, "failed": 0, "drafts": 0, "failures": []}
    for handled, job in enumerate(mine, start=1):
        if job.name in done:
            summary["skipped"] += 1
        else:
            started = time.perf_counter()
            record = {"name": job.name, "line": job.number}
            try:
                if job.error:
                    raise RequestError(job.error)
                checked = check(GenerationRequest.from_dict(job.fields), job.formats or formats)
                folder = out / job.name
                folder.mkdir(exist_ok=True)
                results = draft(checked, loaded, folder, reuse_same=True)
                files = [str(p) for result in results for p in result.paths]
                record.update(status="done", drafts=len(results), files=files)
                summary["done"] += 1
                summary["drafts"] += len(results)
            except (TunesmithError, TypeError, ValueError) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                record.update(status="failed", error=reason)
                summary["failed"] += 1
                summary["failures"].append(f"line {job.number} ({job.name}): {reason}")
            record["seconds"] = round(time.perf_counter() - started, 3)
            _journal(out, journal, record)
        if progress:
            progress(handled, len(mine))
    return summary
