"""The engine clock's sleep: a harness that moves the clock wakes its sleepers at once, so
waits on a fast-running clock (the benchmarks' moved clock, QBO pacing) end when asked."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from engine.clock import SystemClock


async def _turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_sleeper_on_a_frozen_clock_wakes_when_the_clock_reaches_its_target() -> None:
    clock = SystemClock()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC), freeze=True)
    sleeper = asyncio.create_task(clock.sleep(1.0))
    await _turns()
    clock.advance(0.4)
    await _turns()
    assert not sleeper.done()
    clock.advance(0.6)
    await _turns()
    assert sleeper.done()


async def test_setting_the_clock_past_the_target_wakes_a_long_sleeper() -> None:
    clock = SystemClock()
    sleeper = asyncio.create_task(clock.sleep(3600))
    await _turns()
    clock.advance(3600)
    await _turns()
    assert sleeper.done()
    clock.set(datetime(2026, 3, 1, tzinfo=UTC), freeze=True)
    again = asyncio.create_task(clock.sleep(60))
    await _turns()
    clock.set(datetime(2026, 3, 1, 0, 1, tzinfo=UTC), freeze=True)
    await _turns()
    assert again.done()


async def test_a_cancelled_sleeper_leaves_nothing_behind() -> None:
    clock = SystemClock()
    sleeper = asyncio.create_task(clock.sleep(60))
    await _turns()
    sleeper.cancel()
    await _turns()
    assert sleeper.cancelled() and not clock._sleepers
    await asyncio.wait_for(clock.sleep(0.01), 5)


async def test_a_clock_set_back_does_not_stretch_a_wait_under_way() -> None:
    clock = SystemClock()
    clock.set(datetime(2026, 3, 1, 12, tzinfo=UTC), freeze=True)
    sleeper = asyncio.create_task(clock.sleep(1.0))
    await _turns()
    clock.set(datetime(2026, 3, 1, 11, 30, tzinfo=UTC), freeze=True)
    await _turns()
    assert not sleeper.done()
    clock.advance(1.0)  # the second it had left, on the clock as it now is
    await _turns()
    assert sleeper.done()
