"""The change feed, every error status in its envelope, and the `/_sim` routes."""
from __future__ import annotations

import requests

from .conftest import Api, Firm
from .test_records import client, invoice, item


def test_feed_order_and_resume(firm: Firm) -> None:
    c = client(firm.api)
    firm.api.call("PATCH", f"/clients/{c['id']}", 200, json={"client": {"is_archived": True}})
    firm.api.call("PATCH", f"/clients/{c['id']}", 200, json={"client": {"is_archived": False}})
    firm.api.call("DELETE", f"/clients/{c['id']}", 204)
    first = firm.api.get("/changes", limit=2)
    assert first["has_more"] and [e["type"] for e in first["events"]] == ["created", "created"]
    rest = firm.api.get("/changes", cursor=first["next_cursor"])
    kinds = [(e["type"], e["resource_type"]) for e in rest["events"]]
    assert kinds == [("archived", "client"), ("unarchived", "client"), ("deleted", "contact"), ("deleted", "client")]
    seqs = [e["sequence"] for e in first["events"] + rest["events"]]
    assert seqs == sorted(seqs) == list(range(seqs[0], seqs[0] + 6))
    assert firm.api.get("/changes", cursor=rest["next_cursor"]) == {"events": [], "next_cursor": rest["next_cursor"],
                                                                    "has_more": False}
    item(firm.api)
    assert firm.api.get("/changes", cursor=rest["next_cursor"])["events"][0]["resource_type"] == "service_item"
    assert firm.api.call("GET", "/changes", 400, params={"cursor": "garbage"}).json()["errors"]["code"] == "validation_error"


def _feed(api: Api) -> list[dict]:
    events, cursor = [], None
    while True:
        page = api.get("/changes", limit=3, **({"cursor": cursor} if cursor else {}))
        events += page["events"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return events


def test_each_event_shows_the_record_as_it_was_then(firm: Firm) -> None:
    c = client(firm.api, "Ann")
    firm.api.call("PATCH", f"/clients/{c['id']}", 200, json={"client": {"first_name": "Bea"}})
    firm.api.call("PATCH", f"/clients/{c['id']}", 200, json={"client": {"first_name": "Cy"}})
    firm.api.call("DELETE", f"/clients/{c['id']}", 204)
    mine = [e for e in _feed(firm.api) if e["resource_id"] == c["id"]]
    assert [(e["type"], e["data"]["display_name"], e["data"]["is_deleted"]) for e in mine] == [
        ("created", "Ann Lee", False), ("updated", "Bea Lee", False), ("updated", "Cy Lee", False),
        ("deleted", "Cy Lee", True)]
    assert mine[0]["data"] == c
    assert mine[-1]["data"] == firm.api.get(f"/clients/{c['id']}")["client"]


def test_a_seeded_world_feed_shows_each_record_as_seeded_and_later_changes(firm: Firm) -> None:
    """A payment in the same seed changes its invoice: the invoice's created event still shows it unpaid."""
    ok = firm.admin.post(f"/firms/{firm.id}/seed", {
        "clients": [{"ref": "c", "is_business": True, "business_name": "Acme"}],
        "service_items": [{"ref": "s", "name": "Audit", "rate": "250"}],
        "invoices": [{"ref": "i", "client_id": "$c", "lines": [{"service_item_id": "$s", "quantity": "2"}]}],
        "payments": [{"client_id": "$c", "amount": "100", "applications": [{"invoice_id": "$i", "amount": "100"}]}]},
        expect=201)
    client_id, invoice_id = ok["refs"]["c"], ok["refs"]["i"]
    seeded = _feed(firm.api)
    shown = {(e["resource_type"], e["type"]): e["data"] for e in seeded}
    assert [(e["resource_type"], e["type"]) for e in seeded] == [
        ("client", "created"), ("service_item", "created"), ("invoice", "created"), ("invoice", "updated"),
        ("payment", "created")]
    assert (shown["invoice", "created"]["balance"], shown["invoice", "updated"]["balance"]) == ("500.00", "400.00")
    assert shown["invoice", "updated"] == firm.api.get(f"/invoices/{invoice_id}")["invoice"]
    assert shown["client", "created"] == firm.api.get(f"/clients/{client_id}")["client"]
    firm.api.call("PATCH", f"/clients/{client_id}", 200, json={"client": {"business_name": "Acme Inc"}})
    after = _feed(firm.api)
    assert after[:len(seeded)] == seeded
    assert after[-1]["data"]["display_name"] == "Acme Inc"


def test_refused_write_changes_nothing(firm: Firm) -> None:
    inv = invoice(firm.api)
    before = firm.api.get("/changes")["events"]
    firm.api.create("payments", "payment", {"client_id": inv["client_id"], "amount": "10",
                                            "applications": [{"invoice_id": inv["id"], "amount": "9"}]}, expect=422)
    assert firm.api.get("/changes")["events"] == before
    assert firm.api.get(f"/invoices/{inv['id']}")["invoice"]["balance"] == inv["balance"]


def _envelope(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["errors"]
    assert set(err) == {"code", "message", "userMessage", "httpStatusCode", "details"}
    assert err["httpStatusCode"] == status and isinstance(err["details"], list)
    return err


def test_each_error_status(firm: Firm, canopy_server) -> None:
    base = canopy_server.url + "/public/v3"
    _envelope(firm.api.call("POST", "/clients", data=b"{nope"), 400)
    _envelope(requests.get(base + "/clients", timeout=5), 401)
    _envelope(requests.get(base + "/clients", headers={"Authorization": "Bearer nope"}, timeout=5), 401)
    staff, _ = firm.user_api(permission_set="staff_all_contacts", licenses=["time_and_billing"])
    assert _envelope(staff.call("POST", "/integrations", json={}), 403)["code"] == "missing_permission"
    _envelope(firm.api.call("GET", "/clients/999999999"), 404)
    c = client(firm.api)
    _envelope(firm.api.call("PATCH", f"/clients/{c['id']}", json={"client": {}}, headers={"If-Match": '"9"'}), 409)
    _envelope(firm.api.call("PATCH", f"/clients/{c['id']}", json={"client": {"is_business": True}}), 422)
    _envelope(firm.api.call("PUT", "/clients"), 405)
    firm.admin.call("PATCH", f"/firms/{firm.id}", expect=200, json={"rate_limit": {"requests": 2, "per_seconds": 60}})
    firm.api.call("GET", "/me", 200)
    firm.api.call("GET", "/me", 200)
    throttled = firm.api.call("GET", "/me")
    _envelope(throttled, 429)
    assert int(throttled.headers["Retry-After"]) >= 1


def test_last_admin_presets_and_seats(firm: Firm) -> None:
    uid = firm.user["id"]
    r = firm.admin.call("PATCH", f"/firms/{firm.id}/users/{uid}", json={"permission_set": "staff_all_contacts"})
    assert r["errors"]["code"] == "last_admin" and r["errors"]["httpStatusCode"] == 409
    assert firm.admin.call("DELETE", f"/firms/{firm.id}/users/{uid}")["errors"]["code"] == "last_admin"
    r = firm.admin.call("PATCH", f"/firms/{firm.id}/permission_sets/admin", json={"permissions": []})
    assert r["errors"]["code"] == "preset_immutable" and r["errors"]["httpStatusCode"] == 422
    custom = firm.admin.post(f"/firms/{firm.id}/permission_sets", {"name": "Integrator",
                                                                 "permissions": ["manage_integrations"]}, expect=201)
    api, member = firm.user_api(permission_set=custom["permission_set"]["id"], licenses=["time_and_billing"])
    assert api.get("/me")["permissions"] == ["manage_integrations"]
    firm.admin.call("PATCH", f"/firms/{firm.id}/users/{member['id']}", expect=200, json={"licenses": []})
    assert api.get("/me")["permissions"] == []
    second, member2 = firm.user_api(permission_set="admin", licenses=[])
    firm.admin.call("DELETE", f"/firms/{firm.id}/users/{uid}", expect=204)
    assert second.get("/me")["user"]["id"] == member2["id"]
    small = firm.admin.post("/firms", {"licenses": {"time_and_billing": 1}}, expect=201)
    r = firm.admin.call("POST", f"/firms/{small['firm']['id']}/users",
                        json={"email": f"x-{firm.id}@example.com", "licenses": ["time_and_billing"]})
    assert r["errors"]["code"] == "license_unavailable"


def test_seed_in_one_transaction(firm: Firm) -> None:
    ok = firm.admin.post(f"/firms/{firm.id}/seed", {
        "clients": [{"ref": "c", "is_business": True, "business_name": "Acme"}],
        "service_items": [{"ref": "s", "name": "Audit", "rate": "250"}],
        "invoices": [{"client_id": "$c", "lines": [{"service_item_id": "$s", "quantity": "2"}]}]}, expect=201)
    assert len(ok["invoices"]) == 1 and ok["refs"]["c"] == ok["clients"][0]
    assert firm.api.get(f"/invoices/{ok['invoices'][0]}")["invoice"]["total"] == "500.00"
    bad = firm.admin.call("POST", f"/firms/{firm.id}/seed", json={
        "clients": [{"is_business": True, "business_name": "Beta"}], "service_items": [{"rate": "1"}]})
    assert bad["errors"]["details"][0]["field"] == "service_items[0].name"
    assert [c["display_name"] for c in firm.api.get("/clients")["clients"]] == ["Acme"]


def test_integration_token_sees_firm_data(firm: Firm) -> None:
    integ: Api = firm.integration_api()
    c = client(firm.api)
    assert integ.get(f"/clients/{c['id']}")["client"]["id"] == c["id"]
    assert integ.get("/invoices")["invoices"] == []


def test_non_ascii_digits_are_a_400_not_a_crash(firm) -> None:
    client = firm.api.create("clients", "client", {"is_business": False, "first_name": "Uni", "last_name": "Code"})
    resp = firm.api.call("PATCH", f"/clients/{client['id']}", headers={"If-Match": '"²"'},
                         json={"client": {"first_name": "Other"}})
    assert resp.status_code == 400, resp.text
    assert firm.api.call("GET", "/clients", params={"limit": "²"}).status_code == 400
