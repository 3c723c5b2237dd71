"""Background jobs: long setup work (reading 100,000 customers, creating thousands) runs
outside the request, and its progress (done, total, current step) is in the database, so
the status endpoint and `python -m engine status` show it from any process.
"""
from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from engine.clock import Clock
from engine.store import Store

log = logging.getLogger("engine.jobs")
WRITE_EVERY = 0.25
"""Seconds between progress writes: often enough to watch, rare enough to cost nothing."""


class Progress:
    """What a job reports while it runs; writes are throttled, the last one always lands."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store = store
        self.job_id = job_id
        self.done = 0
        self.total = 0
        self.step = "starting"
        self.calls: dict[str, Counter[str]] = {"qbo": Counter(), "canopy": Counter()}
        """Requests the job's clients sent, by service and kind; reported in the job's result."""
        self._written = 0.0
        self.timings: dict[str, float] = {}
        """Seconds spent in each step, so a slow job says where its time went."""
        self._step_started = time.monotonic()

    def at(self, step: str, total: int | None = None, done: int = 0) -> None:
        now = time.monotonic()
        self.timings[self.step] = round(self.timings.get(self.step, 0.0) + now - self._step_started, 3)
        self._step_started = now
        self.step, self.done = step, done
        if total is not None:
            self.total = total
        self._write(force=True)

    def add(self, n: int = 1, total: int | None = None) -> None:
        self.done += n
        if total is not None:
            self.total = total
        self._write()

    def counter(self) -> Callable[[int], None]:
        """A paging callback (it gets the running total) that moves `done` on from here."""
        start = self.done

        def seen(n: int) -> None:
            self.done = start + n
            self._write()
        return seen

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._written >= WRITE_EVERY:
            self._written = now
            self.store.job_progress(self.job_id, done=self.done, total=self.total, step=self.step)


JobBody = Callable[[Progress], Awaitable[dict[str, Any]]]


class Jobs:
    """Runs job bodies as asyncio tasks and records how each ended."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, connection_id: int, kind: str, body: JobBody) -> int:
        job_id = self.store.start_job(connection_id, kind, self.clock.now()).id
        self.tasks[job_id] = asyncio.create_task(self._run(job_id, body), name=f"job-{job_id}-{kind}")
        return job_id

    async def _run(self, job_id: int, body: JobBody) -> None:
        progress = Progress(self.store, job_id)
        try:
            result = await body(progress)
        except asyncio.CancelledError:
            self.store.fail_job(job_id, self.clock.now(), "cancelled: the engine stopped")
            raise
        except Exception as exc:  # noqa: BLE001 -- a job's failure is recorded, never lost in a task
            log.error("job %s failed: %s\n%s", job_id, exc, traceback.format_exc())
            self.store.fail_job(job_id, self.clock.now(), f"{progress.step}: {exc or type(exc).__name__}")
        else:
            progress.at("done", done=progress.total)
            calls = {name: dict(sorted(c.items())) for name, c in progress.calls.items() if c}
            extra = {"calls": calls} if calls else {}
            self.store.finish_job(job_id, self.clock.now(), {**result, **extra, "timings_s": progress.timings})
        finally:
            self.tasks.pop(job_id, None)

    async def wait(self, job_id: int, timeout: float = 300.0) -> None:
        task = self.tasks.get(job_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)

    def running(self, job_id: int) -> bool:
        return job_id in self.tasks

    async def stop(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks.values()), timeout=5)
