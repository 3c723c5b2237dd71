"""Bearer tokens on `/public/v3`: who is calling, for which firm, how often.

Two kinds of token: a user's (from sign-in, acting with the user's
effective permissions) and an integration's (firm-scoped, for
server-to-server calls). Both resolve to a `Principal`; every record lookup
is keyed by its firm, so another firm's ids are simply not found (404).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import web

from sim.core.context import SIM, SimContext

from . import firms, gates
from .errors import CanopyError, throttled, unauthorized

PREFIX = "/public/v3"
OPEN_PATHS = frozenset({PREFIX + "/auth/sign_in"})
RATE: web.AppKey[dict[str, deque[float]]] = web.AppKey("canopy_rate", dict)


@dataclass
class Principal:
    token: str
    firm: dict[str, Any]
    user: firms.Member | None = None
    integration: dict[str, Any] | None = None

    @property
    def firm_id(self) -> str:
        return self.firm["id"]

    @property
    def firm_view(self) -> gates.FirmView:
        return firms.firm_view(self.firm)

    @property
    def user_view(self) -> gates.UserView | None:
        return self.user.view() if self.user else None

    def check(self, needs: gates.Needs) -> None:
        refusal = gates.access_refusal(self.firm_view, self.user_view, needs)
        if refusal:
            raise refusal_error(refusal)


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("canopy_principal", Principal)
FIRM: web.RequestKey[str] = web.RequestKey("canopy_firm", str)


def refusal_error(refusal: gates.Refusal) -> CanopyError:
    return CanopyError(refusal.status, refusal.reason, refusal.message,
                       [{"code": refusal.reason, "message": refusal.message, **refusal.missing}])


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("A bearer token is required", "missing_token")
    return token.strip()


def authenticate(ctx: SimContext, token: str) -> Principal:
    grant = firms.resolve_token(ctx, token)
    firm = firms.firm_info(ctx, grant["firm_id"])
    if grant["kind"] == "user":
        try:
            member = firms.get_member(ctx, firm["id"], grant["user_id"])
        except CanopyError:
            raise unauthorized("The user no longer exists", "invalid_token") from None
        if not member.rec.data["is_active"]:
            raise unauthorized("The user is deactivated", "invalid_token")
        return Principal(token, firm, user=member)
    integration = firms.get_integration(ctx, firm["id"], grant["integration_id"]).data
    return Principal(token, firm, integration=integration)


def _throttle(request: web.Request, ctx: SimContext, p: Principal) -> None:
    """A sliding window per token, on the firm clock, when the firm has a `rate_limit`."""
    limit = p.firm.get("rate_limit")
    if not limit:
        return
    now = ctx.clock(p.firm_id).timestamp()
    window = request.app[RATE].setdefault(p.token, deque())
    while window and window[0] <= now - limit["per_seconds"]:
        window.popleft()
    if len(window) >= limit["requests"]:
        raise throttled(max(1, int(window[0] + limit["per_seconds"] - now + 0.999)))
    window.append(now)


@web.middleware
async def bearer_auth(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if request.path.startswith(PREFIX + "/") and request.path not in OPEN_PATHS:
        ctx: SimContext = request.app[SIM]
        principal = authenticate(ctx, bearer(request))
        request[PRINCIPAL] = principal
        request[FIRM] = principal.firm_id
        _throttle(request, ctx, principal)
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def tenant_of(request: web.Request) -> str | None:
    """The firm a request belongs to, for the journal (set once authenticated)."""
    return request.get(FIRM)
