"""The webhook receivers over real HTTP: real deliveries from both fakes into the engine's inbox."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from engine.sync.signatures import canopy_signature, qbo_signature
from tests.engine_sync.harness import VERIFIER, Env


async def test_a_new_qbo_customer_arrives_in_the_inbox(env: Env) -> None:
    made = await env.new_customer("Hooked Customer")
    await env.flush()
    events = [e for e in env.inbox("qbo") if e.record_id == made["Id"]]
    assert [(e.record_kind, e.payload["operation"]) for e in events] == [("Customer", "Create")]
    payload = events[0].payload
    assert set(payload) == {"operation", "lastUpdated"}
    assert payload["lastUpdated"].endswith("Z") and events[0].applied_at is None


async def test_cloudevents_deliveries_give_the_same_events(env: Env) -> None:
    await env.qbo_sim.call("PATCH", f"/apps/{env.tenant.client_id}", {"webhook_format": "cloudevents"})
    made = await env.new_customer("Cloud Customer")
    await env.flush()
    delivered = (await env.qbo_sim.call("GET", f"/webhooks?tenant={env.tenant.realm_id}"))["delivered"]
    assert any(isinstance(d["events"], list) for d in delivered)
    events = [e for e in env.inbox("qbo") if e.record_id == made["Id"]]
    assert [(e.record_kind, e.payload["operation"], sorted(e.payload)) for e in events] == [
        ("Customer", "Create", ["lastUpdated", "operation"])]


async def test_a_new_canopy_client_arrives_in_the_inbox(env: Env) -> None:
    client = await env.new_client("Ada", "Hooked")
    await env.flush()
    events = env.inbox("canopy")
    mine = [e for e in events if e.record_kind == "client" and e.record_id == str(client["id"])]
    assert len(mine) == 1
    assert mine[0].payload["type"] == "created" and mine[0].payload["data"]["first_name"] == "Ada"
    assert {"id", "sequence", "type", "resource_type", "resource_id", "occurred_at", "data"} <= set(mine[0].payload)
    # The individual client's primary contact comes in the same delivery, as its own record.
    assert any(e.record_kind == "contact" for e in events)


async def test_bad_or_missing_signatures_are_401_and_store_nothing(env: Env) -> None:
    body = json.dumps({"eventNotifications": [{"realmId": env.tenant.realm_id, "dataChangeEvent": {"entities": [
        {"name": "Customer", "id": "1", "operation": "Create", "lastUpdated": "2025-01-01T00:00:00.000Z"}]}}]})
    raw = body.encode()
    status, answer = await env.post("/webhooks/qbo", raw, {"intuit-signature": qbo_signature(raw, "not-the-token")})
    assert status == 401 and answer["error"]["reason"] == "bad_signature"
    status, answer = await env.post("/webhooks/qbo", raw, {"Content-Type": "application/json"})
    assert status == 401 and answer["error"]["reason"] == "missing_signature"
    stamp = int(env.engine.clock.now().timestamp())
    canopy_body = json.dumps({"events": [{"resource_type": "client", "resource_id": "9", "type": "created"}]}).encode()
    status, answer = await env.post(f"/webhooks/canopy/{env.firm_id}", canopy_body,
                                    {"Canopy-Signature": canopy_signature(canopy_body, "wrong-secret-0123456789", stamp),
                                     "Canopy-Timestamp": str(stamp)})
    assert status == 401 and answer["error"]["reason"] == "bad_signature"
    status, answer = await env.post(f"/webhooks/canopy/{env.firm_id}", canopy_body)
    assert status == 401 and answer["error"]["reason"] == "missing_signature"
    assert env.inbox() == []
    # The same bodies, signed right, are stored.
    assert await env.post("/webhooks/qbo", raw, {"intuit-signature": qbo_signature(raw, VERIFIER)}) == (
        200, {"stored": 1})
    assert await env.post(f"/webhooks/canopy/{env.firm_id}", canopy_body,
                          {"Canopy-Signature": canopy_signature(canopy_body, env.secret, stamp),
                           "Canopy-Timestamp": str(stamp)}) == (200, {"stored": 1})


async def test_stale_and_future_canopy_timestamps_are_401(env: Env) -> None:
    body = json.dumps({"events": [{"resource_type": "client", "resource_id": "9", "type": "created"}]}).encode()
    now = int(env.engine.clock.now().timestamp())
    for stamp in (now - 330, now + 330):  # well outside the 300 s, however long the test takes
        status, answer = await env.post(f"/webhooks/canopy/{env.firm_id}", body,
                                        {"Canopy-Signature": canopy_signature(body, env.secret, stamp),
                                         "Canopy-Timestamp": str(stamp)})
        assert status == 401 and answer["error"]["reason"] == "stale_timestamp", answer
    assert env.inbox() == []


async def test_a_real_delivery_the_engine_finds_stale_is_refused_then_retried(env: Env) -> None:
    env.engine.clock.advance(400)  # type: ignore[attr-defined]  # the engine runs 400 s ahead of the firm
    client = await env.new_client("Late", "Stamp")
    await env.canopy_sim.flush()
    failed = (await env.canopy_sim.call("GET", f"/webhooks?tenant={env.firm_id}"))["failed"]
    assert failed and failed[0]["history"][-1]["status"] == 401
    assert env.inbox("canopy") == []
    env.engine.clock.set(datetime.now(UTC))  # type: ignore[attr-defined]  # clocks agree again
    await env.canopy_sim.flush()  # the fake retries: now it is fresh and accepted
    assert str(client["id"]) in {e.record_id for e in env.inbox("canopy") if e.record_kind == "client"}


async def test_bodies_that_are_not_json_or_not_the_envelope_are_400(env: Env) -> None:
    for raw in (b"{not json", b"\xff\xfe", b'{"something": "else"}', b'"text"'):
        status, answer = await env.post("/webhooks/qbo", raw, {"intuit-signature": qbo_signature(raw, VERIFIER)})
        assert status == 400 and answer["error"]["code"] == "bad_request", (raw, answer)
        status, answer = await env.post(f"/webhooks/canopy/{env.firm_id}", raw, {
            "Canopy-Signature": canopy_signature(raw, env.secret, int(env.engine.clock.now().timestamp()))})
        assert status == 400 and answer["error"]["code"] == "bad_request", (raw, answer)
    assert env.inbox() == []


async def test_unknown_realms_are_ignored_and_unknown_firms_are_404(env: Env) -> None:
    body = json.dumps([
        {"specversion": "1.0", "type": "qbo.customer.merged.v1", "time": "2025-12-04T15:25:05Z",
         "intuitentityid": "58", "intuitaccountid": "no-such-realm", "data": {"deletedid": "27"}},
        {"specversion": "1.0", "type": "qbo.invoice.voided.v1", "time": "2025-12-04T15:25:05Z",
         "intuitentityid": "146", "intuitaccountid": env.tenant.realm_id}]).encode()
    assert await env.post("/webhooks/qbo", body, {"intuit-signature": qbo_signature(body, VERIFIER)}) == (
        200, {"stored": 1})
    [event] = env.inbox("qbo")
    assert (event.record_kind, event.record_id, event.payload) == (
        "Invoice", "146", {"operation": "Void", "lastUpdated": "2025-12-04T15:25:05.000Z"})
    canopy_body = b'{"events": []}'
    stamp = int(env.engine.clock.now().timestamp())
    status, answer = await env.post("/webhooks/canopy/no-such-firm", canopy_body,
                                    {"Canopy-Signature": canopy_signature(canopy_body, env.secret, stamp)})
    assert status == 404 and answer["error"]["code"] == "not_found"
