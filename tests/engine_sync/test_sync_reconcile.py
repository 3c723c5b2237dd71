"""Reconciliation over real HTTP: what dropped webhooks lost comes back from CDC and the change feed."""
from __future__ import annotations

import asyncio

from sqlalchemy import delete

from engine.store import Cursor
from engine.sync import reconcile
from engine.sync.receivers import qbo_cdc_event
from tests.engine_sync.harness import Env


async def drop_webhooks(env: Env) -> None:
    for sim in (env.qbo_sim, env.canopy_sim):
        await sim.chaos(drop_fraction=1.0)


async def restore_webhooks(env: Env) -> None:
    await env.flush()  # everything made so far is batched now, and so dropped
    for sim in (env.qbo_sim, env.canopy_sim):
        await sim.chaos(reset=True)


async def test_reconcile_enqueues_what_dropped_webhooks_lost_then_nothing_new(env: Env) -> None:
    await drop_webhooks(env)
    customer = await env.new_customer("Missed Customer")
    client = await env.new_client("Missed", "Client")
    await restore_webhooks(env)
    dropped = (await env.qbo_sim.call("GET", f"/webhooks?tenant={env.tenant.realm_id}"))["counts"]["dropped"]
    assert dropped >= 1 and env.inbox() == []
    # The scheduled run comes minutes after the changes (a run re-reads the minute before the
    # previous one started, QBO_OVERLAP: a change that recent would be queued again).
    await env.advance(reconcile.QBO_OVERLAP.total_seconds() + 60)

    first = await env.reconcile()
    assert first["enqueued"]["qbo"] >= 1 and first["enqueued"]["canopy"] >= 2 and first["skipped"] == {}
    qbo = {(e.record_kind, e.record_id): e.payload for e in env.inbox("qbo")}
    assert qbo[("Customer", customer["Id"])]["operation"] == "Create"
    canopy = {(e.record_kind, e.record_id): e.payload for e in env.inbox("canopy")}
    assert canopy[("client", str(client["id"]))]["type"] == "created"
    assert any(kind == "contact" for kind, _ in canopy)  # the client's primary contact
    assert env.store.cursor(env.conn_id, "qbo") == first["cursors"]["qbo"]
    assert env.store.cursor(env.conn_id, "canopy") == first["cursors"]["canopy"]

    await env.advance(reconcile.DEFAULT_INTERVAL_S)  # the next run: nothing is new
    before = len(env.inbox())
    second = await env.reconcile()
    assert second["enqueued"] == {"qbo": 0, "canopy": 0}
    assert len(env.inbox()) == before
    assert second["cursors"]["qbo"] > first["cursors"]["qbo"]
    assert second["cursors"]["canopy"] == first["cursors"]["canopy"]


async def test_webhook_and_reconciliation_give_the_same_event_shapes(env: Env) -> None:
    customer = await env.new_customer("Twice Customer")
    client = await env.new_client("Twice", "Client")
    await env.flush()
    hooked = {(e.source, e.record_kind, e.record_id): e.payload for e in env.inbox()}
    last = max(e.id for e in env.inbox())
    await env.reconcile()  # CDC and the feed report the same changes again (duplicates are fine)
    reread = [e for e in env.inbox() if e.id > last]
    by_key = {(e.source, e.record_kind, e.record_id): e.payload for e in reread}
    q = ("qbo", "Customer", customer["Id"])
    assert set(by_key[q]) == set(hooked[q]) and by_key[q]["operation"] == hooked[q]["operation"] == "Create"
    assert by_key[q]["lastUpdated"][:19] == hooked[q]["lastUpdated"][:19]  # CDC keeps whole seconds
    c = ("canopy", "client", str(client["id"]))
    assert by_key[c] == hooked[c]  # the very same feed event


async def test_initial_cursors_skip_what_setup_already_saw(env: Env) -> None:
    await drop_webhooks(env)
    await env.new_client("Before", "Start")
    await restore_webhooks(env)
    await env.advance(reconcile.QBO_OVERLAP.total_seconds() + 5)
    cursors = await reconcile.initial_cursors(env.engine, env.conn)
    assert env.store.cursor(env.conn_id, "canopy") == cursors["canopy"]
    assert (await env.reconcile())["enqueued"] == {"qbo": 0, "canopy": 0}


async def test_without_cursors_reading_starts_at_the_connection_creation(env: Env) -> None:
    await drop_webhooks(env)
    customer = await env.new_customer("No Cursor Customer")
    client = await env.new_client("No", "Cursor")
    await restore_webhooks(env)
    with env.store.session() as s:  # as if the wizard never set them
        s.execute(delete(Cursor.__table__))
    result = await env.reconcile()
    keys = {(e.record_kind, e.record_id) for e in env.inbox()}
    assert ("Customer", customer["Id"]) in keys and ("client", str(client["id"])) in keys
    assert result["cursors"]["qbo"] and result["cursors"]["canopy"]


async def test_the_route_needs_a_user_of_a_connected_firm(env: Env) -> None:
    assert (await env.reconcile(token="nobody", expect=401))["error"]["code"] == "unauthorized"
    async with env.http.post(env.url + "/integration/reconcile") as resp:
        assert resp.status == 401
    env.store.update_connection(env.conn_id, env.engine.clock.now(), state="disconnected")
    assert (await env.reconcile(expect=409))["error"]["code"] == "not_connected"


async def test_while_reauthorization_is_needed_only_canopy_is_read(env: Env) -> None:
    env.store.update_connection(env.conn_id, env.engine.clock.now(), state="needs_reauthorization")
    await drop_webhooks(env)
    await env.new_client("Waiting", "Client")
    await restore_webhooks(env)
    result = await env.reconcile()
    assert result["skipped"] == {"qbo": "needs_reauthorization"} and result["enqueued"]["canopy"] >= 1


async def test_the_scheduler_reconciles_connections_with_ongoing_sync(env: Env) -> None:
    await drop_webhooks(env)
    customer = await env.new_customer("Scheduled Customer")
    await restore_webhooks(env)
    runner = reconcile.Reconciler(interval=0.05)
    runner.start(env.engine)
    try:
        for _ in range(200):
            if runner.passes and any(e.record_id == customer["Id"] for e in env.inbox("qbo")):
                break
            await asyncio.sleep(0.02)
        assert runner.running and runner.passes >= 1
        assert ("Customer", customer["Id"]) in {(e.record_kind, e.record_id) for e in env.inbox("qbo")}
    finally:
        await runner.stop()
    assert not runner.running
    # With ongoing sync off, the scheduler leaves the connection alone.
    env.store.update_connection(env.conn_id, env.engine.clock.now(), ongoing_contacts=False)
    assert await reconcile.Reconciler().run_once(env.engine) == {}


async def test_cdc_rows_read_by_reconciliation_match_the_parser(env: Env) -> None:
    customer = await env.new_customer("Parser Customer")
    rows = await env.qbo.cdc(["Customer"], env.engine.clock.now() - reconcile.QBO_OVERLAP)
    [row] = [r for r in rows["Customer"] if r["Id"] == customer["Id"]]
    assert qbo_cdc_event("Customer", row).payload["operation"] == "Create"
