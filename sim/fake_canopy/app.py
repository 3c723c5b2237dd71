"""`create_app(config)`: the fake Canopy as one aiohttp application."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sim.core.app import build_app
from sim.core.context import Hooks, SimContext
from sim.core.openapi import spec_route
from sim.core.store import Store
from sim.core.webhooks import Outbox

from . import admin_routes, api, firms, webhooks
from .auth import RATE, bearer_auth, tenant_of
from .errors import PRESETS, canopy_errors

SPEC = Path(__file__).with_name("openapi.yaml")
READY_FIRM = {"name": "Ready-Made CPA", "plan": "paid",
              "admin": {"email": "admin@canopy.test", "password": "canopy-password",
                        "first_name": "Avery", "last_name": "Admin"}}


@dataclass
class CanopyConfig:
    seed: int | None = None
    db: str | None = None
    ready_made: bool = False
    """Start with one paid firm and its Admin (for people running `sim serve`)."""


def _bootstrap(config: CanopyConfig):
    def run(ctx: SimContext) -> None:
        if not config.ready_made or ctx.server.get("login", READY_FIRM["admin"]["email"]):
            return
        with ctx.store.tx():
            ctx.extra["ready_firm"] = firms.create_firm(ctx, dict(READY_FIRM))
    return run


def _preset(make):
    def raise_it(request: web.Request, action: dict) -> web.Response:
        raise make()
    return raise_it


def classify(request: web.Request) -> tuple[str | None, str | None]:
    """(resource, operation) of a public API call, for fault rules: `clients` + `read`, `create`,
    `update`, `delete`, `list`."""
    parts = [p for p in request.path.split("/") if p]
    if len(parts) < 3 or parts[:2] != ["public", "v3"]:
        return None, None
    has_id = len(parts) > 3
    op = {"GET": "read" if has_id else "list", "POST": "create", "PATCH": "update",
          "DELETE": "delete"}.get(request.method, request.method.lower())
    return parts[2], op


def create_app(config: CanopyConfig | None = None) -> web.Application:
    config = config or CanopyConfig()
    hooks = Hooks(new_tenant_id=firms.new_firm_id, bootstrap=_bootstrap(config), classify=classify,
                  error_presets={k: _preset(v) for k, v in PRESETS.items()})
    ctx = SimContext(kind=firms.KIND, store=Store(config.db), hooks=hooks, seed=config.seed)
    ctx.outbox = Outbox(ctx.clock, webhooks.renderer(ctx), schedule=webhooks.RETRY_SCHEDULE)
    app = build_app(ctx, tenant_of=tenant_of, routes=[api.routes, webhooks.routes, spec_route(SPEC)],
                    admin_routes=[admin_routes.routes], errors=canopy_errors, middlewares=[bearer_auth],
                    admin_spec=Path(__file__).with_name("admin_openapi.yaml"))
    app[RATE] = {}
    return app


def ready_credentials(app: web.Application) -> dict[str, str] | None:
    """The ready-made firm's admin e-mail, password and a fresh bearer token (None without one)."""
    from sim.core.context import SIM
    ctx = app[SIM]
    login = ctx.server.get("login", READY_FIRM["admin"]["email"])
    if login is None:
        return None
    firm_id, user_id = login.data["firm_id"], login.data["user_id"]
    with ctx.store.tx():
        token = firms.issue_user_token(ctx, firm_id, user_id)
    return {"firm_id": firm_id, "firm_name": firms.firm_info(ctx, firm_id)["name"],
            "email": READY_FIRM["admin"]["email"], "password": firms.user_password(ctx, firm_id, user_id),
            "token": token}
