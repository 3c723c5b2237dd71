"""A worker that stops while a lane is waiting on a fake: what it held goes back at once; a
refusal of tokens already replaced leaves the connection alone."""
from __future__ import annotations

import asyncio
import contextlib

from engine.sync.worker import Worker, _to_thread_to_the_end
from tests.engine_sync.harness import Env


async def _until(check, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_a_stopping_worker_hands_back_what_its_lanes_hold(env: Env) -> None:
    made = await env.qbo.create("Customer", {"DisplayName": "Sloane Reed", "GivenName": "Sloane",
                                             "FamilyName": "Reed"}, "t-slow-read")
    await env.flush()
    mine = lambda: [e for e in env.inbox("qbo") if e.record_id == made["Id"]]  # noqa: E731
    assert len(mine()) == 1
    # The engine's read of the customer hangs for 3 s (far past the 0.3 s of grace below).
    await env.qbo_sim.call("POST", "/faults", {"action": {"type": "delay", "seconds": 3}, "method": "GET",
                                               "tenant": env.tenant.realm_id, "times": 1}, expect=None)
    try:
        worker = Worker(env.engine, idle_s=0.01)
        task = asyncio.create_task(worker.run())
        await _until(lambda: mine()[0].claimed_by == worker.id)
        await worker.shutdown(task, grace_s=0.3)
        assert task.done() and not worker._tasks  # nothing left running under the store
        event = mine()[0]
        assert (event.claimed_by, event.applied_at) == (None, None)  # back in the inbox, not leased away
    finally:
        await env.qbo_sim.call("DELETE", "/faults", expect=None)
    again = Worker(env.engine)
    await again.run_once()
    assert mine()[0].applied_at is not None
    assert not [line for line in env.store.read_log(env.conn_id) if line.action == "failed"]


async def test_a_thread_cancelled_midway_is_waited_for() -> None:
    """What a lock's thread took is known to the caller even when the caller was cancelled."""
    took: list[str] = []

    def slow() -> str:
        import time
        time.sleep(0.3)
        took.append("lock")
        return "lock"

    waiting = asyncio.create_task(_to_thread_to_the_end(slow))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled() and took == ["lock"]


async def test_a_refusal_of_tokens_already_replaced_marks_nothing(env: Env) -> None:
    """R22a: a refresh refused while a reauthorization waited on the row lock must not undo it."""
    from engine.clients import AuthRefused

    before = env.conn.version
    env.store.update_connection(env.conn_id, env.engine.clock.now(), reason=None)  # as a reauthorization writes
    refusal = AuthRefused("qbo", 400, "invalid_grant", "Incorrect or invalid refresh token",
                          reason="refresh_token_expired")
    refusal.connection_version = before
    assert env.engine.refused(env.conn_id, refusal) is False
    assert env.conn.state == "connected"
    refusal.connection_version = env.conn.version
    assert env.engine.refused(env.conn_id, refusal) is True
    assert (env.conn.state, env.conn.reason) == ("needs_reauthorization", "refresh_token_expired")


async def test_a_batch_that_fails_as_a_whole_is_not_retried_in_a_loop(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A lasting failure outside any one event (here the database refusing the batch's first
    read) backs the firm off instead of claiming, failing and handing back at full speed; the
    events stay in the inbox and apply once the failure is gone."""
    made = await env.qbo.create("Customer", {"DisplayName": "Wren Hale", "GivenName": "Wren",
                                             "FamilyName": "Hale"}, "t-batch-fails")
    await env.flush()
    reads: list[int] = []
    real = env.store.sync_view

    def refused(conn_id: int) -> None:
        reads.append(conn_id)
        raise RuntimeError("the database refused the statement")

    monkeypatch.setattr(env.store, "sync_view", refused)
    worker = Worker(env.engine, idle_s=0.01)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(1.0)
    await worker.shutdown(task, grace_s=1.0)
    assert 1 <= len(reads) <= 8  # about one try per back-off (0.25 s), not hundreds
    monkeypatch.setattr(env.store, "sync_view", real)
    await Worker(env.engine).run_once()
    assert [e.applied_at is not None for e in env.inbox("qbo") if e.record_id == made["Id"]] == [True]
