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

    def timestamp(self) -> float:
        return self._frozen if self._frozen is not None else time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=UTC)

    async def sleep(self, seconds: float) -> None:
        """Waits real time, but never longer than the clock needs to reach the target.

        After an `advance`, a sleeper whose target has passed wakes at its next check.
        """
        target = self.timestamp() + max(0.0, seconds)
        while (left := target - self.timestamp()) > 0:
            await asyncio.sleep(min(left, 0.05))

    def advance(self, seconds: float) -> datetime:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds
        return self.now()

    def set(self, when: datetime, freeze: bool = False) -> datetime:
        stamp = when.timestamp()
        if freeze:
            self._frozen = stamp
        else:
            self._frozen = None
            self._offset = stamp - time.time()
        return self.now()


def in_seconds(clock: Clock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)
