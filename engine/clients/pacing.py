"""Client-side pacing for one QBO realm: send no request QBO's throttles would refuse.

QBO refuses (429, Fault 3001, no Retry-After) a realm's 11th request in any second, its 501st in
any minute, and its 41st batch in any minute. Learning those limits from 429s costs a back-off
wait each time (0.5 s, then 1 s, ...), so a busy realm spends more time waiting than the limits
ask. A `Pacer` keeps the realm's recent requests and holds a new one until it fits.

Why the end of a request counts, not its start: QBO counts a request when it arrives, somewhere
between our send and our reading of the answer. Spacing a new send from the *answer* of the
request `limit` back keeps the two arrivals at least a window apart, whatever the network's
delay did to either. A request still in flight has no end yet: a request that must be spaced
from it waits for it. `margin` covers clocks that disagree a little (a harness moving the
engine's clock and QBO's by turns).

One pacer per realm in one process; several processes on one realm pace separately, and the
retry policy's back-off still answers the 429s that come of that.
"""
from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass

from ..clock import Clock


@dataclass(frozen=True)
class Rate:
    """At most `limit` requests in any `window` seconds."""

    limit: int
    window: float


QBO_REQUESTS = (Rate(10, 1.0), Rate(500, 60.0))
"""Per realm (and app): 10 a second, 500 a minute."""
QBO_BATCHES = (Rate(40, 60.0),)
"""Batch requests per realm and app, on top of the above."""
DEFAULT_MARGIN = 0.05
"""Seconds added to every window."""


def wait_before_next(ends: Sequence[float], in_flight: int, rates: Sequence[Rate], now: float,
                     margin: float = 0.0) -> float:
    """Seconds from `now` until one more request fits every rate: 0 when it fits now, inf when
    it must wait for one of the `in_flight` requests to end. `ends`: the ends of finished
    requests, oldest first."""
    wait = 0.0
    for rate in rates:
        back = rate.limit - in_flight  # the finished request this one must be spaced from
        if back <= 0:
            return math.inf
        if len(ends) >= back:  # never more than a window: a longer wait means the clock went back
            wait = max(wait, min(ends[-back] + rate.window + margin - now, rate.window + margin))
    return wait


class _Lane:
    """One kind of request: the ends of the latest (as many as the largest rate counts) and how
    many are in flight."""

    def __init__(self, rates: Sequence[Rate]) -> None:
        self.rates = tuple(rates)
        self.ends: deque[float] = deque(maxlen=max(r.limit for r in self.rates))
        self.in_flight = 0

    def wait(self, now: float, margin: float) -> float:
        if self.ends and self.ends[-1] > now:  # the clock was set back: what it counted is void
            self.ends.clear()
        return wait_before_next(self.ends, self.in_flight, self.rates, now, margin)

    def done(self, end: float) -> None:
        """A request's answer is read: it counts from `end`, kept in order (ends before a clock
        set back while it was in flight are void)."""
        self.in_flight -= 1
        if self.ends and end < self.ends[-1]:
            self.ends.clear()
        self.ends.append(end)


class Pacer:
    """Holds each request of one realm until QBO's limits let it through (on the engine clock)."""

    def __init__(self, clock: Clock, requests: Sequence[Rate] = QBO_REQUESTS,
                 batches: Sequence[Rate] = QBO_BATCHES, margin: float = DEFAULT_MARGIN) -> None:
        self.clock = clock
        self.margin = margin
        self._requests = _Lane(requests)
        self._batches = _Lane(batches)
        self._turn = asyncio.Lock()
        """One request at a time chooses its moment, in the order they asked."""
        self._batch_turn = asyncio.Lock()
        """Batches first wait for batch room here, so a batch held by its minute's limit
        does not hold up the realm's other requests."""
        self._ended = asyncio.Event()
        self.held = 0
        """Requests that had to wait, in all."""

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def _room(self, lanes: tuple[_Lane, ...]) -> bool:
        """Wait until every lane has room; whether that took any waiting."""
        waited = False
        while (wait := max(lane.wait(self._now(), self.margin) for lane in lanes)) > 0:
            waited = True
            if math.isinf(wait):
                self._ended.clear()
                await self._ended.wait()
            else:
                await self.clock.sleep(wait)
        return waited

    @asynccontextmanager
    async def turn(self, batch: bool = False) -> AsyncIterator[None]:
        """Around one request: enter when it may be sent, leave once its answer is read."""
        lanes = (self._requests, self._batches) if batch else (self._requests,)
        async with self._batch_turn if batch else nullcontext():
            waited = await self._room((self._batches,)) if batch else False
            async with self._turn:  # (the batch lane still has room: only batches use it)
                waited = await self._room(lanes) or waited
                self.held += waited
                for lane in lanes:
                    lane.in_flight += 1
        try:
            yield
        finally:
            end = self._now()
            for lane in lanes:
                lane.done(end)
            self._ended.set()
