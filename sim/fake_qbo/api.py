"""The accounting API under /v3/company/{realm}: auth, then the resources.

Handlers parse, call the entity layer, and render; they decide nothing.
Which (entity, operation) pairs exist is the `OPERATIONS` table, built from
the entity specs; anything else is QBO's "Unsupported Operation".
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sim.core import jsonutil
from sim.core.context import SIM, SimContext
from sim.core.store import Rec

from . import batching, cdc, oauth, tenancy, webhooks
from .entities import (
    SPECS,
    SPECS_BY_SEGMENT,
    EntitySpec,
    Kind,
    Session,
    idempotency,
    querying,
    resource,
    rules,
)
from .entities import faults as entity_faults
from .errors import QboFault, subscription_lapsed
from .faults import API_PREFIX, realm_of
from .query import QueryError

routes = web.RouteTableDef()
ACCESS = web.RequestKey("access", oauth.Access)
REALM = web.RequestKey("realm", str)
OFFSET = web.RequestKey("offset", str)
MINOR_VERSION = web.RequestKey("minorversion", int)
WRITABLE = web.RequestKey("writable", bool)
CONTENT_TYPE = "application/json;charset=UTF-8"
MINOR_VERSION_FLOOR = 75

Operation = Callable[[Session, EntitySpec, Any], "Rec | dict[str, Any]"]
HANDLERS: dict[str, Operation] = {
    "create": resource.create_record,
    "update": resource.update_record,
    "delete": resource.delete,
    "void": resource.void_record,
}
OPERATIONS: dict[tuple[str, str], Operation] = {
    (spec.name, op): HANDLERS[op] for spec in SPECS for op in spec.operations if op in HANDLERS}
"""(entity, operation) -> handler: a miss is a 500 Unsupported Operation."""

_SEGMENTS = "|".join(sorted(SPECS_BY_SEGMENT))


@dataclass(frozen=True)
class Known:
    """What a checked (token, realm) pair established, kept until auth state may change."""

    access: oauth.Access
    expires_at: float
    offset: str
    writable: bool


class AuthCache:
    """Checked bearer tokens, so a request does not re-read token, grant, user and
    company (five reads) each time.

    Auth state (tokens, grants, users, companies, subscriptions, clocks) only
    changes through the admin plane and the OAuth endpoints, never through the
    accounting API, so any non-GET request outside /v3/company clears it;
    expiry is re-checked on every hit against the tenant's clock. Code that
    changes auth state in-process must call `forget_auth(ctx)`.
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Known] = {}
        self.webhook_apps: bool | None = None
        """Does any app have a webhook URL? (None: not looked at since the last clear.)"""


_CACHE = "fake_qbo.auth_cache"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def auth_cache(ctx: SimContext) -> AuthCache:
    cache = ctx.extra.get(_CACHE)
    if cache is None:
        cache = ctx.extra[_CACHE] = AuthCache()
    return cache


def forget_auth(ctx: SimContext) -> None:
    cache = auth_cache(ctx)
    cache.entries.clear()
    cache.webhook_apps = None


def announce(s: Session) -> None:
    """Tell webhook listeners what this request wrote (after it committed)."""
    if not s.changes or s.ctx.outbox is None:
        return
    cache = auth_cache(s.ctx)
    if cache.webhook_apps is None:
        cache.webhook_apps = any(app.data.get("webhook_url") for app in s.ctx.server.find("App"))
    if cache.webhook_apps:
        for entity, id_, operation in s.changes:
            webhooks.notify(s.ctx, s.realm, entity, id_, operation)


def check_bearer(ctx: SimContext, header: str | None, realm: str) -> Known:
    """The full check (oauth rules), or its cached result while still valid."""
    token = header[7:].strip() if header and header.startswith("Bearer ") else ""
    cache = auth_cache(ctx)
    known = cache.entries.get((token, realm)) if token else None
    if known is not None and ctx.clock(known.access.realm_id).timestamp() < known.expires_at:
        return known
    access = oauth.authenticate_bearer(ctx, header)
    oauth.authorize_realm(ctx, access, realm)
    rec = ctx.server.get("AccessToken", access.token)
    known = Known(access, float(rec.data["expires_at"]) if rec else 0.0, tenancy.company_offset(ctx, realm),
                  tenancy.subscription_active(ctx, realm))
    cache.entries[(token, realm)] = known
    return known


@web.middleware
async def bearer_auth(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every API call proves its token, realm and scope before anything else."""
    ctx: SimContext = request.app[SIM]
    if not request.path.startswith(API_PREFIX):
        if request.method in _SAFE:
            return await handler(request)
        forget_auth(ctx)
        try:
            return await handler(request)
        finally:
            forget_auth(ctx)
    realm = realm_of(request) or ""
    known = check_bearer(ctx, request.headers.get("Authorization"), realm)
    if request.method != "GET" and not _is_read(request) and not known.writable:
        raise subscription_lapsed()
    request[WRITABLE] = known.writable
    request[ACCESS] = known.access
    request[REALM] = realm
    request[OFFSET] = known.offset
    request[MINOR_VERSION] = minor_version(request.query.get("minorversion"))
    return await handler(request)


def _is_read(request: web.Request) -> bool:
    """POST /query reads; a batch checks the subscription per item."""
    return request.path.rstrip("/").endswith(("/query", "/batch"))


def minor_version(raw: str | None) -> int:
    """Any value is accepted; below 75 (or unreadable, or absent) means 75."""
    try:
        return max(MINOR_VERSION_FLOOR, int(raw or 0))
    except ValueError:
        return MINOR_VERSION_FLOOR


def respond(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=jsonutil.dumps(body).encode(), status=status,
                        headers={"Content-Type": CONTENT_TYPE})


def _session(request: web.Request) -> Session:
    return Session(request.app[SIM], request[REALM], request[OFFSET])


def perform(s: Session, spec: EntitySpec, op: str, body: Any) -> str:
    """Run one write inside the caller's transaction; the entity's JSON text."""
    handler = OPERATIONS.get((spec.name, op))
    if handler is None:
        raise entity_faults.unsupported(op)
    return entity_text(s, spec, handler(s, spec, body))


def _operation(op: str | None, include: str | None, spec: EntitySpec, body: Any) -> str:
    """The operation a POST asks for: ?operation=, else create or update by Id."""
    if op == "update" and include == "void":
        op = "void"
    if op is None:
        if spec.kind is Kind.SINGLETON:
            op = "update"
        else:
            op = "update" if isinstance(body, dict) and rules.positive_id(body.get("Id")) else "create"
    return op


def parse_body(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise entity_faults.not_utf8() from None
    try:
        return jsonutil.loads(text) if text.strip() else None
    except ValueError:
        raise entity_faults.bad_body() from None


# -- writes ------------------------------------------------------------------------
@routes.post(API_PREFIX + "{realm}/{segment:" + _SEGMENTS + "}")
async def write(request: web.Request) -> web.Response:
    spec = SPECS_BY_SEGMENT[request.match_info["segment"]]
    raw = await request.read()
    ctx: SimContext = request.app[SIM]
    s = _session(request)
    request_id = request.query.get("requestid")
    if request_id:
        idempotency.check(request_id)
        earlier = idempotency.recall(s.store, request_id)
        if earlier is not None:
            return respond_text(earlier.text, earlier.status)
    try:
        with ctx.store.tx():
            body = parse_body(raw)
            op = _operation(request.query.get("operation"), request.query.get("include"), spec, body)
            text = envelope_text(spec.name, perform(s, spec, op, body), s.time_millis())
            if request_id:
                idempotency.remember(s.store, request_id, idempotency.Answer(200, text), s.ts)
    except QboFault as fault:
        if not request_id:
            raise
        text = jsonutil.dumps(fault.body(s.time_millis(), int(s.ts * 1000)))
        with ctx.store.tx():
            idempotency.remember(s.store, request_id, idempotency.Answer(fault.status, text), s.ts)
        return respond_text(text, fault.status)
    announce(s)
    return respond_text(text)


def entity_text(s: Session, spec: EntitySpec, out: Rec | dict[str, Any]) -> str:
    """The JSON of what an operation returns: a record's stored bytes when they
    can be sent as they are (no encoding twice), else its rendered body."""
    if isinstance(out, dict):
        return jsonutil.dumps(out)
    text = s.store.written.get((spec.name, out.id))
    if text is not None and resource.passes_through(text):
        return text
    return jsonutil.dumps(resource.render(out.data))


def envelope_text(key: str, entity_json: str, time: str) -> str:
    return f'{{"{key}":{entity_json},"time":"{time}"}}'


def respond_text(text: str, status: int = 200) -> web.Response:
    return web.Response(body=text.encode(), status=status, headers={"Content-Type": CONTENT_TYPE})


# -- reads ---------------------------------------------------------------------------
@routes.get(API_PREFIX + "{realm}/{segment:" + _SEGMENTS + "}/{id}")
async def read(request: web.Request) -> web.Response:
    spec = SPECS_BY_SEGMENT[request.match_info["segment"]]
    id_ = request.match_info["id"]
    s = _session(request)
    if spec.kind is Kind.SINGLETON:
        # CompanyInfo is read by realm id; its own Id is "1".
        if spec.name != "CompanyInfo" or id_ != s.realm:
            raise entity_faults.object_not_found()
        id_ = resource.SINGLETON_ID
    if (spec.name, "read") not in _READABLE:
        raise entity_faults.unsupported("read", spec.name)
    text = s.store.get_text(spec.name, id_)
    if text is None:
        raise entity_faults.object_not_found()
    if not resource.passes_through(text):
        return respond({spec.name: resource.render(jsonutil.loads(text)), "time": s.time_millis()})
    return respond_text(envelope_text(spec.name, text, s.time_millis()))  # the stored bytes, not decoded


_READABLE = {(spec.name, "read") for spec in SPECS if "read" in spec.operations}


@routes.get(API_PREFIX + "{realm}/preferences")
async def preferences(request: web.Request) -> web.Response:
    s = _session(request)
    return respond({"Preferences": resource.read(s, SPECS_BY_SEGMENT["preferences"], resource.SINGLETON_ID),
                    "time": s.time_millis()})


# -- query ---------------------------------------------------------------------------
@routes.get(API_PREFIX + "{realm}/query")
@routes.post(API_PREFIX + "{realm}/query")
async def query(request: web.Request) -> web.Response:
    if request.method == "POST":
        try:
            text = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise entity_faults.not_utf8() from None
    else:
        text = request.query.get("query", "")
    s = _session(request)
    try:
        body = querying.run(s, text)
    except QueryError as exc:
        raise QboFault(exc.code, exc.message, exc.detail) from None
    return respond({"QueryResponse": body, "time": s.time_millis()})


# -- batch and change data capture ------------------------------------------------------
@routes.post(API_PREFIX + "{realm}/batch")
async def batch(request: web.Request) -> web.Response:
    """Up to 30 items, each its own unit of work: one item's Fault leaves the others done."""
    ctx: SimContext = request.app[SIM]
    items = batching.parse(parse_body(await request.read()))
    request_id = request.query.get("requestid")
    probe = _session(request)
    if request_id:
        idempotency.check(request_id)
        earlier = idempotency.recall(probe.store, request_id)
        if earlier is not None:
            return respond_text(earlier.text, earlier.status)
    answers = []
    for item in items:
        s = _session(request)
        try:
            with ctx.store.tx():
                answers.append(batching.run_item(s, item, request[WRITABLE], perform, _operation))
        except QboFault as fault:
            answers.append({"bId": item["bId"], "Fault": {"Error": fault.errors(), "type": fault.type}})
            continue
        announce(s)
    text = jsonutil.dumps({"BatchItemResponse": answers, "time": probe.time_millis()})
    if request_id:
        with ctx.store.tx():
            idempotency.remember(probe.store, request_id, idempotency.Answer(200, text), probe.ts)
    return respond_text(text)


@routes.get(API_PREFIX + "{realm}/cdc")
async def change_data_capture(request: web.Request) -> web.Response:
    s = _session(request)
    entities = cdc.parse_entities(request.query.get("entities"))
    since = cdc.parse_since(request.query.get("changedSince"), s)
    return respond({"CDCResponse": [{"QueryResponse": cdc.changes(s, entities, since)}], "time": s.time_millis()})
