"""The `/_sim` control plane both fakes mount: state, snapshots, forks,
journal and clocks. Never part of the served API's OpenAPI spec."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from aiohttp import web

from . import jsonutil
from .clock import parse_iso
from .context import SIM, SimContext
from .openapi import admin_spec_route
from .http import AdminError, json_response, read_json_object, require_str
from .store import SERVER

routes = web.RouteTableDef()
_SPEC = Path(__file__).with_name("admin_openapi.yaml")


@web.middleware
async def admin_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        return await handler(request)
    except AdminError as exc:
        return json_response({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    except web.HTTPNotFound:
        return json_response({"error": {"code": "not_found", "message": f"no admin route {request.path}"}},
                             status=404)
    except web.HTTPMethodNotAllowed:
        return json_response({"error": {"code": "method_not_allowed",
                                        "message": f"{request.method} not allowed on {request.path}"}},
                             status=405)


def create_admin_app(ctx: SimContext, extra: Iterable[web.RouteTableDef],
                     spec: Path | None = None) -> web.Application:
    app = web.Application(middlewares=[admin_errors])
    app[SIM] = ctx
    for table in extra:
        app.add_routes(table)
    app.add_routes(routes)
    app.add_routes(admin_spec_route(_SPEC, spec))  # the core spec merged with the fake's `spec`
    return app


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


def require_tenant(ctx: SimContext, tenant: str) -> dict[str, Any]:
    info = ctx.store.tenant_info(tenant)
    if info is None or tenant == SERVER:
        raise AdminError(404, "tenant_not_found", f"no tenant {tenant}")
    return info


def state_dump(ctx: SimContext, tenant: str | None = None) -> dict[str, Any]:
    """Every tenant (or one) as plain JSON, in a stable order: the world's bytes."""
    raw = ctx.store.export(tenant)
    out: dict[str, Any] = {"kind": ctx.kind, "tenants": {}}
    for t in raw["tenants"]:
        out["tenants"][t["id"]] = {"kind": t["kind"], "name": t["name"], "created_at": t["created_at"],
                                   "data": jsonutil.loads(t["data"]), "records": {}, "counters": {}}
    if tenant is None:
        out["server"] = {"records": {}, "counters": {}}
    for r in raw["records"]:
        slot = out["server"] if r["tenant"] == SERVER else out["tenants"].get(r["tenant"])
        if slot is None:
            continue
        slot["records"].setdefault(r["entity"], []).append(
            {"id": r["id"], "version": r["version"], "active": r["active"], "deleted": r["deleted"],
             "changed_at": r["changed_at"], "data": jsonutil.loads(r["data"])})
    for c in raw["counters"]:
        slot = out["server"] if c["tenant"] == SERVER else out["tenants"].get(c["tenant"])
        if slot is not None:
            slot["counters"][c["name"]] = c["value"]
    return out


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return json_response({"status": "ok", "kind": ctx.kind, "seed": ctx.seed,
                          "tenants": len(ctx.store.tenant_ids())})


@routes.post("/reset")
async def reset(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    with ctx.store.tx():
        ctx.store.reset()
        ctx.hooks.bootstrap(ctx)
    ctx.clocks.reset()
    ctx.journal.clear()
    ctx.snapshots.clear()
    ctx.faults.clear()
    if ctx.outbox is not None:
        ctx.outbox.reset()
    return json_response({"reset": True, "tenants": ctx.store.tenant_ids()})


@routes.get("/state")
async def state(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    tenant = request.query.get("tenant")
    if tenant:
        require_tenant(ctx, tenant)
    return json_response(state_dump(ctx, tenant))


@routes.get("/tenants")
async def list_tenants(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    items = [ctx.store.tenant_info(t) for t in ctx.store.tenant_ids() if t != SERVER]
    return json_response({"tenants": [{"id": i["id"], "kind": i["kind"], "name": i["name"]}
                                      for i in items if i]})


@routes.post("/tenants/{tenant}/fork")
async def fork(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    src = request.match_info["tenant"]
    body = await read_json_object(request, optional=True)
    require_tenant(ctx, src)
    name = require_str(body, "name", optional=True)
    with ctx.store.tx():
        dst = ctx.hooks.new_tenant_id(ctx)
        ctx.store.fork_tenant(src, dst, name)
        extra = ctx.hooks.on_fork(ctx, src, dst)
    ctx.clocks.fork(src, dst)
    return json_response({"tenant_id": dst, "forked_from": src, **extra}, status=201)


@routes.post("/snapshots")
async def take_snapshot(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await read_json_object(request, optional=True)
    tenant = require_str(body, "tenant", optional=True)
    if tenant:
        require_tenant(ctx, tenant)
    snap_id = f"snap-{len(ctx.snapshots) + 1}"
    ctx.snapshots[snap_id] = {"tenant": tenant, "rows": ctx.store.export(tenant),
                              "clocks": ctx.clocks.to_dict(tenant)}
    return json_response({"snapshot_id": snap_id, "tenant": tenant}, status=201)


@routes.get("/snapshots")
async def list_snapshots(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return json_response({"snapshots": [{"snapshot_id": k, "tenant": v["tenant"]}
                                        for k, v in ctx.snapshots.items()]})


@routes.post("/snapshots/{snap}/restore")
async def restore_snapshot(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    snap = ctx.snapshots.get(request.match_info["snap"])
    if snap is None:
        raise AdminError(404, "snapshot_not_found", f"no snapshot {request.match_info['snap']}")
    ctx.store.import_(snap["rows"], snap["tenant"])
    ctx.clocks.load(snap["clocks"], snap["tenant"])
    return json_response({"restored": request.match_info["snap"], "tenant": snap["tenant"]})


def _count_param(query: Any, name: str, default: int | None) -> int | None:
    """A whole number >= 0 from the query string, or a 400 naming the parameter."""
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        raise AdminError(400, "bad_request", f"{name} must be a whole number, 0 or more")
    return int(text)


@routes.get("/journal")
async def journal(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    q = request.query
    status = _count_param(q, "status", None)
    limit = _count_param(q, "limit", 100)
    entries = ctx.journal.query(method=q.get("method"), path_prefix=q.get("path_prefix"),
                                tenant=q.get("tenant"), status=status, limit=limit)
    return json_response({"entries": [e.to_dict() for e in entries]})


def _clock_view(ctx: SimContext, tenant: str | None) -> dict[str, Any]:
    view = ctx.clock(tenant).describe()
    view["tenant"] = tenant
    view["own_clock"] = bool(tenant) and ctx.clocks.has_own(tenant)
    return view


@routes.get("/clock")
async def get_clock(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    tenant = request.query.get("tenant")
    if tenant:
        require_tenant(ctx, tenant)
    return json_response(_clock_view(ctx, tenant))


@routes.post("/clock")
async def set_clock(request: web.Request) -> web.Response:
    """Freeze, unfreeze, set or advance one tenant's clock, or the server's.

    Without `tenant`, the server clock moves and so does every tenant that has
    no clock of its own; with `"all": true`, every tenant's own clock too.
    """
    ctx = _ctx(request)
    body = await read_json_object(request)
    tenant = require_str(body, "tenant", optional=True)
    if tenant:
        require_tenant(ctx, tenant)
    clocks = [ctx.clocks.own(tenant)] if tenant else [ctx.clocks.server]
    if not tenant and body.get("all"):
        clocks += [ctx.clocks.own(t) for t in ctx.store.tenant_ids() if ctx.clocks.has_own(t)]
    at = None
    if "set" in body:
        try:
            at = parse_iso(str(body["set"])).timestamp()
        except ValueError:
            raise AdminError(400, "bad_request", "'set' must be an ISO 8601 instant") from None
    advance = body.get("advance_seconds")
    if advance is not None and (isinstance(advance, bool) or not isinstance(advance, (int, float))
                                and not hasattr(advance, "as_tuple")):
        raise AdminError(400, "bad_request", "'advance_seconds' must be a number")
    freeze = body.get("freeze")
    if freeze is not None and not isinstance(freeze, bool):
        raise AdminError(400, "bad_request", "'freeze' must be true or false")
    for clock in clocks:
        if freeze is True:
            clock.freeze()
        if at is not None:
            clock.set(at)
        if advance is not None:
            clock.advance(float(advance))
        if freeze is False:
            clock.unfreeze()
    return json_response(_clock_view(ctx, tenant))


@routes.post("/faults")
async def add_fault(request: web.Request) -> web.Response:
    """Add a fault rule: `{"action": {...}, "method", "path", "tenant", "entity", "operation",
    "times" | "every" | "probability" (+ "seed")}`."""
    ctx = _ctx(request)
    rule = ctx.faults.add(await read_json_object(request), ctx.hooks.error_presets)
    return json_response(rule.to_dict(), status=201)


@routes.get("/faults")
async def list_faults(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return json_response({"faults": [r.to_dict() for r in ctx.faults.rules],
                          "error_presets": sorted(ctx.hooks.error_presets)})


@routes.delete("/faults")
async def clear_faults(request: web.Request) -> web.Response:
    _ctx(request).faults.clear()
    return json_response({"faults": []})


@routes.delete("/faults/{rule}")
async def delete_fault(request: web.Request) -> web.Response:
    if not _ctx(request).faults.remove(request.match_info["rule"]):
        raise AdminError(404, "fault_not_found", f"no fault rule {request.match_info['rule']}")
    return json_response({"deleted": request.match_info["rule"]})


def _outbox(ctx: SimContext):
    if ctx.outbox is None:
        raise AdminError(404, "not_found", "this fake sends no webhooks")
    return ctx.outbox


@routes.get("/webhooks")
async def webhooks(request: web.Request) -> web.Response:
    """What is queued, retrying (failed), delivered and dropped, newest last; `limit` bounds
    each list (`limit=0`: the counts only, cheap enough to poll)."""
    ctx = _ctx(request)
    limit = _count_param(request.query, "limit", None)
    return json_response(_outbox(ctx).summary(request.query.get("tenant"), limit=limit))


@routes.post("/webhooks/pause")
async def pause_webhooks(request: web.Request) -> web.Response:
    _outbox(_ctx(request)).paused = True
    return json_response({"paused": True})


@routes.post("/webhooks/resume")
async def resume_webhooks(request: web.Request) -> web.Response:
    outbox = _outbox(_ctx(request))
    outbox.paused = False
    outbox._wake.set()
    return json_response({"paused": False})


@routes.post("/webhooks/flush")
async def flush_webhooks(request: web.Request) -> web.Response:
    """Send everything now, ignoring the batching window and retry times."""
    return json_response({"counts": await _outbox(_ctx(request)).flush()})


_CHAOS_TYPES = {"drop_next": int, "duplicate_next": int, "drop_fraction": float, "delay_seconds": float,
                "reorder": bool, "seed": int}


@routes.post("/webhooks/chaos")
async def webhook_chaos(request: web.Request) -> web.Response:
    """Change chaos settings: drop the next N or a seeded fraction, duplicate the next N,
    delay every delivery, reorder queued ones. `{"reset": true}` turns all off."""
    outbox = _outbox(_ctx(request))
    body = await read_json_object(request)
    if body.pop("reset", False):
        outbox.set_chaos(drop_next=0, drop_fraction=0.0, duplicate_next=0, delay_seconds=0.0,
                         reorder=False, seed=0)
    changes = {}
    for key, value in body.items():
        kind = _CHAOS_TYPES.get(key)
        if kind is None:
            raise AdminError(400, "bad_request", f"unknown chaos setting '{key}'")
        if kind is bool and not isinstance(value, bool) or kind is int and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0) or kind is float and (
                isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "as_tuple")
                or value < 0):
            raise AdminError(400, "bad_request", f"'{key}' must be a non-negative {kind.__name__}")
        changes[key] = kind(value)
    if changes.get("drop_fraction", 0) > 1:
        raise AdminError(400, "bad_request", "'drop_fraction' must be between 0 and 1")
    return json_response({"chaos": outbox.set_chaos(**changes).to_dict()})
