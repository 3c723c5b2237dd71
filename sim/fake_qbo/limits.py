"""QBO's published throttles, on the realm's clock.

500 requests a minute per realm; 10 a second per realm and app; 40 batch
requests a minute per realm and app. Over any of them: HTTP 429 with the
throttling Fault (3001). On by default with the real numbers; the admin
API changes them or switches them off, for the server or for one realm.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Awaitable, Callable

from aiohttp import web

from sim.core.context import SIM, SimContext
from sim.core.http import AdminError, json_response, read_json_object
from sim.core.limits import Limit, Windows

from .errors import throttled


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    per_realm_per_minute: int = 500
    per_app_per_second: int = 10
    batch_per_app_per_minute: int = 40


class Throttle:
    def __init__(self, enabled: bool = True) -> None:
        self.server = Settings(enabled=enabled)
        self.realms: dict[str, Settings] = {}
        self.windows = Windows()

    def settings(self, realm: str) -> Settings:
        return self.realms.get(realm, self.server)

    def check(self, realm: str, client_id: str, is_batch: bool, now: float) -> None:
        s = self.settings(realm)
        if not s.enabled:
            return
        checks = [(Limit("realm", s.per_realm_per_minute, 60.0), realm),
                  (Limit("app", s.per_app_per_second, 1.0), f"{realm}:{client_id}")]
        if is_batch:
            checks.append((Limit("batch", s.batch_per_app_per_minute, 60.0), f"{realm}:{client_id}"))
        if self.windows.check_all(checks, now) is not None:
            raise throttled()


THROTTLE: web.AppKey[Throttle] = web.AppKey("qbo_throttle", Throttle)


def middleware(access_key: web.RequestKey, realm_key: web.RequestKey):
    """Counts each authenticated API call; sits inside the bearer check, which sets both keys."""
    @web.middleware
    async def throttle(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        access = request.get(access_key)
        if access is not None:
            realm = request[realm_key]
            ctx: SimContext = request.app[SIM]
            request.app[THROTTLE].check(realm, access.client_id, request.path.endswith("/batch"),
                                        ctx.clock(realm).timestamp())
        return await handler(request)
    return throttle


def admin_routes(throttle: Throttle) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/limits")
    async def get_limits(request: web.Request) -> web.Response:
        realm = request.query.get("tenant")
        return json_response({"tenant": realm, **asdict(throttle.settings(realm) if realm else throttle.server)})

    @routes.post("/limits")
    async def set_limits(request: web.Request) -> web.Response:
        """Change limits for the server or one realm (`"tenant"`); `{"reset": true}` restores the real ones."""
        body = await read_json_object(request)
        realm = body.pop("tenant", None)
        if realm is not None and not isinstance(realm, str):
            raise AdminError(400, "bad_request", "'tenant' must be a realm id")
        base = Settings() if body.pop("reset", False) else (
            throttle.settings(realm) if realm else throttle.server)
        known = {f.name: f.type for f in fields(Settings)}
        changes: dict[str, Any] = {}
        for key, value in body.items():
            if key not in known:
                raise AdminError(400, "bad_request", f"unknown limit '{key}'; known: {', '.join(known)}")
            if key == "enabled":
                if not isinstance(value, bool):
                    raise AdminError(400, "bad_request", "'enabled' must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AdminError(400, "bad_request", f"'{key}' must be a positive integer")
            changes[key] = value
        new = replace(base, **changes)
        if realm:
            throttle.realms[realm] = new
        else:
            throttle.server = new
        throttle.windows.clear()
        return json_response({"tenant": realm, **asdict(new)})

    return routes
