"""Steps every domain uses: a scenario's firm and company, who acts, the Integrations page."""
from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from features.harness import flows
from features.harness.engine import Engine
from features.harness.http import Reply
from features.harness.servers import Servers
from features.harness.tenants import Member, Tenant, seed_tenant

WHO = r'(?P<who>the Admin|the second Admin|the team member "[^"]+")'
"""How a step names the Canopy team member acting: the firm's first Admin, a second Admin a
step added, or a team member by the local part of the scenario's e-mail."""


def member_of(tenant: Tenant, who: str) -> Member:
    if who == "the Admin":
        return tenant.admin
    if who == "the second Admin":
        return tenant.member("second_admin")
    return tenant.member(who.split('"')[1])


def engine_log(engine: Engine, tenant: Tenant) -> list[dict[str, Any]]:
    """The whole sync log (`GET /integration/log`), oldest first."""
    out: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"before": before} if before else {})}
        body = engine.get(tenant.admin, "/integration/log", **params).expect(200).body
        out += body["entries"]
        before = body.get("next_before")
        if not before:
            return list(reversed(out))


# -- the stage -----------------------------------------------------------------------------------

@given(parsers.parse('the firm and QBO company of the "{name}" scenario'), target_fixture="tenant")
def a_tenant(servers: Servers, worker_id: str, name: str) -> Tenant:
    return seed_tenant(servers, name, worker_id)


@given(parsers.parse('the Admin of the "{name}" firm has connected its QBO company'), target_fixture="tenant")
def a_connected_tenant(servers: Servers, engine: Engine, worker_id: str, name: str) -> Tenant:
    tenant = seed_tenant(servers, name, worker_id)
    flows.connect(engine, tenant, tenant.admin)
    return tenant


@given(parsers.parse('the Admin has synced the contacts, importing "{choice}" contacts'))
def contacts_synced(engine: Engine, tenant: Tenant, choice: str) -> None:
    flows.sync_contacts(engine, tenant, tenant.admin, choice)


@given("a second Admin has joined the firm")
def second_admin(tenant: Tenant) -> None:
    tenant.add_member("second_admin", "admin", ["time_and_billing"])


# -- the Integrations page ---------------------------------------------------------------------

@when(parsers.re(WHO + " opens the Integrations page"), target_fixture="status")
def open_integrations(engine: Engine, tenant: Tenant, who: str) -> Reply:
    return engine.status(member_of(tenant, who)).expect(200)


@then(parsers.parse('the Integrations page shows the wizard at the "{step}" step'))
def wizard_at(engine: Engine, tenant: Tenant, step: str) -> None:
    reply = engine.status(tenant.admin).expect(200)
    assert reply.body["step"] == step, reply.show()


@given("the Admin has connected the firm to its QBO company")
def admin_connected(engine: Engine, tenant: Tenant) -> None:
    flows.connect(engine, tenant, tenant.admin)
