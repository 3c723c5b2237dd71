"""Reconciliation: what the webhooks missed, read back from QBO CDC and Canopy's change feed.

Webhooks get lost, repeated and reordered (R21). Every so often, and on demand
(`POST /integration/reconcile`), the engine reads each side's changes since where it last
stopped and queues them in the inbox exactly as the webhook receivers would (the same
`IncomingEvent` shapes, made by the same functions: `receivers.qbo_cdc_event` /
`receivers.canopy_event`). Duplicates of what a webhook already queued are expected: the
worker re-reads each record and applies idempotently.

Cursors (`Store.cursor(conn.id, source)`), each moved only after the inbox write that covers
it committed, so a crash in between re-reads rather than loses:

- `qbo`: an ISO 8601 UTC time, the `changedSince` of the next CDC call. After a run it is the
  engine-clock time at which the run's first CDC call started, minus `QBO_OVERLAP` (one
  minute), which covers clock skew and changes committed while the call ran. CDC only reaches
  30 days back: an older cursor is raised to 30 days minus `CDC_MARGIN` (with a warning: the
  changes before that are beyond reach). With no cursor yet (the wizard has not called
  `initial_cursors`), reading starts at the connection's creation (`created_at`, when the
  firm first called the engine, before any of setup read anything) minus one minute.
  CDC answers at most 1,000 objects (the oldest first), so a full answer is followed by
  another from the latest `LastUpdatedTime` it held.
- `canopy`: the feed's opaque `next_cursor`, stored after each page's inbox write. With no
  cursor yet, the feed is read from its start and only events that occurred after the
  connection's creation minus one minute are queued.

`initial_cursors` puts both cursors at "now" when ongoing sync starts (QBO: the engine clock
minus `QBO_OVERLAP`; Canopy: the feed walked to its end), so reconciliation does not replay
what setup already read.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from engine.clients import UpstreamError
from engine.service import ApiError
from engine.web import ENGINE, me_of, reply

from .receivers import CANOPY, QBO, canopy_events, qbo_cdc_event

log = logging.getLogger("engine.sync.reconcile")

QBO_CDC_ENTITIES = ("Customer", "Item", "Invoice")
"""What the ongoing sync follows in QBO (vendors and employees only matter at matching time)."""
QBO_OVERLAP = timedelta(minutes=1)
FIRST_RUN_LEAD = timedelta(minutes=1)
CDC_MAX_AGE = timedelta(days=30)
CDC_MARGIN = timedelta(minutes=10)
CDC_MAX_OBJECTS = 1000
DEFAULT_INTERVAL_S = 300.0
RECONCILE_STATES = ("connected", "needs_reauthorization")
"""States in which `POST /integration/reconcile` runs (QBO is skipped while reauthorization is needed)."""

_locks: weakref.WeakKeyDictionary[Any, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(engine: Any, conn_id: int) -> asyncio.Lock:
    """One reconciliation per connection at a time in this process (the scheduler and the
    route may overlap); across processes, overlapping runs only cause duplicates."""
    return _locks.setdefault(engine, {}).setdefault(conn_id, asyncio.Lock())


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def qbo_since(engine: Any, conn: Any, now: datetime) -> datetime:
    """Where the next CDC read starts: the stored cursor, or the connection's creation minus a
    minute; never more than 30 days (less a margin) back."""
    stored = engine.store.cursor(conn.id, QBO)
    since = _time(stored)
    if since is None:
        if stored:
            log.warning("connection %s: unreadable QBO cursor %r; starting from the connection's creation",
                        conn.id, stored)
        since = conn.created_at - FIRST_RUN_LEAD
    floor = now - CDC_MAX_AGE + CDC_MARGIN
    if since < floor:
        log.warning("connection %s: QBO cursor %s is older than CDC reaches; reading from %s (changes before "
                    "that are not reconciled)", conn.id, _iso(since), _iso(floor))
        since = floor
    return since


async def reconcile_qbo(engine: Any, conn: Any) -> tuple[int, str]:
    """Queue every Customer, Item and Invoice change since the QBO cursor; move the cursor."""
    qbo = engine.qbo(conn)
    started = engine.clock.now()
    since = qbo_since(engine, conn, started)
    cursor = started - QBO_OVERLAP
    events = []
    frm = since
    while True:
        changes = await qbo.cdc(QBO_CDC_ENTITIES, frm)
        rows = [(entity, row) for entity, found in changes.items() for row in found if isinstance(row, dict)]
        for entity, row in rows:
            try:
                events.append(qbo_cdc_event(entity, row))
            except (TypeError, ValueError) as exc:
                log.warning("connection %s: skipped a CDC %s row (%s): %r", conn.id, entity, exc, row)
        if len(rows) < CDC_MAX_OBJECTS:
            break
        latest = max((t for t in (_time((r.get("MetaData") or {}).get("LastUpdatedTime")) for _, r in rows)
                      if t is not None), default=None)
        if latest is None or latest <= frm:
            # More than CDC can page past at one instant: step over it rather than stall for ever.
            log.error("connection %s: over %d QBO changes at %s; later changes at that instant may be missed",
                      conn.id, CDC_MAX_OBJECTS, _iso(frm))
            cursor = min(cursor, frm + timedelta(seconds=1))
            break
        frm = latest
    stored = engine.store.add_inbox(conn.id, events, engine.clock.now())
    value = _iso(cursor)
    engine.store.set_cursor(conn.id, QBO, value, engine.clock.now())
    return stored, value


def _occurred(event: Any) -> datetime | None:
    return _time(event.get("occurred_at")) if isinstance(event, dict) else None


async def reconcile_canopy(engine: Any, conn: Any) -> tuple[int, str | None]:
    """Queue every change-feed event after the Canopy cursor, page by page; move the cursor."""
    canopy = engine.canopy_for(conn)
    cursor = engine.store.cursor(conn.id, CANOPY)
    not_before = conn.created_at - FIRST_RUN_LEAD if cursor is None else None
    stored = 0
    while True:
        page = await canopy.changes(cursor)
        events = page.events
        if not_before is not None:
            events = [e for e in events if (at := _occurred(e)) is None or at >= not_before]
        stored += engine.store.add_inbox(conn.id, canopy_events(events), engine.clock.now())
        moved = page.next_cursor != cursor
        if moved:
            engine.store.set_cursor(conn.id, CANOPY, page.next_cursor, engine.clock.now())
            cursor = page.next_cursor
        if not page.has_more or not moved:
            return stored, cursor


async def reconcile(engine: Any, conn: Any) -> dict[str, Any]:
    """Read both sides' changes since their cursors into the inbox (see the module docstring).

    Answers `{"enqueued": {"qbo": n, "canopy": m}, "skipped": {source: why},
    "cursors": {"qbo": iso, "canopy": cursor}}`. QBO is skipped while the connection needs
    reauthorization (R22a: its changes wait in QBO until then). When one side fails, the
    other still runs, then the first `UpstreamError` is raised.
    """
    async with _lock(engine, conn.id):
        result: dict[str, Any] = {"enqueued": {QBO: 0, CANOPY: 0}, "skipped": {},
                                  "cursors": {QBO: engine.store.cursor(conn.id, QBO),
                                              CANOPY: engine.store.cursor(conn.id, CANOPY)}}
        errors: list[UpstreamError] = []
        if conn.state != "connected" or not conn.realm_id:
            result["skipped"][QBO] = conn.state if conn.realm_id else "no_realm"
        else:
            try:
                result["enqueued"][QBO], result["cursors"][QBO] = await reconcile_qbo(engine, conn)
            except UpstreamError as exc:
                log.warning("connection %s: QBO reconciliation failed: %s", conn.id, exc)
                errors.append(exc)
        try:
            result["enqueued"][CANOPY], result["cursors"][CANOPY] = await reconcile_canopy(engine, conn)
        except UpstreamError as exc:
            log.warning("connection %s: Canopy reconciliation failed: %s", conn.id, exc)
            errors.append(exc)
        if errors:
            raise errors[0]
        return result


async def initial_cursors(engine: Any, conn: Any) -> dict[str, str]:
    """Put both cursors at "now" (the wizard calls this when ongoing sync starts): QBO at the
    engine clock minus `QBO_OVERLAP`, Canopy at the `next_cursor` of the feed walked to its end.
    Async because walking the feed is HTTP. Answers the cursors set."""
    async with _lock(engine, conn.id):
        now = engine.clock.now()
        canopy = engine.canopy_for(conn)
        cursor: str | None = None
        while True:
            page = await canopy.changes(cursor)
            moved = page.next_cursor != cursor
            cursor = page.next_cursor
            if not page.has_more or not moved:
                break
        qbo_value = _iso(now - QBO_OVERLAP)
        engine.store.set_cursor(conn.id, QBO, qbo_value, engine.clock.now())
        engine.store.set_cursor(conn.id, CANOPY, cursor, engine.clock.now())
        return {QBO: qbo_value, CANOPY: cursor}


def ongoing(conn: Any) -> bool:
    """Whether the scheduler reconciles this connection: ongoing sync on and connected."""
    return bool(conn.ongoing_contacts) and conn.state == "connected"


class Reconciler:
    """Runs `reconcile` for every connection with ongoing sync on, every `interval` seconds of
    the engine clock. A failure is logged and the loop goes on; only `stop()` ends it."""

    def __init__(self, interval: float = DEFAULT_INTERVAL_S, *, concurrency: int = 4) -> None:
        if interval <= 0:
            raise ValueError("the interval must be positive")
        self.interval = float(interval)
        self.concurrency = max(1, concurrency)
        self.passes = 0
        self.last: dict[int, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, engine: Any) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(engine), name="engine-reconciler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def run_once(self, engine: Any) -> dict[int, dict[str, Any]]:
        """One pass over the connections; per connection its result or `{"error": ...}`."""
        gate = asyncio.Semaphore(self.concurrency)
        results: dict[int, dict[str, Any]] = {}

        async def one(conn: Any) -> None:
            async with gate:
                try:
                    results[conn.id] = await reconcile(engine, conn)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one firm's trouble never stops the others
                    log.warning("reconciliation of connection %s (firm %s) failed: %s", conn.id, conn.firm_id,
                                exc, exc_info=not isinstance(exc, UpstreamError))
                    results[conn.id] = {"error": str(exc)}

        await asyncio.gather(*(one(c) for c in engine.store.connections() if ongoing(c)))
        self.last = results
        return results

    async def _loop(self, engine: Any) -> None:
        while True:
            await engine.clock.sleep(self.interval)
            try:
                await self.run_once(engine)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store itself failed: try again next time
                log.exception("a reconciliation pass failed")
            self.passes += 1


def reconciler_ctx(interval: float = DEFAULT_INTERVAL_S) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp `cleanup_ctx` running a `Reconciler` while the app's engine lives."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        reconciler = Reconciler(interval)
        reconciler.start(app[ENGINE])
        yield
        await reconciler.stop()
    return ctx


async def reconcile_route(request: web.Request) -> web.Response:
    """`POST /integration/reconcile`: reconcile the caller's firm now."""
    me = await me_of(request)
    engine = request.app[ENGINE]
    conn = engine.store.connection_for_firm(me.firm_id)
    if conn is None or conn.state not in RECONCILE_STATES:
        raise ApiError(409, "not_connected", "this firm has no connected integration to reconcile",
                       state=conn.state if conn is not None else None)
    return reply(await reconcile(engine, conn))
