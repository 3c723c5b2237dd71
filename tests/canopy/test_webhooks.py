"""Canopy webhooks: subscriptions, signed deliveries, retries, chaos."""
from __future__ import annotations

import hashlib
import hmac


from tests.canopy.conftest import Firm
from tests.receiver import Receiver


def subscribe(firm: Firm, url: str, types: list[str] | None = None, secret: str = "s" * 24) -> dict:
    body = {"webhook": {"url": url, "secret": secret, **({"event_types": types} if types else {})}}
    return firm.integration_api().call("POST", "/webhooks", 201, json=body).json()["webhook"]


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    stamp = headers["Canopy-Timestamp"]
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return headers["Canopy-Signature"] == f"t={stamp},v1={expected}"


def test_signed_delivery_of_a_new_client(firm: Firm, receiver: Receiver) -> None:
    subscribe(firm, receiver.url, ["client.created"])
    client = firm.api.create("clients", "client", {"is_business": False, "first_name": "Ada", "last_name": "Lovelace"})
    seen = receiver.wait(lambda r: len(r) >= 1)
    events = seen[0].json["events"]
    assert [(e["type"], e["resource_type"], e["resource_id"]) for e in events] == [
        ("created", "client", client["id"])]
    assert verify("s" * 24, seen[0].headers, seen[0].body)
    assert not verify("t" * 24, seen[0].headers, seen[0].body)


def test_event_types_filter(firm: Firm, receiver: Receiver) -> None:
    subscribe(firm, receiver.url, ["service_item.*"])
    firm.api.create("clients", "client", {"is_business": False, "first_name": "No", "last_name": "Body"})
    item = firm.api.create("service_items", "service_item", {"name": "Tax prep", "rate": "100.00"})
    seen = receiver.wait(lambda r: len(r) >= 1)
    types = [(e["resource_type"], e["resource_id"]) for d in seen for e in d.json["events"]]
    assert types == [("service_item", item["id"])]


def test_failed_delivery_is_retried_on_the_firm_clock(firm: Firm, receiver: Receiver) -> None:
    subscribe(firm, receiver.url)
    receiver.status = 500
    firm.api.create("clients", "client", {"is_business": False, "first_name": "Re", "last_name": "Try"})
    receiver.wait(lambda r: len(r) == 1)
    state = firm.admin.get("/webhooks", tenant=firm.id)
    assert state["failed"][0]["history"][0]["status"] == 500
    receiver.status = 200
    firm.admin.post("/clock", {"tenant": firm.id, "advance_seconds": 5}, expect=200)
    seen = receiver.wait(lambda r: len(r) == 2)
    assert seen[0].body == seen[1].body or seen[0].json["events"] == seen[1].json["events"]
    assert receiver.wait(lambda r: True) and firm.admin.get("/webhooks", tenant=firm.id)["counts"]["delivered"] >= 1


def test_nothing_is_announced_for_a_refused_write(firm: Firm, receiver: Receiver) -> None:
    subscribe(firm, receiver.url)
    firm.api.call("POST", "/clients", 400, json={"client": {"is_business": "maybe"}})
    firm.api.create("clients", "client", {"is_business": False, "first_name": "Only", "last_name": "One"})
    seen = receiver.wait(lambda r: len(r) >= 1)
    # One client and its automatic primary contact: nothing of the refused request.
    assert sorted(e["resource_type"] for d in seen for e in d.json["events"]) == ["client", "contact"]


def test_subscriptions_need_manage_integrations_and_stay_in_their_firm(firm: Firm, new_firm, receiver) -> None:
    staff, _ = firm.user_api(permission_set="staff_all_contacts", licenses=["time_and_billing"])
    resp = staff.call("POST", "/webhooks", 403, json={"webhook": {"url": receiver.url}})
    assert resp.json()["errors"]["code"] == "missing_permission"
    sub = subscribe(firm, receiver.url)
    assert "secret" not in firm.api.get(f"/webhooks/{sub['id']}")["webhook"]
    other = new_firm(name="Other")
    other.api.call("GET", f"/webhooks/{sub['id']}", 404)
    firm.api.call("DELETE", f"/webhooks/{sub['id']}", 204)
    firm.api.call("DELETE", f"/webhooks/{sub['id']}", 404)


def test_bad_subscription_is_400_with_details(firm: Firm) -> None:
    resp = firm.api.call("POST", "/webhooks", 400, json={"webhook": {"url": "ftp://x", "event_types": ["nope"],
                                                                     "secret": "short"}})
    fields = {d["field"] for d in resp.json()["errors"]["details"]}
    assert fields == {"webhook.url", "webhook.event_types", "webhook.secret"}
