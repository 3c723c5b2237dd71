"""Signed QBO webhooks from real writes, to a receiver on a real socket."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from quickbooks.client import QuickBooks

from tests.conftest import QboTenant
from tests.integration.test_admin import token_for
from tests.receiver import Receiver

VERIFIER = "verifier-token-for-tests"


@pytest.fixture
def hooked(qbo_tenant: QboTenant, receiver: Receiver) -> tuple[QboTenant, str]:
    """The tenant's app listens on the receiver and is connected to the company."""
    t = qbo_tenant
    t.admin.call("PATCH", f"/apps/{t.client_id}", expect=200,
                 json={"webhook_url": receiver.url, "verifier_token": VERIFIER})
    return t, token_for(t)


def create_customer(t: QboTenant, token: str, name: str) -> dict[str, Any]:
    resp = requests.post(f"{t.api_v3}/company/{t.realm_id}/customer", json={"DisplayName": name},
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["Customer"]


def entities(received) -> list[dict[str, Any]]:
    return [e for r in received for n in r.json["eventNotifications"] for e in n["dataChangeEvent"]["entities"]]


def test_a_create_arrives_signed_in_the_classic_format(hooked, receiver: Receiver) -> None:
    t, token = hooked
    made = create_customer(t, token, "Webhook Co")
    seen = receiver.wait(lambda r: len(entities(r)) >= 1)
    note = seen[0].json["eventNotifications"][0]
    assert note["realmId"] == t.realm_id
    event = note["dataChangeEvent"]["entities"][0]
    assert (event["name"], event["id"], event["operation"]) == ("Customer", made["Id"], "Create")
    assert event["lastUpdated"].endswith("Z")
    signature = seen[0].headers["intuit-signature"]
    assert QuickBooks.validate_webhook_signature(None, seen[0].body.decode(), signature, VERIFIER)
    assert not QuickBooks.validate_webhook_signature(None, seen[0].body.decode(), signature, "wrong")


def test_edits_from_outside_are_announced_and_bump_the_record(hooked, receiver: Receiver) -> None:
    t, token = hooked
    made = create_customer(t, token, "Outside Edit Co")
    receiver.wait(lambda r: len(entities(r)) >= 1)
    out = t.admin.post(f"/companies/{t.realm_id}/edit",
                       {"entity": "Customer", "id": made["Id"], "changes": {"CompanyName": "Edited"}}, expect=200)
    assert out["Customer"]["SyncToken"] == "1" and out["Customer"]["CompanyName"] == "Edited"
    t.admin.post(f"/companies/{t.realm_id}/edit", {"entity": "Customer", "id": made["Id"], "deactivate": True},
                 expect=200)
    seen = receiver.wait(lambda r: len(entities(r)) >= 3)
    assert [e["operation"] for e in entities(seen)] == ["Create", "Update", "Delete"]
    stale = requests.post(f"{t.api_v3}/company/{t.realm_id}/customer",
                          json={"Id": made["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Mine"},
                          headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=10)
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"


def test_a_refused_outside_edit_changes_nothing(hooked) -> None:
    t, token = hooked
    a = create_customer(t, token, "Taken Name")
    b = create_customer(t, token, "Other Name")
    refused = t.admin.post(f"/companies/{t.realm_id}/edit",
                           {"entity": "Customer", "id": b["Id"], "changes": {"DisplayName": "Taken Name"}},
                           expect=400)
    assert "6240" in refused["error"]["message"]
    assert a["Id"] != b["Id"]
    assert t.admin.post(f"/companies/{t.realm_id}/edit", {"entity": "Customer", "id": "999999",
                                                         "deactivate": True}, expect=404)


def test_a_failing_receiver_gets_retries_on_the_company_clock(hooked, receiver: Receiver) -> None:
    t, token = hooked
    t.admin.post("/clock", {"tenant": t.realm_id, "freeze": True}, expect=200)
    receiver.status = 500
    create_customer(t, token, "Retry Co")
    receiver.wait(lambda r: len(r) == 1)
    failed = t.admin.get("/webhooks", tenant=t.realm_id)["failed"]
    assert failed and failed[0]["history"][0]["status"] == 500
    receiver.status = 200
    t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": 10}, expect=200)
    seen = receiver.wait(lambda r: len(r) == 2)
    assert seen[0].body == seen[1].body


def test_cloudevents_format_per_app(hooked, receiver: Receiver) -> None:
    t, token = hooked
    t.admin.call("PATCH", f"/apps/{t.client_id}", expect=200, json={"webhook_format": "cloudevents"})
    made = create_customer(t, token, "Cloud Co")
    seen = receiver.wait(lambda r: len(r) >= 1)
    events = seen[0].json
    assert isinstance(events, list)
    assert events[0]["type"] == "qbo.customer.created.v1"
    assert events[0]["intuitaccountid"] == t.realm_id and events[0]["intuitentityid"] == made["Id"]
    assert events[0]["specversion"] == "1.0"
    assert QuickBooks.validate_webhook_signature(None, seen[0].body.decode(), seen[0].headers["intuit-signature"],
                                                 VERIFIER)


def test_only_subscribed_entities_and_connected_apps_hear(hooked, receiver: Receiver) -> None:
    t, token = hooked
    t.admin.post("/apps", {"client_id": t.client_id + "-idle", "client_secret": "x",
                           "redirect_uris": [t.redirect_uri], "webhook_url": receiver.url}, expect=201)
    t.admin.call("PATCH", f"/apps/{t.client_id}", expect=200, json={"webhook_entities": ["Invoice"]})
    create_customer(t, token, "Nobody Listens")
    t.admin.post("/webhooks/flush", expect=200)
    assert receiver.received == [], "neither the unsubscribed entity nor the unconnected app is notified"


@pytest.fixture
def chaos_reset(hooked) -> Iterator[None]:
    """Chaos is server-wide: whatever a test switches on is off again after it."""
    yield
    hooked[0].admin.post("/webhooks/chaos", {"reset": True}, expect=200)
    hooked[0].admin.post("/webhooks/resume", expect=200)


def test_chaos_drop_duplicate_pause_and_flush(hooked, receiver: Receiver, chaos_reset) -> None:
    t, token = hooked
    admin = t.admin
    admin.post("/webhooks/chaos", {"drop_next": 1}, expect=200)
    create_customer(t, token, "Dropped Co")
    admin.post("/webhooks/flush", expect=200)
    assert receiver.received == []
    assert admin.get("/webhooks", tenant=t.realm_id)["counts"]["dropped"] == 1
    admin.post("/webhooks/chaos", {"duplicate_next": 1}, expect=200)
    create_customer(t, token, "Twice Co")
    seen = receiver.wait(lambda r: len(r) == 2)
    assert seen[0].body == seen[1].body
    receiver.clear()
    admin.post("/webhooks/pause", expect=200)
    create_customer(t, token, "Held Co")
    assert admin.get("/webhooks", tenant=t.realm_id)["paused"] is True
    counts = admin.post("/webhooks/flush", expect=200)["counts"]
    assert counts["delivered"] >= 1 and [e["operation"] for e in entities(receiver.received)] == ["Create"]
    assert admin.post("/webhooks/chaos", {"drop_fraction": 3}, expect=400)["error"]["code"] == "bad_request"
