"""D-55 over real HTTP: a QBO customer with only a display name reaches Canopy, and stays as it was."""
from __future__ import annotations

from engine.sync.worker import Worker
from tests.engine_sync.harness import Env


async def test_a_customer_with_only_a_display_name_becomes_a_named_individual(env: Env) -> None:
    made = await env.qbo.create("Customer", {"DisplayName": "Marisol  de la Cruz"}, "t-display-only")
    worker = Worker(env.engine)
    for _ in range(4):  # the customer, then the echoes of the client the engine made
        await env.flush()
        await worker.run_once()
    link = env.store.link_by_qbo(env.conn_id, "contact", made["Id"])
    assert link is not None, [line for line in env.store.read_log(env.conn_id)]
    client = await env.canopy.get("clients", link.canopy_id)
    assert (client["is_business"], client["first_name"], client["last_name"], client["display_name"]) == (
        False, "Marisol de la", "Cruz", "Marisol  de la Cruz")
    after = await env.qbo.get("Customer", made["Id"])
    assert after["SyncToken"] == made["SyncToken"]  # nothing was written back to QBO (R20)
    assert not [line for line in env.store.read_log(env.conn_id) if line.action == "failed"]
