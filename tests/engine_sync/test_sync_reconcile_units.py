"""Reconciliation's cursor rules and the scheduler, against stand-ins for the store and clients."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from aiohttp import web
from openapi_spec_validator import validate

from engine.clients import ChangePage, ServerError
from engine.sync import receivers, reconcile
from engine.sync.reconcile import CDC_MAX_OBJECTS, QBO_OVERLAP, Reconciler

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Store:
    def __init__(self, conns: list[Any]) -> None:
        self.conns = conns
        self.cursors: dict[tuple[int, str], str] = {}
        self.inbox: list[tuple[int, Any]] = []
        self.writes: list[str] = []

    def connections(self) -> list[Any]:
        return list(self.conns)

    def cursor(self, conn_id: int, source: str) -> str | None:
        return self.cursors.get((conn_id, source))

    def set_cursor(self, conn_id: int, source: str, value: str, now: datetime) -> None:
        self.writes.append(f"cursor:{source}")
        self.cursors[(conn_id, source)] = value

    def add_inbox(self, conn_id: int, events: Any, now: datetime) -> int:
        events = list(events)
        self.writes.append(f"inbox:{len(events)}")
        self.inbox += [(conn_id, e) for e in events]
        return len(events)


class Clock:
    def __init__(self) -> None:
        self.at = NOW
        self.sleeps = 0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await asyncio.sleep(0)


def row(id_: str, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat()
    return {"Id": id_, "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}


class Qbo:
    def __init__(self, pages: list[dict[str, list[dict[str, Any]]]] | Exception) -> None:
        self.pages, self.calls = pages, []

    async def cdc(self, entities: Any, since: Any) -> dict[str, list[dict[str, Any]]]:
        self.calls.append((tuple(entities), since))
        if isinstance(self.pages, Exception):
            raise self.pages
        return self.pages.pop(0) if self.pages else {}


class Canopy:
    def __init__(self, pages: list[ChangePage] | Exception) -> None:
        self.pages, self.calls = pages, []

    async def changes(self, cursor: str | None = None, limit: int = 500) -> ChangePage:
        self.calls.append(cursor)
        if isinstance(self.pages, Exception):
            raise self.pages
        return self.pages.pop(0)


class Engine:
    def __init__(self, conns: list[Any], qbo: Qbo | None = None, canopy: Canopy | None = None) -> None:
        self.store, self.clock = Store(conns), Clock()
        self._qbo, self._canopy = qbo or Qbo([]), canopy or Canopy([ChangePage([], "c0", False)])

    def qbo(self, conn: Any, stats: Any = None) -> Qbo:
        return self._qbo

    def canopy_for(self, conn: Any, stats: Any = None) -> Canopy:
        return self._canopy


def conn(id_: int = 1, **kw: Any) -> Any:
    base = {"id": id_, "firm_id": f"f{id_}", "realm_id": f"r{id_}", "state": "connected", "ongoing_contacts": True,
            "created_at": NOW - timedelta(days=2)}
    return SimpleNamespace(**{**base, **kw})


def feed_event(seq: int, at: datetime) -> dict[str, Any]:
    return {"id": str(seq), "sequence": seq, "type": "created", "resource_type": "client",
            "resource_id": str(100 + seq), "occurred_at": at.isoformat(), "data": {}}


# -- QBO ---------------------------------------------------------------------------------------
async def test_first_run_starts_a_minute_before_the_connection_and_moves_the_cursor_after_the_write() -> None:
    c = conn()
    engine = Engine([c], Qbo([{"Customer": [row("1", NOW - timedelta(hours=1))], "Item": [], "Invoice": []}]))
    stored, value = await reconcile.reconcile_qbo(engine, c)
    assert engine._qbo.calls == [(("Customer", "Item", "Invoice"), c.created_at - timedelta(minutes=1))]
    assert stored == 1 and value == (NOW - QBO_OVERLAP).isoformat()
    assert engine.store.writes == ["inbox:1", "cursor:qbo"]


async def test_a_stored_cursor_is_where_cdc_starts_but_never_past_30_days() -> None:
    c = conn()
    engine = Engine([c])
    engine.store.cursors[(1, "qbo")] = "2025-03-01T11:00:00+00:00"
    await reconcile.reconcile_qbo(engine, c)
    old = conn(2, created_at=NOW - timedelta(days=90))
    await reconcile.reconcile_qbo(engine, old)  # no cursor of its own, created long ago
    engine.store.cursors[(1, "qbo")] = "2024-01-01T00:00:00Z"
    await reconcile.reconcile_qbo(engine, c)
    floor = NOW - timedelta(days=30) + reconcile.CDC_MARGIN
    assert [since for _, since in engine._qbo.calls] == [datetime(2025, 3, 1, 11, tzinfo=UTC), floor, floor]


async def test_a_full_cdc_answer_is_followed_from_its_latest_change() -> None:
    c = conn()
    start = NOW - timedelta(minutes=30)
    full = [row(str(i), start + timedelta(seconds=i)) for i in range(CDC_MAX_OBJECTS)]
    engine = Engine([c], Qbo([{"Customer": full[:600], "Invoice": full[600:]},
                               {"Customer": [row("5000", NOW - timedelta(minutes=1))]}]))
    engine.store.cursors[(1, "qbo")] = start.isoformat()
    stored, value = await reconcile.reconcile_qbo(engine, c)
    assert stored == CDC_MAX_OBJECTS + 1 and value == (NOW - QBO_OVERLAP).isoformat()
    assert engine._qbo.calls[1][1] == start + timedelta(seconds=CDC_MAX_OBJECTS - 1)
    assert engine.store.writes == [f"inbox:{CDC_MAX_OBJECTS + 1}", "cursor:qbo"]


async def test_more_changes_at_one_instant_than_cdc_answers_do_not_stall_the_cursor() -> None:
    c = conn()
    at = NOW - timedelta(minutes=30)
    engine = Engine([c], Qbo([{"Customer": [row(str(i), at) for i in range(CDC_MAX_OBJECTS)]}]))
    engine.store.cursors[(1, "qbo")] = at.isoformat()
    _, value = await reconcile.reconcile_qbo(engine, c)
    assert len(engine._qbo.calls) == 1 and value == (at + timedelta(seconds=1)).isoformat()


# -- Canopy ------------------------------------------------------------------------------------------
async def test_the_feed_is_read_page_by_page_each_cursor_stored_after_its_page() -> None:
    c = conn()
    canopy = Canopy([ChangePage([feed_event(1, NOW), feed_event(2, NOW)], "c2", True),
                     ChangePage([feed_event(3, NOW)], "c3", False)])
    engine = Engine([c], canopy=canopy)
    engine.store.cursors[(1, "canopy")] = "c0"
    assert await reconcile.reconcile_canopy(engine, c) == (3, "c3")
    assert canopy.calls == ["c0", "c2"]
    assert engine.store.writes == ["inbox:2", "cursor:canopy", "inbox:1", "cursor:canopy"]
    assert [e.record_id for _, e in engine.store.inbox] == ["101", "102", "103"]


async def test_without_a_cursor_only_events_since_the_connection_are_queued() -> None:
    c = conn()
    canopy = Canopy([ChangePage([feed_event(1, c.created_at - timedelta(days=1)),
                                 feed_event(2, c.created_at + timedelta(seconds=5))], "c2", False)])
    engine = Engine([c], canopy=canopy)
    assert await reconcile.reconcile_canopy(engine, c) == (1, "c2")
    assert canopy.calls == [None]


async def test_initial_cursors_walk_the_feed_to_its_end() -> None:
    c = conn()
    canopy = Canopy([ChangePage([feed_event(1, NOW)], "c1", True), ChangePage([], "c1", False)])
    engine = Engine([c], canopy=canopy)
    cursors = await reconcile.initial_cursors(engine, c)
    assert cursors == {"qbo": (NOW - QBO_OVERLAP).isoformat(), "canopy": "c1"}
    assert engine.store.cursors == {(1, "qbo"): cursors["qbo"], (1, "canopy"): "c1"} and engine.store.inbox == []


# -- both, and the scheduler ------------------------------------------------------------------------
async def test_one_side_failing_does_not_stop_the_other_and_the_error_comes_out() -> None:
    c = conn()
    boom = ServerError("qbo", 503, None, "down")
    engine = Engine([c], Qbo(boom), Canopy([ChangePage([feed_event(1, NOW)], "c1", False)]))
    engine.store.cursors[(1, "canopy")] = "c0"
    with pytest.raises(ServerError):
        await reconcile.reconcile(engine, c)
    assert engine.store.cursors == {(1, "canopy"): "c1"} and len(engine.store.inbox) == 1


async def test_the_scheduler_survives_failures_and_only_takes_ongoing_connected_firms() -> None:
    conns = [conn(1), conn(2, ongoing_contacts=False), conn(3, state="needs_reauthorization"), conn(4)]
    engine = Engine(conns, Qbo(ServerError("qbo", 500, None, "always down")))
    calls = 0
    real_connections = engine.store.connections

    def flaky() -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone for a moment")
        return real_connections()

    engine.store.connections = flaky  # type: ignore[method-assign]
    runner = Reconciler(interval=1)
    runner.start(engine)
    try:
        for _ in range(500):
            if runner.passes >= 3:
                break
            await asyncio.sleep(0)
        assert runner.running and runner.passes >= 3
        assert set(runner.last) == {1, 4} and all("error" in r for r in runner.last.values())
    finally:
        await runner.stop()
    assert not runner.running and engine.clock.sleeps >= 3


def test_add_routes_mounts_the_intake_and_optionally_the_scheduler() -> None:
    plain, scheduled = web.Application(), web.Application()
    receivers.add_routes(plain)
    receivers.add_routes(scheduled, reconcile_every=60)
    paths = {r.resource.canonical for r in plain.router.routes() if r.method == "POST"}
    assert paths == {"/webhooks/qbo", "/webhooks/canopy/{firm_id}", "/integration/reconcile"}
    assert len(plain.cleanup_ctx) == 0 and len(scheduled.cleanup_ctx) == 1


def test_the_reconciler_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError):
        Reconciler(interval=0)


def test_the_openapi_document_describes_the_intake_routes() -> None:
    spec = yaml.safe_load((Path(reconcile.__file__).parents[1] / "openapi.yaml").read_text())
    validate(spec)
    for path, codes in {"/webhooks/qbo": {"200", "400", "401"}, "/webhooks/canopy/{firm_id}": {"200", "400", "401",
                                                                                                 "404"},
                        "/integration/reconcile": {"200", "401", "409", "502"}}.items():
        op = spec["paths"][path]["post"]
        assert codes <= set(op["responses"]), path
    assert spec["paths"]["/webhooks/qbo"]["post"]["security"] == []
    assert spec["paths"]["/webhooks/canopy/{firm_id}"]["post"]["security"] == []
