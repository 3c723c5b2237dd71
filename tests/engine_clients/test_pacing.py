"""The QBO client's pacing against the fake's real throttles: requests wait for room instead of
drawing 429s, and wait no longer than the limits ask (on a frozen realm clock that the test's
clock moves as the pacer sleeps)."""
from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from engine.clients import BatchOp, Pacer, QboClient, Rate, RetryPolicy
from engine.clients.pacing import wait_before_next
from tests.engine_clients.conftest import Qbo

PER_SECOND = (Rate(10, 1.0),)


def test_a_request_waits_for_the_tenth_one_back() -> None:
    ends = [100.0 + i / 100 for i in range(10)]  # ten answered within 0.1 s
    assert wait_before_next(ends[:9], 0, PER_SECOND, 100.5) == 0
    assert wait_before_next(ends, 0, PER_SECOND, 100.5) == pytest.approx(0.5)
    assert wait_before_next(ends, 0, PER_SECOND, 100.5, margin=0.05) == pytest.approx(0.55)
    assert wait_before_next(ends, 0, PER_SECOND, 101.2) == 0


def test_requests_in_flight_count_and_one_is_waited_for_when_all_are() -> None:
    assert wait_before_next([100.0] * 5, 4, PER_SECOND, 100.5) == 0  # 9 in the window
    assert wait_before_next([100.0] * 6, 4, PER_SECOND, 100.5) == pytest.approx(0.5)
    assert math.isinf(wait_before_next([], 10, PER_SECOND, 100.5))


def test_every_rate_must_have_room_and_a_wait_is_never_longer_than_a_window() -> None:
    minute = (Rate(10, 1.0), Rate(12, 60.0))
    ends = [100.0 + i for i in range(12)]  # one a second: the minute's twelve are used
    assert wait_before_next(ends, 0, minute, 112.0) == pytest.approx(48.0)
    assert wait_before_next(ends, 0, PER_SECOND, 112.0) == 0
    assert wait_before_next([500.0] * 10, 0, PER_SECOND, 100.0) == pytest.approx(1.0)  # the clock went back


class RealmClock:
    """The engine's clock for these tests: frozen, moved by its own sleeps, and moving the
    fake realm's (frozen) clock by as much, so the two agree as real time would keep them."""

    def __init__(self, qbo: Qbo) -> None:
        self.qbo = qbo
        self.at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self.slept = 0.0
        qbo.clock(set=self.at.isoformat(), freeze=True)

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.at += timedelta(seconds=seconds)
        await asyncio.to_thread(self.qbo.clock, advance_seconds=seconds)


def _throttled_client(qbo: Qbo, clock: RealmClock, pacer: Pacer | None, **limits: int) -> QboClient:
    qbo.admin.post("/limits", {"tenant": qbo.tenant.realm_id, "reset": True, **limits}, expect=200)
    return qbo.client_for(qbo.tenant.realm_id, pacer=pacer,
                          policy=RetryPolicy(base=0.5, cap=4, attempts=6, sleep=clock.sleep))


async def test_paced_requests_draw_no_429_and_take_the_least_time_the_limits_allow(qbo: Qbo) -> None:
    clock = RealmClock(qbo)
    pacer = Pacer(clock, margin=0.05)
    client = _throttled_client(qbo, clock, pacer)
    for _ in range(25):
        await client.company_info()
    assert client.stats["company_info"] == 25 and client.stats["retries"] == 0
    assert clock.slept == pytest.approx(2 * 1.05)  # 10 at 0 s, 10 at 1.05 s, 5 at 2.1 s
    assert pacer.held == 2


async def test_without_pacing_the_same_requests_are_throttled(qbo: Qbo) -> None:
    clock = RealmClock(qbo)
    client = _throttled_client(qbo, clock, None)
    for _ in range(25):
        await client.company_info()
    assert client.stats["retries"] >= 2 and client.stats["company_info"] > 25


def _densest_second(qbo: Qbo) -> int:
    """The most requests the fake saw in one second of the realm's clock."""
    entries = qbo.admin.get("/journal", tenant=qbo.tenant.realm_id, limit=0)["entries"]
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in entries if e["status"] != 429]
    return max(sum(1 for u in times if t <= u < t + 1.0) for t in times)


async def test_requests_sent_together_are_paced_as_one_queue(qbo: Qbo) -> None:
    clock = RealmClock(qbo)
    client = _throttled_client(qbo, clock, Pacer(clock, margin=0.0))
    infos = await asyncio.gather(*(client.company_info() for _ in range(23)))
    assert len(infos) == 23 and client.stats["retries"] == 0
    # (a request in flight while this clock jumps a second counts from its answer: later still)
    assert clock.slept >= 2.0 and _densest_second(qbo) <= 10


async def test_batches_are_paced_by_their_own_limit_as_well(qbo: Qbo) -> None:
    clock = RealmClock(qbo)
    pacer = Pacer(clock, batches=(Rate(2, 60.0),), margin=0.0)
    client = _throttled_client(qbo, clock, pacer, batch_per_app_per_minute=2)
    op = BatchOp("Customer", "create", {"DisplayName": "Paced"})
    for k in range(3):
        results = await client.batch([BatchOp(op.entity, op.operation, {"DisplayName": f"Paced {k}"})], f"pace-{k}")
        assert results[0].ok
    assert client.stats["batch"] == 3 and client.stats["retries"] == 0
    assert clock.slept == pytest.approx(60.0)


class HandClock:
    """A clock only the test moves; sleepers wait until it has moved far enough."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        target = self.at + timedelta(seconds=seconds)
        while self.at < target:
            self._moved.clear()
            await self._moved.wait()

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self._moved.set()

    def set_back(self, seconds: float) -> None:
        self.at -= timedelta(seconds=seconds)
        self._moved.set()


async def test_a_batch_held_by_its_minutes_limit_does_not_hold_up_other_requests() -> None:
    clock = HandClock()
    pacer = Pacer(clock, requests=PER_SECOND, batches=(Rate(1, 60.0),), margin=0.0)
    async with pacer.turn(batch=True):
        pass
    second_batch = asyncio.create_task(_enter(pacer, batch=True))
    await asyncio.sleep(0.01)
    assert not second_batch.done()
    await asyncio.wait_for(_enter(pacer), 5)  # a read goes out at once beside the waiting batch
    clock.advance(60.0)
    await asyncio.wait_for(second_batch, 5)
    assert pacer.held == 1


async def _enter(pacer: Pacer, batch: bool = False) -> None:
    async with pacer.turn(batch=batch):
        pass


async def test_a_clock_set_back_while_requests_are_in_flight_holds_nothing_up() -> None:
    clock = HandClock()
    pacer = Pacer(clock, requests=PER_SECOND, margin=0.0)
    answers = [asyncio.Event() for _ in range(10)]

    async def request(answered: asyncio.Event) -> None:
        async with pacer.turn():
            await answered.wait()

    sent = [asyncio.create_task(request(a)) for a in answers]
    await asyncio.sleep(0.01)
    for a in answers[:5]:  # five answered before the clock is set back, five after
        a.set()
    await asyncio.sleep(0.01)
    clock.set_back(30.0)
    for a in answers[5:]:
        a.set()
    await asyncio.gather(*sent)
    await asyncio.wait_for(_enter(pacer), 5)  # the ends before the set-back count no more
    assert pacer.held == 0
