"""The worker: claims inbox events and applies them, one connection at a time.

Several workers (processes) may share one PostgreSQL database: the store hands an event to
one worker only and keeps each record's events in order; a connection's events are applied
under a PostgreSQL advisory lock, so two workers never decide about the same firm at once
(a Canopy client and its new QBO twin arriving together must not both be created). On
SQLite one process applies events (an in-process lock per connection).

What a failure does: QBO refusing the tokens stops that connection (R22a: it needs
reauthorizing; its events wait); a transient failure that outlived the client's retries
puts the event back for later with a growing delay; anything else is logged with the record
and the reason and, after `GIVE_UP_AFTER` attempts, set aside.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter, defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.clients import AuthRefused, UpstreamError
from engine.sync.apply import Target, apply_event

if TYPE_CHECKING:
    from engine.service import Engine

log = logging.getLogger("engine.worker")
GIVE_UP_AFTER = 8
LOCK_SPACE = 4242
"""The first key of the two-key advisory lock, so the engine's locks name nothing else's."""
RETRY_BASE_S, RETRY_CAP_S = 1.0, 300.0


def retry_delay(attempts: int) -> float:
    return min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, attempts))


class Worker:
    """`run()` until `stop()`; `run_once()` applies one claimed batch (tests and benchmarks)."""

    def __init__(self, engine: Engine, worker_id: str | None = None, batch: int = 50, idle_s: float = 0.1) -> None:
        self.engine = engine
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10_000}"
        self.batch = batch
        self.idle_s = idle_s
        self.counts: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def wake(self) -> None:
        """New events arrived (a receiver stored some): look now rather than after the idle wait."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                n = await self.run_once()
            except Exception:
                log.exception("worker %s: a batch failed", self.id)
                n = 0
            if n == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_s)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        store, clock = self.engine.store, self.engine.clock
        events = await asyncio.to_thread(store.claim_inbox, self.id, self.batch, clock.now())
        if not events:
            return 0
        by_conn: dict[int, list[Any]] = defaultdict(list)
        for event in events:
            by_conn[event.connection_id].append(event)
        await asyncio.gather(*(self._apply_connection(cid, evs) for cid, evs in by_conn.items()))
        return len(events)

    async def _apply_connection(self, connection_id: int, events: list[Any]) -> None:
        store = self.engine.store
        async with self._locks[connection_id], _connection_mutex(store, connection_id):
            conn = store.get_connection(connection_id)
            if conn is None or conn.state != "connected":
                store.release_claims(self.id, [e.id for e in events])
                return
            target = Target(store, conn, self.engine.qbo(conn), self.engine.canopy_for(conn), self.engine.clock.now(),
                            contacts_review=_done_job(store, connection_id, "contacts_review"),
                            items_review=_done_job(store, connection_id, "items_review"))
            done: list[int] = []
            for i, event in enumerate(events):
                target.now = self.engine.clock.now()
                try:
                    outcome = await apply_event(target, event.source, event.record_kind, event.record_id)
                except AuthRefused as exc:
                    self.engine.refused(connection_id, exc)
                    store.release_claims(self.id, [e.id for e in events[i:]])
                    break
                except Exception as exc:  # noqa: BLE001 -- any failure is the event's, logged with its record
                    self._failed(target, event, exc)
                    continue
                self.counts[outcome] += 1  # "waiting": before its part of the sync started (setup reads it)
                done.append(event.id)
            if done:
                store.inbox_done(self.id, done, self.engine.clock.now())

    def _failed(self, t: Target, event: Any, exc: Exception) -> None:
        attempts = event.attempts + 1
        transient = isinstance(exc, UpstreamError) and exc.retryable
        give_up = attempts >= GIVE_UP_AFTER or (isinstance(exc, UpstreamError) and not transient and attempts >= 3)
        reason = f"{type(exc).__name__}: {exc}"
        now = self.engine.clock.now()
        self.engine.store.inbox_failed(self.id, event.id, reason[:2000], now, give_up=give_up,
                                       retry_at=now + timedelta(seconds=retry_delay(attempts)))
        ids = {"canopy_id" if event.source == "canopy" else "qbo_id": event.record_id}
        t.log(_log_kind(event.record_kind), "failed", "R21", reason[:500], **ids,
              detail={"attempts": attempts, "gave_up": give_up})
        self.counts["failed"] += 1
        if not transient:
            log.warning("event %s (%s %s %s) failed: %s", event.id, event.source, event.record_kind,
                        event.record_id, reason)


def _done_job(store: Any, connection_id: int, kind: str) -> int | None:
    job = store.latest_job(connection_id, kind)
    return job.id if job is not None and job.state == "done" else None


def _log_kind(record_kind: str) -> str:
    return {"client": "contact", "customer": "contact", "service_item": "item"}.get(record_kind.lower(),
                                                                                    record_kind.lower())


class _connection_mutex:
    """PostgreSQL: a session advisory lock on the connection id, held on a connection of its own
    while the batch applies. SQLite: nothing (one process applies events)."""

    def __init__(self, store: Any, connection_id: int) -> None:
        self.store, self.connection_id = store, connection_id
        self.db: Any = None

    async def __aenter__(self) -> None:
        if self.store.dialect != "postgresql":
            return
        self.db = await asyncio.to_thread(self.store.engine.connect)
        await asyncio.to_thread(self.db.exec_driver_sql, f"SELECT pg_advisory_lock({LOCK_SPACE}, {int(self.connection_id)})")

    async def __aexit__(self, *exc: object) -> None:
        if self.db is not None:
            await asyncio.to_thread(self._release)

    def _release(self) -> None:
        try:
            self.db.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_SPACE}, {int(self.connection_id)})")
            self.db.commit()
        finally:
            self.db.close()
