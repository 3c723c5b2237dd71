"""`create_app(config)`: the fake QBO as one aiohttp application."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pathlib import Path

from sim.core.app import build_app
from sim.core.openapi import spec_route
from sim.core.context import Hooks, SimContext
from sim.core.store import Store
from sim.core.webhooks import Outbox

from . import admin_routes, api, limits, oauth_routes, tenancy, webhooks
from .entities import SPECS_BY_SEGMENT
from .errors import PRESETS
from .faults import qbo_faults, realm_of


SPEC = Path(__file__).with_name("openapi.yaml")


@dataclass
class QboConfig:
    seed: int | None = None
    db: str | None = None
    limits: bool = True
    """QBO's throttles with the real numbers; test servers that make many calls a second turn
    them off and the throttle tests turn them on per realm (`POST /_sim/limits`)."""
    ready_made: bool = False
    """Start with one app and one company (for people running `sim serve`)."""


READY_APP = {"client_id": "ABfakeClientId0000000000000000000000000000000000",
             "client_secret": "fakeClientSecret000000000000000000000000",
             "redirect_uris": ["http://127.0.0.1:8080/callback", "http://localhost:8080/callback"]}


def _bootstrap(config: QboConfig):
    def run(ctx: SimContext) -> None:
        if not config.ready_made or tenancy.get_app(ctx, READY_APP["client_id"]):
            return
        with ctx.store.tx():
            tenancy.register_app(ctx, dict(READY_APP))
            ctx.extra["ready_company"] = tenancy.create_company(ctx, {"name": "Sandbox Company US 1"})
    return run


def _on_fork(ctx: SimContext, src: str, dst: str) -> dict[str, Any]:
    return tenancy.grant_fork_access(ctx, src, dst)


def _preset(make):
    def raise_it(request: web.Request, action: dict[str, Any]) -> web.Response:
        raise make()
    return raise_it


def classify(request: web.Request) -> tuple[str | None, str | None]:
    """(entity, operation) of an API call, for fault rules: `read`, `query`, `batch`, `cdc`, or
    the `operation` query parameter of a write (`write` when it has none)."""
    parts = request.path.split("/")
    if len(parts) < 5 or parts[1:3] != ["v3", "company"]:
        return None, None
    segment = parts[4].lower()
    if segment in ("query", "batch", "cdc"):
        return None, segment
    spec = SPECS_BY_SEGMENT.get(segment)
    entity = spec.name if spec else segment.capitalize()
    if request.method == "GET":
        return entity, "read"
    return entity, request.query.get("operation", "write").lower()


def create_app(config: QboConfig | None = None) -> web.Application:
    config = config or QboConfig()
    hooks = Hooks(new_tenant_id=tenancy.new_realm_id, bootstrap=_bootstrap(config), on_fork=_on_fork,
                  classify=classify, error_presets={k: _preset(v) for k, v in PRESETS.items()})
    ctx = SimContext(kind=tenancy.KIND, store=Store(config.db), hooks=hooks, seed=config.seed)
    ctx.outbox = Outbox(ctx.clock, webhooks.renderer(ctx))
    throttle = limits.Throttle(enabled=config.limits)
    app = build_app(ctx, tenant_of=realm_of, routes=[oauth_routes.routes, api.routes, spec_route(SPEC)],
                    admin_routes=[admin_routes.routes, limits.admin_routes(throttle)], errors=qbo_faults,
                    middlewares=[api.bearer_auth, limits.middleware(api.ACCESS, api.REALM)],
                    tid_header="intuit_tid", admin_spec=Path(__file__).with_name("admin_openapi.yaml"))
    app[limits.THROTTLE] = throttle
    return app
