"""Whole stretches of the wizard, for the `Given` steps that only set the stage.

Each call is checked on the way, so a scenario that fails in its set-up says which call did.
"""
from __future__ import annotations

from typing import Any

from .engine import SECTIONS, Engine, job_result
from .signin import sign_in
from .tenants import Member, Tenant


def connect(engine: Engine, tenant: Tenant, member: Member) -> dict[str, Any]:
    """Connect, sign in through QBO's pages, come back, accept the agreement: the status after."""
    started = engine.post(member, "/integration/connect").expect(200).body
    back = sign_in(started["authorize_url"], tenant.qbo_user["email"], tenant.qbo_user["password"], tenant.realm_id)
    engine.callback(back.location).expect(200)
    return engine.post(member, "/integration/agreement", {"accept": True}).expect(200).body


def open_every_section(engine: Engine, member: Member) -> None:
    for section in SECTIONS:
        engine.get(member, f"/integration/contacts/review/{section}", page=1).expect(200)


def sync_contacts(engine: Engine, tenant: Tenant, member: Member, choice: str) -> dict[str, Any]:
    """Choose the import, open every section, Sync contacts: the sync's result."""
    job_result(engine.post(member, "/integration/contacts/filter", {"choice": choice.lower()}))
    open_every_section(engine, member)
    result = job_result(engine.post(member, "/integration/contacts/sync"))
    tenant.notes["contacts_result"] = result
    return result


def income_account_id(tenant: Tenant, name: str) -> str:
    """The QBO Id of the company's Income account called `name`."""
    found = [a["Id"] for a in tenant.accounts if a.get("AccountType") == "Income" and a.get("Name") == name]
    assert found, f"the company has no Income account {name!r}: {[a.get('Name') for a in tenant.accounts]}"
    return found[0]


def finish_items(engine: Engine, tenant: Tenant, member: Member, income_account: str | None = None) -> dict[str, Any]:
    """Start the items step, choose the income account (by name) if asked, Sync service items,
    Finish: the Finish job's result (R15, R17)."""
    job_result(engine.post(member, "/integration/items/start"))
    if income_account is not None:
        engine.call(member, "PUT", "/integration/items/income-account",
                    {"account_id": income_account_id(tenant, income_account)}).expect(200)
    tenant.notes["items_linked"] = engine.post(member, "/integration/items/sync").expect(200).body["linked"]
    result = job_result(engine.post(member, "/integration/finish"))
    tenant.notes["finish_result"] = result
    return result


def finish_setup(engine: Engine, tenant: Tenant, member: Member, choice: str = "All",
                 income_account: str | None = None) -> dict[str, Any]:
    """The whole wizard: connect, import `choice`, open every section, Sync contacts, start the
    items step, Sync service items, Finish. The status after (the ongoing sync is on)."""
    connect(engine, tenant, member)
    sync_contacts(engine, tenant, member, choice)
    finish_items(engine, tenant, member, income_account)
    status = engine.status(member).expect(200).body
    assert status["step"] == "finished" and (status.get("sync") or {}).get("items_and_invoices"), status
    return status


def reauthorize(engine: Engine, tenant: Tenant, member: Member) -> dict[str, Any]:
    """R22a: `POST /integration/reauthorize`, QBO's sign-in pages, back to the engine's callback:
    the callback's answer."""
    started = engine.post(member, "/integration/reauthorize").expect(200).body
    back = sign_in(started["authorize_url"], tenant.qbo_user["email"], tenant.qbo_user["password"], tenant.realm_id)
    return engine.callback(back.location).expect(200).body
