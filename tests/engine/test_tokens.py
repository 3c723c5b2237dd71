"""QBO token refresh under the connection's row lock (engine/tokens.py), on both databases.

Two `StoredTokens` over one store stand for two workers: each has its own in-process lock,
so only the database row lock keeps them from both spending the same refresh token (Intuit
rotates it, and the loser would be left holding a dead one).
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp

from engine.clients import AuthRefused, QboOAuth, RetryPolicy, TokenSet
from engine.clock import SystemClock
from engine.store import Store
from engine.tokens import StoredTokens
from tests.conftest import QboTenant


class CountingOAuth(QboOAuth):
    """The real OAuth client, counting the refreshes that reach QBO (its copies count here too)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.calls: list[str] = []

    @property
    def refreshes(self) -> int:
        return len(self.calls)

    async def refresh(self, refresh_token: str) -> TokenSet:
        self.calls.append(refresh_token)
        await asyncio.sleep(0.05)  # hold the lock a little, so the other worker surely waits on it
        return await super().refresh(refresh_token)


async def connected(store: Store, t: QboTenant, session: aiohttp.ClientSession) -> tuple[int, CountingOAuth, str]:
    oauth = CountingOAuth(session, t.base, t.client_id, t.client_secret, t.redirect_uri,
                          RetryPolicy(base=0.001, cap=0.01, attempts=3))
    code = t.admin.post("/oauth/grant", {"client_id": t.client_id, "redirect_uri": t.redirect_uri,
                                         "realm_id": t.realm_id}, expect=200)["code"]
    tokens = await oauth.exchange(code)
    clock = SystemClock()
    conn = store.ensure_connection(f"firm-{t.realm_id}", clock.now())
    store.update_connection(conn.id, clock.now(), realm_id=t.realm_id, state="connected")
    expired = clock.now() - timedelta(seconds=1)
    store.set_qbo_tokens(conn.id, tokens.access, tokens.refresh, expired, clock.now() + timedelta(days=100))
    return conn.id, oauth, tokens.access


async def test_two_workers_refresh_an_expired_token_once_and_share_the_result(store: Store, qbo_tenant: QboTenant) -> None:
    async with aiohttp.ClientSession() as session:
        conn_id, oauth, first_access = await connected(store, qbo_tenant, session)
        clock = SystemClock()
        workers = [StoredTokens(store, conn_id, oauth, clock) for _ in range(2)]
        got = await asyncio.gather(*(w.access_token() for w in workers))
        assert oauth.refreshes == 1
        assert got[0] == got[1]
        stored = store.qbo_tokens(conn_id)
        assert stored.access_token == got[0] != first_access
        assert stored.access_expires_at is not None and stored.access_expires_at > clock.now()
        # What is stored still works (QBO rotates the refresh token daily: the stored one is the live one).
        again = await oauth.refresh(stored.refresh_token or "")
        assert again.access


async def test_a_refused_refresh_is_reported_and_raised(store: Store, qbo_tenant: QboTenant) -> None:
    async with aiohttp.ClientSession() as session:
        conn_id, oauth, _ = await connected(store, qbo_tenant, session)
        qbo_tenant.admin.post(f"/companies/{qbo_tenant.realm_id}/revoke-tokens", {}, expect=200)
        refused: list[AuthRefused] = []
        tokens = StoredTokens(store, conn_id, oauth, SystemClock(), on_refused=refused.append)
        try:
            await tokens.access_token()
        except AuthRefused as exc:
            assert exc.reason == refused[0].reason
        else:
            raise AssertionError("a revoked grant must not refresh")
        assert len(refused) == 1
        assert refused[0].connection_version == store.get_connection(conn_id).version  # nothing wrote since


async def test_a_write_to_the_connection_during_a_refresh_waits_for_it_and_does_not_deadlock(
        store: Store, qbo_tenant: QboTenant) -> None:
    """The refresh holds the row lock in a thread of its own: a write on the event loop meanwhile
    (e.g. a disconnect) blocks only until the refresh is done, instead of blocking it forever."""
    async with aiohttp.ClientSession() as session:
        conn_id, oauth, _ = await connected(store, qbo_tenant, session)
        clock = SystemClock()
        tokens = StoredTokens(store, conn_id, oauth, clock)

        async def disconnect_meanwhile() -> None:
            await asyncio.sleep(0.02)  # the refresh holds the lock by now
            store.update_connection(conn_id, clock.now(), state="disconnected")

        fresh, _ = await asyncio.wait_for(asyncio.gather(tokens.access_token(), disconnect_meanwhile()), timeout=10)
        assert fresh == store.qbo_tokens(conn_id).access_token
        assert store.get_connection(conn_id).state == "disconnected"
