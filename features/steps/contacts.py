"""Steps of the contacts step: import filter (R5), matching (R6), duplicates (R7), new contacts
(R8), unmatched (R9), the review (R10) and Sync contacts (R11)."""
from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from features.harness import flows
from features.harness.engine import (
    SECTIONS,
    TRUTH_SECTION,
    Engine,
    job_result,
    page_records,
    review_sections,
)
from features.harness.http import Reply, ok_json
from features.harness.tenants import Tenant
from features.steps.common import engine_log
from sim.scenario.names import normal_form

PAGE = 300


def norm(name: str) -> str:
    """D-2 as the scenario generator's own copy has it (the engine's function does not check itself)."""
    return normal_form(name)


def _customers_taking_part(tenant: Tenant, choice: str) -> tuple[set[str], set[str]]:
    """QBO ids of the planted customers that take part under `choice`, and of those that do not."""
    inside, outside = set(), set()
    for g in tenant.world.plan.groups:
        for ref, active in g.customers:
            part = choice == "All" or (choice == "Active") == active
            (inside if part else outside).add(tenant.qbo_ids[ref])
    return inside, outside


def _expected_sections(tenant: Tenant, choice: str) -> dict[str, Any]:
    """The ground truth of `choice` in the engine's terms: ids, not refs."""
    t = tenant.contacts_truth(choice)
    c, q = tenant.canopy_ids, tenant.qbo_ids
    return {"matches": {(c[a], q[b]) for a, b in t["matched"]},
            "new_contacts": {q[r] for r in t["new"]},
            "unmatched": {c[r] for r in t["unmatched"]},
            "duplicates": ({("canopy", c[r]) for r in t["duplicates"]["clients"]}
                           | {("qbo", q[r]) for r in t["duplicates"]["customers"]})}


def _actual_sections(sections: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"matches": {(r["canopy_id"], r["qbo_id"]) for r in sections["matches"]},
            "new_contacts": {r["qbo_id"] for r in sections["new_contacts"]},
            "unmatched": {r["canopy_id"] for r in sections["unmatched"]},
            "duplicates": ({("canopy", r["canopy_id"]) for r in sections["duplicates"] if r.get("canopy_id")}
                           | {("qbo", r["qbo_id"]) for r in sections["duplicates"] if r.get("qbo_id")})}


def _names(tenant: Tenant, refs: list[str]) -> str:
    return ", ".join(f"{r}={tenant.world.plan.names.get(r)!r}" for r in refs)


# -- choosing the import and reading the review ----------------------------------------------------

@when(parsers.parse('the Admin chooses to import "{choice}" contacts'), target_fixture="filter_reply")
def choose_import(engine: Engine, tenant: Tenant, choice: str) -> Reply:
    reply = engine.post(tenant.admin, "/integration/contacts/filter", {"choice": choice.lower()})
    job_result(reply)
    tenant.notes["choice"] = choice
    return reply


@then(parsers.parse('each review section holds as many records as the ground truth says for "{choice}"'))
def section_sizes(engine: Engine, tenant: Tenant, choice: str) -> None:
    reply = engine.get(tenant.admin, "/integration/contacts/review").expect(200)
    got = {name: s["total"] for name, s in review_sections(reply.body).items()}
    want = {s: tenant.contacts_truth(choice)["counts"][TRUTH_SECTION[s]] for s in SECTIONS}
    assert got == want, reply.show()


@then(parsers.parse('each review section has as many pages as the ground truth says for "{choice}"'))
def section_pages(engine: Engine, tenant: Tenant, choice: str) -> None:
    reply = engine.get(tenant.admin, "/integration/contacts/review").expect(200)
    got = {name: s["pages"] for name, s in review_sections(reply.body).items()}
    want = {s: tenant.contacts_truth(choice)["pages"][TRUTH_SECTION[s]] for s in SECTIONS}
    assert got == want, reply.show()
    assert any(p > 1 for p in got.values()), "no section pages: the scenario proves nothing"


@when("the Admin reads every page of every review section", target_fixture="sections")
def read_every_page(engine: Engine, tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    pages: dict[str, list[int]] = {}
    for section in SECTIONS:
        first = engine.get(tenant.admin, f"/integration/contacts/review/{section}", page=1).expect(200).body
        out[section] = list(page_records(first))
        pages[section] = [len(page_records(first))]
        for n in range(2, first["pages"] + 1):
            body = engine.get(tenant.admin, f"/integration/contacts/review/{section}", page=n).expect(200).body
            out[section] += page_records(body)
            pages[section].append(len(page_records(body)))
    tenant.notes["page_sizes"] = pages
    return out


@then(parsers.parse('the review sections hold exactly the records the ground truth puts in them for "{choice}"'))
def sections_equal_truth(tenant: Tenant, sections: dict[str, list[dict[str, Any]]], choice: str) -> None:
    want, got = _expected_sections(tenant, choice), _actual_sections(sections)
    for s in SECTIONS:
        assert got[s] == want[s], (f"{s}: missing {sorted(want[s] - got[s])[:10]}, "
                                   f"unexpected {sorted(got[s] - want[s])[:10]}")
    assert all(len(sections[s]) == len(got[s]) for s in SECTIONS), "a record is listed twice"


@then(parsers.parse('the QBO customers outside the "{choice}" choice are in no review section'))
def outside_nowhere(tenant: Tenant, sections: dict[str, list[dict[str, Any]]], choice: str) -> None:
    inside, outside = _customers_taking_part(tenant, choice)
    listed = {r["qbo_id"] for s in SECTIONS for r in sections[s] if r.get("qbo_id")}
    if choice != "All":
        assert outside, "every customer takes part: the scenario proves nothing"
    assert not listed & outside, f"customers outside the choice are listed: {sorted(listed & outside)}"
    assert listed == inside, f"customers that take part are missing: {sorted(inside - listed)}"


@then("no page shows more than 300 records and the pages together show each section whole")
def pages_of_300(engine: Engine, tenant: Tenant, sections: dict[str, list[dict[str, Any]]]) -> None:
    review = review_sections(engine.get(tenant.admin, "/integration/contacts/review").expect(200).body)
    for s in SECTIONS:
        sizes = tenant.notes["page_sizes"][s]
        assert all(n <= PAGE for n in sizes), (s, sizes)
        assert all(n == PAGE for n in sizes[:-1]), f"{s}: only the last page may be short: {sizes}"
        assert sum(sizes) == review[s]["total"] == len(sections[s]), (s, sizes, review[s])
        keys = [(r.get("canopy_id"), r.get("qbo_id")) for r in sections[s]]
        assert len(set(keys)) == len(keys), f"{s}: a record shows on two pages"


# -- R6 -----------------------------------------------------------------------------------------

@then("the Matches section pairs the contacts whose QBO names differ only in case or white space")
def case_or_space_matched(tenant: Tenant, sections: dict[str, list[dict[str, Any]]]) -> None:
    pairs = {(r["canopy_id"], r["qbo_id"]) for r in sections["matches"]}
    groups = tenant.groups("case_or_space")
    assert groups
    for g in groups:
        canopy_name, qbo_name = tenant.world.plan.names[g.clients[0]], tenant.world.plan.names[g.customers[0][0]]
        assert canopy_name != qbo_name and norm(canopy_name) == norm(qbo_name), (canopy_name, qbo_name)
        pair = (tenant.canopy_ids[g.clients[0]], tenant.qbo_ids[g.customers[0][0]])
        assert pair in pairs, f"{canopy_name!r} and {qbo_name!r} are not matched"


@then("the Matches section pairs the contacts whose QBO customers are inactive and named with \" (deleted)\"")
def deleted_suffix_matched(tenant: Tenant, sections: dict[str, list[dict[str, Any]]]) -> None:
    pairs = {(r["canopy_id"], r["qbo_id"]) for r in sections["matches"]}
    customers = {c["Id"]: c for c in tenant.qbo_all("Customer")}
    groups = tenant.groups("inactive_match")
    assert groups
    for g in groups:
        qbo_id = tenant.qbo_ids[g.customers[0][0]]
        assert customers[qbo_id]["Active"] is False, customers[qbo_id]
        assert customers[qbo_id]["DisplayName"].endswith(" (deleted)"), customers[qbo_id]["DisplayName"]
        assert (tenant.canopy_ids[g.clients[0]], qbo_id) in pairs, customers[qbo_id]["DisplayName"]


# -- R7 -----------------------------------------------------------------------------------------

def _dup_listed(tenant: Tenant, sections: dict[str, list[dict[str, Any]]], kind: str,
                side: str) -> list[Any]:
    listed = _actual_sections(sections)["duplicates"]
    groups = tenant.groups(kind)
    assert groups, f"the scenario plants no {kind}"
    for g in groups:
        for ref in g.clients:
            assert ("canopy", tenant.canopy_ids[ref]) in listed, f"{kind}: {_names(tenant, [ref])} not a duplicate"
        for ref, _active in g.customers:
            assert ("qbo", tenant.qbo_ids[ref]) in listed, f"{kind}: {_names(tenant, [ref])} not a duplicate"
    return groups


@then("the Duplicates section lists the Canopy contacts that share one name")
def dup_canopy(tenant: Tenant, sections: dict[str, list[dict[str, Any]]]) -> None:
    for g in _dup_listed(tenant, sections, "canopy_duplicates", "canopy"):
        assert len(g.clients) == 2


@then("the Duplicates section lists the QBO customers that share one name")
def dup_qbo(tenant: Tenant, sections: dict[str, list[dict[str, Any]]]) -> None:
    for g in _dup_listed(tenant, sections, "qbo_duplicates", "qbo"):
        assert len(g.customers) == 2


@then(parsers.parse("the Duplicates section lists the Canopy contacts named like a QBO {holder}"))
def dup_holder(tenant: Tenant, sections: dict[str, list[dict[str, Any]]], holder: str) -> None:
    for g in _dup_listed(tenant, sections, f"{holder}_collisions", "canopy"):
        assert g.blockers and not g.customers


# -- opening sections, Next, Sync contacts (R10, R11) ---------------------------------------------

@when(parsers.re(r'the Admin opens (?:page (?P<page>\d+) of )?the "(?P<section>[a-z_]+)" section'),
      target_fixture="page_reply")
def open_section(engine: Engine, tenant: Tenant, section: str, page: str | None) -> Reply:
    return engine.get(tenant.admin, f"/integration/contacts/review/{section}", page=int(page or 1))


@when("the Admin opens every review section")
def open_every(engine: Engine, tenant: Tenant) -> None:
    for s in SECTIONS:
        engine.get(tenant.admin, f"/integration/contacts/review/{s}", page=1).expect(200)


@then(parsers.parse('the page shows records {first:d} to {last:d} of the "{section}" section'))
def page_shows(page_reply: Reply, first: int, last: int, section: str) -> None:
    body = page_reply.expect(200).body
    assert body["section"] == section and len(page_records(body)) == last - first + 1, page_reply.show()[:300]


@when("the Admin clicks Next", target_fixture="page_reply")
def click_next(engine: Engine, tenant: Tenant) -> Reply:
    return engine.post(tenant.admin, "/integration/contacts/review/next")


@then(parsers.parse('Next opens the "{section}" section'))
def next_opened(page_reply: Reply, section: str) -> None:
    assert page_reply.status == 200 and page_reply.body["section"] == section, page_reply.show()[:500]
    assert page_reply.body["page"] == 1, page_reply.show()[:500]


@then(parsers.parse('Next is refused with HTTP {status:d} and the reason "{reason}"'))
def next_refused(page_reply: Reply, status: int, reason: str) -> None:
    assert (page_reply.status, page_reply.error_code) == (status, reason), page_reply.show()


@then(parsers.re(r'the review shows (?P<which>only )?the sections? (?P<names>.+) as opened'))
def review_opened(engine: Engine, tenant: Tenant, which: str | None, names: str) -> None:
    want = {n.strip().strip('"') for n in names.replace(" and ", ",").split(",") if n.strip()}
    reply = engine.get(tenant.admin, "/integration/contacts/review").expect(200)
    opened = {n for n, s in review_sections(reply.body).items() if s["opened"]}
    if which:
        assert opened == want, reply.show()
    else:
        assert want <= opened, reply.show()
    assert reply.body["can_sync"] == (opened == set(SECTIONS)), reply.show()


@when(parsers.re(r"the Admin clicks Sync contacts(?: again)?$"), target_fixture="sync_reply")
def click_sync(engine: Engine, tenant: Tenant) -> Reply:
    reply = engine.post(tenant.admin, "/integration/contacts/sync")
    if reply.status == 200:
        tenant.notes.setdefault("sync_replies", []).append(reply)
    return reply


@then(parsers.parse('Sync contacts is refused with HTTP {status:d} and the reason "{reason}"'))
def sync_refused(sync_reply: Reply, status: int, reason: str) -> None:
    assert (sync_reply.status, sync_reply.error_code) == (status, reason), sync_reply.show()
    error = sync_reply.body["error"]
    assert error.get("step") == "contacts_review" and "OpenSection" in error.get("allowed", []), sync_reply.show()


@then(parsers.parse('Sync contacts linked the matches and created the new contacts the ground truth counts for "{choice}"'))
def sync_result(tenant: Tenant, sync_reply: Reply, choice: str) -> None:
    result = job_result(sync_reply)
    counts = tenant.contacts_truth(choice)["counts"]
    assert (result["linked"], result["created"]) == (counts["matches"], counts["new"]), sync_reply.show()
    tenant.notes.setdefault("contacts_result", result)


@then("the answer is the result of the first Sync contacts")
def same_answer(tenant: Tenant, sync_reply: Reply) -> None:
    first = job_result(tenant.notes["sync_replies"][0])
    again = job_result(sync_reply)
    assert {k: again.get(k) for k in ("linked", "created")} == {k: first.get(k) for k in ("linked", "created")}, (
        sync_reply.show())


@then("the Integrations page shows the contacts step as complete")
def contacts_complete(engine: Engine, tenant: Tenant) -> None:
    reply = engine.status(tenant.admin).expect(200)
    result = reply.body["contacts"]["result"]
    assert reply.body["step"] == "contacts_done" and result is not None, reply.show()
    first = tenant.notes["contacts_result"]
    assert (result["linked"], result["created"]) == (first["linked"], first["created"]), reply.show()


@then(parsers.parse('the sync log shows a link for each match the ground truth makes for "{choice}", and no other'))
def links_in_log(engine: Engine, tenant: Tenant, choice: str) -> None:
    want = _expected_sections(tenant, choice)["matches"]
    created = {e["qbo_id"] for e in engine_log(engine, tenant) if e["kind"] == "contact" and e["action"] == "created"}
    linked = [(e["canopy_id"], e["qbo_id"]) for e in engine_log(engine, tenant)
              if e["kind"] == "contact" and e["action"] == "linked"]
    assert set(linked) == want and len(linked) == len(want), (sorted(set(linked) ^ want)[:10], len(linked))
    assert created == _expected_sections(tenant, choice)["new_contacts"], sorted(created)[:10]


# -- what the fakes hold afterwards (R7, R8, R9, R11) -----------------------------------------------

def _new_clients(tenant: Tenant) -> list[dict[str, Any]]:
    seeded = set(tenant.canopy_ids.values())
    return [c for c in tenant.canopy_list("clients") if c["id"] not in seeded]


@then(parsers.parse('Canopy holds a new client for each customer of the New Contacts section for "{choice}", and no other'))
def new_clients_created(tenant: Tenant, choice: str) -> None:
    want = sorted(norm(tenant.world.plan.names[r]) for r in tenant.contacts_truth(choice)["new"])
    got = sorted(norm(c["display_name"]) for c in _new_clients(tenant))
    assert want, "no new contacts: the scenario proves nothing"
    assert got == want, (sorted(set(want) - set(got))[:10], sorted(set(got) - set(want))[:10])


@then("each new client is active or archived as its QBO customer is active or inactive")
def new_clients_state(tenant: Tenant) -> None:
    customers = {norm(c["DisplayName"]): c for c in tenant.qbo_all("Customer")}
    states = set()
    for client in _new_clients(tenant):
        active = customers[norm(client["display_name"])].get("Active", True)
        assert client["is_archived"] is (not active), (client["display_name"], client["is_archived"], active)
        assert " (deleted)" not in client["display_name"], client["display_name"]
        states.add(active)
    assert states == {True, False}, "the scenario should create active and archived clients"


@then("each new client is a business exactly when its customer's company name is its display name")
def new_clients_kind(tenant: Tenant) -> None:
    customers = {norm(c["DisplayName"]): c for c in tenant.qbo_all("Customer")}
    kinds = set()
    for client in _new_clients(tenant):
        cu = customers[norm(client["display_name"])]
        business = bool(cu.get("CompanyName")) and norm(cu["CompanyName"]) == norm(cu["DisplayName"])
        assert client["is_business"] is business, (client, cu)
        if business:
            assert client.get("business_name") == cu["CompanyName"], (client, cu)
        else:
            assert (client.get("first_name"), client.get("last_name")) == (cu.get("GivenName"), cu.get("FamilyName")), (
                client, cu)
        kinds.add(business)
    assert kinds == {True, False}, "the scenario should create businesses and individuals"


@then("QBO holds no new customer")
def no_new_customer(tenant: Tenant) -> None:
    planted = len(tenant.world.qbo["Customer"])
    got = tenant.qbo_all("Customer")
    assert len(got) == planted, f"QBO holds {len(got)} customers, {planted} were planted"


@then(parsers.parse('no Canopy contact the ground truth calls unmatched for "{choice}" was linked'))
def unmatched_not_linked(engine: Engine, tenant: Tenant, choice: str) -> None:
    unmatched = {tenant.canopy_ids[r] for r in tenant.contacts_truth(choice)["unmatched"]}
    assert unmatched
    touched = {e["canopy_id"] for e in engine_log(engine, tenant) if e["kind"] == "contact"
               and e["action"] in ("linked", "created")}
    assert not unmatched & touched, sorted(unmatched & touched)


@then(parsers.parse('no contact or customer the ground truth calls a duplicate for "{choice}" was linked or created'))
def dups_untouched(engine: Engine, tenant: Tenant, choice: str) -> None:
    t = tenant.contacts_truth(choice)["duplicates"]
    dup_c = {tenant.canopy_ids[r] for r in t["clients"]}
    dup_q = {tenant.qbo_ids[r] for r in t["customers"]}
    assert dup_c and dup_q
    for e in engine_log(engine, tenant):
        if e["kind"] == "contact" and e["action"] in ("linked", "created"):
            assert e["canopy_id"] not in dup_c and e["qbo_id"] not in dup_q, e
    dup_names = {norm(tenant.world.plan.names[r]) for r in t["clients"] + t["customers"]}
    made = [c["display_name"] for c in _new_clients(tenant) if norm(c["display_name"]) in dup_names]
    assert not made, f"clients created for duplicate names: {made}"


@when("the fakes' contacts are counted")
def count_contacts(tenant: Tenant) -> None:
    tenant.notes["counted"] = (len(tenant.canopy_list("clients")), len(tenant.qbo_all("Customer")))


@then("Canopy and QBO hold as many contacts as when they were counted")
def same_counts(tenant: Tenant) -> None:
    assert (len(tenant.canopy_list("clients")), len(tenant.qbo_all("Customer"))) == tenant.notes["counted"]


# -- sub-customers (R5) ------------------------------------------------------------------------------

@given("an active sub-customer of an active QBO customer was added in QBO")
def add_sub_customer(tenant: Tenant) -> None:
    parent_ref = tenant.groups("exact")[0].customers[0][0]
    body = {"DisplayName": f"Sub-customer {tenant.tag}", "GivenName": "Sub", "FamilyName": f"Customer {tenant.tag}",
            "Job": True, "ParentRef": {"value": tenant.qbo_ids[parent_ref]}, "BillWithParent": False}
    made = ok_json(tenant.qbo().post("/customer", body, params={"minorversion": "75"}), 200)["Customer"]
    assert made["Job"] is True and made["Active"] is True, made
    tenant.notes["sub_customer"] = made["Id"]


@then(parsers.re(r"the sub-customer (?P<where>is listed under New Contacts|is in no review section)"))
def sub_customer_where(tenant: Tenant, sections: dict[str, list[dict[str, Any]]], where: str) -> None:
    sub = tenant.notes["sub_customer"]
    found = [s for s in SECTIONS for r in sections[s] if r.get("qbo_id") == sub]
    assert found == (["new_contacts"] if where.startswith("is listed") else []), found


# -- restarting setup (R11) --------------------------------------------------------------------------

@when("the Admin disconnects QBO")
def disconnect(engine: Engine, tenant: Tenant) -> None:
    engine.post(tenant.admin, "/integration/disconnect").expect(200)


@when("the Admin restarts the integration")
def restart(engine: Engine, tenant: Tenant) -> None:
    engine.post(tenant.admin, "/integration/restart").expect(200)


@when("the Admin connects the firm to its QBO company again")
def connect_again(engine: Engine, tenant: Tenant) -> None:
    flows.connect(engine, tenant, tenant.admin)


@then("Sync contacts created no contact")
def created_none(sync_reply: Reply) -> None:
    assert job_result(sync_reply)["created"] == 0, sync_reply.show()
