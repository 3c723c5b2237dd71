"""Steps of the service items and invoices step: T&N standalone (R13), skip (R14), item
matching (R15), repeat after fixing (R16), income account, Sync service items and Finish (R17)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_bdd import given, parsers, then, when

from features.harness.engine import Engine, job_result
from features.harness.http import Reply, ok_json
from features.harness.tenants import Tenant
from features.steps.common import engine_log

FIELD_KIND = {"name": "name_differs", "rate": "rate_differs", "SKU": "sku_differs"}


def _items_review(engine: Engine, tenant: Tenant) -> dict[str, Any]:
    return engine.get(tenant.admin, "/integration/items/review").expect(200).body


def _pairs(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["canopy_id"], r["qbo_id"]) for r in rows}


def _truth_pairs(tenant: Tenant, pairs: list[list[str]]) -> set[tuple[str, str]]:
    return {(tenant.canopy_ids[c], tenant.qbo_ids[q]) for c, q in pairs}


def _plan_items(tenant: Tenant, kind: str) -> list[Any]:
    found = [p for p in tenant.world.plan.items if p.kind == kind]
    assert found, f"the scenario plants no {kind} items"
    return found


def _qbo_services(tenant: Tenant) -> list[dict[str, Any]]:
    return [i for i in tenant.qbo_all("Item") if i.get("Type") == "Service"]


def _canopy_items(tenant: Tenant) -> list[dict[str, Any]]:
    reply = tenant.canopy().get("/public/v3/service_items", params={"limit": 500})
    if reply.status == 403 and reply.error_code == "module_not_available":
        return []  # a T&N standalone firm has no service items at all (D-40)
    return tenant.canopy_list("service_items")


# -- starting, skipping ------------------------------------------------------------------------

@when("the Admin clicks Start on the service items step", target_fixture="items_reply")
def start_items(engine: Engine, tenant: Tenant) -> Reply:
    return engine.post(tenant.admin, "/integration/items/start")


@then(parsers.parse('the service items step is refused with HTTP {status:d} and the reason "{reason}"'))
def items_refused(items_reply: Reply, status: int, reason: str) -> None:
    assert (items_reply.status, items_reply.error_code) == (status, reason), items_reply.show()


@then("the service items review is shown")
def items_review_shown(engine: Engine, tenant: Tenant, items_reply: Reply) -> None:
    job_result(items_reply)
    status = engine.status(tenant.admin).expect(200)
    assert status.body["step"] == "items_review" and not status.body["items"]["skipped"], status.show()
    _items_review(engine, tenant)


@then("the Integrations page shows that the firm has no service items step")
def no_items_step(engine: Engine, tenant: Tenant) -> None:
    status = engine.status(tenant.admin).expect(200)
    assert status.body["items"]["available"] is False, status.show()
    assert all(row["items_step"] == "not_available_for_module" for row in tenant.truth["gates"])


@when("the Admin skips service items and invoices", target_fixture="items_reply")
def skip_items(engine: Engine, tenant: Tenant) -> Reply:
    return engine.post(tenant.admin, "/integration/items/skip")


@then("the Integrations page shows the service items step as skipped")
def items_skipped(engine: Engine, tenant: Tenant, items_reply: Reply) -> None:
    items_reply.expect(200)
    status = engine.status(tenant.admin).expect(200)
    assert status.body["items"]["skipped"] is True and status.body["step"] == "skipped_items", status.show()


@then("no service item or invoice went between Canopy and QBO")
def nothing_synced(engine: Engine, tenant: Tenant) -> None:
    w = tenant.world
    assert len(_qbo_services(tenant)) == sum(1 for i in w.qbo["Item"] if i["Type"] == "Service")
    assert len(tenant.qbo_query("Invoice")) == len(w.qbo["Invoice"]), "an invoice reached QBO"
    assert len(_canopy_items(tenant)) == len(w.canopy["service_items"])
    touched = [e for e in engine_log(engine, tenant) if e["kind"] in ("item", "invoice")
               and e["action"] in ("linked", "created", "updated")]
    assert not touched, touched[:5]


# -- the items review (R15) ----------------------------------------------------------------------

@then("the review matches the service items the ground truth matches, and no other")
def items_matched(engine: Engine, tenant: Tenant) -> None:
    review = _items_review(engine, tenant)
    want = _truth_pairs(tenant, tenant.truth["items"]["matched"])
    got = _pairs(review["matched"]) | _pairs(review.get("linked", []))
    assert got == want, (sorted(want - got), sorted(got - want))


@then('the review matches the items priced 100 in QBO and "100.00" in Canopy')
def rate_format_matched(engine: Engine, tenant: Tenant) -> None:
    review = _items_review(engine, tenant)
    got = _pairs(review["matched"])
    qbo = {i["Id"]: i for i in _qbo_services(tenant)}
    canopy = {i["id"]: i for i in _canopy_items(tenant)}
    for p in _plan_items(tenant, "rate_format"):
        c_id, q_id = tenant.canopy_ids[p.canopy], tenant.qbo_ids[p.qbo]
        assert Decimal(str(qbo[q_id]["UnitPrice"])) == 100 and canopy[c_id]["rate"] == "100.00", (qbo[q_id], canopy[c_id])
        assert (c_id, q_id) in got, f"{canopy[c_id]['name']!r} at 100 and 100.00 is not matched"


@then(parsers.parse('the review says the {field} differs for each item planted with another {field2}'))
def says_what_differs(engine: Engine, tenant: Tenant, field: str, field2: str) -> None:
    review = _items_review(engine, tenant)
    unmatched = review["unmatched"]
    by_canopy = {r["canopy_id"]: r for r in unmatched if r.get("canopy_id")}
    by_qbo = {r["qbo_id"]: r for r in unmatched if r.get("qbo_id")}
    want = [field.lower()]
    for p in _plan_items(tenant, FIELD_KIND[field]):
        c, q = by_canopy.get(tenant.canopy_ids[p.canopy]), by_qbo.get(tenant.qbo_ids[p.qbo])
        assert c is not None and q is not None, f"{tenant.world.plan.names[p.canopy]!r} is not unmatched on both sides"
        assert c["differs"] == want and q["differs"] == want, (c, q)


@then("the items without a counterpart on the other side are unmatched")
def lonely_items(engine: Engine, tenant: Tenant) -> None:
    review = _items_review(engine, tenant)
    canopy = {r["canopy_id"] for r in review["unmatched"] if r.get("canopy_id")}
    qbo = {r["qbo_id"] for r in review["unmatched"] if r.get("qbo_id")}
    for p in _plan_items(tenant, "canopy_only"):
        assert tenant.canopy_ids[p.canopy] in canopy, tenant.world.plan.names[p.canopy]
    for p in _plan_items(tenant, "qbo_only"):
        assert tenant.qbo_ids[p.qbo] in qbo, tenant.world.plan.names[p.qbo]


@given("a second Canopy service item with the name, rate and SKU of a matched item was added")
def twin_item(tenant: Tenant) -> None:
    pair = next(p for p in _plan_items(tenant, "matched") if tenant.world.plan.names.get(p.canopy))
    original = ok_json(tenant.canopy().get(f"/public/v3/service_items/{tenant.canopy_ids[pair.canopy]}"),
                       200)["service_item"]
    twin = {k: original[k] for k in ("name", "rate", "sku", "description") if original.get(k) is not None}
    made = ok_json(tenant.canopy().post("/public/v3/service_items", {"service_item": twin}), 201)["service_item"]
    tenant.notes["ambiguous"] = (tenant.canopy_ids[pair.canopy], made["id"], tenant.qbo_ids[pair.qbo])


@then("the two Canopy items and their QBO item are unmatched as ambiguous")
def ambiguous(engine: Engine, tenant: Tenant) -> None:
    first, twin, qbo_id = tenant.notes["ambiguous"]
    review = _items_review(engine, tenant)
    rows = [r for r in review["unmatched"] if r.get("canopy_id") in (first, twin) or r.get("qbo_id") == qbo_id]
    assert sorted((r.get("canopy_id") or "", r.get("qbo_id") or "") for r in rows) == sorted(
        [(first, ""), (twin, ""), ("", qbo_id)]), rows
    assert all(r["reason"] == "ambiguous" for r in rows), rows
    assert not [r for r in review["matched"] if r["qbo_id"] == qbo_id or r["canopy_id"] in (first, twin)]


# -- fixing and repeating (R16) --------------------------------------------------------------------

@when("the unmatched items are fixed in Canopy and in QBO as the scenario plans")
def fix_items(tenant: Tenant) -> None:
    sides = set()
    for u in tenant.truth["items"]["unmatched"]:
        fix = u["fix"]
        if not fix:
            continue
        sides.add(fix["side"])
        if fix["side"] == "canopy":
            item_id = tenant.canopy_ids[fix["ref"]]
            ok_json(tenant.canopy().call("PATCH", f"/public/v3/service_items/{item_id}",
                                         json={"service_item": fix["set"]}), 200)
        else:
            qbo = tenant.qbo()
            item_id = tenant.qbo_ids[fix["ref"]]
            item = ok_json(qbo.get(f"/item/{item_id}", params={"minorversion": "75"}), 200)["Item"]
            ok_json(qbo.post("/item", {"Id": item_id, "SyncToken": item["SyncToken"], "sparse": True, **fix["set"]},
                             params={"minorversion": "75"}), 200)
    assert sides == {"canopy", "qbo"}, f"the scenario should fix items on both sides, fixed on {sides}"


@when("the Admin repeats the QBO sync of the service items", target_fixture="items_reply")
def repeat_items(engine: Engine, tenant: Tenant) -> Reply:
    return engine.post(tenant.admin, "/integration/items/repeat")


@then("the review keeps the earlier links and matches the fixed items")
def kept_and_matched(engine: Engine, tenant: Tenant, items_reply: Reply) -> None:
    job_result(items_reply)
    review = _items_review(engine, tenant)
    earlier = _truth_pairs(tenant, tenant.truth["items"]["matched"])
    after = _truth_pairs(tenant, tenant.truth["items"]["after_fix"]["matched"])
    assert _pairs(review["linked"]) == earlier, review["linked"]
    assert _pairs(review["matched"]) == after - earlier, (sorted(after - earlier), review["matched"])


@when("the Admin clicks Sync service items", target_fixture="items_sync_reply")
def sync_items(engine: Engine, tenant: Tenant) -> Reply:
    return engine.post(tenant.admin, "/integration/items/sync")


@then(parsers.re(r"the service items the ground truth matches(?P<after> after the fixes)? are linked"))
def items_linked(engine: Engine, tenant: Tenant, items_sync_reply: Reply, after: str | None) -> None:
    items_sync_reply.expect(200)
    t = tenant.truth["items"]
    want = _truth_pairs(tenant, t["after_fix"]["matched"] if after else t["matched"])
    review = _items_review(engine, tenant)
    assert _pairs(review["linked"]) == want, (sorted(want - _pairs(review["linked"])), review["linked"])


@then("Canopy and QBO hold the service items that were planted, and no more")
def no_item_created(tenant: Tenant) -> None:
    w = tenant.world
    assert len(_qbo_services(tenant)) == sum(1 for i in w.qbo["Item"] if i["Type"] == "Service")
    assert len(_canopy_items(tenant)) == len(w.canopy["service_items"])


# -- income account (R17, D-12) -----------------------------------------------------------------------

def _income_accounts(tenant: Tenant) -> list[dict[str, Any]]:
    return tenant.qbo_query("Account", "WHERE AccountType = 'Income' AND Active IN (true, false)")


@when(parsers.parse('the "{name}" income account is made inactive in QBO'))
def deactivate_account(tenant: Tenant, name: str) -> None:
    account = next(a for a in _income_accounts(tenant) if a["Name"] == name)
    ok_json(tenant.qbo().post("/account", {**{k: v for k, v in account.items() if k not in ("MetaData",)},
                                           "Active": False}, params={"minorversion": "75"}), 200)


@then("the income account offered is the active Income account with the lowest Id in QBO")
def default_income(engine: Engine, tenant: Tenant) -> None:
    active = [a for a in _income_accounts(tenant) if a.get("Active", True)]
    lowest = min(active, key=lambda a: int(a["Id"]))
    status = engine.status(tenant.admin).expect(200)
    assert status.body["items"]["income_account_id"] == lowest["Id"], (status.show(), lowest)
    review = _items_review(engine, tenant)
    assert review["income_account_id"] == lowest["Id"], review


@when(parsers.parse('the Admin chooses the "{name}" account for new service items'), target_fixture="income_reply")
def choose_income(engine: Engine, tenant: Tenant, name: str) -> Reply:
    account = next(a for a in _income_accounts(tenant) if a["Name"] == name)
    tenant.notes["chosen_account"] = account["Id"]
    return engine.call(tenant.admin, "PUT", "/integration/items/income-account", {"account_id": account["Id"]})


@then(parsers.parse('the Integrations page shows the "{name}" account as the income account'))
def income_shown(engine: Engine, tenant: Tenant, income_reply: Reply, name: str) -> None:
    income_reply.expect(200)
    status = engine.status(tenant.admin).expect(200)
    assert status.body["items"]["income_account_id"] == tenant.notes["chosen_account"], status.show()


# -- Finish (R17) ----------------------------------------------------------------------------------

@when(parsers.re(r"the Admin clicks Finish(?P<again> again)?"), target_fixture="finish_reply")
def click_finish(engine: Engine, tenant: Tenant, again: str | None) -> Reply:
    if again:
        tenant.notes["invoices_after_finish"] = len(tenant.qbo_query("Invoice"))
    return engine.post(tenant.admin, "/integration/finish")


@then("QBO holds no more invoices than after the first Finish")
def finish_once(tenant: Tenant, finish_reply: Reply) -> None:
    finish_reply.expect(200)
    assert len(tenant.qbo_query("Invoice")) == tenant.notes["invoices_after_finish"], finish_reply.show()


def _canopy_invoices(tenant: Tenant) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in tenant.canopy_list("invoices")}


@then(parsers.parse('QBO holds an invoice for each Canopy invoice the ground truth sends for "{choice}", '
                    'billed to the linked customer for the linked items'))
def invoices_sent(tenant: Tenant, finish_reply: Reply, choice: str) -> None:
    job_result(finish_reply)
    truth = tenant.truth
    sent = truth["invoices"][choice.capitalize()]["sent"]
    assert sent, "no invoice to send: the scenario proves nothing"
    customer_of = {c: q for c, q in truth["contacts"][choice.capitalize()]["matched"]}
    item_of = {c: q for c, q in truth["items"]["matched"]}
    plans = {p.ref: p for p in tenant.world.plan.invoices}
    canopy = _canopy_invoices(tenant)
    qbo = {i.get("DocNumber"): i for i in tenant.qbo_query("Invoice")}
    for ref in sent:
        inv = canopy[tenant.canopy_ids[ref]]
        got = qbo.get(inv["number"])
        assert got is not None, f"Canopy invoice {inv['number']} ({ref}) is not in QBO"
        plan = plans[ref]
        assert got["CustomerRef"]["value"] == tenant.qbo_ids[customer_of[plan.client]], (ref, got["CustomerRef"])
        items = [ln["SalesItemLineDetail"]["ItemRef"]["value"] for ln in got["Line"]
                 if ln.get("DetailType") == "SalesItemLineDetail"]
        assert sorted(items) == sorted(tenant.qbo_ids[item_of[i]] for i in plan.items), (ref, items)
        assert Decimal(str(got["TotalAmt"])) == Decimal(plan.total), (ref, got["TotalAmt"], plan.total)
    assert len(qbo) == len(sent) + len(tenant.world.qbo["Invoice"]), sorted(k or "" for k in qbo)


@then(parsers.parse('QBO holds no invoice for the Canopy invoices the ground truth holds for "{choice}"'))
def invoices_held(tenant: Tenant, choice: str) -> None:
    held = tenant.truth["invoices"][choice.capitalize()]["held"]
    assert held
    canopy = _canopy_invoices(tenant)
    numbers = {i.get("DocNumber") for i in tenant.qbo_query("Invoice")}
    for h in held:
        number = canopy[tenant.canopy_ids[h["invoice"]]]["number"]
        assert number not in numbers, f"held invoice {number} ({h['invoice']}) reached QBO"


@then(parsers.parse('the sync log shows each invoice the ground truth holds for "{choice}" with its reasons'))
def held_in_log(engine: Engine, tenant: Tenant, choice: str) -> None:
    held = tenant.truth["invoices"][choice.capitalize()]["held"]
    log = {e["canopy_id"]: e for e in engine_log(engine, tenant) if e["kind"] == "invoice" and e["action"] == "held"}
    for h in held:
        entry = log.get(tenant.canopy_ids[h["invoice"]])
        assert entry is not None, f"held invoice {h['invoice']} is not in the sync log"
        want = sorted(r if not r.startswith("item_unlinked:") else "item_unlinked:" + tenant.canopy_ids[r.split(":")[1]]
                      for r in h["reasons"])
        assert sorted((entry["reason"] or "").split(",")) == want, (entry, want)
