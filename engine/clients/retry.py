"""The retry policy for upstream calls: exponential back-off on transient failures only.

Transient means `Throttled`, `ServerError` and `Unreachable`. Writes are retried too, which is
safe only because each carries an idempotency key (QBO `requestid`, Canopy `Idempotency-Key`);
calls without one pass `retry_on=SAFE_WITHOUT_KEY`, which leaves out `Unreachable` (the write
may have been applied). Waits go through an injectable async `sleep`, so the engine's clock
(or a test) can drive them.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from .errors import ServerError, Throttled, Unreachable, UpstreamError

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

TRANSIENT: tuple[type[UpstreamError], ...] = (Throttled, ServerError, Unreachable)
SAFE_WITHOUT_KEY: tuple[type[UpstreamError], ...] = (Throttled, ServerError)
"""For writes without an idempotency key: a dropped connection may hide an applied write."""


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; the wait before try n+1 is min(cap, base * 2**(n-1)), or the
    service's `Retry-After` when that is longer (still capped)."""

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 6
    sleep: Sleep = field(default=_asyncio_sleep, compare=False)

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        wait = min(self.cap, self.base * (2 ** (attempt - 1)))
        after = getattr(error, "retry_after", None)
        if after is not None:
            wait = max(wait, min(self.cap, float(after)))
        return wait

    async def run(self, fn: Callable[[], Awaitable[T]],
                  retry_on: tuple[type[UpstreamError], ...] = TRANSIENT,
                  on_retry: Callable[[BaseException, float], Any] | None = None) -> T:
        """Call `fn` until it succeeds, raises something not in `retry_on`, or tries run out
        (then the last error is raised as it is, so callers see its own type)."""
        def wait(state: RetryCallState) -> float:
            return self.wait_for(state.attempt_number, state.outcome.exception() if state.outcome else None)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            seconds = state.next_action.sleep if state.next_action else 0.0
            log.info("retrying after %s (try %d of %d, waiting %.3gs)", exc, state.attempt_number,
                     self.attempts, seconds)
            if on_retry is not None and exc is not None:
                on_retry(exc, seconds)

        retrying = AsyncRetrying(
            sleep=self.sleep, stop=stop_after_attempt(max(1, self.attempts)), wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, retry_on)), before_sleep=before_sleep,
            reraise=True)
        async def call() -> T:  # a plain coroutine function, as tenacity expects
            return await fn()

        return await retrying(call)


NO_RETRY = RetryPolicy(attempts=1)
"""For tests and for callers that want to see the first failure."""
