"""QBO access tokens for one connection, refreshed under a database row lock.

Intuit rotates refresh tokens: two workers refreshing with the same refresh token would
leave one of them holding a dead one. So a refresh happens only while holding the
connection's row lock, and starts by re-reading the tokens: if another worker refreshed
meanwhile, its tokens are used as they are.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from engine.clients import AuthRefused, QboOAuth
from engine.clock import Clock
from engine.store import Store

EARLY = timedelta(seconds=60)
"""Refresh this long before the access token's end, so a request never carries a dying one."""


@asynccontextmanager
async def row_lock(store: Store, connection_id: int) -> AsyncIterator[Any]:
    """`Store.locked` from the event loop: waiting for another worker's lock blocks a thread, not the loop."""
    cm = store.locked(connection_id)
    held = await asyncio.to_thread(cm.__enter__)
    try:
        yield held
    except BaseException as exc:
        await asyncio.to_thread(cm.__exit__, type(exc), exc, exc.__traceback__)
        raise
    else:
        await asyncio.to_thread(cm.__exit__, None, None, None)


class StoredTokens:
    """The `TokenSource` the QBO client asks for a bearer token (and for a new one after a 401)."""

    def __init__(self, store: Store, connection_id: int, oauth: QboOAuth, clock: Clock,
                 on_refused: Any = None) -> None:
        self.store = store
        self.connection_id = connection_id
        self.oauth = oauth
        self.clock = clock
        self.on_refused = on_refused
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        tokens = self.store.qbo_tokens(self.connection_id)
        if tokens.access_token is None:
            raise AuthRefused("qbo", 401, "not_connected", "no QBO tokens are stored for this connection",
                              reason="not_connected")
        if tokens.access_expires_at is not None and tokens.access_expires_at - EARLY <= self.clock.now():
            return await self.refresh(tokens.access_token)
        return tokens.access_token

    async def refresh(self, stale: str) -> str:
        async with self._lock, row_lock(self.store, self.connection_id) as (session, _row):
            tokens = self.store.qbo_tokens(self.connection_id, session=session)
            if tokens.refresh_token is None:
                raise AuthRefused("qbo", 401, "not_connected", "no QBO refresh token is stored",
                                  reason="not_connected")
            fresh_enough = (tokens.access_expires_at is None
                            or tokens.access_expires_at - EARLY > self.clock.now())
            if tokens.access_token and tokens.access_token != stale and fresh_enough:
                return tokens.access_token  # another worker refreshed while we waited for the lock
            try:
                got = await self.oauth.refresh(tokens.refresh_token)
            except AuthRefused as exc:
                if self.on_refused is not None:
                    self.on_refused(exc)
                raise
            now = self.clock.now()
            self.store.set_qbo_tokens(self.connection_id, got.access, got.refresh,
                                      now + timedelta(seconds=got.access_expires_in),
                                      now + timedelta(seconds=got.refresh_expires_in), session=session, now=now)
            return got.access
