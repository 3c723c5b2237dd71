"""Helpers of the sync intake tests: an awaited `/_sim` client and `Env`, one connected firm
(the `env` fixture in this directory's conftest builds it).

Imported as `tests.engine_sync.harness` (a namespace package: no `__init__.py` here, like
`tests/engine/`), never from the conftest, which pytest imports under the bare name `conftest`.

The test's event loop serves the engine, so every call that makes a fake deliver a webhook
(`/_sim/webhooks/flush` above all) must be awaited, never made with blocking `requests`.
"""
from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import select

from engine.clients import CanopyClient, QboClient
from engine.service import Engine
from engine.store import InboxEvent, Store
from tests.conftest import QboTenant

VERIFIER = "engine-sync-verifier-token"
_ids = itertools.count(1)


def next_id() -> int:
    return next(_ids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sim:
    """A fake's `/_sim` API, awaited (so the engine on this loop can answer deliveries meanwhile)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base

    async def call(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        async with self.http.request(method, self.base + "/_sim" + path, json=body) as resp:
            data = await resp.json(content_type=None) if resp.content_length != 0 else None
            if expect is not None:
                assert resp.status == expect, (method, path, resp.status, data)
            return data

    async def flush(self) -> Any:
        return await self.call("POST", "/webhooks/flush")

    async def chaos(self, **settings: Any) -> Any:
        return await self.call("POST", "/webhooks/chaos", settings)


@dataclass
class Env:
    """One firm connected in the engine: its QBO company, Canopy firm and the engine's view."""

    url: str
    engine: Engine
    store: Store
    conn_id: int
    http: aiohttp.ClientSession
    qbo_sim: Sim
    canopy_sim: Sim
    tenant: QboTenant
    qbo: QboClient
    firm_id: str
    user_token: str
    canopy: CanopyClient
    secret: str

    @property
    def conn(self) -> Any:
        return self.store.get_connection(self.conn_id)

    async def flush(self) -> None:
        await self.qbo_sim.flush()
        await self.canopy_sim.flush()

    def inbox(self, source: str | None = None) -> list[InboxEvent]:
        stmt = select(InboxEvent).where(InboxEvent.connection_id == self.conn_id).order_by(InboxEvent.id)
        if source is not None:
            stmt = stmt.where(InboxEvent.source == source)
        with self.store.session(write=False) as s:
            return list(s.scalars(stmt))

    async def post(self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                   ) -> tuple[int, Any]:
        async with self.http.post(self.url + path, data=body, headers=headers or {}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def reconcile(self, token: str | None = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {token or self.user_token}"}
        async with self.http.post(self.url + "/integration/reconcile", headers=headers) as resp:
            body = await resp.json()
            assert resp.status == expect, (resp.status, body)
            return body

    async def advance(self, seconds: float) -> None:
        """Move the engine's clock and the company's and firm's clocks together."""
        self.engine.clock.advance(seconds)  # type: ignore[attr-defined]
        await self.qbo_sim.call("POST", "/clock", {"tenant": self.tenant.realm_id, "advance_seconds": seconds})
        await self.canopy_sim.call("POST", "/clock", {"tenant": self.firm_id, "advance_seconds": seconds})

    async def new_customer(self, name: str) -> dict[str, Any]:
        return await self.qbo.create("Customer", {"DisplayName": name}, f"t-{name}-{next(_ids)}")

    async def new_client(self, first: str, last: str) -> dict[str, Any]:
        return await self.canopy.create("clients", {"is_business": False, "first_name": first, "last_name": last},
                                        idempotency_key=f"t-{first}-{last}-{next(_ids)}")


