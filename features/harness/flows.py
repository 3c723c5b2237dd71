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
