"""The one "send a request, read JSON with Decimal, map errors, retry" helper both clients share.

A `Transport` knows its service's name and how that service spells errors (a `map_error`
function); it turns socket trouble and unreadable bodies into `Unreachable`, counts every
request it sends in `stats`, and leaves retrying to a `RetryPolicy`. Money stays `Decimal`:
bodies are read with `parse_float=Decimal` and written by simplejson with `use_decimal`, so
`100.10` goes out and comes back as written, never through a float.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import simplejson

from .errors import NotFound, ServerError, Throttled, Unreachable, UpstreamError
from .retry import TRANSIENT, RetryPolicy


def dumps(obj: Any) -> str:
    """JSON with Decimals as bare numbers (no float on the way)."""
    return simplejson.dumps(obj, use_decimal=True, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """JSON with every fractional number as a `Decimal`."""
    return json.loads(text, parse_float=Decimal)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers, the parsed body (None if empty or not JSON) and its text."""

    status: int
    headers: Mapping[str, str]
    body: Any
    text: str
    parsed: bool
    """Whether `text` was JSON (an empty body is not)."""


ErrorMapper = Callable[[Reply], "UpstreamError | None"]
"""The service's reading of an answer: the error it means, or None when it is a success."""


def default_error(service: str, reply: Reply) -> UpstreamError | None:
    """What a status alone says, for answers a service mapper did not recognise."""
    status = reply.status
    if status < 400:
        return None
    text = reply.text[:500]
    if status == 429:
        return Throttled(service, status, None, "Too many requests", text)
    if status >= 500:
        return ServerError(service, status, None, f"HTTP {status}", text)
    if status == 404:
        return NotFound(service, status, None, "Not found", text)
    return UpstreamError(service, status, None, f"HTTP {status}", text)


class Transport:
    """Send requests for one service over a shared `aiohttp.ClientSession`."""

    def __init__(self, session: aiohttp.ClientSession, service: str, policy: RetryPolicy,
                 map_error: ErrorMapper, stats: Counter[str] | None = None,
                 timeout: float | None = None) -> None:
        self.session = session
        self.service = service
        self.policy = policy
        self.map_error = map_error
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self.timeout = aiohttp.ClientTimeout(total=timeout) if timeout else None

    async def once(self, method: str, url: str, *, kind: str, op: str,
                   params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                   data: str | bytes | Mapping[str, str] | None = None, expect_json: bool = True) -> Reply:
        """One request, no retry: the reply, or the mapped error raised.

        `kind` is "read" or "write" and `op` the operation's name, both counted in `stats`.
        """
        self.stats["calls"] += 1
        self.stats[kind + "s"] += 1
        self.stats[op] += 1
        try:
            extra: dict[str, Any] = {"timeout": self.timeout} if self.timeout else {}
            async with self.session.request(method, url, params=params, headers=headers, data=data,
                                            **extra) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise Unreachable(self.service, None, "timeout", f"{method} {op}: timed out",
                              type(exc).__name__) from exc
        except aiohttp.ClientPayloadError as exc:
            raise Unreachable(self.service, None, "truncated", f"{method} {op}: the body was cut off",
                              str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise Unreachable(self.service, None, "connection", f"{method} {op}: {type(exc).__name__}",
                              str(exc)) from exc
        reply = self._reply(status, resp_headers, raw)
        error = self.map_error(reply) or default_error(self.service, reply)
        if error is not None:
            raise error
        if expect_json and not reply.parsed and status != 204:
            code = "empty_body" if not reply.text.strip() else "malformed_body"
            raise Unreachable(self.service, status, code, f"{method} {op}: the answer is not JSON",
                              reply.text[:200])
        return reply

    @staticmethod
    def _reply(status: int, headers: Mapping[str, str], raw: bytes) -> Reply:
        text = raw.decode("utf-8", "replace")
        if not text.strip():
            return Reply(status, headers, None, text, False)
        try:
            return Reply(status, headers, loads(text), text, True)
        except ValueError:
            return Reply(status, headers, None, text, False)

    async def retried(self, attempt: Callable[[], Awaitable[Reply]],
                      retry_on: tuple[type[UpstreamError], ...] = TRANSIENT) -> Reply:
        """Run `attempt` under the policy, counting retries."""
        def count(_exc: BaseException, _wait: float) -> None:
            self.stats["retries"] += 1
        return await self.policy.run(attempt, retry_on=retry_on, on_retry=count)

    async def call(self, method: str, url: str, *, retry_on: tuple[type[UpstreamError], ...] = TRANSIENT,
                   **kw: Any) -> Reply:
        """`once` under the retry policy."""
        return await self.retried(lambda: self.once(method, url, **kw), retry_on)
