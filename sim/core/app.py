"""The app factory both fakes build on: journal, request ids, admin sub-app."""
from __future__ import annotations

import time
import uuid
from typing import Awaitable, Callable, Iterable

from aiohttp import web

from . import admin
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
                duration_ms=round((time.perf_counter() - started) * 1000, 3))
        if isinstance(response, web.HTTPException):
            raise response
        return response
    return middleware


def build_app(ctx: SimContext, *, tenant_of: TenantOf,
              routes: Iterable[web.RouteDef | web.RouteTableDef] = (),
              admin_routes: Iterable[web.RouteTableDef] = (),
              middlewares: Iterable[Callable] = (),
              tid_header: str | None = None) -> web.Application:
    """An aiohttp app with the shared journal and the `/_sim` admin sub-app."""
    app = web.Application(
        middlewares=[journal_middleware(ctx, tenant_of, tid_header), *middlewares],
        client_max_size=32 * 1024 * 1024)
    app[SIM] = ctx
    for table in routes:
        app.add_routes(table)
    sim = admin.create_admin_app(ctx, admin_routes)
    app.add_subapp("/_sim", sim)
    ctx.hooks.bootstrap(ctx)
    return app
