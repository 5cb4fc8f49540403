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
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import RequestError, TunesmithError, WriteError

JOURNAL = "batch.jsonl"


@dataclass
class Job:
    """One line of a job file: its request's fields, or why the line cannot be read."""

    number: int                 # line number in the job file, from 1
    name: str
    fields: dict | None
    formats: list[str] | None
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
        formats = fields.pop("format", None)
        if isinstance(formats, str):
            formats = [f.strip().lower() for f in formats.split(",") if f.strip()]
        if fields.get("prompt") and not Path(fields["prompt"]).is_absolute():
            fields["prompt"] = str(path.parent / fields["prompt"])
        jobs.append(Job(number, name, fields, formats))
    if not jobs:
        raise RequestError("the job file holds no job", path)
    return jobs


def finished_jobs(out: Path) -> set[str]:
    """Names of the jobs the journal in ``out`` records as done."""
    journal = out / JOURNAL
    if not journal.is_file():
        return set()
    done = set()
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by a crash
            continue
        if record.get("status") == "done":
            done.add(record["name"])
    return done


def _journal(out: Path, record: dict) -> None:
    """Append one job's record and make it durable before the next job starts."""
    with open(out / JOURNAL, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _already_written(folder: Path, draft, request, info) -> bool:
    """Whether ``draft`` is on disk already (same request, seed and weights); raises
    `WriteError` if other files hold its name."""
    from .drafts import provenance

    record_path = folder / f"draft-s{draft.seed}.json"
    taken = sorted(folder.glob(f"draft-s{draft.seed}.*"))
    if not taken:
        return False
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    expected = provenance(draft, request, info)
    if record.get("request") == expected["request"] and \
            record.get("weights_sha256") == expected["weights_sha256"]:
        return True
    raise WriteError("already exists and holds another draft (move it, or use another --out)",
                     taken[0])


def run_batch(jobs: list[Job], out: Path, model, tokenizer, info, formats: list[str],
              progress=None) -> dict:
    """Draft every job not yet done in ``out``; returns counts and the failures.
    ``progress``, if given, is called after each job with (jobs handled, total)."""
    from .drafts import write_draft
    from .io import read
    from .sample import GenerationRequest, generate, resolve

    out.mkdir(parents=True, exist_ok=True)
    done = finished_jobs(out)
    summary = {"jobs": len(jobs), "skipped": 0, "done": 0, "failed": 0, "drafts": 0, "failures": []}
    for handled, job in enumerate(jobs, start=1):
        if job.name in done:
            summary["skipped"] += 1
        else:
            started = time.perf_counter()
            record = {"name": job.name, "line": job.number}
            try:
                if job.error:
                    raise RequestError(job.error)
                request = GenerationRequest.from_dict(job.fields)
                resolve(request)
                prompt = read(request.prompt) if request.prompt else None
                drafts = generate(model, tokenizer, request, prompt=prompt)
                folder = out / job.name
                files = []
                for draft in drafts:
                    folder.mkdir(exist_ok=True)
                    if _already_written(folder, draft, request, info):
                        files += [str(p) for p in sorted(folder.glob(f"draft-s{draft.seed}.*"))]
                        continue
                    files += [str(p) for p in write_draft(draft, request, info, folder,
                                                          job.formats or formats)]
                record.update(status="done", drafts=len(drafts), files=files)
                summary["done"] += 1
                summary["drafts"] += len(drafts)
            except (TunesmithError, TypeError, ValueError) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                record.update(status="failed", error=reason)
                summary["failed"] += 1
                summary["failures"].append(f"line {job.number} ({job.name}): {reason}")
            record["seconds"] = round(time.perf_counter() - started, 3)
            _journal(out, record)
        if progress:
            progress(handled, len(jobs))
    return summary
