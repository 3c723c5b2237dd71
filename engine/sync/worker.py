"""The worker: claims inbox events and applies them, each connection in a lane of its own.

Several workers (processes) may share one PostgreSQL database: the store hands an event to
one worker only and keeps each record's events in order; a connection's events are applied
under a PostgreSQL advisory lock, so two workers never decide about the same firm at once
(a Canopy client and its new QBO twin arriving together must not both be created). On
SQLite one process applies events (an in-process lock per connection).

Why lanes: one claim loop hands events to a task per connection and goes on claiming, so a
slow firm (a throttled realm, a firm another worker holds) never holds up the others, and an
event's successor is claimed the moment the event is done, not when a whole batch is. A lane
that cannot take its firm's lock (`pg_try_advisory_lock`) hands its events back at once and
this worker leaves that firm alone for a moment: the worker holding it claims them next.

What a failure does: QBO refusing the tokens stops that connection (R22a: it needs
reauthorizing; its events wait); a transient failure that outlived the client's retries
puts the event back for later with a growing delay; anything else is logged with the record
and the reason and, after `GIVE_UP_AFTER` attempts, set aside.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from engine.clients import AuthRefused, CanopyClient, QboClient, UpstreamError
from engine.store import LEASE, LogEntry
from engine.sync.apply import Target, apply_event

if TYPE_CHECKING:
    from engine.service import Engine
    from engine.store import InboxEvent, Store

T = TypeVar("T")
log = logging.getLogger("engine.worker")
GIVE_UP_AFTER = 8
LOCK_SPACE = 4242
"""The first key of the two-key advisory lock, so the engine's locks name nothing else's."""
RETRY_BASE_S, RETRY_CAP_S = 1.0, 300.0
MAX_LANES = 8
"""Connections applied side by side in one worker; each lane holds a database connection for
its firm's advisory lock, so this stays well inside the store's pool."""
SHUTDOWN_GRACE_S = 10.0
"""How long a stopping worker lets its lanes finish before it cancels them."""
BUSY_BACKOFF_S = 0.25
"""How long (wall time) a worker leaves alone a firm whose lock another worker holds, or whose
batch just failed as a whole. Wall time, not the engine clock: a frozen or moved clock must not
keep a firm away for ever."""


def retry_delay(attempts: int) -> float:
    return min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, attempts))


class Worker:
    """`run()` until `stop()`; `run_once()` claims one batch and applies all of it (tests)."""

    def __init__(self, engine: Engine, worker_id: str | None = None, batch: int = 50, idle_s: float = 0.1,
                 lanes: int = MAX_LANES) -> None:
        self.engine = engine
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10_000}"
        self.batch = batch
        self.idle_s = idle_s
        self.max_lanes = lanes
        self.counts: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._queues: dict[int, list[InboxEvent]] = {}
        """The events handed to each running lane and not yet taken by it."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._busy_until: dict[int, float] = {}
        self._clients: dict[int, tuple[int, QboClient, CanopyClient]] = {}
        """Per connection, its clients as of a connection version (tokens change the version)."""

    def wake(self) -> None:
        """New events arrived (a receiver stored some), or a lane finished some: claim now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def stopped(self) -> None:
        await self._stop.wait()

    async def shutdown(self, task: asyncio.Task[None], grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop `task` (this worker's `run()`): lanes get `grace_s` to finish what they hold; then
        they are cancelled, and each hands back what it had not applied before this returns, so
        the store can close under nothing (claims left to a lease would wait 5 minutes)."""
        self.stop()
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if done:
            return
        lanes = list(self._tasks)
        for lane in lanes:
            lane.cancel()
        task.cancel()
        await asyncio.wait({task, *lanes}, timeout=grace_s)

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    n = await self._claim_and_dispatch()
                except Exception:
                    log.exception("worker %s: a claim failed", self.id)
                    n = 0
                if n == 0 or self._in_flight >= self.batch:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=self.idle_s)
                    except TimeoutError:
                        pass
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_once(self) -> int:
        n = await self._claim_and_dispatch()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        return n

    async def _claim_and_dispatch(self) -> int:
        room = self.batch - self._in_flight
        if room <= 0:
            return 0
        store = self.engine.store
        now_s = time.monotonic()
        self._busy_until = {c: t for c, t in self._busy_until.items() if t > now_s}
        only = set(self._queues) if len(self._queues) >= self.max_lanes else None
        events = await store.call(store.claim_inbox, self.id, room, self.engine.clock.now(),
                                  skip=set(self._busy_until), only=only)
        if not events:
            return 0
        by_conn: dict[int, list[InboxEvent]] = defaultdict(list)
        for event in events:
            by_conn[event.connection_id].append(event)
        extra: list[int] = []
        for cid, evs in by_conn.items():
            if cid not in self._queues and len(self._queues) >= self.max_lanes:
                extra += [e.id for e in evs]  # no lane free: back to the inbox for a later claim
                continue
            self._in_flight += len(evs)
            if cid in self._queues:
                self._queues[cid].extend(evs)
            else:
                self._queues[cid] = list(evs)
                task = asyncio.create_task(self._lane(cid), name=f"engine-lane-{cid}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if extra:
            await store.call(store.release_claims, self.id, extra)
        return len(events) - len(extra)

    def _take(self, cid: int) -> list[InboxEvent]:
        events = self._queues.get(cid) or []
        if cid in self._queues:
            self._queues[cid] = []
        return events

    async def _take_renewed(self, cid: int) -> list[InboxEvent]:
        """The lane's next events. A firm that waits (throttled, many events) can hold claims for
        long: those claimed more than half a lease ago are claimed anew, so no other worker takes
        them for abandoned while they are still to be applied here."""
        events = self._take(cid)
        now = self.engine.clock.now()
        old = [e.id for e in events if e.claimed_at is not None and now - e.claimed_at > LEASE / 2]
        if old:
            store = self.engine.store
            try:
                kept = set(await store.call(store.renew_claims, self.id, old, now))
            except BaseException:  # back to the front of the queue: the lane's end hands them back
                self._queues.setdefault(cid, [])[:0] = events
                raise
            for e in events:
                if e.id in kept:
                    e.claimed_at = now
            gone = set(old) - kept
            lost = [e for e in events if e.id in gone]
            if lost:  # another worker has them already: not ours to apply
                self._in_flight -= len(lost)
                events = [e for e in events if e not in lost]
        return events

    async def _lane(self, cid: int) -> None:
        """Apply a connection's events until none are queued, holding its lock throughout."""
        store = self.engine.store
        async with self._locks[cid]:
            mutex = _ConnectionMutex(store, cid)
            try:
                if not await mutex.acquire():
                    self._busy_until[cid] = time.monotonic() + BUSY_BACKOFF_S
                    return
                while events := await self._take_renewed(cid):
                    try:
                        await self._apply_connection(cid, events)
                    except asyncio.CancelledError:  # shutting down: what it was applying goes back
                        await self._release_quietly(cid, events)
                        raise
                    except Exception:
                        log.exception("worker %s: connection %s: a batch failed", self.id, cid)
                        await self._release_quietly(cid, events)
                        # not at once again: a lasting failure (the database refusing a statement)
                        # would otherwise claim, fail and hand back in a loop at full speed
                        self._busy_until[cid] = time.monotonic() + BUSY_BACKOFF_S
                        break
                    finally:
                        self._in_flight -= len(events)
                        self.wake()
            finally:
                try:
                    await self._close_lane(cid)
                finally:
                    await mutex.release()

    async def _close_lane(self, cid: int) -> None:
        """End a lane: what is still queued to it (nothing, when it ran dry; its events, when it
        could not take the firm's lock or died) goes back to the inbox and out of the count.
        The queue goes before any await, so nothing is queued to a lane that is gone."""
        rest = self._queues.pop(cid, None) or []
        self._in_flight -= len(rest)
        if rest:
            await self._release_quietly(cid, rest)
        self.wake()

    async def _release_quietly(self, cid: int, events: list[InboxEvent]) -> None:
        """Hand claims back; if even that fails (the database is gone), the lease brings them back."""
        try:
            await self.engine.store.call(self.engine.store.release_claims, self.id, [e.id for e in events])
        except Exception:  # noqa: BLE001 -- logged; the claims come back when their lease ends
            log.exception("worker %s: connection %s: could not hand back %d claims", self.id, cid, len(events))

    async def _clients_for(self, conn: Any) -> tuple[QboClient, CanopyClient]:
        cached = self._clients.get(conn.id)
        if cached is None or cached[0] != conn.version:
            canopy = await self.engine.store.call(self.engine.canopy_for, conn)
            cached = (conn.version, self.engine.qbo(conn), canopy)
            self._clients[conn.id] = cached
        return cached[1], cached[2]

    async def _apply_connection(self, connection_id: int, events: list[InboxEvent]) -> None:
        store, clock = self.engine.store, self.engine.clock
        conn = await store.call(store.sync_view, connection_id)
        if conn is None or conn.state != "connected":
            await store.call(store.release_claims, self.id, [e.id for e in events])
            return
        qbo, canopy = await self._clients_for(conn)
        target = Target(store, conn, qbo, canopy, clock.now(), contacts_review=conn.contacts_review,
                        items_review=conn.items_review)
        done: list[int] = []
        lines: dict[int, list[LogEntry]] = {}
        for i, event in enumerate(events):
            target.now = clock.now()
            try:
                outcome = await apply_event(target, event.source, event.record_kind, event.record_id)
            except AuthRefused as exc:
                target.take_log()  # the event is applied again after reauthorizing
                await store.call(self.engine.refused, connection_id, exc, conn.version)
                await store.call(store.release_claims, self.id, [e.id for e in events[i:]])
                break
            except Exception as exc:  # noqa: BLE001 -- any failure is the event's, logged with its record
                target.take_log()
                await self._failed(connection_id, event, exc)
                continue
            self.counts[outcome] += 1  # "waiting": before its part of the sync started (setup reads it)
            lines[event.id] = target.take_log()
            done.append(event.id)
        if done:
            await store.call(_finish, store, self.id, connection_id, done, lines, clock.now())

    async def _failed(self, connection_id: int, event: InboxEvent, exc: Exception) -> None:
        attempts = event.attempts + 1
        transient = isinstance(exc, UpstreamError) and exc.retryable
        give_up = attempts >= GIVE_UP_AFTER or (isinstance(exc, UpstreamError) and not transient and attempts >= 3)
        reason = f"{type(exc).__name__}: {exc}"
        now = self.engine.clock.now()
        ids = {"canopy_id" if event.source == "canopy" else "qbo_id": event.record_id}
        line = LogEntry(kind=_log_kind(event.record_kind), action="failed", rule="R21", reason=reason[:500],
                        detail={"attempts": attempts, "gave_up": give_up}, at=now, **ids)
        store = self.engine.store

        def write() -> None:
            with store.session() as s:
                if store.inbox_failed(self.id, event.id, reason[:2000], now, give_up=give_up,
                                      retry_at=now + timedelta(seconds=retry_delay(attempts)), session=s):
                    store.append_log(connection_id, [line], now, session=s)  # not if another worker has it
        await store.call(write)
        self.counts["failed"] += 1
        if not transient:
            log.warning("event %s (%s %s %s) failed: %s", event.id, event.source, event.record_kind,
                        event.record_id, reason)


def _finish(store: Store, worker_id: str, connection_id: int, done: list[int],
            lines: dict[int, list[LogEntry]], now: datetime) -> None:
    """The applied events' "done" marks and their remaining log lines, in one transaction. An
    event this worker no longer holds (its lease ran out and another worker took it) is that
    worker's to log: its lines are dropped here, so none appears twice."""
    with store.session() as s:
        marked = store.inbox_done(worker_id, done, now, session=s)
        store.append_log(connection_id, [line for id_ in done if id_ in marked for line in lines.get(id_, ())],
                         now, session=s)


async def _to_thread_to_the_end(fn: Callable[[], T]) -> T:
    """`fn` in a thread. Cancelled meanwhile, this still waits for the thread before it passes the
    cancellation on: a lock the thread took is then known (and released) rather than left held
    on a connection nobody will close."""
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


def _log_kind(record_kind: str) -> str:
    return {"client": "contact", "customer": "contact", "service_item": "item"}.get(record_kind.lower(),
                                                                                    record_kind.lower())


class _ConnectionMutex:
    """PostgreSQL: a session advisory lock on the connection id, held on a database connection
    of its own while the lane runs; `acquire` does not wait for another worker's lock. SQLite:
    nothing (one process applies events; the lane's in-process lock is enough)."""

    def __init__(self, store: Store, connection_id: int) -> None:
        self.store, self.connection_id = store, connection_id
        self.db: Any = None

    async def acquire(self) -> bool:
        if self.store.dialect != "postgresql":
            return True
        return await _to_thread_to_the_end(self._try)

    def _try(self) -> bool:
        db = self.store.engine.connect()
        try:
            got = bool(db.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({LOCK_SPACE}, {int(self.connection_id)})").scalar())
            db.commit()
        except BaseException:
            db.close()
            raise
        if got:
            self.db = db
        else:
            db.close()
        return got

    async def release(self) -> None:
        if self.db is not None:
            await _to_thread_to_the_end(self._release)

    def _release(self) -> None:
        try:
            self.db.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_SPACE}, {int(self.connection_id)})")
            self.db.commit()
        finally:
            self.db.close()
            self.db = None
