"""A process pool that survives files which hang or crash a parser.

``concurrent.futures`` cannot stop a worker stuck inside C code, and one segfault breaks
the whole executor. Here each worker is a plain process with its own pipe: the parent
waits on all pipes at once, kills a worker whose task runs past the timeout, notices one
that died, and starts a fresh worker in its place. Results come back in completion
order; callers that need a deterministic order sort them afterwards.
"""
from __future__ import annotations

import multiprocessing
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator


@dataclass
class Outcome:
    """What became of one task: ``status`` is "ok" (``value`` holds the result),
    "timeout" (killed after ``timeout_s`` seconds) or "crash" (``value`` is the reason)."""

    task: Any
    status: str
    value: Any = None


def _context():
    # fork starts a worker in milliseconds and shares what the parent already imported;
    # elsewhere (macOS, Windows) spawn is the safe default.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def _serve(conn, setup: Callable[[], Callable[[Any], Any]]) -> None:
    """Worker loop: build the task function once, then answer tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    work = setup()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(work(task))


class _Worker:
    def __init__(self, ctx, setup):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, setup), daemon=True)
        self.process.start()
        child.close()
        self.task = None
        self.started = 0.0
        self.done = 0

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=None if kill else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def run_tasks(tasks: Iterable[Any], setup: Callable[[], Callable[[Any], Any]],
              workers: int = 2, timeout_s: float | None = None,
              tasks_per_worker: int = 1000) -> Iterator[Outcome]:
    """Run ``setup()(task)`` for every task in ``workers`` processes; yield `Outcome`s.

    ``setup`` runs once in each worker (it must be picklable where processes are
    spawned) and returns the function applied to each task; that function should catch
    its own errors and return a small value. A task running longer than ``timeout_s``
    seconds has its worker killed and replaced. A worker is also replaced after
    ``tasks_per_worker`` tasks, so that memory a parser leaks is given back. Closing the
    iterator (or an interrupt) stops every worker.
    """
    ctx = _context()
    pending = list(tasks)[::-1]  # pop() from the end keeps the given order
    if not pending:
        return
    pool = [_Worker(ctx, setup) for _ in range(max(1, min(workers, len(pending))))]
    try:
        while pending or any(w.task is not None for w in pool):
            for worker in pool:
                if worker.task is None and pending:
                    worker.task = pending.pop()
                    worker.started = time.monotonic()
                    worker.conn.send(worker.task)
            busy = [w for w in pool if w.task is not None]
            wait_s = None
            if timeout_s is not None:
                now = time.monotonic()
                wait_s = max(0.0, min(w.started + timeout_s - now for w in busy))
            ready = wait([w.conn for w in busy], timeout=wait_s)
            now = time.monotonic()
            for i, worker in enumerate(pool):
                if worker.task is None:
                    continue
                outcome = None
                if worker.conn in ready:
                    try:
                        outcome = Outcome(worker.task, "ok", worker.conn.recv())
                    except (EOFError, OSError):
                        worker.process.join(timeout=5)
                        code = worker.process.exitcode
                        outcome = Outcome(worker.task, "crash",
                                          f"the reader crashed its process (exit code {code})")
                elif timeout_s is not None and now - worker.started >= timeout_s:
                    outcome = Outcome(worker.task, "timeout", timeout_s)
                if outcome is None:
                    continue
                worker.done += 1
                if outcome.status != "ok" or worker.done >= tasks_per_worker:
                    worker.stop(kill=outcome.status != "ok")
                    pool[i] = worker = _Worker(ctx, setup)
                worker.task = None
                yield outcome
    finally:
        for worker in pool:
            worker.stop(kill=worker.task is not None)
