"""Every record kind through the same checks, then the odd cases of each."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from .conftest import Api, Firm

Setup = Callable[[Api], dict[str, Any]]


def client(api: Api, name: str = "Ann", **kw: Any) -> dict[str, Any]:
    return api.create("clients", "client", {"is_business": False, "first_name": name, "last_name": "Lee", **kw})


def item(api: Api, name: str = "Tax return", rate: str = "100.00") -> dict[str, Any]:
    return api.create("service_items", "service_item", {"name": name, "rate": rate})


def invoice(api: Api, qty: str = "2") -> dict[str, Any]:
    c, i = client(api), item(api)
    return api.create("invoices", "invoice", {"client_id": c["id"], "lines": [{"service_item_id": i["id"], "quantity": qty}]})


# kind -> (plural, create body maker, a patch, the patched field's expected value)
KINDS: dict[str, tuple[str, Setup, dict[str, Any], tuple[str, Any]]] = {
    "client": ("clients", lambda a: {"is_business": True, "business_name": "Acme LLC"},
               {"business_name": "Acme Inc"}, ("display_name", "Acme Inc")),
    "contact": ("contacts", lambda a: {"client_id": client(a)["id"], "first_name": "Bo", "relationship": "SPOUSE"},
                {"last_name": "Lee"}, ("display_name", "Bo Lee")),
    "service_item": ("service_items", lambda a: {"name": "Bookkeeping", "rate": "75.5", "sku": "BK"},
                     {"rate": "80"}, ("rate", "80.00")),
    "invoice": ("invoices", lambda a: {"client_id": client(a)["id"], "lines": [
        {"service_item_id": item(a)["id"], "quantity": "1.5", "rate": "10.01"}]},
                {"memo": "thanks"}, ("memo", "thanks")),
    "payment": ("payments", lambda a: (lambda inv: {"client_id": inv["client_id"], "amount": "50",
                                                    "applications": [{"invoice_id": inv["id"], "amount": "50"}]})(invoice(a)),
                {"method": "CHECK"}, ("method", "CHECK")),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_crud_etag_and_soft_delete(firm: Firm, kind: str) -> None:
    plural, body, patch, (field, expected) = KINDS[kind]
    api = firm.api
    resp = api.call("POST", f"/{plural}", 201, json={kind: body(api)})
    rec = resp.json()[kind]
    assert isinstance(rec["id"], str) and rec["created_at"] == rec["updated_at"] and resp.headers["ETag"] == '"1"'
    got = api.call("GET", f"/{plural}/{rec['id']}", 200)
    assert got.json()[kind] == rec and got.headers["ETag"] == '"1"'
    stale = api.call("PATCH", f"/{plural}/{rec['id']}", 409, json={kind: patch}, headers={"If-Match": '"7"'})
    assert stale.json()["errors"]["code"] == "etag_mismatch"
    done = api.call("PATCH", f"/{plural}/{rec['id']}", 200, json={kind: patch}, headers={"If-Match": '"1"'})
    assert done.json()[kind][field] == expected and done.headers["ETag"] == '"2"'
    api.call("DELETE", f"/{plural}/{rec['id']}", 409, headers={"If-Match": '"1"'})
    assert api.call("DELETE", f"/{plural}/{rec['id']}", 204).content == b""
    gone = api.get(f"/{plural}/{rec['id']}")[kind]
    assert gone["is_deleted"] is True and gone["deleted_at"]
    assert rec["id"] not in [r["id"] for r in api.get(f"/{plural}")[plural]]
    assert rec["id"] in [r["id"] for r in api.get(f"/{plural}", include_deleted="true")[plural]]
    api.call("PATCH", f"/{plural}/{rec['id']}", 404, json={kind: patch})
    api.call("DELETE", f"/{plural}/{rec['id']}", 404)


def test_individual_client_gets_primary_contact_and_cannot_switch(firm: Firm) -> None:
    c = client(firm.api, emails=[{"email": "ann@example.com", "type": "WORK"}])
    assert c["display_name"] == "Ann Lee" and c["emails"][0]["is_primary"] is True
    contacts = firm.api.get("/contacts", client_id=c["id"])["contacts"]
    assert [(x["relationship"], x["display_name"]) for x in contacts] == [("PRIMARY", "Ann Lee")]
    assert c["primary_contact"]["id"] == contacts[0]["id"]
    r = firm.api.call("PATCH", f"/clients/{c['id']}", 422, json={"client": {"is_business": True}})
    assert r.json()["errors"]["code"] == "cannot_switch_client_kind"
    archived = firm.api.call("PATCH", f"/clients/{c['id']}", 200, json={"client": {"is_archived": True}}).json()
    assert archived["client"]["is_archived"] and archived["client"]["archived_at"]


def test_business_client_needs_business_name(firm: Firm) -> None:
    err = firm.api.create("clients", "client", {"is_business": True, "first_name": "x"}, expect=400)["errors"]
    fields = {d["field"] for d in err["details"]}
    assert {"first_name", "business_name"} <= fields and err["httpStatusCode"] == 400


def test_money_is_strings_and_payments_move_balances(firm: Firm) -> None:
    inv = invoice(firm.api, qty="3")
    assert inv["lines"][0]["amount"] == "300.00" and inv["total"] == "300.00" and inv["balance"] == "300.00"
    pay = firm.api.create("payments", "payment", {"client_id": inv["client_id"], "amount": "300.00", "method": "ACH",
                                                  "applications": [{"invoice_id": inv["id"], "amount": "300"}]})
    assert pay["amount"] == "300.00"
    paid = firm.api.get(f"/invoices/{inv['id']}")["invoice"]
    assert (paid["status"], paid["amount_paid"], paid["balance"]) == ("paid", "300.00", "0.00")
    over = firm.api.create("payments", "payment", {"client_id": inv["client_id"], "amount": "1",
                                                   "applications": [{"invoice_id": inv["id"], "amount": "1"}]}, expect=422)
    assert over["errors"]["code"] == "invoice_not_open"
    firm.api.call("DELETE", f"/invoices/{inv['id']}", 409)
    firm.api.call("DELETE", f"/payments/{pay['id']}", 204)
    back = firm.api.get(f"/invoices/{inv['id']}")["invoice"]
    assert (back["status"], back["balance"]) == ("open", "300.00")
    assert firm.api.call("PATCH", f"/invoices/{inv['id']}", 200, json={"invoice": {"status": "void"}}).json()["invoice"]["status"] == "void"
    firm.api.call("PATCH", f"/invoices/{inv['id']}", 409, json={"invoice": {"memo": "x"}})


def test_float_like_money_refused(firm: Firm) -> None:
    err = firm.api.create("service_items", "service_item", {"name": "x", "rate": "1.23456"}, expect=400)["errors"]
    assert err["details"][0]["field"] == "rate"


def test_cursor_pages_and_updated_at(firm: Firm) -> None:
    ids = [item(firm.api, f"item {n}")["id"] for n in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"next_cursor": cursor} if cursor else {})}
        page = firm.api.get("/service_items", **params)
        seen += [r["id"] for r in page["service_items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids and pages == 3
    last = firm.api.get(f"/service_items/{ids[-1]}")["service_item"]["updated_at"]
    assert [r["id"] for r in firm.api.get("/service_items", updated_at=last)["service_items"]] == [ids[-1]]
    assert firm.api.call("GET", "/service_items", 400, params={"limit": 501}).json()["errors"]["details"][0]["field"] == "limit"


def test_search(firm: Firm) -> None:
    a = client(firm.api, "Zed", emails=[{"email": "zed@corp.example"}], phones=[{"number": "(555) 123-4567"}])
    client(firm.api, "Yan")
    assert [c["id"] for c in firm.api.get("/clients/search", q="zED", query_field="name")["clients"]] == [a["id"]]
    assert firm.api.get("/clients/search", q="corp.EX", query_field="email")["clients"][0]["email"] == "zed@corp.example"
    assert firm.api.get("/clients/search", q="5551234", query_field="phone")["clients"][0]["id"] == a["id"]
    assert firm.api.call("GET", "/clients/search", 400, params={"q": "x", "query_field": "tin"}).status_code == 400


def test_idempotent_replays(firm: Firm) -> None:
    body = {"service_item": {"name": "Audit", "rate": "10"}}
    first = firm.api.call("POST", "/service_items", 201, json=body, headers={"Idempotency-Key": "k1"})
    again = firm.api.call("POST", "/service_items", 201, json=body, headers={"Idempotency-Key": "k1"})
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(firm.api.get("/service_items")["service_items"]) == 1
    other = firm.api.call("POST", "/service_items", 422, json={"service_item": {"name": "Other"}},
                          headers={"Idempotency-Key": "k1"})
    assert other.json()["errors"]["code"] == "idempotency_key_reused"
    rid = first.json()["service_item"]["id"]
    p1 = firm.api.call("PATCH", f"/service_items/{rid}", 200, json={"service_item": {"rate": "11"}},
                       headers={"Idempotency-Key": "k2"})
    p2 = firm.api.call("PATCH", f"/service_items/{rid}", 200, json={"service_item": {"rate": "11"}},
                       headers={"Idempotency-Key": "k2"})
    assert p1.json() == p2.json() and firm.api.get(f"/service_items/{rid}")["service_item"]["updated_at"] \
        == p1.json()["service_item"]["updated_at"]
    events = firm.api.get("/changes")["events"]
    assert [e["type"] for e in events] == ["created", "updated"]


def test_firm_isolation_is_404(firm: Firm, new_firm) -> None:
    other: Firm = new_firm()
    c = client(other.api)
    for method in ("GET", "PATCH", "DELETE"):
        r = firm.api.call(method, f"/clients/{c['id']}", json={"client": {"notes": "x"}} if method == "PATCH" else None)
        assert r.status_code == 404 and r.json()["errors"]["httpStatusCode"] == 404
    assert firm.api.get("/clients")["clients"] == []
    bad = firm.api.create("invoices", "invoice", {"client_id": c["id"], "lines": []}, expect=400)
    assert "client_id" in {d["field"] for d in bad["errors"]["details"]}


def test_tn_standalone_has_no_billing_records(new_firm) -> None:
    tn: Firm = new_firm(modules=["transcripts_and_notices"])
    r = tn.api.call("GET", "/service_items", 403)
    assert r.json()["errors"]["code"] == "module_not_available"
    assert client(tn.api)["display_name"] == "Ann Lee"


def test_staff_without_billing_gets_403_naming_permission(firm: Firm) -> None:
    api, _ = firm.user_api(permission_set="staff_all_contacts_no_billing", licenses=["time_and_billing"])
    err = api.call("GET", "/invoices", 403).json()["errors"]
    assert err["details"][0]["permission"] == "billing"
    nolic, _ = firm.user_api(permission_set="staff_all_contacts", licenses=[])
    err = nolic.call("GET", "/invoices", 403).json()["errors"]
    assert (err["code"], err["details"][0]["license"]) == ("missing_license", "time_and_billing")
