"""The engine's clock: every time stamp, expiry check, back-off wait and schedule reads it.

A harness that moves the fakes' clocks moves this one too (`POST /_engine/clock` when the
engine runs with `--clock-control`), so token expiry and retry schedules agree across the
three servers without anyone waiting on wall time.
"""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time, with an offset a harness may move forward (never backward past real time)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None
        self._sleepers: set[asyncio.Future[None]] = set()

    def timestamp(self) -> float:
        return self._frozen if self._frozen is not None else time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=UTC)

    async def sleep(self, seconds: float) -> None:
        """Waits until the clock reaches the target: wall time, or sooner when the clock is moved.

        A sleeper wakes at each `advance` or `set` and checks again, so a harness that runs the
        clock fast (moving it every few milliseconds) gets waits as long as asked on this clock,
        not rounded up to a polling step. A clock set back does not stretch a wait under way.
        """
        target = self.timestamp() + max(0.0, seconds)
        loop = asyncio.get_running_loop()
        while (left := target - (before := self.timestamp())) > 0:
            moved: asyncio.Future[None] = loop.create_future()
            timer = loop.call_later(left, _wake, moved)
            self._sleepers.add(moved)
            try:
                await moved
            finally:
                timer.cancel()
                self._sleepers.discard(moved)
            back = before - self.timestamp()
            if back > 0:  # the clock was set back: what was left of the wait is still left
                target -= back

    def _moved(self) -> None:
        for sleeper in list(self._sleepers):
            try:
                sleeper.get_loop().call_soon_threadsafe(_wake, sleeper)
            except RuntimeError:  # its loop is closed: nobody waits there any more
                self._sleepers.discard(sleeper)

    def advance(self, seconds: float) -> datetime:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds
        self._moved()
        return self.now()

    def set(self, when: datetime, freeze: bool = False) -> datetime:
        stamp = when.timestamp()
        if freeze:
            self._frozen = stamp
        else:
            self._frozen = None
            self._offset = stamp - time.time()
        self._moved()
        return self.now()


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


def in_seconds(clock: Clock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)
