"""The shared webhook outbox against a real receiver on a socket."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from sim.core.clock import Clock
from sim.core.webhooks import Delivery, Outbox


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self.hang = 0.0
        self.active = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.active += 1
        try:
            body = await request.read()
            if self.hang:
                await asyncio.sleep(self.hang)
            self.bodies.append(json.loads(body))
            return web.Response(status=self.status)
        finally:
            self.active -= 1

    @property
    def events(self) -> list[Any]:
        return [e for body in self.bodies if self.status == 200 or True for e in body["events"]]


def render(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"events": [e.payload for e in delivery.events]}).encode(), {
        "Content-Type": "application/json"}


@pytest.fixture
async def setup(aiohttp_server):
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = await aiohttp_server(app)
    clock = Clock()
    clock.freeze(1_700_000_000.0)
    outbox = Outbox(lambda tenant: clock, render, window=0.01, timeout=0.5)
    runner = outbox.run(None)
    await runner.__anext__()
    yield outbox, receiver, str(server.make_url("/hook")), clock
    with pytest.raises(StopAsyncIteration):
        await runner.__anext__()


async def wait_for(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_events_of_one_tenant_are_batched_and_delivered(setup) -> None:
    outbox, receiver, url, _ = setup
    for i in range(5):
        outbox.emit("app:a", url, "r1", {"n": i})
    await wait_for(lambda: sum(len(b["events"]) for b in receiver.bodies) == 5)
    assert len(receiver.bodies) == 1
    assert [e["n"] for e in receiver.bodies[0]["events"]] == [0, 1, 2, 3, 4]
    assert outbox.summary()["counts"]["delivered"] == 1


async def test_failed_delivery_retries_on_the_tenant_clock(setup) -> None:
    outbox, receiver, url, clock = setup
    receiver.status = 500
    outbox.emit("app:a", url, "r1", {"n": 1})
    await wait_for(lambda: len(receiver.bodies) == 1)
    await asyncio.sleep(0.1)
    assert len(receiver.bodies) == 1, "no retry before 10 s of the tenant clock"
    failed = outbox.summary()["failed"]
    assert failed[0]["attempts"] == 1 and failed[0]["history"][0]["status"] == 500
    receiver.status = 200
    clock.advance(10)
    await wait_for(lambda: len(receiver.bodies) == 2)
    await wait_for(lambda: outbox.summary()["counts"]["delivered"] == 1)


async def test_later_events_wait_for_the_head(setup) -> None:
    outbox, receiver, url, clock = setup
    receiver.status = 500
    outbox.emit("app:a", url, "r1", {"n": 1})
    await wait_for(lambda: len(receiver.bodies) == 1)
    outbox.emit("app:a", url, "r1", {"n": 2})
    await asyncio.sleep(0.1)
    assert len(receiver.bodies) == 1
    receiver.status = 200
    clock.advance(10)
    await wait_for(lambda: outbox.summary()["counts"]["delivered"] == 2)
    assert [b["events"][0]["n"] for b in receiver.bodies[1:]] == [1, 2]


async def test_a_slow_receiver_counts_as_failed(setup) -> None:
    outbox, receiver, url, _ = setup
    receiver.hang = 1.0  # the outbox waits 0.5 s in this test (3 s by default)
    outbox.emit("app:a", url, "r1", {"n": 1})
    await wait_for(lambda: outbox.summary()["failed"] != [])
    assert "TimeoutError" in outbox.summary()["failed"][0]["history"][0]["error"]
    await wait_for(lambda: receiver.active == 0)  # let the slow handler finish before the server stops


async def test_pause_then_flush(setup) -> None:
    outbox, receiver, url, _ = setup
    outbox.paused = True
    outbox.emit("app:a", url, "r1", {"n": 1})
    await asyncio.sleep(0.1)
    assert receiver.bodies == [] and outbox.summary()["counts"]["queued"] == 1
    counts = await outbox.flush()
    assert counts["delivered"] == 1 and len(receiver.bodies) == 1 and outbox.paused


async def test_drop_duplicate_delay_and_reorder(setup) -> None:
    outbox, receiver, url, clock = setup
    outbox.set_chaos(drop_next=1)
    outbox.emit("app:a", url, "r1", {"n": "dropped"})
    await wait_for(lambda: outbox.summary()["counts"]["dropped"] == 1)
    outbox.set_chaos(duplicate_next=1)
    outbox.emit("app:a", url, "r1", {"n": "twice"})
    await wait_for(lambda: len(receiver.bodies) == 2)
    assert receiver.bodies[0] == receiver.bodies[1]
    outbox.set_chaos(delay_seconds=60)
    outbox.emit("app:a", url, "r1", {"n": "late"})
    await asyncio.sleep(0.1)
    assert len(receiver.bodies) == 2
    clock.advance(60)
    await wait_for(lambda: len(receiver.bodies) == 3)
    outbox.set_chaos(delay_seconds=0, reorder=True, seed=3)
    outbox.paused = True
    for i in range(6):
        outbox.emit("app:a", url, "r1", {"n": i})
        await asyncio.sleep(0.03)  # past the batching window: one delivery each
    await outbox.flush()
    order = [b["events"][0]["n"] for b in receiver.bodies[3:]]
    assert sorted(order) == list(range(6)) and order != list(range(6))


async def test_seeded_drop_fraction_is_repeatable(setup) -> None:
    outbox, receiver, url, _ = setup
    outcomes = []
    for _ in range(2):
        outbox.reset()
        outbox.set_chaos(drop_fraction=0.5, seed=5)
        outbox.paused = True
        for i in range(10):
            outbox.emit("app:a", url, f"t{i}", {"n": i})
        outbox._batch(force=True)
        outcomes.append([d["events"][0]["n"] for d in outbox.summary()["dropped"]])
    assert outcomes[0] == outcomes[1] and 0 < len(outcomes[0]) < 10
