"""A tenant per scenario: a new QBO company and a new Canopy firm seeded with a scenario's world.

`sim.scenario.seed.seed_world` seeds fresh fakes: it freezes the server-wide clocks and registers
the scenario's own QBO app. Scenarios here share one pair of fakes per worker and run side by
side, so this seeder uses the same admin routes without touching any clock, registers no app,
and tags every sign-in e-mail (QBO users and Canopy team members are unique server-wide).
The world is built once per scenario name and never changed; the ids each fake gave the
planted records are kept (`ref -> id`) so outcomes can be checked against the ground truth.
"""
from __future__ import annotations

import base64
import copy
import functools
import itertools
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from sim.scenario import World, build_world, load_named
from sim.scenario.seed import fill_qbo_refs

from .http import Http, ok_json
from .servers import CHECKER_CLIENT_ID, CHECKER_CLIENT_SECRET, CHECKER_REDIRECT, Servers

SEED = 1
QBO_LISTS = ("Account", "Customer", "Vendor", "Employee", "Item", "Invoice")
CANOPY_LISTS = ("clients", "service_items", "invoices", "payments")
_numbers = itertools.count(1)


@functools.cache
def world_of(name: str) -> World:
    """The scenario's world (seed 1, scale 1), built once per name and worker. Do not change it."""
    return build_world(load_named(name), SEED, 1)


def tag_email(email: str, tag: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local}+{tag}@{domain}"


def member_key(email: str) -> str:
    """How the steps name a team member: the local part of the scenario's e-mail."""
    return email.partition("@")[0]


@dataclass
class Member:
    key: str
    email: str
    password: str
    user_id: str
    token: str
    permission_set: str
    scenario_email: str


@dataclass
class Tenant:
    """One scenario's company and firm on the session's fakes, and what was planted where."""

    name: str
    world: World
    servers: Servers
    tag: str
    realm_id: str
    qbo_user: dict[str, str]
    firm_id: str
    members: dict[str, Member]
    qbo_ids: dict[str, str]
    """Scenario ref (`cu-1`, `ve-1`, `it-1`, `qi-1`, `acct-1`) -> QBO Id."""
    canopy_ids: dict[str, str]
    """Scenario ref (`cl-1`, `si-1`, `inv-1`, `pay-1`) -> Canopy id."""
    accounts: list[dict[str, Any]]
    _qbo_token: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    """What steps remember about the fakes' state (counts before a step, ...)."""

    # -- ground truth --------------------------------------------------------------------------
    @property
    def truth(self) -> dict[str, Any]:
        return self.world.truth

    def contacts_truth(self, choice: str) -> dict[str, Any]:
        return self.truth["contacts"][choice.capitalize()]

    @functools.cached_property
    def ref_of_qbo(self) -> dict[str, str]:
        return {v: k for k, v in self.qbo_ids.items()}

    @functools.cached_property
    def ref_of_canopy(self) -> dict[str, str]:
        return {v: k for k, v in self.canopy_ids.items()}

    def groups(self, kind: str) -> list[Any]:
        return [g for g in self.world.plan.groups if g.kind == kind]

    # -- who is who ------------------------------------------------------------------------------
    @property
    def admin(self) -> Member:
        return self.members["admin"]

    def member(self, key: str) -> Member:
        if key not in self.members:
            raise KeyError(f"no team member {key!r} in {self.name}; there are {', '.join(self.members)}")
        return self.members[key]

    def add_member(self, key: str, permission_set: str, licenses: list[str]) -> Member:
        """A new team member through the fake's admin API (as the firm's Admin would invite one)."""
        email = tag_email(f"{key}@{self.name.replace('_', '-')}.canopy.test", self.tag)
        made = ok_json(Http(self.servers.canopy_url + "/_sim").post(
            f"/firms/{self.firm_id}/users", {"email": email, "first_name": key.capitalize(), "last_name": "Member",
                                             "permission_set": permission_set, "licenses": licenses}), 201)
        m = Member(key, email, made["password"], made["user"]["id"], made["token"], permission_set, email)
        self.members[key] = m
        return m

    # -- the fakes' own APIs, for checking outcomes ----------------------------------------------
    def canopy(self, token: str | None = None) -> Http:
        return Http(self.servers.canopy_url, {"Authorization": f"Bearer {token or self.admin.token}"})

    def canopy_list(self, plural: str, **params: Any) -> list[dict[str, Any]]:
        """Every record of a Canopy list, page by page, as the firm's Admin sees it."""
        http, out, cursor = self.canopy(), [], None
        while True:
            q = {"limit": 500, **params, **({"next_cursor": cursor} if cursor else {})}
            body = ok_json(http.get(f"/public/v3/{plural}", params=q), 200)
            out += body[plural]
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    def qbo_token(self) -> str:
        """An access token of the harness's checker app, consented as the company's user."""
        if self._qbo_token is None:
            base = self.servers.qbo_url
            grant = ok_json(Http(base).post("/_sim/oauth/grant", {
                "client_id": CHECKER_CLIENT_ID, "redirect_uri": CHECKER_REDIRECT, "realm_id": self.realm_id,
                "user_email": self.qbo_user["email"]}), 200)
            code = parse_qs(urlparse(grant["redirect_url"]).query)["code"][0]
            basic = base64.b64encode(f"{CHECKER_CLIENT_ID}:{CHECKER_CLIENT_SECRET}".encode()).decode()
            tokens = ok_json(Http(base).call("POST", "/oauth2/v1/tokens/bearer", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": CHECKER_REDIRECT},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"}), 200)
            self._qbo_token = tokens["access_token"]
        return self._qbo_token

    def qbo(self) -> Http:
        return Http(f"{self.servers.qbo_url}/v3/company/{self.realm_id}",
                    {"Authorization": f"Bearer {self.qbo_token()}", "Accept": "application/json"})

    def qbo_query(self, entity: str, where: str = "") -> list[dict[str, Any]]:
        """Every row of a QBO query, page by page (name lists: say `Active IN (true, false)`
        in `where` to see inactive records too)."""
        http, out, start = self.qbo(), [], 1
        while True:
            q = f"SELECT * FROM {entity} {where} STARTPOSITION {start} MAXRESULTS 1000"
            body = ok_json(http.get("/query", params={"query": q, "minorversion": "75"}), 200)
            rows = body["QueryResponse"].get(entity, [])
            out += rows
            if len(rows) < 1000:
                return out
            start += 1000

    def qbo_all(self, entity: str) -> list[dict[str, Any]]:
        """Every record of a name list, active and inactive."""
        return self.qbo_query(entity, "WHERE Active IN (true, false)")

    def canopy_state(self) -> dict[str, Any]:
        """The fake Canopy's own dump of this firm (`GET /_sim/state?tenant=`)."""
        body = ok_json(Http(self.servers.canopy_url).get("/_sim/state", params={"tenant": self.firm_id}), 200)
        return body["tenants"][self.firm_id]["records"]

    def qbo_grants(self, client_id: str) -> list[dict[str, Any]]:
        """The OAuth grants the fake QBO holds for this company and app (server-wide records)."""
        body = ok_json(Http(self.servers.qbo_url).get("/_sim/state"), 200)
        grants = body.get("server", {}).get("records", {}).get("Grant", [])
        return [g["data"] for g in grants
                if g["data"].get("realm_id") == self.realm_id and g["data"].get("client_id") == client_id]

    def canopy_integration_tokens(self) -> list[dict[str, Any]]:
        """The integration tokens the fake Canopy issued for this firm (server-wide records):
        `{"token", "integration_id", "revoked"}` each."""
        body = ok_json(Http(self.servers.canopy_url).get("/_sim/state"), 200)
        tokens = body.get("server", {}).get("records", {}).get("token", [])
        return [{"token": t["id"], "integration_id": t["data"].get("integration_id"), "revoked": t["data"]["revoked"]}
                for t in tokens if t["data"].get("firm_id") == self.firm_id and t["data"].get("kind") == "integration"]

    def reissue_token(self, key: str = "admin") -> Member:
        """A new Canopy sign-in token for a team member (theirs lasts 12 hours of the firm clock)."""
        m = self.member(key)
        got = ok_json(Http(self.servers.canopy_url + "/_sim").post(f"/firms/{self.firm_id}/users/{m.user_id}/token"),
                      201)
        m.token = got["access_token"]
        return m

    def qbo_get(self, entity: str, record_id: str) -> dict[str, Any]:
        """One QBO record through the public API (`GET /v3/company/{realm}/{entity}/{id}`)."""
        body = ok_json(self.qbo().get(f"/{entity.lower()}/{record_id}", params={"minorversion": "75"}), 200)
        return body[entity]

    def qbo_edit(self, entity: str, record_id: str, **change: Any) -> dict[str, Any]:
        """Change a QBO record as a person in QBO's own screens would (`/_sim/companies/{realm}/edit`):
        `changes={...}` (sparse), `deactivate=True`, `void=True` or `delete=True`."""
        body = ok_json(Http(self.servers.qbo_url + "/_sim").post(
            f"/companies/{self.realm_id}/edit", {"entity": entity, "id": record_id, **change}), 200)
        return body[entity]


def seed_tenant(servers: Servers, name: str, worker: str = "") -> Tenant:
    """Create the company and the firm of scenario `name` for one test, and seed them."""
    world = world_of(name)
    tag = f"t{worker or os.getpid()}n{next(_numbers)}".replace("gw", "w")
    qadmin, cadmin = Http(servers.qbo_url + "/_sim"), Http(servers.canopy_url + "/_sim")

    # -- QBO: a company, its sign-in user, then every list in one seed (Services is "income").
    company = copy.deepcopy(world.company)
    company["name"] = f"{company['name']} [{tag}]"
    company["user"]["email"] = tag_email(company["user"]["email"], tag)
    made = ok_json(qadmin.post("/companies", company), 201)
    realm = made["realm_id"]
    income = [a for a in made["accounts"] if a.get("AccountType") == "Income"]
    services = next((a for a in income if a["Name"] == "Services"), income[0])
    body = {k: fill_qbo_refs(world.qbo[k], {"income": services["Id"]}) for k in QBO_LISTS if world.qbo.get(k)}
    qbo_ids: dict[str, str] = {}
    if body:
        qbo_ids = dict(ok_json(qadmin.post(f"/companies/{realm}/seed", body), 201)["ids"])

    # -- Canopy: the firm and its Admin, custom permission sets, the team, then every list.
    firm_body = copy.deepcopy(world.firm)
    firm_body["name"] = f"{firm_body['name']} [{tag}]"
    admin_scn_email = firm_body["admin"]["email"]
    firm_body["admin"]["email"] = tag_email(admin_scn_email, tag)
    firm = ok_json(cadmin.post("/firms", firm_body), 201)
    firm_id = firm["firm"]["id"]
    members = {"admin": Member("admin", firm["admin"]["email"], firm["password"], firm["admin"]["id"],
                               firm["token"], world.firm["admin"]["permission_set"], admin_scn_email)}
    set_ids: dict[str, str] = {}
    for pset in world.permission_sets:
        got = ok_json(cadmin.post(f"/firms/{firm_id}/permission_sets", pset), 201)
        set_ids[pset["name"]] = got["permission_set"]["id"]
    for m in world.team:
        mbody = {**m, "email": tag_email(m["email"], tag),
                 "permission_set": set_ids.get(m["permission_set"], m["permission_set"])}
        got = ok_json(cadmin.post(f"/firms/{firm_id}/users", mbody), 201)
        key = member_key(m["email"])
        members[key] = Member(key, got["user"]["email"], got["password"], got["user"]["id"], got["token"],
                              m["permission_set"], m["email"])
    canopy_ids: dict[str, str] = {}
    cbody = {k: world.canopy[k] for k in CANOPY_LISTS if world.canopy.get(k)}
    if cbody:
        canopy_ids = dict(ok_json(cadmin.post(f"/firms/{firm_id}/seed", cbody), 201)["refs"])
    accounts = [a for a in made["accounts"]]
    return Tenant(name, world, servers, tag, realm, {"email": made["user"]["email"],
                                                     "password": made["user"]["password"]},
                  firm_id, members, qbo_ids, canopy_ids, accounts)
