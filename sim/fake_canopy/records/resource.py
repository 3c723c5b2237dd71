"""One generic resource for every record type: list, create, read, patch, delete.

What differs between record types lives in a `Kind` (field parsing and a few
hooks); everything the types share lives here once: ids and timestamps,
versions and `ETag`/`If-Match`, soft deletes, cursor pages, the change feed,
and `Idempotency-Key` replays. Every write of a request happens inside one
`store.tx()`, after the body was read; a refusal raised inside it rolls the
whole request back.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from sim.core import jsonutil
from sim.core.clock import parse_iso
from sim.core.context import SIM, SimContext
from sim.core.http import json_response
from sim.core.store import Rec, TenantStore

from .. import cursors, feed, firms, gates, webhooks
from ..auth import PREFIX, Principal, principal_of
from ..errors import CanopyError, bad_request, conflict, not_found, unprocessable

DEFAULT_LIMIT, MAX_LIMIT = 100, 500
IDEM_ENTITY = "idempotency"


@dataclass
class Ops:
    """A firm's records as one request's unit of work sees them."""

    ctx: SimContext
    firm_id: str
    t: TenantStore
    now_iso: str
    now_ts: float
    principal: Principal | None = None
    subs: list[Rec] | None = field(default=None, repr=False)
    """The firm's webhook subscriptions, read once per unit of work."""

    @classmethod
    def of(cls, ctx: SimContext, firm_id: str, principal: Principal | None = None,
           t: TenantStore | None = None) -> "Ops":
        """`t`: the store to work through (a `FirmBatch` for bulk writes); the firm's own by default."""
        clock = ctx.clock(firm_id)
        return cls(ctx, firm_id, t if t is not None else ctx.tenant(firm_id), firms.now_iso(ctx, firm_id),
                   clock.timestamp(), principal)

    def load(self, entity: str, id: str, *, live: bool = True) -> Rec:
        rec = self.t.get(entity, id)
        if rec is None or (live and rec.deleted):
            raise not_found(entity, id)
        return rec

    def exists(self, entity: str, id: Any) -> Rec | None:
        if not isinstance(id, str):
            return None
        rec = self.t.get(entity, id)
        return rec if rec is not None and not rec.deleted else None

    def new_id(self) -> str:
        alloc = getattr(self.t, "new_record_id", None)
        return alloc() if alloc is not None else firms.new_record_id(self.ctx)

    def insert(self, entity: str, fields: dict[str, Any], key: str | None = None, id: str | None = None) -> Rec:
        rec_id = id or self.new_id()
        data = {"id": rec_id, **fields, "is_deleted": False, "deleted_at": None,
                "created_at": self.now_iso, "updated_at": self.now_iso}
        rec = Rec(entity, rec_id, data, version=1, key=key, active=bool(data.get("is_active", True)),
                  changed_at=self.now_ts)
        self.t.insert(rec)
        self._announce("created", rec)
        return rec

    def save(self, rec: Rec, data: dict[str, Any], *, key: str | None = None, expect: int | None = None,
             deleted: bool = False) -> Rec:
        """Write a new version of `rec`, with its change event; 409 when `expect` is stale."""
        old = rec.data
        data = {**data, "updated_at": self.now_iso}
        if deleted:
            data.update(is_deleted=True, deleted_at=self.now_iso)
        new = Rec(rec.entity, rec.id, data, version=rec.version + 1, key=key if key is not None else rec.key,
                  alt=rec.alt, active=bool(data.get("is_active", True)), deleted=deleted or rec.deleted,
                  changed_at=self.now_ts, num=rec.num)
        feed.keep(self.t, rec.entity, rec.id)
        if not self.t.replace(new, expect_version=rec.version if expect is None else expect):
            raise conflict("etag_mismatch", f"{rec.entity} {rec.id} was changed by someone else")
        self._announce(_event_type(old, data), new)
        return new

    def _announce(self, type_: str, rec: Rec) -> None:
        """`rec` was just written: into the change feed now; to webhook subscribers once the write commits."""
        event = feed.emit(self.t, type_, rec, self.now_iso, self.now_ts)
        if self.ctx.outbox is None:
            return
        if self.subs is None:
            self.subs = webhooks.subscriptions(self.ctx, self.firm_id)
        webhooks.notify(self.ctx, self.firm_id, event, self.subs)


def _event_type(old: dict[str, Any], new: dict[str, Any]) -> str:
    if new.get("is_deleted") and not old.get("is_deleted"):
        return "deleted"
    if new.get("is_archived") and not old.get("is_archived"):
        return "archived"
    if old.get("is_archived") and not new.get("is_archived"):
        return "unarchived"
    return "updated"


Create = Callable[[Ops, dict[str, Any]], Rec]
Update = Callable[[Ops, Rec, dict[str, Any], int | None], Rec]
Delete = Callable[[Ops, Rec, int | None], None]


@dataclass
class Kind:
    """A record type: its names, what it needs, and its three write hooks."""

    entity: str
    plural: str
    needs: gates.Needs
    create: Create
    update: Update
    delete: Delete
    list_filters: tuple[str, ...] = field(default_factory=tuple)
    """Query parameters that filter lists by equality on a data field (`client_id`)."""


def etag(rec: Rec) -> str:
    return f'"{rec.version}"'


def if_match(request: web.Request) -> int | None:
    """The version an `If-Match` names (None without one or with `*`); a malformed one is 400."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()):
        raise bad_request("If-Match", "must be an ETag this server issued")
    return int(value)


def check_version(rec: Rec, expect: int | None) -> None:
    if expect is not None and expect != rec.version:
        raise conflict("etag_mismatch", f"{rec.entity} {rec.id} is at version {rec.version}, not {expect}",
                       "If-Match")


def one(kind: Kind, rec: Rec, status: int = 200) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {kind.entity: rec.data}, {"ETag": etag(rec)}


async def read_wrapped(request: web.Request, key: str) -> tuple[dict[str, Any], bytes]:
    """The body `{"<kind>": {...}}` (the v3 shape) and its raw bytes."""
    raw = await request.read()
    try:
        body = jsonutil.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body", "is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get(key), dict) or set(body) != {key}:
        raise bad_request(key, f'the body must be {{"{key}": {{...}}}}')
    return body[key], raw


# -- idempotency ----------------------------------------------------------------
def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise bad_request("Idempotency-Key", "must be 1 to 255 characters")
    return key


def fingerprint(request: web.Request, raw: bytes) -> str:
    try:
        canon = jsonutil.dumps(jsonutil.loads(raw), sort_keys=True)
    except (ValueError, UnicodeDecodeError):
        canon = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{canon}".encode()).hexdigest()


def respond(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    if status == 204:
        return web.Response(status=204, headers=headers)
    return json_response(body, status=status, headers=headers)


async def idempotent_write(request: web.Request, raw: bytes,
                           work: Callable[[Ops], tuple[int, Any, dict[str, str]]]) -> web.Response:
    """Run `work` in one transaction; with an `Idempotency-Key` seen before, replay instead."""
    ctx: SimContext = request.app[SIM]
    p = principal_of(request)
    key = idempotency_key(request)
    fp = fingerprint(request, raw)
    with ctx.store.tx():
        ops = Ops.of(ctx, p.firm_id, p)
        if key is not None:
            seen = ops.t.get(IDEM_ENTITY, key)
            if seen is not None:
                if seen.data["fingerprint"] != fp:
                    raise unprocessable("idempotency_key_reused",
                                        "This Idempotency-Key was used with another request", "Idempotency-Key")
                saved = seen.data
                return respond(saved["status"], saved["body"], {**saved["headers"], "Idempotent-Replayed": "true"})
        status, body, headers = work(ops)
        if key is not None:
            ops.t.insert(Rec(IDEM_ENTITY, key, {"fingerprint": fp, "status": status, "body": body,
                                                "headers": headers, "created_at": ops.now_iso},
                             changed_at=ops.now_ts))
    return respond(status, body, headers)


# -- lists ----------------------------------------------------------------------
def encode_page(after: int) -> str:
    return cursors.encode("after", after)


def decode_page(cursor: str) -> int:
    return cursors.decode("after", cursor, "next_cursor")


def parse_limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise bad_request(name, "must be true or false")
    return raw == "true"


def parse_since(request: web.Request) -> float | None:
    raw = request.query.get("updated_at")
    if raw is None:
        return None
    try:
        return parse_iso(raw).timestamp()
    except (ValueError, OverflowError):
        raise bad_request("updated_at", "must be an ISO 8601 date-time") from None


def page_of(t: TenantStore, entity: str, request: web.Request,
            keep: Callable[[Rec], bool] = lambda r: True) -> tuple[list[Rec], str | None]:
    """One cursor page in id order, filtered; `next_cursor` only when more remain."""
    limit = parse_limit(request)
    cursor = request.query.get("next_cursor") or request.query.get("cursor")
    after = decode_page(cursor) if cursor else 0
    since = parse_since(request)
    include_deleted = parse_bool(request, "include_deleted")
    out: list[Rec] = []
    while True:
        batch = t.find(entity, num_range=(after + 1, None), changed_since=since,
                       deleted=None if include_deleted else False, limit=limit + 1)
        for rec in batch:
            after = rec.num or after
            if keep(rec):
                out.append(rec)
                if len(out) > limit:
                    break
        if len(out) > limit or len(batch) <= limit:
            break
    if len(out) > limit:
        out = out[:limit]
        return out, encode_page(out[-1].num or 0)
    return out, None


# -- routes -------------------------------------------------------------------
def add_kind(routes: web.RouteTableDef, kind: Kind) -> None:
    base = f"{PREFIX}/{kind.plural}"

    def ops_for(request: web.Request) -> Ops:
        p = principal_of(request)
        p.check(kind.needs)
        return Ops.of(request.app[SIM], p.firm_id, p)

    @routes.get(base)
    async def list_(request: web.Request) -> web.Response:
        ops = ops_for(request)
        filters = {f: request.query[f] for f in kind.list_filters if f in request.query}
        recs, nxt = page_of(ops.t, kind.entity, request,
                            lambda r: all(str(r.data.get(f)) == v for f, v in filters.items()))
        return json_response({kind.plural: [r.data for r in recs], "next_cursor": nxt})

    @routes.post(base)
    async def create(request: web.Request) -> web.Response:
        ops_for(request)
        fields, raw = await read_wrapped(request, kind.entity)
        return await idempotent_write(request, raw, lambda ops: one(kind, kind.create(ops, fields), 201))

    @routes.get(base + "/{id}")
    async def read(request: web.Request) -> web.Response:
        ops = ops_for(request)
        rec = ops.load(kind.entity, request.match_info["id"], live=False)
        status, body, headers = one(kind, rec)
        return json_response(body, status=status, headers=headers)

    @routes.patch(base + "/{id}")
    async def patch(request: web.Request) -> web.Response:
        ops_for(request)
        expect = if_match(request)
        fields, raw = await read_wrapped(request, kind.entity)

        def work(ops: Ops) -> tuple[int, Any, dict[str, str]]:
            rec = ops.load(kind.entity, request.match_info["id"])
            check_version(rec, expect)
            return one(kind, kind.update(ops, rec, fields, expect))
        return await idempotent_write(request, raw, work)

    @routes.delete(base + "/{id}")
    async def delete(request: web.Request) -> web.Response:
        ops_for(request)
        expect = if_match(request)
        ctx: SimContext = request.app[SIM]
        p = principal_of(request)
        with ctx.store.tx():
            ops = Ops.of(ctx, p.firm_id, p)
            rec = ops.load(kind.entity, request.match_info["id"])
            check_version(rec, expect)
            kind.delete(ops, rec, expect)
        return web.Response(status=204)


def soft_delete(ops: Ops, rec: Rec, expect: int | None = None) -> Rec:
    return ops.save(rec, dict(rec.data), deleted=True, expect=expect)


__all__ = ["CanopyError", "Kind", "Ops", "add_kind", "soft_delete"]
