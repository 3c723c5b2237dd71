"""QBO access tokens for one connection, refreshed under a database row lock.

Intuit rotates refresh tokens: two workers refreshing with the same refresh token would
leave one of them holding a dead one. So a refresh happens only while holding the
connection's row lock, and starts by re-reading the tokens: if another worker refreshed
meanwhile, its tokens are used as they are.

The whole refresh (lock, HTTP call, write) runs in a thread with its own event loop and
HTTP session. Holding the lock across an `await` on the main loop would deadlock the
moment anything on that loop waits for the same row (SQLite's write lock, or PostgreSQL's
row lock): the loop would block on the lock, and the refresh holding it could never finish.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp

from engine.clients import AuthRefused, QboOAuth
from engine.clock import Clock
from engine.store import Store

EARLY = timedelta(seconds=60)
"""Refresh this long before the access token's end, so a request never carries a dying one."""


class StoredTokens:
    """The `TokenSource` the QBO client asks for a bearer token (and for a new one after a 401)."""

    def __init__(self, store: Store, connection_id: int, oauth: QboOAuth, clock: Clock,
                 on_refused: Callable[[AuthRefused], None] | None = None,
                 lock: asyncio.Lock | None = None) -> None:
        self.store = store
        self.connection_id = connection_id
        self.oauth = oauth
        self.clock = clock
        self.on_refused = on_refused
        self._cached: tuple[str, Any] | None = None
        """The access token last read and its end, so requests do not each read and decrypt the row."""
        self._lock = lock or asyncio.Lock()
        """In-process: one refresh per connection at a time (pass the engine's shared lock)."""

    async def access_token(self) -> str:
        cached = self._cached
        if cached is not None and (cached[1] is None or cached[1] - EARLY > self.clock.now()):
            return cached[0]  # a 401 still leads to `refresh`, which reads the row again
        tokens = await self.store.call(self.store.qbo_tokens, self.connection_id)
        if tokens.access_token is None:
            raise AuthRefused("qbo", 401, "not_connected", "no QBO tokens are stored for this connection",
                              reason="not_connected")
        if tokens.access_expires_at is not None and tokens.access_expires_at - EARLY <= self.clock.now():
            return await self.refresh(tokens.access_token)
        self._cached = (tokens.access_token, tokens.access_expires_at)
        return tokens.access_token

    async def refresh(self, stale: str) -> str:
        async with self._lock:
            outcome = await asyncio.to_thread(self._refresh_locked, stale)
        self._cached = None
        if isinstance(outcome, AuthRefused):
            if self.on_refused is not None:  # after the lock is released: it writes the connection
                self.on_refused(outcome)
            raise outcome
        return outcome

    def _refresh_locked(self, stale: str) -> str | AuthRefused:
        with self.store.locked(self.connection_id) as (session, row):
            tokens = self.store.qbo_tokens(self.connection_id, session=session)
            if tokens.refresh_token is None:
                return AuthRefused("qbo", 401, "not_connected", "no QBO refresh token is stored",
                                   reason="not_connected")
            fresh_enough = (tokens.access_expires_at is None
                            or tokens.access_expires_at - EARLY > self.clock.now())
            if tokens.access_token and tokens.access_token != stale and fresh_enough:
                return tokens.access_token  # another worker refreshed while we waited for the lock
            try:
                got = asyncio.run(self._call(tokens.refresh_token))
            except AuthRefused as exc:
                if exc.reason in (None, "invalid_grant", "oauth_error"):  # say why, as R22a's status must
                    expired = tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= self.clock.now()
                    exc.reason = "refresh_token_expired" if expired else "token_revoked"
                exc.connection_version = row.version
                return exc
            now = self.clock.now()
            self.store.set_qbo_tokens(self.connection_id, got.access, got.refresh,
                                      now + timedelta(seconds=got.access_expires_in),
                                      now + timedelta(seconds=got.refresh_expires_in), session=session, now=now)
            return got.access

    async def _call(self, refresh_token: str):  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession() as http:
            return await self.oauth.on_session(http).refresh(refresh_token)
