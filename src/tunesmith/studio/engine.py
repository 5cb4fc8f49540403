"""Drafting for the studio: one model per server process, one worker thread, a queue.

Jobs run one at a time (the model is loaded once, ~1 s, and drafting already uses the
cores it is given), each writing only into its own folder, so two tabs drafting at once
queue rather than collide. A job goes through the one drafting path `tunesmith generate` takes
(`tunesmith.pipeline`: check, draft, rank, originality, write); it is split into
batches of `CHUNK` drafts so that Cancel and progress act between batches (drafts
ranked with ``keep`` are drafted in one call, ranked together).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace

from ..errors import RequestError, TunesmithError
from ..sample import GenerationRequest
from .roll import roll_json
from .workdir import Workdir, now

log = logging.getLogger("tunesmith.studio")

CHUNK = 8
"""Drafts per `generate` call: Cancel and progress act between chunks (4 drafts of 8 bars
take about a second on two CPU cores)."""

MAX_DRAFTS = 256
"""Most drafts one job may ask for (the CLI has no such limit; a page should answer)."""

ACTIVE = ("queued", "running")


class Cancelled(Exception):
    """Raised inside a job when its Cancel flag is seen."""


class Engine:
    """Holds the model and runs drafting jobs in a worker thread."""

    def __init__(self, workdir: Workdir, model_dir: str | None = None, device: str = "cpu"):
        self.workdir = workdir
        self.model_dir = model_dir
        self.device = device
        self.loaded = self.info = None
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._live: dict[str, dict] = {}   # job id -> record, while queued or running
        self._cancel: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        for record in workdir.all("jobs"):  # a job a crash or restart cut short
            if record.get("status") in ACTIVE:
                record.update(status="interrupted", error="the studio stopped while drafting")
                workdir.save("jobs", record)

    # --- model -------------------------------------------------------------------------
    def start(self) -> None:
        """Load the model and serve the queue, in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="studio-drafting", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        from ..pipeline import open_model

        self.loaded = open_model(self.model_dir, self.device)
        self.info = self.loaded.info

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def model_name(self) -> str | None:
        return self.info.name if self.info else None

    # --- jobs --------------------------------------------------------------------------
    def submit(self, action: str, request: GenerationRequest, checks: dict,
               piece: str | None = None, base_version: int | None = None) -> dict:
        """Check the request (the CLI's `pipeline.check`), record the job, queue it."""
        from ..pipeline import check

        check(request, "mid")
        if request.num_samples > MAX_DRAFTS:
            raise RequestError(f"at most {MAX_DRAFTS} drafts at once in the studio")
        if self.load_error:
            raise RequestError(f"the model could not be loaded: {self.load_error}")
        return self._queue_job({"action": action, "piece": piece, "base_version": base_version,
                                "request": request.to_dict(), "checks": checks,
                                "total": request.num_samples})

    def _queue_job(self, record: dict) -> dict:
        record.update(status="queued", done=0, drafts=[], error=None, created=now())
        record = self.workdir.create("jobs", record)
        with self._lock:
            self._live[record["id"]] = record
        self._queue.put(record["id"])
        return dict(record)

    def submit_song(self, words: str, settings: dict) -> dict:
        """Queue a song for ``words`` (what `tunesmith song` does): checked here, as the
        CLI checks before its model loads. ``settings`` are `SongSettings` fields."""
        from ..lyrics.song import SongSettings, check_settings, song_plan
        from ..lyrics.text import parse_words

        song = SongSettings(**settings)
        sections = parse_words(words, song.lang)
        meter = check_settings(song)
        plan = song_plan(sections, song, meter)
        if not 1 <= song.num_samples <= MAX_DRAFTS:
            raise RequestError(f"drafts must be 1-{MAX_DRAFTS}")
        return self._queue_job({"action": "song", "piece": None, "base_version": None,
                                "request": {"key": song.key, "time_signature": song.time_signature,
                                            "bars": plan.bars, "seed": song.seed},
                                "song": {"words": words, "settings": settings},
                                "total": song.num_samples})

    def job(self, job_id: str) -> dict:
        """A job's record (live while it runs, else from disk)."""
        with self._lock:
            live = self._live.get(job_id)
            if live is not None:
                return {**live, "drafts": list(live["drafts"])}
        return self.workdir.load("jobs", job_id)

    def cancel(self, job_id: str) -> dict:
        record = self.job(job_id)
        if record["status"] in ACTIVE:
            with self._lock:
                self._cancel.add(job_id)
        return self.job(job_id)

    def close(self, timeout: float = 60.0) -> None:
        """Cancel every job and stop the worker, waiting up to ``timeout`` seconds for
        the batch in progress (a thread killed inside torch at exit aborts the process)."""
        with self._lock:
            self._cancel.update(self._live)
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._load()
        except TunesmithError as exc:
            self.load_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported on the page, not a dead thread
            log.exception("loading the model failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
        self._ready.set()
        while True:
            job_id = self._queue.get()
            if job_id is None:  # close()
                return
            with self._lock:
                record = self._live[job_id]
            try:
                self._draft(record)
                record["status"] = "done"
            except Cancelled:
                record["status"] = "cancelled"
            except TunesmithError as exc:
                record.update(status="failed", error=self.workdir.scrub(str(exc)))
            except Exception as exc:  # noqa: BLE001 - one bad job must not stop the studio
                log.exception("job %s failed", job_id)
                record.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
            record["finished"] = now()
            self.workdir.save("jobs", record)
            with self._lock:
                self._live.pop(job_id, None)
                self._cancel.discard(job_id)

    def _check_cancel(self, record: dict) -> None:
        with self._lock:
            if record["id"] in self._cancel:
                raise Cancelled()

    def _draft(self, record: dict) -> None:
        from ..io import read
        from ..pipeline import OriginalityPolicy, check, draft

        self._check_cancel(record)
        if self.load_error:
            raise RequestError(f"the model could not be loaded: {self.load_error}")
        record.update(status="running", started=now())
        self.workdir.save("jobs", record)
        started = time.perf_counter()
        if record["action"] == "song":
            self._draft_song(record)
            record["seconds"] = round(time.perf_counter() - started, 3)
            return
        request = GenerationRequest.from_dict(record["request"])
        prompt = read(request.prompt) if request.prompt else None
        folder = self.workdir.folder("jobs", record["id"])
        policy = OriginalityPolicy(**record["checks"])
        # with --keep the drafts are ranked together: one call; else in chunks, shown as they come
        step = CHUNK if request.keep is None else request.num_samples
        for start in range(0, request.num_samples, step):
            self._check_cancel(record)
            part = replace(request, seed=request.seed + start,
                           num_samples=min(step, request.num_samples - start))
            results = draft(check(part, "mid", prompt=prompt), self.loaded, folder, overwrite=True,
                            policy=policy, progress=lambda done, s=start: self._progress(record, s + done))
            for result in results:
                if not result.dropped:
                    self._add(record, result)
            record["done"] = start + part.num_samples
        record["seconds"] = round(time.perf_counter() - started, 3)

    def _draft_song(self, record: dict) -> None:
        """Songs as `tunesmith song` drafts and writes them (MIDI played through, the lead
        sheet as MusicXML), named like drafts so the page treats them alike."""
        from ..cli.song import write_song
        from ..lyrics.song import SongSettings, check_settings, draft_songs
        from ..lyrics.text import parse_words

        settings = SongSettings(**record["song"]["settings"])
        sections = parse_words(record["song"]["words"], settings.lang)
        folder = self.workdir.folder("jobs", record["id"])
        for song in draft_songs(self.loaded, sections, settings, check_settings(settings)):
            self._check_cancel(record)
            write_song(song, folder, ["mid", "musicxml"], "song", overwrite=True)
            for suffix in ("mid", "musicxml"):
                (folder / f"song-s{song.seed}.{suffix}").replace(folder / f"draft-s{song.seed}.{suffix}")
            entry = {"seed": song.seed, "mean_log_likelihood": None, "originality": None,
                     "copies": False, "notes": song.score.note_count(), "roll": roll_json(song.score)}
            with self._lock:
                record["drafts"].append(entry)
            record["done"] = len(record["drafts"])

    def _progress(self, record: dict, done: int) -> None:
        record["done"] = done
        self._check_cancel(record)

    def _add(self, record: dict, result) -> None:
        one = result.draft
        entry = {"seed": one.seed, "mean_log_likelihood": round(one.mean_log_likelihood, 4),
                 "originality": result.originality, "copies": result.copies,
                 "notes": one.score.note_count(), "roll": roll_json(one.score)}
        with self._lock:
            record["drafts"].append(entry)
