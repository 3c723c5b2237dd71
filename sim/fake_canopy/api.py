"""The public API's own routes: sign-in, /me, integrations, the change feed,
client search; and one generic resource per record kind."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sim.core import jsonutil
from sim.core.context import SIM, SimContext
from sim.core.http import json_response

from . import feed, firms, gates
from .auth import PREFIX, Principal, principal_of, refusal_error
from .errors import CanopyError, bad_request, forbidden, not_found, validation
from .records.billing import INVOICE, PAYMENT, SERVICE_ITEM
from .records.clients import CLIENT, CONTACT
from .records.resource import Kind, add_kind, page_of, parse_limit
from .records.validate import Body

KINDS: tuple[Kind, ...] = (CLIENT, CONTACT, SERVICE_ITEM, INVOICE, PAYMENT)
routes = web.RouteTableDef()


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


async def _json(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip() and optional:
        return {}
    try:
        body = jsonutil.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    return body


@routes.post(PREFIX + "/auth/sign_in")
async def sign_in(request: web.Request) -> web.Response:
    body = Body(await _json(request), ("email", "password"))
    email = body.str("email", required=True, nonempty=True)
    password = body.str("password", required=True, nonempty=True)
    body.done()
    ctx = _ctx(request)
    with ctx.store.tx():
        token, who = firms.sign_in(ctx, email, password)
    return json_response({"access_token": token, "token_type": "Bearer",
                          "expires_in": int(firms.USER_TOKEN_TTL), **who})


def me_view(p: Principal) -> dict[str, Any]:
    """Everything the connect gates need: plan, modules, licenses, permissions."""
    firm = {k: p.firm[k] for k in ("id", "name", "plan", "modules", "licenses")}
    out: dict[str, Any] = {"type": "user" if p.user else "integration", "firm": firm, "plan": p.firm["plan"],
                           "modules": p.firm["modules"], "is_tn_standalone": gates.is_tn_standalone(p.firm_view),
                           "user": None, "integration": p.integration, "permission_set": None,
                           "licenses": [], "effective_licenses": [], "granted_permissions": [],
                           "permissions": [], "ineffective_permissions": []}
    if p.user:
        view, fv = p.user.view(), p.firm_view
        out.update(user=firms.public_user(p.user.rec.data), permission_set=p.user.pset.to_json(),
                   licenses=sorted(view.licenses), effective_licenses=sorted(gates.effective_licenses(view, fv)),
                   granted_permissions=sorted(view.permission_set.permissions),
                   permissions=sorted(gates.effective_permissions(view, fv)),
                   ineffective_permissions=[{"permission": k, "missing_license": v} for k, v in
                                            sorted(gates.ineffective_permissions(view, fv).items())])
    return out


@routes.get(PREFIX + "/me")
async def me(request: web.Request) -> web.Response:
    return json_response(me_view(principal_of(request)))


@routes.post(PREFIX + "/integrations")
async def create_integration(request: web.Request) -> web.Response:
    """A signed-in user with effective Manage Integrations creates an integration and its firm token."""
    p = principal_of(request)
    raw = await _json(request, optional=True)
    body = Body(raw, ("integration",))
    spec = raw.get("integration", {})
    if not isinstance(spec, dict) or set(spec) - {"name"} or not isinstance(spec.get("name", ""), str):
        body.fail("integration", 'must be {"name": "..."}')
    body.done()
    if p.user is None:
        raise forbidden("user_token_required", "Only a signed-in team member can create an integration",
                        {"token": "user"})
    refusal = gates.integration_refusal(p.user.view(), p.firm_view)
    if refusal:
        raise refusal_error(refusal)
    ctx = _ctx(request)
    with ctx.store.tx():
        created = firms.create_integration(ctx, p.firm_id, spec.get("name") or "Integration", p.user.rec.id)
    token = created.pop("token")
    return json_response({"integration": created, "access_token": token, "token_type": "Bearer"}, status=201)


@routes.delete(PREFIX + "/integrations/{id}")
async def revoke_integration(request: web.Request) -> web.Response:
    """The integration itself, or a member with effective Manage Integrations, revokes it."""
    p = principal_of(request)
    integration_id = request.match_info["id"]
    own = p.integration is not None and p.integration["id"] == integration_id
    if not own:
        if p.user is None:
            raise not_found("integration", integration_id)
        refusal = gates.access_refusal(p.firm_view, p.user.view(),
                                       gates.Needs(any_permission=(gates.MANAGE_INTEGRATIONS,)))
        if refusal:
            raise refusal_error(refusal)
    ctx = _ctx(request)
    with ctx.store.tx():
        firms.revoke_integration(ctx, p.firm_id, integration_id)
    return web.Response(status=204)


@routes.get(PREFIX + "/changes")
async def changes(request: web.Request) -> web.Response:
    """The firm's change feed after `cursor`, in order; `next_cursor` resumes after the last event."""
    p = principal_of(request)
    limit = parse_limit(request)
    cursor = request.query.get("cursor")
    after = feed.decode_cursor(cursor) if cursor else 0
    events, last, more = feed.page(_ctx(request).tenant(p.firm_id), after, limit)
    return json_response({"events": events, "next_cursor": feed.encode_cursor(last), "has_more": more})


QUERY_FIELDS = ("name", "email", "phone")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@routes.get(PREFIX + "/clients/search")
async def search_clients(request: web.Request) -> web.Response:
    """Substring search, ignoring case (names, emails) or everything but digits (phones)."""
    p = principal_of(request)
    p.check(CLIENT.needs)
    q, field = request.query.get("q"), request.query.get("query_field")
    details = []
    if not q or not q.strip():
        details.append({"field": "q", "code": "required", "message": "is required"})
    if field not in QUERY_FIELDS:
        details.append({"field": "query_field", "code": "invalid",
                        "message": f"must be one of {', '.join(QUERY_FIELDS)}"})
    if details:
        raise validation(details)
    assert q is not None
    needle = _digits(q) if field == "phone" else q.strip().casefold()
    if not needle:
        raise bad_request("q", "a phone search needs digits")

    def hit(value: str | None) -> bool:
        if not value:
            return False
        return needle in (_digits(value) if field == "phone" else value.casefold())

    def values(data: dict[str, Any]) -> list[str]:
        if field == "name":
            return [data["display_name"]]
        key = "email" if field == "email" else "number"
        return [e[key] for e in data[field + "s"]]

    recs, nxt = page_of(_ctx(request).tenant(p.firm_id), "client", request,
                        lambda r: any(hit(v) for v in values(r.data)))
    out = []
    for r in recs:
        item = {"id": r.id, "name": r.data["display_name"]}
        if field != "name":
            item[field] = next(v for v in values(r.data) if hit(v))
        out.append(item)
    return json_response({"clients": out, "next_cursor": nxt})


for _kind in KINDS:
    add_kind(routes, _kind)

__all__ = ["routes", "KINDS", "CanopyError"]
