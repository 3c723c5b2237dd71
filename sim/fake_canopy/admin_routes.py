"""The fake Canopy's own `/_sim` routes: firms, team members, permission
sets, tokens, integrations and a bulk seed. Not part of the public API.

Refusals here use the same v3 envelope as the public API (the shared core
routes keep the core's `{"error": ...}` shape).
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from sim.core.bulk import gc_paused
from sim.core.context import SIM, SimContext
from sim.core.http import AdminError, json_response, read_json_object

from . import firms
from .api import KINDS
from .errors import CanopyError, bad_request
from .records.batched import FirmBatch
from .records.resource import Ops

routes = web.RouteTableDef()
SEED_ORDER = ("clients", "contacts", "service_items", "invoices", "payments")


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


async def _body(request: web.Request, optional: bool = False) -> dict[str, Any]:
    try:
        return await read_json_object(request, optional=optional)
    except AdminError as exc:
        raise bad_request("body", exc.message) from None


def _firm(request: web.Request) -> str:
    firm_id = request.match_info["firm"]
    firms.firm_info(_ctx(request), firm_id)
    return firm_id


@routes.post("/firms")
async def create_firm(request: web.Request) -> web.Response:
    """A firm (plan, licenses with seats, modules) with its first Admin and a token for them."""
    ctx = _ctx(request)
    body = await _body(request, optional=True)
    with ctx.store.tx():
        return json_response(firms.create_firm(ctx, body), status=201)


@routes.get("/firms")
async def list_firms(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return json_response({"firms": [firms.firm_info(ctx, t) for t in ctx.store.tenant_ids(firms.KIND)]})


@routes.get("/firms/{firm}")
async def get_firm(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    firm_id = _firm(request)
    return json_response({"firm": firms.firm_info(ctx, firm_id), "users": firms.list_users(ctx, firm_id),
                          "permission_sets": firms.list_permission_sets(ctx, firm_id)})


@routes.patch("/firms/{firm}")
async def patch_firm(request: web.Request) -> web.Response:
    """Change a firm's plan, modules, licenses or `rate_limit` ({requests, per_seconds} or null)."""
    ctx = _ctx(request)
    body = await _body(request)
    with ctx.store.tx():
        return json_response(firms.update_firm(ctx, _firm(request), body))


@routes.post("/firms/{firm}/users")
async def create_user(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await _body(request)
    with ctx.store.tx():
        firm_id = _firm(request)
        user = firms.create_user(ctx, firm_id, body)
        token = firms.issue_user_token(ctx, firm_id, user["id"])
        password = firms.user_password(ctx, firm_id, user["id"])
    return json_response({"user": user, "password": password, "token": token}, status=201)


@routes.patch("/firms/{firm}/users/{user}")
async def patch_user(request: web.Request) -> web.Response:
    """Change a member's permission set, licenses or `is_active`; the last Admin stays (409)."""
    ctx = _ctx(request)
    body = await _body(request)
    with ctx.store.tx():
        return json_response({"user": firms.update_user(ctx, _firm(request), request.match_info["user"], body)})


@routes.delete("/firms/{firm}/users/{user}")
async def delete_user(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    with ctx.store.tx():
        firms.delete_user(ctx, _firm(request), request.match_info["user"])
    return web.Response(status=204)


@routes.post("/firms/{firm}/users/{user}/token")
async def user_token(request: web.Request) -> web.Response:
    """A user bearer token without the password."""
    ctx = _ctx(request)
    with ctx.store.tx():
        token = firms.issue_user_token(ctx, _firm(request), request.match_info["user"])
    return json_response({"access_token": token, "token_type": "Bearer"}, status=201)


@routes.post("/firms/{firm}/integrations")
async def create_integration(request: web.Request) -> web.Response:
    """An integration and its token, bypassing the gates (for test set-up)."""
    ctx = _ctx(request)
    body = await _body(request, optional=True)
    name = body.get("name") or "Integration"
    if not isinstance(name, str):
        raise bad_request("name", "must be a string")
    with ctx.store.tx():
        created = firms.create_integration(ctx, _firm(request), name, None)
    token = created.pop("token")
    return json_response({"integration": created, "access_token": token, "token_type": "Bearer"}, status=201)


@routes.post("/tokens/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await _body(request)
    token = firms.require(body.get("token"), "token")
    with ctx.store.tx():
        return json_response({"revoked": firms.revoke_token(ctx, token)})


@routes.get("/firms/{firm}/permission_sets")
async def list_sets(request: web.Request) -> web.Response:
    return json_response({"permission_sets": firms.list_permission_sets(_ctx(request), _firm(request))})


@routes.post("/firms/{firm}/permission_sets")
async def create_set(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await _body(request)
    with ctx.store.tx():
        return json_response({"permission_set": firms.create_permission_set(ctx, _firm(request), body)}, status=201)


@routes.patch("/firms/{firm}/permission_sets/{set}")
async def patch_set(request: web.Request) -> web.Response:
    """Edit a custom permission set; presets refuse (422)."""
    ctx = _ctx(request)
    body = await _body(request)
    with ctx.store.tx():
        return json_response({"permission_set": firms.update_permission_set(
            ctx, _firm(request), request.match_info["set"], body)})


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    """`"$name"` in any `*_id` field becomes the id of the seeded record whose `ref` is `name`.

    A container with nothing to resolve comes back as it was (most seed items hold no ref: not
    copying them was an eighth of a large seed's time)."""
    if isinstance(value, list):
        items = [_resolve(v, refs) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    if not isinstance(value, dict):
        return value
    out = None
    for k, v in value.items():
        if isinstance(v, str):
            if not (v.startswith("$") and k.endswith("_id")):
                continue
            new = refs.get(v[1:], v)
        elif isinstance(v, (dict, list)):
            new = _resolve(v, refs)
        else:
            continue
        if new is not v:
            if out is None:
                out = dict(value)
            out[k] = new
    return value if out is None else out


@routes.post("/firms/{firm}/seed")
async def seed(request: web.Request) -> web.Response:
    """Create lists of records in one transaction, through the same rules as the API.

    Body: `{"clients": [...], "contacts": [...], "service_items": [...], "invoices": [...],
    "payments": [...]}`, each item the v3 object, optionally with a `ref` that later items
    name as `"$ref"` in their `*_id` fields. One bad item refuses the whole seed.
    """
    with gc_paused():
        return _seed(_ctx(request), request, await _body(request))


def _seed(ctx: SimContext, request: web.Request, body: dict[str, Any]) -> web.Response:
    unknown = set(body) - set(SEED_ORDER)
    if unknown:
        raise bad_request(sorted(unknown)[0], f"seed lists are {', '.join(SEED_ORDER)}")
    kinds = {k.plural: k for k in KINDS}
    refs: dict[str, str] = {}
    out: dict[str, list[str]] = {name: [] for name in SEED_ORDER}
    with ctx.store.tx():
        firm_id = _firm(request)
        batch = FirmBatch(ctx.store, firm_id)
        ops = Ops.of(ctx, firm_id, t=batch)
        for name in SEED_ORDER:
            items = body.get(name, [])
            if not isinstance(items, list):
                raise bad_request(name, "must be a list")
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise bad_request(f"{name}[{i}]", "must be an object")
                item = dict(item)
                ref = item.pop("ref", None)
                try:
                    rec = kinds[name].create(ops, _resolve(item, refs))
                except CanopyError as exc:
                    for d in exc.details:
                        if "field" in d:
                            d["field"] = f"{name}[{i}].{d['field']}"
                    exc.message = f"{name}[{i}]: {exc.message}"
                    raise
                out[name].append(rec.id)
                if isinstance(ref, str):
                    refs[ref] = rec.id
        batch.finish()
    return json_response({**out, "refs": refs}, status=201)
