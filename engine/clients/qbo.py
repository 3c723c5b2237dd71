"""A QBO Accounting API v3 client for one company (realm), over HTTP only.

Why it looks like this:
- every write carries `requestid`, QBO's idempotency key, which the caller derives from what it
  writes; so the retry policy may repeat a write whose answer was lost and QBO answers the
  first result instead of writing twice;
- a 401 asks the `TokenSource` for a fresh access token exactly once per call (the engine
  serialises refreshes with a row lock, so concurrent callers pass the token that failed);
- `stats` counts every request sent, by kind and operation, for the benchmark's call budget;
- with a `Pacer` (one per realm, shared), no request goes out before QBO's throttles would
  take it, so a busy realm waits exactly as long as the limits ask instead of drawing 429s.
"""
from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from . import qbo_faults
from .errors import AuthRefused, UpstreamError
from .pacing import Pacer
from .retry import RetryPolicy
from .transport import Reply, Transport, dumps

MAX_PAGE = 1000
"""QBO's MAXRESULTS ceiling."""
MAX_BATCH = 30
"""Items per batch request."""
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36

OnPage = Callable[[int], "Awaitable[None] | None"]


class TokenSource(Protocol):
    """Where access tokens come from; the engine implements it over its database."""

    async def access_token(self) -> str:
        """The current access token."""
        ...

    async def refresh(self, stale: str) -> str:
        """A new access token after `stale` got a 401, or raise `AuthRefused`."""
        ...


def fit_request_id(request_id: str, limit: int = MAX_REQUEST_ID) -> str:
    """QBO caps requestid (50, 36 for batch): a longer stable id is hashed, still stable."""
    if not request_id:
        raise ValueError("a write needs a requestid")
    if len(request_id) <= limit:
        return request_id
    return hashlib.sha256(request_id.encode()).hexdigest()[:limit]


@dataclass(frozen=True)
class BatchOp:
    """One batch item: `operation` is create, update, delete or void; `body` the entity body."""

    entity: str
    operation: str
    body: dict[str, Any]
    bid: str | None = None
    """The item's id in the batch (default: its index in the list given to `batch`)."""


@dataclass(frozen=True)
class BatchResult:
    """One item's outcome: the entity QBO answered, or the error its Fault means."""

    bid: str
    op: BatchOp
    entity: dict[str, Any] | None = None
    error: UpstreamError | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None


async def _notify(on_page: OnPage | None, n: int) -> None:
    if on_page is not None:
        result = on_page(n)
        if inspect.isawaitable(result):
            await result


def _entity_of(body: Any, entity: str) -> dict[str, Any]:
    """The entity object of a success envelope (`{"Customer": {...}, "time": ...}`)."""
    if isinstance(body, dict):
        if isinstance(body.get(entity), dict):
            return body[entity]
        for key, value in body.items():
            if key != "time" and isinstance(value, dict):
                return value
    raise UpstreamError("qbo", 200, "unexpected_body", f"no {entity} in the answer", str(body)[:200])


def _rows_of(query_response: Any) -> list[dict[str, Any]]:
    """The rows of a `QueryResponse` (one list under the entity's name; `{}` when none)."""
    if not isinstance(query_response, dict):
        return []
    for value in query_response.values():
        if isinstance(value, list):
            return value
    return []


class QboClient:
    """QBO for one realm: reads, paged queries, idempotent writes, batches, CDC."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, realm_id: str, tokens: TokenSource,
                 policy: RetryPolicy, minorversion: int = 75, *, timeout: float | None = None,
                 stats: Counter[str] | None = None, pacer: Pacer | None = None) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v3")
        self.realm_id = realm_id
        self.tokens = tokens
        self.minorversion = minorversion
        self.transport = Transport(session, "qbo", policy, qbo_faults.map_reply, stats, timeout)
        self.pacer = pacer
        """The realm's pacing, shared by every client of the realm (None: send at once)."""

    @property
    def stats(self) -> Counter[str]:
        return self.transport.stats

    def _url(self, *parts: str) -> str:
        return "/".join([self.base_url, "v3", "company", self.realm_id, *parts])

    # -- the one request path ------------------------------------------------------------
    async def _call(self, method: str, path: list[str], *, kind: str, op: str,
                    params: dict[str, str] | None = None, body: Any = None,
                    content_type: str = "application/json") -> Reply:
        """Send with the current token, refresh once on a 401, retry transient failures."""
        query = {**(params or {}), "minorversion": str(self.minorversion)}
        data = None if body is None else (body if isinstance(body, str) else dumps(body))
        url = self._url(*path)
        refreshed = False

        async def send(token: str) -> Reply:
            paced = self.pacer.turn(batch=op == "batch") if self.pacer is not None else nullcontext()
            async with paced:
                return await self.transport.once(method, url, kind=kind, op=op, params=query,
                                                 headers=self._headers(token, content_type, data), data=data)

        async def attempt() -> Reply:
            nonlocal refreshed
            token = await self.tokens.access_token()
            try:
                return await send(token)
            except AuthRefused as exc:
                if exc.status != 401 or refreshed:
                    raise
                refreshed = True
                new = await self._refresh(token, exc)
            return await send(new)

        return await self.transport.retried(attempt)

    async def _refresh(self, stale: str, cause: AuthRefused) -> str:
        """Ask the token source once; an OAuth refusal keeps the 401's reason (expired/revoked)."""
        self.stats["refreshes"] += 1
        try:
            return await self.tokens.refresh(stale)
        except AuthRefused as exc:
            if exc.reason in (None, "invalid_grant") and cause.reason in ("token_expired", "token_revoked"):
                raise AuthRefused(exc.service, exc.status, exc.code, exc.message, exc.detail,
                                  reason=cause.reason, body=exc.body) from exc
            raise

    @staticmethod
    def _headers(token: str, content_type: str, data: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        return headers

    # -- reads -----------------------------------------------------------------------------
    async def get(self, entity: str, id: str) -> dict[str, Any]:
        """One record by Id (610 -> `NotFound`)."""
        reply = await self._call("GET", [entity.lower(), str(id)], kind="read", op="get")
        return _entity_of(reply.body, entity)

    async def company_info(self) -> dict[str, Any]:
        reply = await self._call("GET", ["companyinfo", self.realm_id], kind="read", op="company_info")
        return _entity_of(reply.body, "CompanyInfo")

    async def preferences(self) -> dict[str, Any]:
        reply = await self._call("GET", ["preferences"], kind="read", op="preferences")
        return _entity_of(reply.body, "Preferences")

    async def _query_response(self, sql: str) -> dict[str, Any]:
        reply = await self._call("POST", ["query"], kind="read", op="query", body=sql,
                                 content_type="application/text")
        qr = reply.body.get("QueryResponse") if isinstance(reply.body, dict) else None
        return qr if isinstance(qr, dict) else {}

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """One page: the rows of one query statement, as QBO answers it."""
        return _rows_of(await self._query_response(sql))

    async def count(self, entity: str, where: str | None = None) -> int:
        """`SELECT COUNT(*)`: one call, for progress totals."""
        sql = f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")
        return int((await self._query_response(sql)).get("totalCount", 0))

    async def query_all(self, entity: str, where: str | None = None, page_size: int = MAX_PAGE,
                        on_page: OnPage | None = None, *, select: str = "*",
                        order_by: str | None = None) -> list[dict[str, Any]]:
        """Every row, page by page (STARTPOSITION/MAXRESULTS) until a short page.

        N rows cost N // page_size + 1 calls. Name lists answer active rows only unless `where`
        says otherwise (`Active IN (true, false)`). `on_page(rows so far)` may be async.
        """
        size = max(1, min(MAX_PAGE, page_size))
        head = f"SELECT {select} FROM {entity}" + (f" WHERE {where}" if where else "")
        if order_by:
            head += f" ORDERBY {order_by}"
        out: list[dict[str, Any]] = []
        start = 1
        while True:
            rows = await self.query(f"{head} STARTPOSITION {start} MAXRESULTS {size}")
            out.extend(rows)
            await _notify(on_page, len(out))
            if len(rows) < size:
                return out
            start += size

    async def cdc(self, entities: Iterable[str], changed_since: datetime | str) -> dict[str, list[dict[str, Any]]]:
        """Change data capture: entity name -> changed rows (deleted ones as `status: Deleted` stubs)."""
        since = changed_since.isoformat() if isinstance(changed_since, datetime) else changed_since
        names = list(entities)
        reply = await self._call("GET", ["cdc"], kind="read", op="cdc",
                                 params={"entities": ",".join(names), "changedSince": since})
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for block in (reply.body.get("CDCResponse") or []) if isinstance(reply.body, dict) else []:
            for part in block.get("QueryResponse") or []:
                for key, value in part.items():
                    if isinstance(value, list):
                        out.setdefault(key, []).extend(value)
        return out

    # -- writes ------------------------------------------------------------------------------
    async def _write(self, entity: str, body: dict[str, Any], request_id: str, op: str,
                     params: dict[str, str] | None = None) -> dict[str, Any]:
        query = {**(params or {}), "requestid": fit_request_id(request_id)}
        reply = await self._call("POST", [entity.lower()], kind="write", op=op, params=query, body=body)
        return _entity_of(reply.body, entity)

    async def create(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Create once: a repeat with the same `request_id` answers the first result."""
        if body.get("Id"):
            raise ValueError("a create body has no Id")
        return await self._write(entity, body, request_id, "create")

    async def update(self, entity: str, body: dict[str, Any], request_id: str,
                     sparse: bool | None = None) -> dict[str, Any]:
        """Full update, or sparse (`sparse=True` or `"sparse": true` in the body); needs Id and SyncToken."""
        if not body.get("Id") or body.get("SyncToken") is None:
            raise ValueError("an update needs Id and SyncToken")
        if sparse is not None:
            body = {**body, "sparse": sparse}
        return await self._write(entity, body, request_id, "update", {"operation": "update"})

    async def delete(self, entity: str, id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        """Delete a transaction (`?operation=delete`); answers QBO's `status: Deleted` stub."""
        return await self._write(entity, {"Id": str(id), "SyncToken": str(sync_token)}, request_id, "delete",
                                 {"operation": "delete"})

    async def void(self, entity: str, id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        """Void as QBO does it: Invoice `?operation=void`; Payment, SalesReceipt, BillPayment a
        sparse `?operation=update&include=void`."""
        body: dict[str, Any] = {"Id": str(id), "SyncToken": str(sync_token)}
        if entity.lower() == "invoice":
            return await self._write(entity, body, request_id, "void", {"operation": "void"})
        return await self._write(entity, {**body, "sparse": True}, request_id, "void",
                                 {"operation": "update", "include": "void"})

    async def batch(self, operations: list[BatchOp], request_id_prefix: str) -> list[BatchResult]:
        """Run writes 30 to a request, in order; each item's Fault is its result's `error`.

        Chunk k carries requestid `<prefix>-<k>` (hashed to 36 characters if longer), so a
        repeated batch with the same prefix and operations writes nothing twice.
        """
        results: list[BatchResult] = []
        for k, start in enumerate(range(0, len(operations), MAX_BATCH)):
            chunk = operations[start:start + MAX_BATCH]
            bids = [op.bid or str(start + i) for i, op in enumerate(chunk)]
            items = [{"bId": bid, "operation": op.operation, op.entity: op.body} for bid, op in zip(bids, chunk)]
            rid = fit_request_id(f"{request_id_prefix}-{k}", MAX_BATCH_REQUEST_ID)
            reply = await self._call("POST", ["batch"], kind="write", op="batch", params={"requestid": rid},
                                     body={"BatchItemRequest": items})
            answers = {a.get("bId"): a for a in (reply.body.get("BatchItemResponse") or [])
                       if isinstance(a, dict)}
            for bid, op in zip(bids, chunk):
                results.append(self._batch_result(bid, op, answers.get(bid), reply.status))
        return results

    @staticmethod
    def _batch_result(bid: str, op: BatchOp, answer: dict[str, Any] | None, status: int) -> BatchResult:
        if answer is None:
            return BatchResult(bid, op, error=UpstreamError("qbo", status, "missing_item",
                                                            f"batch item {bid} has no answer"))
        found = qbo_faults.fault_of(answer)
        if found is not None:
            return BatchResult(bid, op, error=qbo_faults.from_fault(status, found[0], found[1], answer))
        entity = answer.get(op.entity)
        if not isinstance(entity, dict):
            entity = next((v for k, v in answer.items() if k != "bId" and isinstance(v, dict)), None)
        return BatchResult(bid, op, entity=entity)
