"""Outbound webhooks: a queue per subscriber and tenant, delivered over real
HTTP, retried on a schedule that runs on the tenant's clock, with chaos
controls (pause, flush, drop, duplicate, delay, reorder).

What an event looks like on the wire (payload format, signature headers)
is the fake's business: it passes a `render` function. Events are only
queued after the write that caused them commits (`Store.after_commit`).
Delivery state lives in memory and is not part of state dumps.
"""
from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import aiohttp

from .clock import Clock, iso

QBO_RETRY_SCHEDULE: tuple[float, ...] = (10, 20, 30, 300, 1200, 7200, 14400, 21600)
"""Seconds before each retry; the last repeats for ever."""

Render = Callable[["Delivery"], tuple[bytes, dict[str, str]]]


@dataclass
class Event:
    seq: int
    subscriber: str
    url: str
    tenant: str
    payload: dict[str, Any]
    created_at: float


@dataclass
class Delivery:
    """One POST to one subscriber: one or more events of one tenant."""

    id: int
    subscriber: str
    url: str
    tenant: str
    events: list[Event]
    next_at: float
    attempts: int = 0
    state: str = "queued"  # queued | retrying | delivered | dropped
    history: list[dict[str, Any]] = field(default_factory=list)
    first_queued_monotonic: float = 0.0
    latency_ms: float | None = None
    duplicate_of: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "subscriber": self.subscriber, "url": self.url, "tenant": self.tenant,
                "state": self.state, "attempts": self.attempts,
                "next_attempt_at": self.next_at if math.isfinite(self.next_at) else None,
                "events": [e.payload for e in self.events], "history": self.history,
                "latency_ms": self.latency_ms, "duplicate_of": self.duplicate_of}


@dataclass
class Chaos:
    drop_next: int = 0
    drop_fraction: float = 0.0
    duplicate_next: int = 0
    delay_seconds: float = 0.0
    reorder: bool = False
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("drop_next", "drop_fraction", "duplicate_next",
                                               "delay_seconds", "reorder", "seed")}


class Outbox:
    def __init__(self, clock_of: Callable[[str], Clock], render: Render, *,
                 schedule: Sequence[float] = QBO_RETRY_SCHEDULE, window: float = 0.02,
                 timeout: float = 3.0, max_batch: int = 100, history: int = 2000) -> None:
        self.clock_of, self.render, self.schedule = clock_of, render, tuple(schedule)
        self.window, self.timeout, self.max_batch = window, timeout, max_batch
        self.paused = False
        self.chaos = Chaos()
        self._rng = random.Random(0)
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._pending: dict[tuple[str, str], list[Event]] = {}
        self._pending_since: dict[tuple[str, str], float] = {}
        self._queues: dict[tuple[str, str], deque[Delivery]] = {}
        self._inflight: set[tuple[str, str]] = set()
        self.done: deque[Delivery] = deque(maxlen=history)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle (an aiohttp cleanup_ctx) ---------------------------------------
    async def run(self, app: Any) -> Any:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.create_task(self._loop())
        yield
        pending = {self._task, *self._tasks}
        for _ in range(5):  # a cancellation can be lost when a delivery wakes the loop at that moment
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
            if not pending:
                break
        await self._session.close()

    # -- producing ------------------------------------------------------------
    def emit(self, subscriber: str, url: str, tenant: str, payload: dict[str, Any]) -> None:
        key = (subscriber, tenant)
        event = Event(next(self._seq), subscriber, url, tenant, payload, self.clock_of(tenant).timestamp())
        self._pending.setdefault(key, []).append(event)
        self._pending_since.setdefault(key, time.monotonic())
        self._wake.set()

    # -- chaos and control ------------------------------------------------------
    def set_chaos(self, **changes: Any) -> Chaos:
        for key, value in changes.items():
            setattr(self.chaos, key, value)
        if "seed" in changes:
            self._rng = random.Random(self.chaos.seed)
        return self.chaos

    def reset(self) -> None:
        self._pending.clear()
        self._pending_since.clear()
        self._queues.clear()
        self.done.clear()
        self.chaos = Chaos()
        self._rng = random.Random(0)
        self.paused = False

    async def flush(self, timeout: float = 30.0) -> dict[str, int]:
        """Deliver everything now: batch what waits, ignore retry times, wait for the answers."""
        was_paused, self.paused = self.paused, False
        deadline = time.monotonic() + timeout
        try:
            self._batch(force=True)
            for queue in self._queues.values():
                for delivery in queue:
                    delivery.next_at = float("-inf")
            self._wake.set()
            while (self._inflight or any(self._queues.values()) or self._pending) and time.monotonic() < deadline:
                if not self._inflight and all(q[0].attempts and q[0].next_at != float("-inf")
                                              for q in self._queues.values() if q) and not self._pending:
                    break  # every head was tried in this flush and failed: stop instead of spinning
                await asyncio.sleep(0.005)
        finally:
            self.paused = was_paused
        return self.summary()["counts"]

    # -- the loop ---------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            timeout = self.window if self._pending else (0.05 if any(self._queues.values()) else None)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self._pending:
                await asyncio.sleep(max(0.0, min(self._pending_since.values()) + self.window - time.monotonic()))
                self._batch()
            if not self.paused:
                self._dispatch()

    def _batch(self, force: bool = False) -> None:
        now = time.monotonic()
        for key in list(self._pending):
            if not force and now - self._pending_since[key] < self.window:
                continue
            events = self._pending.pop(key)
            since = self._pending_since.pop(key)
            for start in range(0, len(events), self.max_batch):
                self._enqueue(key, events[start:start + self.max_batch], since)

    def _enqueue(self, key: tuple[str, str], events: list[Event], since: float) -> None:
        clock = self.clock_of(key[1])
        delivery = Delivery(next(self._ids), key[0], events[0].url, key[1], events,
                            next_at=clock.timestamp() + self.chaos.delay_seconds,
                            first_queued_monotonic=since)
        if self.chaos.drop_next > 0 or (self.chaos.drop_fraction and self._rng.random() < self.chaos.drop_fraction):
            self.chaos.drop_next = max(0, self.chaos.drop_next - 1)
            delivery.state = "dropped"
            self.done.append(delivery)
            return
        queue = self._queues.setdefault(key, deque())
        queue.append(delivery)
        if self.chaos.duplicate_next > 0:
            self.chaos.duplicate_next -= 1
            queue.append(Delivery(next(self._ids), key[0], delivery.url, key[1], list(events),
                                  next_at=delivery.next_at, first_queued_monotonic=since,
                                  duplicate_of=delivery.id))

    def _dispatch(self) -> None:
        for key, queue in self._queues.items():
            if not queue or key in self._inflight:
                continue
            if self.chaos.reorder and len(queue) > 1:
                items = list(queue)
                self._rng.shuffle(items)
                queue.clear()
                queue.extend(items)
            head = queue[0]  # later deliveries wait until the head is acknowledged
            if head.next_at <= self.clock_of(key[1]).timestamp():
                self._inflight.add(key)
                task = asyncio.create_task(self._attempt(key, head))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _attempt(self, key: tuple[str, str], delivery: Delivery) -> None:
        clock = self.clock_of(key[1])
        delivery.attempts += 1
        started = time.monotonic()
        outcome: dict[str, Any] = {"at": iso(clock.now(), millis=True), "attempt": delivery.attempts}
        ok = False
        try:
            body, headers = self.render(delivery)
            assert self._session is not None
            async with self._session.post(delivery.url, data=body, headers=headers) as resp:
                await resp.read()
                outcome["status"] = resp.status
                ok = 200 <= resp.status < 300
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead receiver is data here, not a crash
            outcome["error"] = f"{type(exc).__name__}: {exc}".strip(": ")
        outcome["ms"] = round((time.monotonic() - started) * 1000, 2)
        delivery.history.append(outcome)
        queue = self._queues.get(key)
        if ok:
            delivery.state = "delivered"
            delivery.latency_ms = round((time.monotonic() - delivery.first_queued_monotonic) * 1000, 2)
            if queue and delivery in queue:
                queue.remove(delivery)
            self.done.append(delivery)
        else:
            delivery.state = "retrying"
            wait = self.schedule[min(delivery.attempts - 1, len(self.schedule) - 1)]
            delivery.next_at = clock.timestamp() + wait
        self._inflight.discard(key)
        self._wake.set()

    # -- reporting --------------------------------------------------------------
    def summary(self, tenant: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """Counts, and the newest `limit` deliveries of each state (default: every waiting one
        and the newest 200 delivered and dropped)."""
        waiting = [d for q in self._queues.values() for d in q if tenant in (None, d.tenant)]
        pending = sum(1 for events in self._pending.values() for e in events if tenant in (None, e.tenant))
        done = [d for d in self.done if tenant in (None, d.tenant)]
        by_state: dict[str, list[Delivery]] = {"queued": [], "retrying": [], "delivered": [], "dropped": []}
        for d in (*waiting, *done):
            by_state[d.state].append(d)

        def newest(state: str, default: int | None = None) -> list[dict[str, Any]]:
            n = default if limit is None else limit
            chosen = by_state[state] if n is None else by_state[state][-n:] if n else []
            return [d.to_dict() for d in chosen]
        return {
            "paused": self.paused, "chaos": self.chaos.to_dict(),
            "counts": {"pending_events": pending, **{state: len(ds) for state, ds in by_state.items()}},
            "queued": newest("queued"), "failed": newest("retrying"),
            "delivered": newest("delivered", 200), "dropped": newest("dropped", 200),
        }
