"""A Canopy Public API v3 client for one bearer token (a team member's or an integration's).

Why it looks like this:
- records are wrapped as Canopy writes them (`{"client": {...}}`); lists are cursor pages at
  the largest `limit` Canopy allows, so a full read costs as few calls as it can;
- every record write carries `Idempotency-Key`, so the retry policy may repeat a write whose
  answer was lost; writes Canopy keeps no key for (integrations, webhooks) are not repeated
  after a lost answer;
- money is a decimal string at Canopy: `Decimal` values in a body are sent as strings;
- errors are Canopy's envelope `{"errors": {code, message, userMessage, httpStatusCode,
  details}}`, read into the shared hierarchy.
"""
from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from .errors import (
    AuthRefused,
    Conflict,
    Duplicate,
    Forbidden,
    NotFound,
    ServerError,
    StaleObject,
    Throttled,
    UpstreamError,
    ValidationFailed,
)
from .retry import SAFE_WITHOUT_KEY, RetryPolicy
from .transport import Reply, Transport, dumps

SERVICE = "canopy"
PREFIX = "/public/v3"
MAX_LIMIT = 500
"""Canopy's largest page (`limit` 1..500)."""
KINDS = {"clients": "client", "contacts": "contact", "service_items": "service_item",
         "invoices": "invoice", "payments": "payment"}
"""The record kinds: list path -> the key a record is wrapped in."""
AUTH_REASONS = {"token_expired": "token_expired", "invalid_token": "token_revoked",
                "missing_token": "token_missing"}
DUPLICATE_CODES = {"duplicate_number", "email_taken"}

OnPage = Callable[[int], "Awaitable[None] | None"]


@dataclass(frozen=True)
class ChangePage:
    """Events after a cursor; resume from `next_cursor` (it always comes back)."""

    events: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def _retry_after(reply: Reply) -> float | None:
    raw = reply.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def map_reply(reply: Reply) -> UpstreamError | None:
    """The error a Canopy answer means, or None for a success."""
    status = reply.status
    if status < 400:
        return None
    env = reply.body.get("errors") if isinstance(reply.body, dict) else None
    if not isinstance(env, dict):
        return None  # no envelope: transport.default_error reads the status
    code = str(env.get("code") or "") or None
    message = str(env.get("message") or f"HTTP {status}")
    details = [d for d in env.get("details") or [] if isinstance(d, dict)]
    field = next((str(d["field"]) for d in details if d.get("field")), None)
    detail = "; ".join(f"{d.get('field') or d.get('code')}: {d.get('message')}" for d in details)
    args = (SERVICE, status, code, message, detail)
    kw: dict[str, Any] = {"field": field, "body": reply.body, "retry_after": _retry_after(reply)}
    if status == 429:
        return Throttled(*args, **kw)
    if status >= 500:
        return ServerError(*args, **kw)
    if status == 401:
        return AuthRefused(*args, reason=AUTH_REASONS.get(code or "", code), **kw)
    if status == 403:
        return Forbidden(*args, reason=code, **kw)
    if status == 404:
        return NotFound(*args, **kw)
    if status == 409:
        if code == "etag_mismatch":
            return StaleObject(*args, **kw)
        if code in DUPLICATE_CODES:
            return Duplicate(*args, **kw)
        return Conflict(*args, **kw)
    if status in (400, 422):
        return ValidationFailed(*args, **kw)
    return UpstreamError(*args, **kw)


def money_as_text(value: Any) -> Any:
    """Canopy money is a decimal string: turn every `Decimal` in a body into its exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: money_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [money_as_text(v) for v in value]
    return value


def _single(kind: str) -> str:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown Canopy kind {kind!r}; one of {sorted(KINDS)}") from None


class CanopyClient:
    """Canopy as one token sees it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, policy: RetryPolicy, *,
                 timeout: float | None = None, stats: Counter[str] | None = None) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.policy = policy
        self._timeout = timeout
        self.transport = Transport(session, SERVICE, policy, map_reply, stats, timeout)

    @property
    def stats(self) -> Counter[str]:
        return self.transport.stats

    def with_token(self, token: str) -> CanopyClient:
        """The same session, policy and counters, for another token (say the integration's)."""
        return CanopyClient(self.session, self.base_url, token, self.policy, timeout=self._timeout,
                            stats=self.stats)

    def _headers(self, extra: dict[str, str] | None = None, body: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        return {**headers, **(extra or {})}

    async def _call(self, method: str, path: str, *, kind: str, op: str, params: dict[str, str] | None = None,
                    body: Any = None, headers: dict[str, str] | None = None,
                    retry_on: tuple[type[UpstreamError], ...] | None = None, expect_json: bool = True) -> Reply:
        data = None if body is None else dumps(money_as_text(body))
        kw: dict[str, Any] = {"kind": kind, "op": op, "params": params, "data": data,
                              "headers": self._headers(headers, body is not None), "expect_json": expect_json}
        if retry_on is not None:
            kw["retry_on"] = retry_on
        return await self.transport.call(method, self.base_url + PREFIX + path, **kw)

    # -- who -------------------------------------------------------------------------------
    async def me(self) -> dict[str, Any]:
        """Who the token acts for: firm, plan, modules, licenses, effective permissions."""
        return (await self._call("GET", "/me", kind="read", op="me")).body

    # -- records ---------------------------------------------------------------------------
    async def list_page(self, kind: str, cursor: str | None = None, limit: int = MAX_LIMIT,
                        params: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page and the cursor of the next (None on the last)."""
        _single(kind)
        query = {**(params or {}), "limit": str(max(1, min(MAX_LIMIT, limit)))}
        if cursor:
            query["next_cursor"] = cursor
        body = (await self._call("GET", f"/{kind}", kind="read", op="list", params=query)).body
        return list(body.get(kind) or []), body.get("next_cursor")

    async def list_all(self, kind: str, page_size: int = MAX_LIMIT, on_page: OnPage | None = None,
                       params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every record of a kind (clients, service_items, invoices, ...), following cursors.

        `params` filters as Canopy does (`updated_at`, `include_deleted`, `client_id`, ...);
        `on_page(records so far)` may be async.
        """
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            rows, cursor = await self.list_page(kind, cursor, page_size, params)
            out.extend(rows)
            if on_page is not None:
                result = on_page(len(out))
                if inspect.isawaitable(result):
                    await result
            if not cursor:
                return out

    async def search_clients(self, text: str, field: str = "name") -> list[dict[str, Any]]:
        """Clients whose name (email, phone) contains `text`, ignoring case: `id` and `name` each,
        every page. Callers compare names exactly themselves (a substring search finds more)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"q": text, "query_field": field, "limit": str(MAX_LIMIT)}
            if cursor:
                params["next_cursor"] = cursor
            body = (await self._call("GET", "/clients/search", kind="read", op="search", params=params)).body
            out += list(body.get("clients") or [])
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    async def get(self, kind: str, id: str) -> dict[str, Any]:
        """One record (soft-deleted ones too, with `is_deleted`)."""
        return (await self.get_versioned(kind, id))[0]

    async def get_versioned(self, kind: str, id: str) -> tuple[dict[str, Any], str | None]:
        """One record and its `ETag`, for a later `patch(..., if_match=etag)`."""
        reply = await self._call("GET", f"/{kind}/{id}", kind="read", op="get")
        return reply.body[_single(kind)], reply.headers.get("ETag")

    async def create(self, kind: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Create once: a repeat with the same key answers the first result."""
        reply = await self._call("POST", f"/{kind}", kind="write", op="create", body={_single(kind): body},
                                 headers={"Idempotency-Key": idempotency_key})
        return reply.body[_single(kind)]

    async def patch(self, kind: str, id: str, body: dict[str, Any], idempotency_key: str,
                    if_match: str | None = None) -> dict[str, Any]:
        """Change some fields; with `if_match`, a record changed meanwhile is `StaleObject`."""
        headers = {"Idempotency-Key": idempotency_key}
        if if_match:
            headers["If-Match"] = if_match
        reply = await self._call("PATCH", f"/{kind}/{id}", kind="write", op="patch", body={_single(kind): body},
                                 headers=headers)
        return reply.body[_single(kind)]

    async def delete(self, kind: str, id: str, if_match: str | None = None) -> bool:
        """Soft-delete: True if this call deleted it, False if there was no live record (404).

        A 404 is not an error here because a delete may be sent twice (by the retry policy, or by
        aiohttp itself re-sending an idempotent request on a dropped pooled connection): the
        second one finds the record already gone.
        """
        _single(kind)
        return await self._delete(f"/{kind}/{id}", {"If-Match": if_match} if if_match else None)

    async def _delete(self, path: str, headers: dict[str, str] | None = None) -> bool:
        url = self.base_url + PREFIX + path

        async def attempt() -> bool:
            try:
                await self.transport.once("DELETE", url, kind="write", op="delete",
                                          headers=self._headers(headers), expect_json=False)
                return True
            except NotFound:
                return False

        return await self.policy.run(attempt, on_retry=self._count_retry)

    def _count_retry(self, _exc: BaseException, _wait: float) -> None:
        self.stats["retries"] += 1

    # -- integrations, webhooks, the change feed -------------------------------------------------
    async def create_integration(self, name: str) -> tuple[dict[str, Any], str]:
        """With a team member's token: the integration and its firm-scoped token."""
        reply = await self._call("POST", "/integrations", kind="write", op="create_integration",
                                 body={"integration": {"name": name}}, retry_on=SAFE_WITHOUT_KEY)
        return reply.body["integration"], reply.body["access_token"]

    async def delete_integration(self, id: str) -> bool:
        """Revoke an integration and its tokens (False: no such live integration)."""
        return await self._delete(f"/integrations/{id}")

    async def create_webhook(self, url: str, secret: str, event_types: list[str] | None = None) -> dict[str, Any]:
        """Subscribe `url` to change events, signed with `secret` (at least 16 characters)."""
        spec: dict[str, Any] = {"url": url, "secret": secret}
        if event_types:
            spec["event_types"] = event_types
        reply = await self._call("POST", "/webhooks", kind="write", op="create_webhook", body={"webhook": spec},
                                 retry_on=SAFE_WITHOUT_KEY)
        return reply.body["webhook"]

    async def delete_webhook(self, id: str) -> bool:
        """Unsubscribe (False: no such subscription)."""
        return await self._delete(f"/webhooks/{id}")

    async def changes(self, cursor: str | None = None, limit: int = MAX_LIMIT) -> ChangePage:
        """The firm's change feed after `cursor` (from the start without one)."""
        params = {"limit": str(max(1, min(MAX_LIMIT, limit)))}
        if cursor:
            params["cursor"] = cursor
        body = (await self._call("GET", "/changes", kind="read", op="changes", params=params)).body
        return ChangePage(list(body.get("events") or []), body["next_cursor"], bool(body.get("has_more")))
