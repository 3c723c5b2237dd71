"""The app factory both fakes build on: journal, request ids, admin sub-app."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from aiohttp import web

from . import admin, faults
from .clock import iso
from .context import SIM, SimContext
from .journal import digest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TenantOf = Callable[[web.Request], str | None]


def journal_middleware(ctx: SimContext, tenant_of: TenantOf, tid_header: str | None):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        body = await request.read() if request.can_read_body else b""
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        except faults.ConnectionDropped:
            response = web.Response(status=599)  # never sent: the socket is gone
        if tid_header and tid_header not in response.headers:
            response.headers[tid_header] = f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
        if not request.path.startswith("/_sim"):
            tenant = tenant_of(request)
            ctx.journal.record(
                time=iso(ctx.clock(tenant).now(), millis=True), tenant=tenant,
                method=request.method, path=request.path, query=request.query_string,
                status=response.status, request_digest=digest(body),
                response_digest=digest(getattr(response, "body", None) if isinstance(
                    getattr(response, "body", None), bytes) else None),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                note=f"fault:{request[faults.FAULT_ID]} {request.get(faults.FAULT_ACTION, '')}".strip()
                if faults.FAULT_ID in request else "")
        if isinstance(response, web.HTTPException):
            raise response
        return response
    return middleware


def fault_middleware(ctx: SimContext, tenant_of: TenantOf):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not ctx.faults.rules or request.path.startswith("/_sim"):
            return await handler(request)
        entity, operation = ctx.hooks.classify(request)
        rule = ctx.faults.pick(request.method, request.path, tenant_of(request), entity, operation)
        if rule is None:
            return await handler(request)
        request[faults.FAULT_ACTION] = rule.action["type"]
        return await faults.apply(rule, request, handler, ctx.hooks.error_presets)
    return middleware


def build_app(ctx: SimContext, *, tenant_of: TenantOf,
              routes: Iterable[web.RouteDef | web.RouteTableDef] = (),
              admin_routes: Iterable[web.RouteTableDef] = (),
              errors: Callable | None = None,
              middlewares: Iterable[Callable] = (),
              tid_header: str | None = None,
              admin_spec: Path | None = None) -> web.Application:
    """An aiohttp app with the shared journal, fault injection and the `/_sim` admin sub-app.

    `errors` is the fake's middleware that renders its errors in the service's
    shape; it wraps the injected faults so a preset can simply raise. `admin_spec` is the
    fake's own admin OpenAPI YAML, served merged with the core's at `/_sim/openapi.json`.
    """
    app = web.Application(
        # journal (sees everything) -> the fake's error renderer -> injected faults -> the rest
        middlewares=[journal_middleware(ctx, tenant_of, tid_header), *([errors] if errors else []),
                     fault_middleware(ctx, tenant_of), *middlewares],
        client_max_size=32 * 1024 * 1024)
    app[SIM] = ctx
    if ctx.outbox is not None:
        app.cleanup_ctx.append(ctx.outbox.run)
    for table in routes:
        app.add_routes(table)
    sim = admin.create_admin_app(ctx, admin_routes, admin_spec)
    app.add_subapp("/_sim", sim)
    ctx.hooks.bootstrap(ctx)
    return app
