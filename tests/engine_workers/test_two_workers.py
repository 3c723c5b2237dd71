"""Two workers on one PostgreSQL database: every event applied exactly once, each record's
changes in order (docs/scaling.md).

`python -m engine serve` (the API and one worker) and one more `python -m engine worker` share a
fresh PostgreSQL schema. One firm is connected through the wizard (contacts, items, Finish), then
about 130 changes are made on both sides as fast as the fakes take them: new clients and
customers on each side, and rounds of edits to the same records in Canopy and in QBO. Both
workers claim from the one inbox (`FOR UPDATE SKIP LOCKED`, one event per record at a time) and
apply a firm's events under its advisory lock.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import create_engine, text

from features.harness import faults as fh
from features.harness.http import Http, ok_json
from features.harness.servers import Servers, register_checker_app
from sim.core.server import ServerThread

NEW_EACH_SIDE = 12
EDITED_EACH_SIDE = 6
ROUNDS = 8
ITEM_EDITS = 4


@pytest.fixture
def servers(qbo_server: ServerThread, canopy_server: ServerThread) -> Servers:
    try:
        register_checker_app(qbo_server.url)
    except AssertionError:
        pass  # registered by an earlier test of this session
    return Servers(qbo_server, canopy_server)


def _canopy(run: fh.FaultRun, method: str, path: str, body: Any, status: int = 200) -> dict[str, Any]:
    return ok_json(run.tenant.canopy().call(method, "/public/v3" + path, json=body), status)


def _journal(base: str, tenant: str) -> list[dict[str, Any]]:
    return ok_json(fh.sim(base).get("/journal", params={"tenant": tenant, "limit": 0}), 200)["entries"]


def test_two_workers_apply_every_event_once_and_in_order(servers: Servers, pg_url: str, tmp_path: Path,
                                                         worker_id: str) -> None:
    own = fh.OwnEngine(servers, tmp_path / "engine", db_url=pg_url)
    try:
        url = own.start()
        own.add_worker()
        # The extra worker's clock cannot be moved: every clock stays on wall time, so the
        # processes' time stamps compare.
        run = fh.set_up(servers, url, own.app, worker_id, may_advance=False)
        run.picks["before"] = {"canopy": str(len(_canopy_creates(run))), "qbo": str(_last_inbox_id(pg_url)),
                               "name": ""}
        changes = _make_changes(run)
        fh.settle(run, converge=True)
        assert own.process is not None and own.process.alive(), own.process.stderr_tail() if own.process else ""
        assert all(w.poll() is None for w in own.workers), "a worker exited"
        serve_pid = own.process.proc.pid
        _check(run, pg_url, changes, {str(serve_pid): _engine_offset(url)})
    finally:
        own.stop()


def _make_changes(run: fh.FaultRun) -> int:
    """New records on both sides, then rounds of edits to the same records: answers how many."""
    n = 0
    canopy_new: list[str] = []
    qbo_new: list[str] = []
    for i in range(1, NEW_EACH_SIDE + 1):
        made = _canopy(run, "POST", "/clients", {"client": {
            "is_business": False, "type": "CLIENT", "display_name": f"Worker Canopy{i:02d}", "first_name": "Worker",
            "last_name": f"Canopy{i:02d}"}}, 201)
        canopy_new.append(str(made["client"]["id"]))
        made = ok_json(run.tenant.qbo().post("/customer", {
            "DisplayName": f"Worker Qbo{i:02d}", "GivenName": "Worker", "FamilyName": f"Qbo{i:02d}"},
            params={"minorversion": "75"}), 200)
        qbo_new.append(str(made["Customer"]["Id"]))
        n += 2
    fh.settle(run, converge=False)  # the edits below are to linked records
    items = run.picks["billed_item"]["canopy"], run.picks["item_edit"]["canopy"]
    for r in range(1, ROUNDS + 1):
        for k, cid in enumerate(canopy_new[:EDITED_EACH_SIDE]):
            _canopy(run, "PATCH", f"/clients/{cid}", {"client": {
                "phones": [{"number": f"(555) {r:03d}-{k:04d}", "type": "WORK", "is_primary": True}]}})
            n += 1
        for k, qid in enumerate(qbo_new[:EDITED_EACH_SIDE]):
            ok_json(fh.sim(run.servers.qbo_url).post(f"/companies/{run.tenant.realm_id}/edit", {
                "entity": "Customer", "id": qid,
                "changes": {"PrimaryEmailAddr": {"Address": f"round{r}.k{k}@workers.test"}}}), 200)
            n += 1
        if r <= ITEM_EDITS:
            for k, iid in enumerate(items):
                _canopy(run, "PATCH", f"/service_items/{iid}", {"service_item": {"rate": f"{100 + 10 * r + k}.00"}})
                n += 1
    run.picks["new"] = {"canopy": ",".join(canopy_new), "qbo": ",".join(qbo_new), "name": ""}
    return n


def _engine_offset(url: str) -> timedelta:
    """How far the `serve` process's clock is from wall time (it follows the fakes' clocks)."""
    now = ok_json(Http(url).post("/_engine/clock", {}), 200)["now"]
    return datetime.fromisoformat(now) - datetime.now(UTC)


def _check(run: fh.FaultRun, pg_url: str, changes: int, offsets: dict[str, timedelta]) -> None:
    t = run.tenant
    assert changes >= 100, changes

    # -- nothing twice in either fake, nothing lost -------------------------------------------
    clients = Counter(c["display_name"] for c in t.canopy_list("clients") if not c.get("is_deleted"))
    customers = Counter(c["DisplayName"] for c in t.qbo_all("Customer"))
    for i in range(1, NEW_EACH_SIDE + 1):
        for name in (f"Worker Canopy{i:02d}", f"Worker Qbo{i:02d}"):
            assert clients[name] == 1 and customers[name] == 1, (name, clients[name], customers[name])
    assert not [n for n, c in clients.items() if c > 1], clients
    end = run.project()
    assert not fh.duplicates(end), fh.duplicates(end)

    # -- each record's edits applied in order: the last value is what both sides hold -----------
    canopy_new = run.picks["new"]["canopy"].split(",")
    qbo_new = run.picks["new"]["qbo"].split(",")
    by_name_q = {c["DisplayName"]: c for c in t.qbo_all("Customer")}
    by_id_c = {str(c["id"]): c for c in t.canopy_list("clients")}
    by_name_c = {c["display_name"]: c for c in by_id_c.values()}
    for k, cid in enumerate(canopy_new[:EDITED_EACH_SIDE]):
        want = f"(555) {ROUNDS:03d}-{k:04d}"
        name = by_id_c[cid]["display_name"]
        assert by_id_c[cid]["phones"][0]["number"] == want
        assert by_name_q[name]["PrimaryPhone"]["FreeFormNumber"] == want, (name, by_name_q[name])
    for k, qid in enumerate(qbo_new[:EDITED_EACH_SIDE]):
        want = f"round{ROUNDS}.k{k}@workers.test"
        name = next(c["DisplayName"] for c in by_name_q.values() if str(c["Id"]) == qid)
        assert by_name_q[name]["PrimaryEmailAddr"]["Address"] == want
        assert by_name_c[name]["emails"][0]["email"] == want, (name, by_name_c[name])
    qitems = {i["Name"]: i for i in t.qbo_query("Item")}
    for k, role in enumerate(("billed_item", "item_edit")):
        assert Decimal(str(qitems[run.picks[role]["name"]]["UnitPrice"])) == Decimal(100 + 10 * ITEM_EDITS + k)

    # -- the inbox: every event applied, by both workers, none still claimed ------------------
    db = create_engine(pg_url)
    try:
        with db.connect() as c:
            rows = c.execute(text("SELECT claimed_by, applied_at, attempts, error FROM inbox")).all()
    finally:
        db.dispose()
    assert rows, "the inbox is empty: no webhook reached the engine"
    assert all(r.applied_at is not None for r in rows), [r for r in rows if r.applied_at is None][:5]
    workers = Counter(r.claimed_by for r in rows)
    print(f"{changes} changes, {len(rows)} inbox events, applied by worker: {dict(workers)}")
    assert len(workers) >= 2, f"only one worker applied events: {workers}"
    assert not [r for r in rows if r.error], [r for r in rows if r.error][:5]

    # -- one record's events were applied one after the other, in the order they came --------
    since = int(run.picks["before"]["qbo"])
    db = create_engine(pg_url)
    try:
        with db.connect() as c:
            events = c.execute(text(
                "SELECT id, source, record_kind, record_id, claimed_by, claimed_at, applied_at, attempts, received_at "
                "FROM inbox WHERE id > :since "
                "ORDER BY id"), {"since": since}).all()
    finally:
        db.dispose()
    # Time stamps come from each process's clock (the `serve` process's follows the fakes': its
    # offset from wall time is taken off) and are taken just before the store call, so a claim may
    # carry a time a little before the commit it waited for; applied times of one record must
    # still increase with the event id (a few ms of slack for the offset's own measurement). A
    # claim time more than a second before the earlier event's end would mean they overlapped.
    def wall(worker: str, when: datetime) -> datetime:
        pid = worker.rsplit("-", 2)[-2] if worker.count("-") >= 2 else ""
        return when - offsets.get(pid, timedelta())

    last: dict[tuple[str, str, str], Any] = {}
    slack = timedelta(milliseconds=20)
    for e in events:
        key = (e.source, e.record_kind, e.record_id)
        if key in last:
            before = last[key]
            assert wall(e.claimed_by, e.applied_at) > wall(before.claimed_by, before.applied_at) - slack, (
                f"event {e.id} of {key} was applied at {e.applied_at} by {e.claimed_by}, not after event "
                f"{before.id} of the same record (applied at {before.applied_at} by {before.claimed_by}); "
                f"clock offsets {offsets}")
            assert wall(e.claimed_by, e.claimed_at) > wall(before.claimed_by, before.applied_at) - timedelta(seconds=1), (
                f"event {e.id} of {key} was claimed at {e.claimed_at} by {e.claimed_by}, while event {before.id} "
                f"of the same record was still being applied (until {before.applied_at}, by {before.claimed_by})")
        last[key] = e

    # -- the log and the fakes' journals: no create sent or logged twice ---------------------
    log = run.log()
    assert not fh.created_twice(log), fh.created_twice(log)
    created = Counter((e["kind"], e["direction"]) for e in log if e["action"] == "created")
    assert created[("contact", "canopy_to_qbo")] >= NEW_EACH_SIDE, created
    assert created[("contact", "qbo_to_canopy")] >= NEW_EACH_SIDE, created
    qbo_posts = Counter(parse_qs(e["query"]).get("requestid", [""])[0] for e in _journal(run.servers.qbo_url,
                                                                                          t.realm_id)
                        if e["method"] == "POST" and "requestid=" in e["query"])
    assert not [k for k, n in qbo_posts.items() if n > 1], [k for k, n in qbo_posts.items() if n > 1]
    creates = len(_canopy_creates(run)) - int(run.picks["before"]["canopy"])
    assert creates == 2 * NEW_EACH_SIDE, f"{creates} client creates reached Canopy, {2 * NEW_EACH_SIDE} expected"


def _last_inbox_id(pg_url: str) -> int:
    db = create_engine(pg_url)
    try:
        with db.connect() as c:
            return int(c.execute(text("SELECT coalesce(max(id), 0) FROM inbox")).scalar() or 0)
    finally:
        db.dispose()


def _canopy_creates(run: fh.FaultRun) -> list[dict[str, Any]]:
    """Client creates Canopy answered (the script's and the engine's; a replayed key counts too)."""
    return [e for e in _journal(run.servers.canopy_url, run.tenant.firm_id)
            if e["method"] == "POST" and e["path"] == "/public/v3/clients"]
