"""The accounting API under /v3/company/{realm}: auth, then the resources."""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from sim.core.context import SIM, SimContext
from sim.core.http import json_response

from . import oauth, tenancy
from .errors import not_found, subscription_lapsed
from .faults import API_PREFIX, realm_of

routes = web.RouteTableDef()
ACCESS: web.AppKey = web.AppKey("access", oauth.Access)


@web.middleware
async def bearer_auth(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every API call proves its token, realm and scope before anything else."""
    if request.path.startswith(API_PREFIX):
        ctx: SimContext = request.app[SIM]
        realm = realm_of(request) or ""
        access = oauth.authenticate_bearer(ctx, request.headers.get("Authorization"))
        oauth.authorize_realm(ctx, access, realm)
        if request.method != "GET" and not _is_read(request) and not tenancy.subscription_active(ctx, realm):
            raise subscription_lapsed()
        request["access"] = access
        request["realm"] = realm
    return await handler(request)


def _is_read(request: web.Request) -> bool:
    """POST /query reads; so does a batch of queries, but batch checks per item."""
    return request.path.rstrip("/").endswith("/query")


def envelope(ctx: SimContext, realm: str, key: str, body: object) -> dict[str, object]:
    stamp = tenancy.qbo_time(ctx.clock(realm).now(), tenancy.company_offset(ctx, realm), millis=True)
    return {key: body, "time": stamp}


@routes.get(API_PREFIX + "{realm}/companyinfo/{id}")
async def company_info(request: web.Request) -> web.Response:
    ctx: SimContext = request.app[SIM]
    realm = request["realm"]
    if request.match_info["id"] != realm:
        raise not_found("CompanyInfo", request.match_info["id"])
    rec = ctx.tenant(realm).get("CompanyInfo", "1")
    if rec is None:
        raise not_found("CompanyInfo", realm)
    return json_response(envelope(ctx, realm, "CompanyInfo", rec.data))
