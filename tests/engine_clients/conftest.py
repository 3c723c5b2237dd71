"""Fixtures for the engine's HTTP clients: real fakes on sockets, a tenant per test, tiny back-off.

The fakes run in background threads (`ServerThread`), so the clients under test speak real HTTP
from the test's own event loop. Admin calls (`/_sim/...`) go through the blocking `Admin` helper.
"""
from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from engine.clients import CanopyClient, QboClient, QboOAuth, RetryPolicy, TokenSet
from sim.core.server import ServerThread
from tests.conftest import Admin, QboTenant

_ids = itertools.count(1)


@dataclass
class Sleeps:
    """A fake `sleep` for the retry policy: records each wait, waits for nothing."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(base=0.001, cap=0.004, attempts=4, sleep=sleeps)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Tokens:
    """A TokenSource over QboOAuth, counting refreshes (the engine's version locks a DB row)."""

    def __init__(self, oauth: QboOAuth, tokens: TokenSet) -> None:
        self.oauth, self.tokens = oauth, tokens
        self.refreshed: list[str] = []

    async def access_token(self) -> str:
        return self.tokens.access

    async def refresh(self, stale: str) -> str:
        self.refreshed.append(stale)
        self.tokens = await self.oauth.refresh(self.tokens.refresh)
        return self.tokens.access


def grant_code(t: QboTenant, realm: str | None = None) -> str:
    """Consent without the pages, as the company's user: an authorization code."""
    return t.admin.post("/oauth/grant", {"client_id": t.client_id, "redirect_uri": t.redirect_uri,
                                         "realm_id": realm or t.realm_id}, expect=200)["code"]


@dataclass
class Qbo:
    """One connected company: its tenant, the app's OAuth client, tokens and the API client."""

    tenant: QboTenant
    oauth: QboOAuth
    tokens: Tokens
    client: QboClient
    session: aiohttp.ClientSession
    policy: RetryPolicy

    @property
    def admin(self) -> Admin:
        return self.tenant.admin

    def fault(self, **rule: Any) -> dict[str, Any]:
        rule.setdefault("tenant", self.tenant.realm_id)
        return self.admin.post("/faults", rule, expect=201)

    def seed(self, **lists: list[dict[str, Any]]) -> dict[str, Any]:
        return self.admin.post(f"/companies/{self.tenant.realm_id}/seed", lists, expect=201)

    def clock(self, **change: Any) -> None:
        self.admin.post("/clock", {"tenant": self.tenant.realm_id, **change}, expect=200)

    def client_for(self, realm: str, **kw: Any) -> QboClient:
        return QboClient(self.session, self.tenant.base, realm, self.tokens, kw.pop("policy", self.policy), **kw)


def make_oauth(session: aiohttp.ClientSession, t: QboTenant, policy: RetryPolicy, **kw: Any) -> QboOAuth:
    return QboOAuth(session, t.base, t.client_id, t.client_secret, t.redirect_uri, policy, **kw)


@pytest.fixture
async def qbo(qbo_tenant: QboTenant, session: aiohttp.ClientSession, policy: RetryPolicy) -> Qbo:
    oauth = make_oauth(session, qbo_tenant, policy)
    tokens = Tokens(oauth, await oauth.exchange(grant_code(qbo_tenant)))
    client = QboClient(session, qbo_tenant.base, qbo_tenant.realm_id, tokens, policy)
    return Qbo(qbo_tenant, oauth, tokens, client, session, policy)


# -- Canopy ----------------------------------------------------------------------------------
@dataclass
class Canopy:
    """A fresh paid firm, its Admin's token and a client for it."""

    base: str
    firm_id: str
    token: str
    admin: Admin
    client: CanopyClient
    rules: list[str] = field(default_factory=list)

    def fault(self, **rule: Any) -> dict[str, Any]:
        """A server-wide rule, removed after the test: the fake Canopy picks fault rules before it
        knows the firm (auth runs after the fault middleware), so `tenant` would never match."""
        made = self.admin.post("/faults", rule, expect=201)
        self.rules.append(made["id"])
        return made

    def seed(self, **lists: list[dict[str, Any]]) -> dict[str, Any]:
        return self.admin.post(f"/firms/{self.firm_id}/seed", lists, expect=201)

    def member_token(self, **spec: Any) -> str:
        spec.setdefault("email", f"member-{next(_ids)}-{self.firm_id}@example.com")
        return self.admin.post(f"/firms/{self.firm_id}/users", spec, expect=201)["token"]


@pytest.fixture
def canopy(canopy_server: ServerThread, canopy_admin: Admin, session: aiohttp.ClientSession,
           policy: RetryPolicy) -> Iterator[Canopy]:
    out = canopy_admin.post("/firms", {"name": f"Client Test Firm {next(_ids)}"}, expect=201)
    token = out["token"]
    client = CanopyClient(session, canopy_server.url, token, policy)
    made = Canopy(canopy_server.url, out["firm"]["id"], token, canopy_admin, client)
    yield made
    for rule_id in made.rules:
        canopy_admin.call("DELETE", f"/faults/{rule_id}")
