"""The engine against QBO's real throttles (10 requests a second per realm): every client it
makes for a realm waits its turn in one queue, so together they draw no 429."""
from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.engine_sync.harness import Env


async def test_a_realms_clients_share_its_limits_and_draw_no_429(env: Env) -> None:
    await env.qbo_sim.call("POST", "/limits", {"tenant": env.tenant.realm_id, "reset": True})
    try:
        first, second = env.engine.qbo(env.conn), env.engine.qbo(env.conn)  # as a job and the worker do
        await asyncio.gather(*(client.company_info() for _ in range(12) for client in (first, second)))
        calls = first.stats["company_info"] + second.stats["company_info"]
        assert calls == 24 and first.stats["retries"] + second.stats["retries"] == 0
        assert first.pacer is not None and first.pacer.held >= 1
    finally:
        await env.qbo_sim.call("POST", "/limits", {"tenant": env.tenant.realm_id, "enabled": False})


async def test_pacing_can_be_turned_off(env: Env) -> None:
    env.engine.config = replace(env.engine.config, qbo_pacing=False)
    assert env.engine.qbo(env.conn).pacer is None
