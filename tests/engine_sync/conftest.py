"""The engine's sync intake over real HTTP: both fakes (session servers, in threads), the engine
app in-process on a real socket (so the fakes can deliver webhooks to it), one connected firm.

No `__init__.py` here, like `tests/engine/`; the helpers live in `harness.py`.
"""
from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from engine.app import create_app
from engine.web import ENGINE
from engine.clients import QboOAuth
from engine.config import Backoff, EngineConfig
from engine.crypto import TokenBox
from engine.sync import reconcile
from sim.core.server import ServerThread, start_site
from tests.conftest import Admin, QboTenant
from tests.engine_sync.harness import VERIFIER, Env, Sim, free_port, next_id


@pytest.fixture
async def env(qbo_tenant: QboTenant, canopy_server: ServerThread, canopy_admin: Admin,
              tmp_path: Any) -> AsyncIterator[Env]:
    firm = canopy_admin.post("/firms", {"name": f"Sync Intake Firm {next_id()}"}, expect=201)
    firm_id, user_token = str(firm["firm"]["id"]), firm["token"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = EngineConfig(qbo_url=qbo_tenant.base, canopy_url=canopy_server.url,
                          db_url=f"sqlite:///{tmp_path / 'engine.db'}", qbo_client_id=qbo_tenant.client_id,
                          qbo_client_secret=qbo_tenant.client_secret, qbo_verifier_token=VERIFIER, public_url=url,
                          token_key=TokenBox.generate_key(), backoff=Backoff(base=0.01, cap=0.05, attempts=3),
                          request_timeout=10, reconcile_every=None)
    app = create_app(config, worker=False)  # intake only: nothing applies the inbox here
    runner, _ = await start_site(app, "127.0.0.1", port)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    qbo_sim, canopy_sim = Sim(http, qbo_tenant.base), Sim(http, canopy_server.url)
    engine, hook_id, integration_token = app[ENGINE], None, ""
    try:
        # Own clocks at wall time, whatever other tests on this worker did to the servers' clocks.
        wall = datetime.now(UTC).isoformat()
        await qbo_sim.call("POST", "/clock", {"tenant": qbo_tenant.realm_id, "set": wall, "freeze": False})
        await canopy_sim.call("POST", "/clock", {"tenant": firm_id, "set": wall, "freeze": False})
        engine.clock.set(datetime.now(UTC))  # type: ignore[attr-defined]

        store, now = engine.store, engine.clock.now()
        code = (await qbo_sim.call("POST", "/oauth/grant", {"client_id": qbo_tenant.client_id,
                                                            "redirect_uri": qbo_tenant.redirect_uri,
                                                            "realm_id": qbo_tenant.realm_id}))["code"]
        tokens = await QboOAuth(engine.http, qbo_tenant.base, qbo_tenant.client_id, qbo_tenant.client_secret,
                                qbo_tenant.redirect_uri, engine.policy).exchange(code)
        conn = store.ensure_connection(firm_id, now)
        conn = store.update_connection(conn.id, now, realm_id=qbo_tenant.realm_id, state="connected",
                                       ongoing_contacts=True, connected_by=str(firm["admin"]["id"]))
        store.set_qbo_tokens(conn.id, tokens.access, tokens.refresh, now + timedelta(seconds=tokens.access_expires_in),
                             now + timedelta(seconds=tokens.refresh_expires_in))
        integration, integration_token = await engine.canopy(user_token).create_integration("QuickBooks Online")
        secret = secrets.token_hex(24)
        hook = await engine.canopy(integration_token).create_webhook(f"{url}/webhooks/canopy/{firm_id}", secret)
        hook_id = str(hook["id"])
        store.set_canopy_credentials(conn.id, integration_id=str(integration["id"]), token=integration_token,
                                     webhook_id=hook_id, webhook_secret=secret)
        await qbo_sim.call("PATCH", f"/apps/{qbo_tenant.client_id}",
                           {"webhook_url": f"{url}/webhooks/qbo", "verifier_token": VERIFIER})
        conn = store.get_connection(conn.id)
        await reconcile.initial_cursors(engine, conn)
        yield Env(url, engine, store, conn.id, http, qbo_sim, canopy_sim, qbo_tenant, engine.qbo(conn), firm_id,
                  user_token, engine.canopy(user_token), secret)
    finally:
        # Webhook chaos and pauses are server-wide: leave the session's fakes as they were.
        for sim in (qbo_sim, canopy_sim):
            await bounded("chaos reset", sim.chaos(reset=True))
            await bounded("webhooks resume", sim.call("POST", "/webhooks/resume"))
        # Nothing keeps delivering to this engine once it is gone.
        await bounded("app patch", qbo_sim.call("PATCH", f"/apps/{qbo_tenant.client_id}", {"webhook_url": None}))
        if hook_id is not None:
            await bounded("unsubscribe", engine.canopy(integration_token).delete_webhook(hook_id))
        await bounded("http close", http.close())
        await bounded("engine cleanup", runner.cleanup())


async def bounded(what: str, step: Awaitable[Any], seconds: float = 20.0) -> Any:
    """A teardown step that cannot hang the run: it fails, naming itself, instead."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError as exc:
        raise AssertionError(f"env teardown: {what} did not finish within {seconds} s") from exc
