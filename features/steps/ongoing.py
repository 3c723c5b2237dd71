"""Steps of the ongoing sync: contacts (R12, R13), items (R18), invoices (R14, R19), no echo
(R20), disconnect and restart (R22), reauthorizing (R22a).

Changes are made through the fakes' public APIs (Canopy as the firm's Admin; QBO through the
harness's own app, or "from outside" through `/_sim/companies/{realm}/edit` as a person in QBO's
screens would); outcomes are read back from both fakes' APIs and the engine's sync log. Every
`Then` that waits for the sync goes through `Watch.wait_until` (features/harness/sync.py), which
flushes both fakes' webhooks and fails with the engine's status and log after `WAIT_S`.

What a scenario remembers lives in `tenant.notes`: `client`/`customer` (the pair being watched),
`pairs`, `item`/`qbo_item`, `items`, `invoices` (Canopy ids, oldest first), `qbo_of` (Canopy id ->
QBO id of every record whose link the scenario knows), `log_mark` (the last log id of setup).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.harness import flows
from features.harness.engine import Engine
from features.harness.http import Http, ok_json
from features.harness.servers import Servers
from features.harness.sync import Watch
from features.harness.tenants import Tenant, seed_tenant
from sim.scenario.names import normal_form

HUNDRED_DAYS_AND_AN_HOUR = 100 * 86400 + 3600
"""D-27: a refresh token unused for 100 days of the company's clock is refused."""
NOT_SYNCING = "Updates are not syncing with QBO"


@pytest.fixture
def watch(engine: Engine, servers: Servers) -> Iterator[Watch]:
    """The ongoing sync, watched from outside. The engine's clock is put in step with the fakes'
    server clock when the scenario starts and again when it ends (if the scenario moved it), and
    webhooks the scenario paused are resumed."""
    w = Watch(engine, servers)
    w.align_engine_clock()  # whatever an earlier scenario of the worker did to the clocks
    yield w
    w.close()


# -- reading the fakes -------------------------------------------------------------------------

def same_name(a: str | None, b: str) -> bool:
    return a is not None and normal_form(a.removesuffix(" (deleted)")) == normal_form(b)


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def qbo_customers_named(tenant: Tenant, name: str) -> list[dict[str, Any]]:
    """Every QBO customer (active or not) whose DisplayName is `name` (D-2, without " (deleted)")."""
    return [c for c in tenant.qbo_all("Customer") if same_name(c.get("DisplayName"), name)]


def canopy_clients_named(tenant: Tenant, name: str) -> list[dict[str, Any]]:
    return [c for c in tenant.canopy_list("clients") if same_name(c.get("display_name"), name)
            and not c.get("is_deleted")]


def qbo_items_named(tenant: Tenant, name: str) -> list[dict[str, Any]]:
    return [i for i in tenant.qbo_all("Item") if same_name(i.get("Name"), name)]


def canopy_items(tenant: Tenant) -> list[dict[str, Any]]:
    return [i for i in tenant.canopy_list("service_items") if not i.get("is_deleted")]


def canopy_get(tenant: Tenant, kind: str, record_id: str) -> dict[str, Any]:
    """`kind` is the singular (`client`, `service_item`, `invoice`)."""
    return ok_json(tenant.canopy().get(f"/public/v3/{kind}s/{record_id}"), 200)[kind]


def canopy_create(tenant: Tenant, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok_json(tenant.canopy().post(f"/public/v3/{kind}s", {kind: body}), 201)[kind]


def canopy_patch(tenant: Tenant, kind: str, record_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok_json(tenant.canopy().call("PATCH", f"/public/v3/{kind}s/{record_id}", json={kind: body}), 200)[kind]


def qbo_create(tenant: Tenant, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok_json(tenant.qbo().post(f"/{entity.lower()}", body, params={"minorversion": "75"}), 200)[entity]


def primary_email(client: dict[str, Any]) -> str | None:
    emails = client.get("emails") or []
    chosen = next((e for e in emails if e.get("is_primary")), emails[0] if emails else None)
    return chosen.get("email") if chosen else None


def qbo_email(customer: dict[str, Any]) -> str | None:
    return (customer.get("PrimaryEmailAddr") or {}).get("Address")


def income_account(tenant: Tenant) -> str:
    """An active Income account of the company, for items a person creates in QBO."""
    return flows.income_account_id(tenant, "Services")


def since_setup(tenant: Tenant, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mark = tenant.notes.get("log_mark", 0)
    return [e for e in entries if e["id"] > mark]


def log_of(entries: list[dict[str, Any]], kind: str, canopy_id: str | None = None,
           qbo_id: str | None = None) -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == kind and (canopy_id is None or e.get("canopy_id") == canopy_id)
            and (qbo_id is None or e.get("qbo_id") == qbo_id)]


def pair(tenant: Tenant) -> tuple[str, str]:
    return tenant.notes["client"], tenant.notes["customer"]


def linked_at_setup(tenant: Tenant, n: int, kind: str = "exact",
                    where: Any = None) -> list[tuple[str, str]]:
    """`n` (client id, customer id) pairs the ground truth links at setup, from groups of `kind`."""
    matched = {c: q for c, q in tenant.contacts_truth("All")["matched"]}
    refs = [g.clients[0] for g in tenant.groups(kind) if g.clients and g.clients[0] in matched]
    pairs = [(tenant.canopy_ids[c], tenant.qbo_ids[matched[c]]) for c in refs]
    if where is not None:
        pairs = [p for p in pairs if where(p)]
    assert len(pairs) >= n, f"the scenario links only {len(pairs)} suitable pairs at setup, {n} wanted"
    for c, q in pairs[:n]:
        tenant.notes.setdefault("qbo_of", {})[c] = q
    return pairs[:n]


def items_linked_at_setup(tenant: Tenant, n: int) -> list[tuple[str, str]]:
    """`n` (Canopy item id, QBO item id) pairs the ground truth links at setup (same name, rate, SKU)."""
    pairs = [(tenant.canopy_ids[c], tenant.qbo_ids[q]) for c, q in tenant.truth["items"]["matched"]]
    assert len(pairs) >= n, f"the scenario links only {len(pairs)} items at setup, {n} wanted"
    for c, q in pairs[:n]:
        tenant.notes.setdefault("qbo_of", {})[c] = q
    return pairs[:n]


# -- the stage -----------------------------------------------------------------------------------

@given(parsers.re(r'setup is finished for the "(?P<name>[^"]+)" firm'
                  r'(?:, new service items going to the "(?P<account>[^"]+)" account)?$'), target_fixture="tenant")
def setup_finished(servers: Servers, engine: Engine, watch: Watch, worker_id: str, name: str,
                   account: str | None) -> Tenant:
    """Connect, import All, open every section, Sync contacts, start the items step (choosing the
    income account if named), Sync service items, Finish; then let the sync settle."""
    tenant = seed_tenant(servers, name, worker_id)
    flows.finish_setup(engine, tenant, tenant.admin, "All", account)
    tenant.notes["first_contacts_result"] = dict(tenant.notes["contacts_result"])
    if account:
        tenant.notes["chosen_account"] = flows.income_account_id(tenant, account)
    watch.settle(tenant)
    entries = watch.log(tenant)
    tenant.notes["log_mark"] = entries[-1]["id"] if entries else 0
    tenant.notes["held_at_setup"] = int(watch.status(tenant)["sync"]["held"])
    return tenant


@given("the Admin has skipped service items and invoices")
def skipped(engine: Engine, tenant: Tenant, watch: Watch) -> None:
    engine.post(tenant.admin, "/integration/items/skip").expect(200)
    watch.settle(tenant)
    entries = watch.log(tenant)
    tenant.notes["log_mark"] = entries[-1]["id"] if entries else 0


@when("the Admin completes the service items step and clicks Finish")
def complete_items(engine: Engine, tenant: Tenant) -> None:
    flows.finish_items(engine, tenant, tenant.admin)


@given(parsers.re(r"(?P<side>QBO's|both fakes') webhooks are held back"))
def hold_back(watch: Watch, side: str) -> None:
    for s in (("qbo",) if side == "QBO's" else ("qbo", "canopy")):
        watch.pause(s)  # type: ignore[arg-type]


@when(parsers.re(r"(?P<side>QBO's|both fakes') webhooks are let through"))
def let_through(watch: Watch, side: str) -> None:
    for s in (("qbo",) if side == "QBO's" else ("qbo", "canopy")):
        watch.resume(s)  # type: ignore[arg-type]


# -- contacts: making them ---------------------------------------------------------------------

def _new_client(tenant: Tenant, name: str, business: bool, email: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"is_business": business}
    if business:
        body["business_name"] = name
    else:
        first, _, last = name.partition(" ")
        body |= {"first_name": first, "last_name": last}
    if email:
        body["emails"] = [{"email": email, "type": "WORK", "is_primary": True}]
    client = canopy_create(tenant, "client", body)
    assert client["display_name"] == name, client
    tenant.notes["client"], tenant.notes["client_name"] = client["id"], name
    return client


@given(parsers.re(r'an? (?P<kind>business|individual) client "(?P<name>[^"]+)"'
                  r'(?: with the e-mail "(?P<email>[^"]+)")? (?:is|was) created in Canopy$'))
@when(parsers.re(r'an? (?P<kind>business|individual) client "(?P<name>[^"]+)"'
                 r'(?: with the e-mail "(?P<email>[^"]+)")? (?:is|was) created in Canopy$'))
def client_created(tenant: Tenant, kind: str, name: str, email: str | None) -> None:
    _new_client(tenant, name, kind == "business", email)


@given(parsers.parse('a business client "{name}" with the e-mail "{email}" created in Canopy has reached QBO'))
def client_reached_qbo(tenant: Tenant, watch: Watch, name: str, email: str) -> None:
    client = _new_client(tenant, name, True, email)

    def linked() -> str:
        entries = log_of(watch.log(tenant), "contact", canopy_id=client["id"])
        made = [e for e in entries if e["action"] in ("created", "linked")]
        assert made, f"no link for client {client['id']} in the log yet"
        return made[-1]["qbo_id"]

    tenant.notes["customer"] = watch.wait_until(tenant, linked, f"the new client {name!r} reaches QBO")
    tenant.notes.setdefault("qbo_of", {})[client["id"]] = tenant.notes["customer"]


@given(parsers.re(r'an? (?P<kind>business|individual) customer "(?P<name>[^"]+)"'
                  r'(?: with the e-mail "(?P<email>[^"]+)")? (?:is|was) created in QBO$'))
@when(parsers.re(r'an? (?P<kind>business|individual) customer "(?P<name>[^"]+)"'
                 r'(?: with the e-mail "(?P<email>[^"]+)")? (?:is|was) created in QBO$'))
def customer_created(tenant: Tenant, kind: str, name: str, email: str | None) -> None:
    body: dict[str, Any] = {"DisplayName": name}
    if kind == "business":
        body["CompanyName"] = name
    else:
        first, _, last = name.partition(" ")
        body |= {"GivenName": first, "FamilyName": last}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    made = qbo_create(tenant, "Customer", body)
    tenant.notes["customer"], tenant.notes["customer_name"] = made["Id"], name


@given(parsers.parse('an inactive individual customer "{name}" was created in QBO, and the sync left it alone'))
def inactive_customer(tenant: Tenant, watch: Watch, name: str) -> None:
    first, _, last = name.partition(" ")
    made = qbo_create(tenant, "Customer", {"DisplayName": name, "GivenName": first, "FamilyName": last,
                                           "Active": False})
    assert made["Active"] is False, made
    tenant.notes["customer"], tenant.notes["customer_name"] = made["Id"], name

    def left_alone() -> bool:
        entries = log_of(watch.log(tenant), "contact", qbo_id=made["Id"])
        assert [(e["action"], e["reason"]) for e in entries] == [("skipped", "inactive_and_not_linked")], entries
        return True

    watch.wait_until(tenant, left_alone, f"the inactive customer {made['Id']} is left alone (D-49)")
    assert not canopy_clients_named(tenant, name)


@given("a client and a customer linked at setup")
def a_linked_pair(tenant: Tenant) -> None:
    (c, q), = linked_at_setup(tenant, 1)
    tenant.notes["client"], tenant.notes["customer"] = c, q
    tenant.notes["setup_pair"] = (c, q)
    tenant.notes["client_name"] = canopy_get(tenant, "client", c)["display_name"]


@given("two clients and customers linked at setup, neither customer owing anything in QBO")
def two_quiet_pairs(tenant: Tenant) -> None:
    """QBO refuses to make a customer with an open balance inactive (6000), whoever asks."""
    balances = {c["Id"]: money(c.get("Balance", 0)) for c in tenant.qbo_all("Customer")}
    tenant.notes["pairs"] = linked_at_setup(tenant, 2, where=lambda p: not balances[p[1]])
    tenant.notes["pair_names"] = [canopy_get(tenant, "client", c)["display_name"] for c, _ in tenant.notes["pairs"]]


@given("a client setup listed as Unmatched")
def an_unmatched_client(tenant: Tenant) -> None:
    refs = tenant.contacts_truth("All")["unmatched"]
    assert refs, "the scenario has no unmatched client"
    tenant.notes["client"] = tenant.canopy_ids[refs[0]]
    tenant.notes["client_name"] = canopy_get(tenant, "client", tenant.notes["client"])["display_name"]


# -- contacts: what arrives --------------------------------------------------------------------

@then(parsers.parse('QBO holds one customer "{name}" with the e-mail "{email}"'))
def qbo_holds_customer(tenant: Tenant, watch: Watch, name: str, email: str) -> None:
    def one() -> dict[str, Any]:
        found = qbo_customers_named(tenant, name)
        assert len(found) == 1, f"QBO holds {len(found)} customers named {name!r}: {[c['Id'] for c in found]}"
        assert qbo_email(found[0]) == email, f"customer {found[0]['Id']} has the e-mail {qbo_email(found[0])!r}"
        return found[0]

    customer = watch.wait_until(tenant, one, f"QBO holds one customer {name!r} with the e-mail {email!r}")
    if tenant.notes.get("client_name") == name:
        tenant.notes["customer"] = customer["Id"]


@then(parsers.re(r'Canopy holds one client "(?P<name>[^"]+)" with the e-mail "(?P<email>[^"]+)", '
                 r'an? (?P<kind>business|individual)$'))
def canopy_holds_client(tenant: Tenant, watch: Watch, name: str, email: str, kind: str) -> None:
    def one() -> dict[str, Any]:
        found = canopy_clients_named(tenant, name)
        assert len(found) == 1, f"Canopy holds {len(found)} clients named {name!r}: {[c['id'] for c in found]}"
        client = canopy_get(tenant, "client", found[0]["id"])
        assert primary_email(client) == email, f"client {client['id']} has the e-mail {primary_email(client)!r}"
        assert client["is_business"] is (kind == "business"), (
            f"client {client['id']} is_business={client['is_business']}")
        return client

    client = watch.wait_until(tenant, one, f"Canopy holds one client {name!r} with the e-mail {email!r}")
    if tenant.notes.get("customer_name") == name:
        tenant.notes["client"] = client["id"]


@then(parsers.re(r"the sync log shows the (?P<first>client|customer) and that (?:client|customer) linked, "
                 r"the (?:client|customer) created from (?P<side>Canopy|QBO)"))
def contact_link_logged(tenant: Tenant, watch: Watch, first: str, side: str) -> None:
    c, q = pair(tenant)
    entries = log_of(watch.log(tenant), "contact", canopy_id=c)
    made = [e for e in entries if e["action"] in ("created", "linked")]
    direction = "canopy_to_qbo" if side == "Canopy" else "qbo_to_canopy"
    assert [(e["action"], e["qbo_id"], e["direction"]) for e in made] == [("created", q, direction)], entries


@then("the sync log shows the client linked to that customer by its name")
def linked_by_name(tenant: Tenant, watch: Watch) -> None:
    c, q = pair(tenant)

    def linked() -> bool:
        entries = log_of(watch.log(tenant), "contact", canopy_id=c)
        made = [(e["action"], e["qbo_id"], e["reason"]) for e in entries if e["action"] in ("created", "linked")]
        assert made == [("linked", q, "same_name")], f"the log shows {made} for client {c}"
        return True

    watch.wait_until(tenant, linked, f"client {c} is linked to the unlinked customer {q} of the same name")


@then(parsers.parse('QBO holds one customer and Canopy one client named "{name}", linked to each other'))
def one_each(tenant: Tenant, watch: Watch, name: str) -> None:
    c, q = pair(tenant)

    def once() -> bool:
        customers, clients = qbo_customers_named(tenant, name), canopy_clients_named(tenant, name)
        assert [x["Id"] for x in customers] == [q], f"QBO customers named {name!r}: {[x['Id'] for x in customers]}"
        assert [x["id"] for x in clients] == [c], f"Canopy clients named {name!r}: {[x['id'] for x in clients]}"
        return True

    watch.wait_until(tenant, once, f"one customer and one client named {name!r}")
    made = [e for e in since_setup(tenant, watch.log(tenant)) if e["kind"] == "contact"
            and e["action"] in ("created", "linked")]
    assert [(e["action"], e["canopy_id"], e["qbo_id"]) for e in made] == [("linked", c, q)], made


@given(parsers.re(r"the name of (?P<holder>a client linked at setup|a vendor that was added in QBO)"))
def name_of_holder(tenant: Tenant, holder: str) -> None:
    if holder.startswith("a client"):
        (c, _q), = linked_at_setup(tenant, 1)
        name = canopy_get(tenant, "client", c)["display_name"]
    else:
        name = "Harrow and Finch Supply"
        qbo_create(tenant, "Vendor", {"DisplayName": name, "CompanyName": name})
    tenant.notes["dup_name"] = name
    tenant.notes["customers_before"] = len(qbo_customers_named(tenant, name))


@when("a business client with that name is created in Canopy")
def client_with_that_name(tenant: Tenant) -> None:
    _new_client(tenant, tenant.notes["dup_name"], True, None)


@then(parsers.parse('the sync log reports the new client as a duplicate because of "{reason}"'))
def duplicate_logged(tenant: Tenant, watch: Watch, reason: str) -> None:
    c = tenant.notes["client"]

    def reported() -> dict[str, Any]:
        entries = log_of(watch.log(tenant), "contact", canopy_id=c)
        found = [e for e in entries if e["action"] == "skipped" and (e["reason"] or "").startswith("duplicate:")]
        assert found, f"no duplicate report for client {c}; its lines: {entries}"
        return found[-1]

    entry = watch.wait_until(tenant, reported, f"the new client {c} is reported as a duplicate")
    reasons = entry["reason"].removeprefix("duplicate:").split(",")
    assert reason in reasons, entry
    made = [e for e in log_of(watch.log(tenant), "contact", canopy_id=c) if e["action"] in ("created", "linked")]
    assert not made, made


@then("QBO holds as many customers with that name as before")
def same_customers(tenant: Tenant) -> None:
    got = qbo_customers_named(tenant, tenant.notes["dup_name"])
    assert len(got) == tenant.notes["customers_before"], got


# -- contacts: changes ---------------------------------------------------------------------------

def _set_email(tenant: Tenant, side: str, email: str, which: tuple[str | None, str | None]) -> None:
    c, q = which
    if side == "Canopy":
        assert c is not None
        canopy_patch(tenant, "client", c, {"emails": [{"email": email, "type": "WORK", "is_primary": True}]})
    else:
        assert q is not None
        tenant.qbo_edit("Customer", q, changes={"PrimaryEmailAddr": {"Address": email}})


def _which(tenant: Tenant, setup: str | None) -> tuple[str | None, str | None]:
    """The pair a step speaks of: the one linked at setup, or the scenario's latest client/customer."""
    if setup:
        return tenant.notes["setup_pair"]
    return tenant.notes.get("client"), tenant.notes.get("customer")


@when(parsers.re(r"(?P<later>a second later )?(?:the (?:client|customer)'s e-mail|"
                 r"the e-mail of the (?:client|customer) (?P<setup>linked at setup)) "
                 r'is changed in (?P<side>Canopy|QBO) to "(?P<email>[^"]+)"'))
def email_changed(tenant: Tenant, later: str | None, setup: str | None, side: str, email: str) -> None:
    if later:
        time.sleep(1.1)  # QBO's LastUpdatedTime has whole seconds: the later change must be a second later
    _set_email(tenant, side, email, _which(tenant, setup))


def _wait_email(tenant: Tenant, watch: Watch, side: str, email: str, setup: str | None = None) -> None:
    c, q = _which(tenant, setup)

    def arrived() -> bool:
        if side in ("QBO", "both"):
            got = qbo_email(tenant.qbo_get("Customer", q))
            assert got == email, f"QBO customer {q} has the e-mail {got!r}"
        if side in ("Canopy", "both"):
            got = primary_email(canopy_get(tenant, "client", c))
            assert got == email, f"Canopy client {c} has the e-mail {got!r}"
        return True

    watch.wait_until(tenant, arrived, f"the e-mail {email!r} in {side}")


@then(parsers.re(r"(?:the customer's e-mail|the e-mail of the customer (?P<setup>linked at setup)) in QBO becomes "
                 r"\"(?P<email>[^\"]+)\""))
def qbo_email_becomes(tenant: Tenant, watch: Watch, setup: str | None, email: str) -> None:
    _wait_email(tenant, watch, "QBO", email, setup)


@then(parsers.re(r"(?:the client's e-mail|the e-mail of the client (?P<setup>linked at setup)) in Canopy becomes "
                 r"\"(?P<email>[^\"]+)\""))
def canopy_email_becomes(tenant: Tenant, watch: Watch, setup: str | None, email: str) -> None:
    _wait_email(tenant, watch, "Canopy", email, setup)


@when(parsers.parse('the client\'s primary phone is changed in Canopy to "{phone}" and its primary address to '
                    '"{line1}", "{city}", "{region}", "{postal}"'))
def phone_and_address(tenant: Tenant, phone: str, line1: str, city: str, region: str, postal: str) -> None:
    c, _q = pair(tenant)
    canopy_patch(tenant, "client", c, {
        "phones": [{"number": phone, "type": "WORK", "is_primary": True}],
        "addresses": [{"address_1": line1, "locality": city, "region": region, "postal_code": postal,
                       "type": "WORK", "is_primary": True}]})


@then(parsers.parse('the customer\'s phone in QBO becomes "{phone}" and its billing address "{line1}", "{city}", '
                    '"{region}", "{postal}"'))
def qbo_phone_and_address(tenant: Tenant, watch: Watch, phone: str, line1: str, city: str, region: str,
                          postal: str) -> None:
    _c, q = pair(tenant)

    def arrived() -> bool:
        customer = tenant.qbo_get("Customer", q)
        got = (customer.get("PrimaryPhone") or {}).get("FreeFormNumber")
        assert got == phone, f"QBO customer {q} has the phone {got!r}"
        addr = customer.get("BillAddr") or {}
        got_addr = (addr.get("Line1"), addr.get("City"), addr.get("CountrySubDivisionCode"), addr.get("PostalCode"))
        assert got_addr == (line1, city, region, postal), f"QBO customer {q} has the billing address {addr}"
        return True

    watch.wait_until(tenant, arrived, f"the phone and address of QBO customer {q}")


@then(parsers.parse('the client in Canopy and the customer in QBO both have the e-mail "{email}"'))
def both_emails(tenant: Tenant, watch: Watch, email: str) -> None:
    _wait_email(tenant, watch, "both", email)


@then(parsers.re(r"the sync log says the e-mail changed on both sides and (?P<side>Canopy|QBO)'s later change won"))
def conflict_logged(tenant: Tenant, watch: Watch, side: str) -> None:
    c, _q = pair(tenant)
    applied = [e for e in since_setup(tenant, log_of(watch.log(tenant), "contact", canopy_id=c))
               if e["action"] == "applied"]
    want = "qbo_to_canopy" if side == "QBO" else "canopy_to_qbo"
    conflicts = [e for e in applied if (e["reason"] or "").startswith("conflict_later_wins:")
                 and "email" in e["reason"].split(":", 1)[1].split(",")]
    assert [e["direction"] for e in conflicts] == [want], applied


@when(parsers.re(r"the (?P<which>first|second) client is (?P<verb>archived|unarchived) in Canopy"))
def archive_client(tenant: Tenant, which: str, verb: str) -> None:
    c, _q = tenant.notes["pairs"][0 if which == "first" else 1]
    canopy_patch(tenant, "client", c, {"is_archived": verb == "archived"})


def later_than_canopy(tenant: Tenant, kind: str, record_id: str) -> None:
    """Wait until a change made in QBO now is later than the Canopy record's last change by both
    sides' own times (D-48): QBO's `LastUpdatedTime` has whole seconds, Canopy's `updated_at`
    milliseconds, and a pair linked at setup has no merge base, so a QBO change within the same
    second as the seeding of its Canopy twin would count as the earlier one."""
    changed = datetime.fromisoformat(canopy_get(tenant, kind, record_id)["updated_at"])
    now = datetime.fromisoformat(ok_json(Http(tenant.servers.canopy_url + "/_sim").get(
        "/clock", params={"tenant": tenant.firm_id}), 200)["now"])
    wait = (changed - now).total_seconds() + 1.05
    if wait > 0:
        time.sleep(wait)


@when(parsers.re(r"the (?P<which>first|second) customer is made inactive in QBO"))
def deactivate_customer(tenant: Tenant, which: str) -> None:
    c, q = tenant.notes["pairs"][0 if which == "first" else 1]
    later_than_canopy(tenant, "client", c)
    tenant.qbo_edit("Customer", q, deactivate=True)


@then(parsers.re(r"the (?P<which>first|second) customer is (?P<state>inactive|active again) in QBO"
                 r"(?P<named>, under its own name)?"))
def customer_state(tenant: Tenant, watch: Watch, which: str, state: str, named: str | None) -> None:
    i = 0 if which == "first" else 1
    _c, q = tenant.notes["pairs"][i]
    want = state == "active again"

    def there() -> bool:
        customer = tenant.qbo_get("Customer", q)
        assert customer.get("Active", True) is want, f"customer {q} Active={customer.get('Active')}"
        if named:
            assert customer["DisplayName"] == tenant.notes["pair_names"][i], customer["DisplayName"]
        return True

    watch.wait_until(tenant, there, f"QBO customer {q} is {'active' if want else 'inactive'}")


@then(parsers.re(r"the (?P<which>first|second) client is archived in Canopy"))
def client_archived(tenant: Tenant, watch: Watch, which: str) -> None:
    i = 0 if which == "first" else 1
    c, _q = tenant.notes["pairs"][i]

    def there() -> bool:
        client = canopy_get(tenant, "client", c)
        assert client["is_archived"] is True, f"client {c} is_archived={client['is_archived']}"
        assert client["display_name"] == tenant.notes["pair_names"][i], client["display_name"]
        return True

    watch.wait_until(tenant, there, f"Canopy client {c} is archived")


@then(parsers.parse('the sync log says the client was left alone because setup listed it as "{section}"'))
def left_alone(tenant: Tenant, watch: Watch, section: str) -> None:
    c = tenant.notes["client"]

    def said() -> bool:
        entries = since_setup(tenant, log_of(watch.log(tenant), "contact", canopy_id=c))
        assert [(e["action"], e["reason"]) for e in entries] == [("skipped", f"not_linked_at_setup:{section}")], (
            f"the log says {entries} about client {c}")
        return True

    watch.wait_until(tenant, said, f"the log says client {c} was not linked at setup")


@then("QBO holds no customer with the client's name")
def no_customer_of_that_name(tenant: Tenant) -> None:
    found = qbo_customers_named(tenant, tenant.notes["client_name"])
    assert not found, found


# -- items (R13, R14, R18) ----------------------------------------------------------------------

@given(parsers.re(r'a service item "(?P<name>[^"]+)" at "(?P<rate>[^"]+)"(?: with the SKU "(?P<sku>[^"]+)")? '
                  r'(?:is|was) created in (?P<side>Canopy|QBO)$'))
@when(parsers.re(r'a service item "(?P<name>[^"]+)" at "(?P<rate>[^"]+)"(?: with the SKU "(?P<sku>[^"]+)")? '
                 r'(?:is|was) created in (?P<side>Canopy|QBO)$'))
def item_created(tenant: Tenant, name: str, rate: str, sku: str | None, side: str) -> None:
    if side == "Canopy":
        made = canopy_create(tenant, "service_item", {"name": name, "rate": rate, **({"sku": sku} if sku else {})})
        tenant.notes["item"] = made["id"]
    else:
        made = qbo_create(tenant, "Item", {"Name": name, "Type": "Service", "UnitPrice": rate,
                                            "IncomeAccountRef": {"value": income_account(tenant)},
                                            **({"Sku": sku} if sku else {})})
        tenant.notes["qbo_item"] = made["Id"]
        made_in_qbo = tenant.notes.setdefault("made_in_qbo", {})
        made_in_qbo["Item"] = made_in_qbo.get("Item", 0) + 1


@then(parsers.parse('QBO holds one Service item "{name}" at "{rate}" with the SKU "{sku}" and the "{account}" '
                    'income account'))
def qbo_holds_item(tenant: Tenant, watch: Watch, name: str, rate: str, sku: str, account: str) -> None:
    want_account = flows.income_account_id(tenant, account)

    def one() -> dict[str, Any]:
        found = qbo_items_named(tenant, name)
        assert len(found) == 1, f"QBO holds {len(found)} items named {name!r}"
        item = found[0]
        got = (item.get("Type"), money(item.get("UnitPrice", 0)), item.get("Sku"))
        assert got == ("Service", money(rate), sku), item
        assert (item.get("IncomeAccountRef") or {}).get("value") == want_account, (
            f"item {item['Id']} uses income account {item.get('IncomeAccountRef')}, not {account!r} ({want_account})")
        return item

    tenant.notes["qbo_item"] = watch.wait_until(tenant, one, f"QBO holds one Service item {name!r}")["Id"]


@then(parsers.parse('Canopy holds one service item "{name}" at "{rate}" with the SKU "{sku}"'))
def canopy_holds_item(tenant: Tenant, watch: Watch, name: str, rate: str, sku: str) -> None:
    def one() -> dict[str, Any]:
        found = [i for i in canopy_items(tenant) if same_name(i["name"], name)]
        assert len(found) == 1, f"Canopy holds {len(found)} service items named {name!r}"
        assert (money(found[0]["rate"]), found[0].get("sku")) == (money(rate), sku), found[0]
        return found[0]

    tenant.notes["item"] = watch.wait_until(tenant, one, f"Canopy holds one service item {name!r}")["id"]


@then(parsers.re(r"the sync log shows the (?:Canopy|QBO) item and that (?:Canopy|QBO) item linked, "
                 r"the (?:Canopy|QBO) item created from (?P<side>Canopy|QBO)"))
def item_link_logged(tenant: Tenant, watch: Watch, side: str) -> None:
    c, q = tenant.notes["item"], tenant.notes["qbo_item"]
    entries = log_of(watch.log(tenant), "item", canopy_id=c)
    made = [(e["action"], e["qbo_id"], e["direction"]) for e in entries if e["action"] in ("created", "linked")]
    assert made == [("created", q, "canopy_to_qbo" if side == "Canopy" else "qbo_to_canopy")], entries


@then(parsers.parse('Canopy holds no service item "{name}"'))
def no_canopy_item(tenant: Tenant, watch: Watch, name: str) -> None:
    watch.settle(tenant)
    found = [i for i in canopy_items(tenant) if same_name(i["name"], name)]
    assert not found, found


@then("Canopy refuses service items and invoices for the firm")
def canopy_refuses_items(tenant: Tenant) -> None:
    for plural in ("service_items", "invoices"):
        reply = tenant.canopy().get(f"/public/v3/{plural}")
        assert (reply.status, reply.error_code) == (403, "module_not_available"), reply.show()


@then("QBO holds no item or invoice but those planted and those made in QBO")
def qbo_items_untouched(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    made = tenant.notes.get("made_in_qbo", {})
    for entity in ("Item", "Invoice"):
        got = len(tenant.qbo_all(entity) if entity == "Item" else tenant.qbo_query(entity))
        want = len(tenant.world.qbo.get(entity) or []) + made.get(entity, 0)
        assert got == want, f"QBO holds {got} {entity} records, {want} were planted or made in QBO"


@then("the sync log has no item or invoice line")
def no_item_lines(tenant: Tenant, watch: Watch) -> None:
    lines = [e for e in watch.log(tenant) if e["kind"] in ("item", "invoice")]
    assert not lines, lines


@given(parsers.re(r"(?P<n>a|two) service items? linked at setup"))
def items_at_setup(tenant: Tenant, n: str) -> None:
    pairs = items_linked_at_setup(tenant, 1 if n == "a" else 2)
    tenant.notes["items"] = pairs
    tenant.notes["item"], tenant.notes["qbo_item"] = pairs[0]
    tenant.notes["item_names"] = [canopy_get(tenant, "service_item", c)["name"] for c, _ in pairs]


@when(parsers.re(r'its rate is changed in (?P<side>Canopy|QBO) to "(?P<rate>[^"]+)"'))
def rate_changed(tenant: Tenant, side: str, rate: str) -> None:
    if side == "Canopy":
        canopy_patch(tenant, "service_item", tenant.notes["item"], {"rate": rate})
    else:
        tenant.qbo_edit("Item", tenant.notes["qbo_item"], changes={"UnitPrice": rate})


@then(parsers.re(r'the linked (?P<side>Canopy|QBO) item\'s rate becomes "(?P<rate>[^"]+)"'))
def rate_becomes(tenant: Tenant, watch: Watch, side: str, rate: str) -> None:
    def arrived() -> bool:
        if side == "QBO":
            got = money(tenant.qbo_get("Item", tenant.notes["qbo_item"]).get("UnitPrice", 0))
        else:
            got = money(canopy_get(tenant, "service_item", tenant.notes["item"])["rate"])
        assert got == money(rate), f"the {side} item's rate is {got}"
        return True

    watch.wait_until(tenant, arrived, f"the {side} item's rate becomes {rate}")


@when(parsers.re(r"the (?P<which>first|second) item is deactivated in Canopy"))
def deactivate_canopy_item(tenant: Tenant, which: str) -> None:
    c, _q = tenant.notes["items"][0 if which == "first" else 1]
    canopy_patch(tenant, "service_item", c, {"is_active": False})


@when(parsers.re(r"the (?P<which>first|second) item is made inactive in QBO"))
def deactivate_qbo_item(tenant: Tenant, which: str) -> None:
    c, q = tenant.notes["items"][0 if which == "first" else 1]
    later_than_canopy(tenant, "service_item", c)
    tenant.qbo_edit("Item", q, deactivate=True)


@then(parsers.re(r"the (?P<which>first|second) item is inactive in (?P<side>QBO|Canopy) "
                 r"and keeps its name(?: in Canopy| there)"))
def item_inactive(tenant: Tenant, watch: Watch, which: str, side: str) -> None:
    i = 0 if which == "first" else 1
    c, q = tenant.notes["items"][i]
    name = tenant.notes["item_names"][i]

    def there() -> bool:
        if side == "QBO":
            item = tenant.qbo_get("Item", q)
            assert item.get("Active", True) is False, f"QBO item {q} Active={item.get('Active')}"
        else:
            item = canopy_get(tenant, "service_item", c)
            assert item["is_active"] is False, f"Canopy item {c} is_active={item['is_active']}"
        canopy_name = canopy_get(tenant, "service_item", c)["name"]
        assert canopy_name == name, f"the Canopy item {c} is now called {canopy_name!r}, not {name!r}"
        return True

    watch.wait_until(tenant, there, f"the {which} item is inactive in {side}")
    watch.settle(tenant)
    there()


# -- invoices (R14, R19) ---------------------------------------------------------------------------

def _invoice_for(tenant: Tenant, items: list[tuple[str, str]], client: tuple[str, str] | None = None) -> dict[str, Any]:
    if client is None:
        (client,) = linked_at_setup(tenant, 1)
    lines = [{"service_item_id": c, "quantity": str(n + 1)} for n, (c, _q) in enumerate(items)]
    invoice = canopy_create(tenant, "invoice", {"client_id": client[0], "lines": lines})
    tenant.notes.setdefault("invoices", []).append(invoice["id"])
    tenant.notes.setdefault("qbo_of", {}).update({client[0]: client[1], **{c: q for c, q in items if q}})
    return invoice


@given(parsers.re(r"an invoice is created in Canopy for a client linked at setup, billing items the ground truth "
                  r"matches"))
@when(parsers.re(r"an invoice is created in Canopy for a client linked at setup, billing items the ground truth "
                 r"matches"))
def invoice_created(tenant: Tenant) -> None:
    _invoice_for(tenant, items_linked_at_setup(tenant, 2))


def _qbo_invoice_of(tenant: Tenant, canopy_id: str) -> dict[str, Any]:
    """The QBO invoice the sync made of a Canopy invoice, found by its number (DocNumber)."""
    number = canopy_get(tenant, "invoice", canopy_id)["number"]
    found = [i for i in tenant.qbo_query("Invoice") if i.get("DocNumber") == number]
    assert len(found) == 1, f"QBO holds {len(found)} invoices numbered {number} (Canopy invoice {canopy_id})"
    return found[0]


def _check_invoice(tenant: Tenant, canopy_id: str) -> dict[str, Any]:
    """The QBO invoice of a Canopy invoice bills the linked customer for the linked items, with the
    same quantities, rates and amounts as `Decimal`s."""
    inv = canopy_get(tenant, "invoice", canopy_id)
    got = _qbo_invoice_of(tenant, canopy_id)
    qbo_of = tenant.notes["qbo_of"]
    assert got["CustomerRef"]["value"] == qbo_of[inv["client_id"]], (got["CustomerRef"], inv["client_id"])
    lines = [ln for ln in got["Line"] if ln.get("DetailType") == "SalesItemLineDetail"]
    want = sorted((qbo_of[ln["service_item_id"]], money(ln["quantity"]), money(ln["rate"]), money(ln["amount"]))
                  for ln in inv["lines"])
    have = sorted((ln["SalesItemLineDetail"]["ItemRef"]["value"], money(ln["SalesItemLineDetail"].get("Qty", 0)),
                   money(ln["SalesItemLineDetail"].get("UnitPrice", 0)), money(ln["Amount"])) for ln in lines)
    assert have == want, f"QBO invoice {got['Id']} lines {have}, Canopy invoice {canopy_id} lines {want}"
    assert money(got["TotalAmt"]) == money(inv["total"]), (got["TotalAmt"], inv["total"])
    return got


@then("QBO holds the new Canopy invoice, billed to the linked customer for the linked items, with the same amounts")
def invoice_arrived(tenant: Tenant, watch: Watch) -> None:
    canopy_id = tenant.notes["invoices"][-1]
    got = watch.wait_until(tenant, lambda: _check_invoice(tenant, canopy_id), f"Canopy invoice {canopy_id} in QBO")
    tenant.notes.setdefault("qbo_invoice", {})[canopy_id] = got["Id"]


@then("QBO holds no invoice for the new Canopy invoice")
def invoice_not_there(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    inv = canopy_get(tenant, "invoice", tenant.notes["invoices"][-1])
    found = [i for i in tenant.qbo_query("Invoice") if i.get("DocNumber") == inv["number"]]
    assert not found, found


@then("the sync log shows the invoice created in QBO")
def invoice_logged(tenant: Tenant, watch: Watch) -> None:
    canopy_id = tenant.notes["invoices"][-1]
    entries = log_of(watch.log(tenant), "invoice", canopy_id=canopy_id)
    assert [(e["action"], e["qbo_id"], e["direction"]) for e in entries] == [
        ("created", tenant.notes["qbo_invoice"][canopy_id], "canopy_to_qbo")], entries


@given(parsers.re(r"(?P<which>an|a second) invoice created in Canopy for a client linked at setup has reached QBO"))
def invoice_reached(tenant: Tenant, watch: Watch, which: str) -> None:
    _invoice_for(tenant, items_linked_at_setup(tenant, 2))
    invoice_arrived(tenant, watch)


@when(parsers.parse('a line\'s quantity is changed to "{quantity}" on the invoice in Canopy'))
def quantity_changed(tenant: Tenant, quantity: str) -> None:
    canopy_id = tenant.notes["invoices"][0]
    inv = canopy_get(tenant, "invoice", canopy_id)
    lines = [{"service_item_id": ln["service_item_id"], "quantity": ln["quantity"], "rate": ln["rate"]}
             for ln in inv["lines"]]
    lines[0]["quantity"] = quantity
    tenant.notes["qbo_before"] = tenant.qbo_get("Invoice", tenant.notes["qbo_invoice"][canopy_id])
    canopy_patch(tenant, "invoice", canopy_id, {"lines": lines})


@then("the same QBO invoice is updated to the new amounts, and QBO holds no second invoice for it")
def invoice_updated(tenant: Tenant, watch: Watch) -> None:
    canopy_id = tenant.notes["invoices"][0]
    before = tenant.notes["qbo_before"]

    def updated() -> dict[str, Any]:
        got = _check_invoice(tenant, canopy_id)  # also: one QBO invoice with that number
        assert got["Id"] == before["Id"], f"a new QBO invoice {got['Id']}, not an update of {before['Id']}"
        assert int(got["SyncToken"]) > int(before["SyncToken"]), got["SyncToken"]
        return got

    watch.wait_until(tenant, updated, f"QBO invoice {before['Id']} is updated")
    entries = since_setup(tenant, log_of(watch.log(tenant), "invoice", canopy_id=canopy_id))
    assert [(e["action"], e["reason"]) for e in entries if e["action"] == "applied"] == [
        ("applied", "updated_in_canopy")], entries


@when("the invoice is voided in Canopy")
def void_invoice(tenant: Tenant) -> None:
    canopy_patch(tenant, "invoice", tenant.notes["invoices"][0], {"status": "void"})


@when("the second invoice is deleted in Canopy")
def delete_invoice(tenant: Tenant) -> None:
    canopy_id = tenant.notes["invoices"][1]
    reply = tenant.canopy().call("DELETE", f"/public/v3/invoices/{canopy_id}")
    assert reply.status == 204, reply.show()


@then("the QBO invoice is voided")
def invoice_voided(tenant: Tenant, watch: Watch) -> None:
    canopy_id = tenant.notes["invoices"][0]
    qbo_id = tenant.notes["qbo_invoice"][canopy_id]

    def voided() -> bool:
        got = tenant.qbo_get("Invoice", qbo_id)
        assert money(got["TotalAmt"]) == 0 and "Voided" in (got.get("PrivateNote") or ""), (
            f"QBO invoice {qbo_id}: TotalAmt {got['TotalAmt']}, PrivateNote {got.get('PrivateNote')!r}")
        return True

    watch.wait_until(tenant, voided, f"QBO invoice {qbo_id} is voided")
    entries = since_setup(tenant, log_of(watch.log(tenant), "invoice", canopy_id=canopy_id))
    assert [e["reason"] for e in entries if e["action"] == "applied"][-1:] == ["voided_in_canopy"], entries


@then("the second QBO invoice is deleted")
def invoice_deleted(tenant: Tenant, watch: Watch) -> None:
    canopy_id = tenant.notes["invoices"][1]
    qbo_id = tenant.notes["qbo_invoice"][canopy_id]

    def deleted() -> bool:
        reply = tenant.qbo().get(f"/invoice/{qbo_id}", params={"minorversion": "75"})
        assert reply.status == 400 and "610" in reply.text, f"QBO still reads invoice {qbo_id}: {reply.show(300)}"
        assert qbo_id not in {i["Id"] for i in tenant.qbo_query("Invoice")}
        return True

    watch.wait_until(tenant, deleted, f"QBO invoice {qbo_id} is deleted")
    first = tenant.notes["qbo_invoice"][tenant.notes["invoices"][0]]
    assert tenant.qbo_get("Invoice", first)["Id"] == first, "the voided invoice must stay in QBO"
    entries = since_setup(tenant, log_of(watch.log(tenant), "invoice", canopy_id=canopy_id))
    assert [e["reason"] for e in entries if e["action"] == "applied"] == ["deleted_in_canopy"], entries


@given("a service item created in Canopy with the name of an item linked at setup, reported as a duplicate")
def duplicate_item(tenant: Tenant, watch: Watch) -> None:
    (c, _q), = items_linked_at_setup(tenant, 1)
    name = canopy_get(tenant, "service_item", c)["name"]
    made = canopy_create(tenant, "service_item", {"name": name, "rate": "95.00", "sku": "DUP-1"})
    tenant.notes["item"] = made["id"]

    def reported() -> bool:
        entries = log_of(watch.log(tenant), "item", canopy_id=made["id"])
        assert [(e["action"], (e["reason"] or "").split(":")[0]) for e in entries] == [("skipped", "duplicate")], (
            f"the log says {entries} about item {made['id']}")
        return True

    watch.wait_until(tenant, reported, f"the item {made['id']} named {name!r} is reported as a duplicate")


@when("an invoice is created in Canopy for a client linked at setup, billing that item")
def invoice_with_that_item(tenant: Tenant) -> None:
    linked = items_linked_at_setup(tenant, 1)
    _invoice_for(tenant, [linked[0], (tenant.notes["item"], "")])


@then('the invoice is held: the sync log says "item_unlinked" for that item and the status counts it as held')
def invoice_held(tenant: Tenant, watch: Watch) -> None:
    canopy_id, item = tenant.notes["invoices"][-1], tenant.notes["item"]

    def held() -> bool:
        entries = log_of(watch.log(tenant), "invoice", canopy_id=canopy_id)
        found = [e for e in entries if e["action"] == "held"]
        assert found, f"no held line for invoice {canopy_id}: {entries}"
        assert (found[-1]["reason"] or "").split(",") == [f"item_unlinked:{item}"], found[-1]
        held_now = watch.status(tenant)["sync"]["held"]
        assert held_now == tenant.notes["held_at_setup"] + 1, f"sync.held is {held_now}"
        return True

    watch.wait_until(tenant, held, f"invoice {canopy_id} is held for item {item}")


@when(parsers.parse('that item is renamed in Canopy to "{name}"'))
def rename_item(tenant: Tenant, name: str) -> None:
    canopy_patch(tenant, "service_item", tenant.notes["item"], {"name": name})
    tenant.notes["item_name"] = name


@then("the item is created in QBO and linked")
def item_created_and_linked(tenant: Tenant, watch: Watch) -> None:
    c, name = tenant.notes["item"], tenant.notes["item_name"]

    def linked() -> str:
        found = qbo_items_named(tenant, name)
        assert len(found) == 1, f"QBO holds {len(found)} items named {name!r}"
        made = [e for e in log_of(watch.log(tenant), "item", canopy_id=c) if e["action"] in ("created", "linked")]
        assert [(e["action"], e["qbo_id"]) for e in made] == [("created", found[0]["Id"])], made
        return found[0]["Id"]

    tenant.notes["qbo_of"][c] = watch.wait_until(tenant, linked, f"the item {c} is created in QBO as {name!r}")


@then("the status counts no held invoice for it")
def not_held(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    assert watch.status(tenant)["sync"]["held"] == tenant.notes["held_at_setup"]


@when("an invoice for a customer linked at setup is created in QBO")
def qbo_invoice(tenant: Tenant) -> None:
    (_c, q), = linked_at_setup(tenant, 1)
    (_ci, qi), = items_linked_at_setup(tenant, 1)
    qbo_create(tenant, "Invoice", {"CustomerRef": {"value": q}, "DocNumber": "QBO-ONLY-1", "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": "120.00",
         "SalesItemLineDetail": {"ItemRef": {"value": qi}, "Qty": "1", "UnitPrice": "120.00"}}]})


@then("Canopy holds as many invoices as were planted")
def canopy_invoices_planted(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    assert len(tenant.canopy_list("invoices")) == len(tenant.world.canopy["invoices"])
    lines = [e for e in since_setup(tenant, watch.log(tenant)) if e["kind"] == "invoice"]
    assert not lines, lines


# -- no echo (R20) -------------------------------------------------------------------------------------

@when("the engine reconciles with QBO's change data capture and Canopy's change feed")
def reconciles(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    watch.reconcile(tenant)
    watch.settle(tenant)


@when("the records of the pair are noted")
def note_pair(tenant: Tenant, watch: Watch) -> None:
    c, q = pair(tenant)
    client = canopy_get(tenant, "client", c)
    tenant.notes["noted"] = (tenant.qbo_get("Customer", q)["SyncToken"], client["updated_at"])


@then("the customer's SyncToken and the client's updated_at are as noted")
def as_noted(tenant: Tenant) -> None:
    c, q = pair(tenant)
    now = (tenant.qbo_get("Customer", q)["SyncToken"], canopy_get(tenant, "client", c)["updated_at"])
    assert now == tenant.notes["noted"], f"(SyncToken, updated_at) was {tenant.notes['noted']}, is {now}"


@then("the sync log shows one write for the change and none back to Canopy")
def one_write(tenant: Tenant, watch: Watch) -> None:
    c, _q = pair(tenant)
    entries = since_setup(tenant, log_of(watch.log(tenant), "contact", canopy_id=c))
    writes = [e for e in entries if e["action"] in ("created", "applied", "linked")]
    assert len(writes) == 1 and writes[0]["direction"] == "canopy_to_qbo", writes
    assert not [e for e in entries if e["direction"] == "qbo_to_canopy"], entries


# -- disconnect and restart (R22) ----------------------------------------------------------------------

@then("Canopy refuses the integration's token with HTTP 401")
def canopy_token_revoked(tenant: Tenant) -> None:
    tokens = tenant.canopy_integration_tokens()
    assert tokens, "the engine never got a Canopy integration token for this firm"
    for t in tokens:
        reply = Http(tenant.servers.canopy_url, {"Authorization": f"Bearer {t['token']}"}).get("/public/v3/me")
        assert reply.status == 401, f"integration {t['integration_id']}'s token: {reply.show(300)}"


@then(parsers.parse('after the webhooks are sent, QBO holds no customer "{customer}" and Canopy no client "{client}"'))
def nothing_arrives(tenant: Tenant, watch: Watch, customer: str, client: str) -> None:
    # Not `settle`: the fake Canopy keeps retrying its deliveries to the engine, which refuses them
    # now that the firm's webhook secret is forgotten (401); what matters is that nothing is applied.
    for _ in range(3):
        watch.flush()
        time.sleep(0.3)
    watch.wait_until(tenant, lambda: watch.pending(tenant) == 0, "the engine's inbox is empty", idle=False)
    assert not qbo_customers_named(tenant, customer), f"the client {customer!r} reached QBO after the disconnect"
    assert not canopy_clients_named(tenant, client), f"the customer {client!r} reached Canopy after the disconnect"
    lines = [e for e in since_setup(tenant, watch.log(tenant)) if e["kind"] != "connection"]
    assert not lines, lines


@then("the engine refuses to reconcile the firm")
def no_reconcile(engine: Engine, tenant: Tenant) -> None:
    reply = engine.post(tenant.admin, "/integration/reconcile")
    assert (reply.status, reply.error_code) == (409, "not_connected"), reply.show()


def _counts(tenant: Tenant) -> dict[str, int]:
    return {"canopy clients": len(tenant.canopy_list("clients")), "QBO customers": len(tenant.qbo_all("Customer")),
            "canopy items": len(canopy_items(tenant)), "QBO items": len(tenant.qbo_all("Item")),
            "canopy invoices": len(tenant.canopy_list("invoices")), "QBO invoices": len(tenant.qbo_query("Invoice"))}


@when("the fakes' contacts, items and invoices are counted")
def count_all(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    tenant.notes["all_counts"] = _counts(tenant)


@when(parsers.parse('the Admin finishes setup again, importing "{choice}" contacts'))
def setup_again(engine: Engine, tenant: Tenant, choice: str) -> None:
    flows.connect(engine, tenant, tenant.admin)
    flows.sync_contacts(engine, tenant, tenant.admin, choice)
    flows.finish_items(engine, tenant, tenant.admin)


@then("Sync contacts created no contact and linked every pair it linked or created the first time")
def second_sync(tenant: Tenant) -> None:
    first, second = tenant.notes["first_contacts_result"], tenant.notes["contacts_result"]
    assert second["created"] == 0, second
    assert second["linked"] == first["linked"] + first["created"], (first, second)


@then("Canopy and QBO hold as many contacts, items and invoices as when they were counted")
def same_all_counts(tenant: Tenant, watch: Watch) -> None:
    watch.settle(tenant)
    assert _counts(tenant) == tenant.notes["all_counts"]


# -- reauthorizing (R22a) ------------------------------------------------------------------------------

def _qbo_admin(tenant: Tenant) -> Http:
    return Http(tenant.servers.qbo_url + "/_sim")


@when("the company revokes the integration's QBO tokens")
def revoke_tokens(tenant: Tenant) -> None:
    got = ok_json(_qbo_admin(tenant).post(f"/companies/{tenant.realm_id}/revoke-tokens"), 200)
    assert got["revoked_grants"] >= 1, got
    tenant._qbo_token = None  # the harness's own app lost its grant too


@when("the QBO user who connected loses access to the company")
def user_loses_access(tenant: Tenant) -> None:
    ok_json(_qbo_admin(tenant).post(f"/companies/{tenant.realm_id}/users/revoke", {"email": tenant.qbo_user["email"]}),
            200)


@when("the QBO user is given access again")
def user_access_again(tenant: Tenant) -> None:
    ok_json(_qbo_admin(tenant).post(f"/companies/{tenant.realm_id}/users/grant", {"email": tenant.qbo_user["email"]}),
            201)
    tenant._qbo_token = None


@when(parsers.re(r"the QBO subscription is (?P<state>suspended|active again)"))
def subscription(tenant: Tenant, state: str) -> None:
    status = "suspended" if state == "suspended" else "active"
    got = ok_json(_qbo_admin(tenant).post(f"/companies/{tenant.realm_id}/subscription", {"status": status}), 200)
    assert got["subscription"] == status, got


@when("100 days pass without the integration refreshing its tokens")
def hundred_days(tenant: Tenant, watch: Watch) -> None:
    """The QBO company's clock, the Canopy firm's and the engine's move on together (Canopy signs
    its webhooks with the firm's time, and the engine refuses one 5 minutes off its own clock);
    the Admin's Canopy sign-in (12 hours of the firm clock) and the harness's QBO token (one hour)
    are renewed."""
    watch.advance_tenant_clocks(tenant, HUNDRED_DAYS_AND_AN_HOUR)
    watch.advance_engine_clock(HUNDRED_DAYS_AND_AN_HOUR)
    tenant.reissue_token("admin")
    tenant._qbo_token = None


@when("nothing needs undoing")
def nothing_to_undo() -> None:
    pass


@then(parsers.parse('the Integrations page says "{message}" because of "{reason}"'))
def not_syncing(tenant: Tenant, watch: Watch, message: str, reason: str) -> None:
    def says() -> dict[str, Any]:
        conn = watch.status(tenant)["connection"]
        assert conn["state"] == "needs_reauthorization", f"the connection is {conn}"
        assert (conn["message"] or "").startswith(message), conn
        assert reason in (conn["reason"] or ""), f"the reason {conn['reason']!r} does not name {reason!r}: {conn}"
        assert reason in conn["message"], f"the message {conn['message']!r} does not give the reason {reason!r}"
        return conn

    watch.wait_until(tenant, says, f"the connection needs reauthorizing because of {reason!r}", idle=False)


@then("the changes wait in the engine's inbox")
def changes_wait(tenant: Tenant, watch: Watch) -> None:
    watch.flush()
    time.sleep(0.5)
    status = watch.status(tenant)
    assert status["connection"]["state"] == "needs_reauthorization", status
    assert status["sync"]["pending"] >= 2, f"the inbox holds {status['sync']['pending']} events: {status['sync']}"
    failed = [e for e in since_setup(tenant, watch.log(tenant)) if e["kind"] == "contact" and e["action"] == "failed"]
    assert not failed, failed


@when("the Admin reauthorizes QBO")
def admin_reauthorizes(engine: Engine, tenant: Tenant) -> None:
    body = flows.reauthorize(engine, tenant, tenant.admin)
    assert body.get("reauthorized") is True and body.get("realm_id") == tenant.realm_id, body


@then("the connection is connected again and nothing waits")
def connected_again(tenant: Tenant, watch: Watch) -> None:
    def connected() -> bool:
        conn = watch.status(tenant)["connection"]
        assert (conn["state"], conn["reason"], conn["message"]) == ("connected", None, None), conn
        return True

    watch.wait_until(tenant, connected, "the connection is connected and the inbox empty")
