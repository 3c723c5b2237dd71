"""The fake QBO's own `/_sim` routes: apps, companies, users, grants."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sim.core.bulk import gc_paused
from sim.core.context import SIM, SimContext
from sim.core.http import AdminError, json_response, read_json_object, require_str

from . import oauth, tenancy

routes = web.RouteTableDef()


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


@routes.post("/apps")
async def create_app(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await read_json_object(request)
    with ctx.store.tx():
        return json_response(tenancy.register_app(ctx, body), status=201)


@routes.get("/apps")
async def list_apps(request: web.Request) -> web.Response:
    return json_response({"apps": [r.data for r in _ctx(request).server.find("App")]})


@routes.get("/apps/{client_id}")
async def get_app(request: web.Request) -> web.Response:
    app = tenancy.get_app(_ctx(request), request.match_info["client_id"])
    if app is None:
        raise AdminError(404, "app_not_found", f"no app {request.match_info['client_id']}")
    return json_response(app)


@routes.patch("/apps/{client_id}")
async def patch_app(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await read_json_object(request)
    with ctx.store.tx():
        return json_response(tenancy.update_app(ctx, request.match_info["client_id"], body))


@routes.post("/companies")
async def create_company(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    body = await read_json_object(request)
    with ctx.store.tx():
        return json_response(tenancy.create_company(ctx, body), status=201)


@routes.get("/companies")
async def list_companies(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    out = []
    for realm in ctx.store.tenant_ids(tenancy.KIND):
        info = ctx.store.tenant_info(realm) or {}
        out.append({"realm_id": realm, "name": info.get("name"),
                    "subscription": info.get("data", {}).get("subscription")})
    return json_response({"companies": out})


@routes.post("/companies/{realm}/subscription")
async def subscription(request: web.Request) -> web.Response:
    """Suspend (or restore) a company's subscription: writes then fail with 6190."""
    ctx = _ctx(request)
    body = await read_json_object(request)
    with ctx.store.tx():
        return json_response(tenancy.set_subscription(ctx, request.match_info["realm"],
                                                      require_str(body, "status") or ""))


@routes.post("/companies/{realm}/users/revoke")
async def revoke_user(request: web.Request) -> web.Response:
    """A person loses access to a company: their grants there stop working (403, 120)."""
    ctx = _ctx(request)
    body = await read_json_object(request)
    email = require_str(body, "email") or ""
    with ctx.store.tx():
        user = tenancy.revoke_user_access(ctx, request.match_info["realm"], email)
    return json_response({"email": user["email"], "realms": user["realms"]})


@routes.post("/companies/{realm}/users/grant")
async def grant_user(request: web.Request) -> web.Response:
    """Give a (new or existing) sign-in user access to a company."""
    ctx = _ctx(request)
    body = await read_json_object(request)
    realm = request.match_info["realm"]
    tenancy.require_company(ctx, realm)
    email = require_str(body, "email") or ""
    with ctx.store.tx():
        user = tenancy.ensure_user(ctx, body, realm, email)
    return json_response({"email": user["email"], "password": user["password"], "sub": user["sub"],
                          "realms": user["realms"]}, status=201)


@routes.post("/companies/{realm}/revoke-tokens")
async def revoke_tokens(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    with ctx.store.tx():
        return json_response({"revoked_grants": oauth.revoke_for_realm(ctx, request.match_info["realm"])})


@routes.post("/oauth/grant")
async def grant(request: web.Request) -> web.Response:
    """Skip the pages: consent as the company's user and get the redirect URL."""
    ctx = _ctx(request)
    body = await read_json_object(request)
    client_id = require_str(body, "client_id") or ""
    redirect_uri = require_str(body, "redirect_uri") or ""
    scope = body.get("scope", oauth.ACCOUNTING)
    realm = require_str(body, "realm_id", optional=True)
    state = body.get("state")
    try:
        app = tenancy.get_app(ctx, client_id)
        oauth.check_redirect(app, redirect_uri)
        scopes = oauth.parse_scopes(scope if isinstance(scope, str) else None)
    except oauth.OAuthError as exc:
        raise AdminError(400, exc.error, exc.description or exc.error) from None
    assert app is not None
    if oauth.needs_company(scopes) and not realm:
        raise AdminError(400, "bad_request", "'realm_id' is required for accounting scopes")
    if realm:
        tenancy.require_company(ctx, realm)
    email = require_str(body, "user_email", optional=True)
    with ctx.store.tx():
        user = tenancy.find_user(ctx, email) if email else next(
            (u for u in ctx.server.find("User") if realm in u.data["realms"]), None)
        if user is None or (realm and realm not in user.data["realms"]):
            raise AdminError(404, "user_not_found", "no sign-in user with access to that company")
        code = oauth.issue_code(ctx, app, user.id, realm, scopes, redirect_uri)
    params = {"code": code, "state": state if isinstance(state, str) else None, "realmId": realm}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if "?" in redirect_uri else "?"
    return json_response({"redirect_url": f"{redirect_uri}{sep}{query}", "code": code, "realm_id": realm})


# -- bulk seed ---------------------------------------------------------------------
SEED_ORDER = ("Account", "Customer", "Vendor", "Employee", "Item", "Invoice")
"""Entities a seed may create, in the order they are created (refs point backwards)."""


def _resolve_refs(value: object, refs: dict[str, str], where: str) -> object:
    """`{"$ref": "cust-17"}` anywhere in a body becomes `{"value": <Id of cust-17>}`."""
    if isinstance(value, dict):
        if "$ref" in value:
            name = value["$ref"]
            if not isinstance(name, str) or name not in refs:
                raise AdminError(400, "bad_seed", f"{where}: $ref {name!r} names no earlier record of this seed")
            return {"value": refs[name], **{k: v for k, v in value.items() if k not in ("$ref", "value")}}
        return {k: _resolve_refs(v, refs, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, refs, where) for v in value]
    return value


@routes.post("/companies/{realm}/seed")
async def seed(request: web.Request) -> web.Response:
    """Create lists of records in one transaction, through the entity layer.

    Body: `{"Account": [...], "Customer": [...], "Vendor": [...], "Employee": [...], "Item": [...],
    "Invoice": [...]}`, each item the body QBO's API accepts, with an optional `"$id"` that later
    items point at as `{"$ref": "<$id>"}`. QBO's rules hold (names, FQN, balances); one bad body
    refuses the whole seed (400, naming the list, the index and QBO's error). Answers the Id of
    each `$id` and how many records of each entity were created. Sends no webhooks: a seed is the
    world's starting state, not a change in it.
    """
    ctx = _ctx(request)
    realm = request.match_info["realm"]
    tenancy.require_company(ctx, realm)
    with gc_paused():
        return _seed(ctx, realm, await read_json_object(request))


def _seed(ctx: SimContext, realm: str, body: dict[str, Any]) -> web.Response:
    from .entities import SPECS_BY_NAME, Session, resource  # noqa: PLC0415 (entities import tenancy)
    from .entities.prepared import BulkStore  # noqa: PLC0415
    from .errors import QboFault  # noqa: PLC0415

    unknown = sorted(set(body) - set(SEED_ORDER))
    if unknown:
        raise AdminError(400, "bad_seed", f"unknown list {unknown[0]!r}; seed lists are {', '.join(SEED_ORDER)}")
    refs: dict[str, str] = {}
    counts: dict[str, int] = {}
    with ctx.store.tx():
        bulk = BulkStore(ctx.store, realm)
        s = Session(ctx, realm, store=bulk)
        for name in SEED_ORDER:
            items = body.get(name, [])
            if not isinstance(items, list):
                raise AdminError(400, "bad_seed", f"{name} must be a list")
            spec = SPECS_BY_NAME[name]
            for i, item in enumerate(items):
                where = f"{name}[{i}]"
                if not isinstance(item, dict):
                    raise AdminError(400, "bad_seed", f"{where} must be an object")
                ref = item.get("$id")
                if ref is not None and (not isinstance(ref, str) or ref in refs):
                    raise AdminError(400, "bad_seed", f"{where}: $id must be a string not used before")
                item = _resolve_refs({k: v for k, v in item.items() if k != "$id"}, refs, where)
                try:
                    rec = resource.create_record(s, spec, item)
                except QboFault as fault:
                    label = f" ($id {ref})" if ref else ""
                    elem = f" [element {fault.element}]" if fault.element else ""
                    raise AdminError(400, "seed_refused",
                                     f"{where}{label}: QBO {fault.code} {fault.message}: {fault.detail}{elem}"
                                     ) from None
                if ref is not None:
                    refs[ref] = rec.id
            counts[name] = len(items)
        bulk.finish()
    return json_response({"ids": refs, "counts": counts}, status=201)


# -- edits from outside the integration ----------------------------------------------------
@routes.post("/companies/{realm}/edit")
async def edit(request: web.Request) -> web.Response:
    """Change a record as a person in QBO's own screens would.

    Body: `{"entity": "Customer", "id": "58"}` plus one of `"changes": {...}` (a sparse update),
    `"deactivate": true`, `"delete": true` (transactions) or `"void": true` (invoices). The
    change bumps `SyncToken` and `MetaData.LastUpdatedTime` and shows in CDC and webhooks exactly
    as an API write does; QBO's rules refuse it the same way (400 naming QBO's error).
    """
    from . import api  # noqa: PLC0415 (api imports the entity layer, which imports tenancy)
    from .entities import SPECS_BY_NAME, Session, resource  # noqa: PLC0415
    from .errors import QboFault  # noqa: PLC0415

    ctx = _ctx(request)
    realm = request.match_info["realm"]
    tenancy.require_company(ctx, realm)
    body = await read_json_object(request)
    spec = SPECS_BY_NAME.get(str(body.get("entity")))
    id_ = body.get("id")
    if spec is None or not isinstance(id_, str):
        raise AdminError(400, "bad_request", f"'entity' must be one of {', '.join(SPECS_BY_NAME)} and 'id' a string")
    actions = [k for k in ("changes", "deactivate", "delete", "void") if body.get(k)]
    if len(actions) != 1:
        raise AdminError(400, "bad_request", "give exactly one of 'changes', 'deactivate', 'delete', 'void'")
    action = actions[0]
    if action == "changes" and not isinstance(body["changes"], dict):
        raise AdminError(400, "bad_request", "'changes' must be an object of fields")
    s = Session(ctx, realm)
    try:
        with ctx.store.tx():
            current = s.store.get(spec.name, id_)
            if current is None or current.deleted:
                raise AdminError(404, "record_not_found", f"no {spec.name} {id_} in {realm}")
            token = {"Id": id_, "SyncToken": str(current.version)}
            if action == "delete":
                out = resource.delete(s, spec, token)
            elif action == "void":
                out = resource.void(s, spec, token)
            else:
                fields = body["changes"] if action == "changes" else {"Active": False}
                out = resource.render(resource.update_record(s, spec, {**token, **fields, "sparse": True}).data)
    except QboFault as fault:
        raise AdminError(400, "edit_refused", f"QBO {fault.code} {fault.message}: {fault.detail}") from None
    api.announce(s)
    return json_response({spec.name: out})
