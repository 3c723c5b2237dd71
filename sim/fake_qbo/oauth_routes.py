"""HTTP for Intuit's OAuth 2.0 and OpenID endpoints: parse, call, render."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sim.core import jsonutil
from sim.core.context import SIM, SimContext
from sim.core.http import json_response
from sim.core.store import Rec

from . import keys, oauth, pages, tenancy
from .oauth import OAuthError

routes = web.RouteTableDef()

AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
FLOW_TTL = 1800


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def issuer(request: web.Request) -> str:
    return origin(request) + "/op/v1"


def discovery_document(base: str) -> dict[str, Any]:
    return {
        "issuer": base + "/op/v1",
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": sorted(oauth.KNOWN_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


@routes.get("/.well-known/openid-configuration")
@routes.get("/.well-known/openid_configuration")
@routes.get("/.well-known/openid_configuration/")
@routes.get("/.well-known/openid_sandbox_configuration/")
async def discovery(request: web.Request) -> web.Response:
    return json_response(discovery_document(origin(request)))


@routes.get(JWKS_PATH)
async def jwks(request: web.Request) -> web.Response:
    return json_response(keys.jwks(_ctx(request)))


def _oauth_error(exc: OAuthError) -> web.Response:
    return json_response(exc.body(), status=exc.status)


@routes.post(TOKEN_PATH)
async def token(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    if request.content_type not in ("application/x-www-form-urlencoded", ""):
        return _oauth_error(OAuthError(400, "invalid_request",
                                       "the body must be application/x-www-form-urlencoded"))
    form = await _form(request)
    want_hard = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
    try:
        with ctx.store.tx():
            app = oauth.authenticate_client(ctx, request.headers.get("Authorization"))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                body = oauth.exchange_code(ctx, app, _s(form.get("code")), _s(form.get("redirect_uri")),
                                           issuer(request), want_hard)
            elif grant_type == "refresh_token":
                body = oauth.refresh(ctx, app, _s(form.get("refresh_token")), issuer(request), want_hard)
            else:
                raise OAuthError(400, "unsupported_grant_type")
    except OAuthError as exc:
        # Code replay revokes the first exchange's grant even though this call fails.
        if exc.error == "invalid_grant" and form.get("grant_type") == "authorization_code":
            _revoke_replayed(ctx, _s(form.get("code")))
        return _oauth_error(exc)
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def _form(request: web.Request) -> Any:
    """The form body, or an empty one when it cannot be read (a bad multipart header, say)."""
    try:
        return await request.post()
    except ValueError:
        return {}


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _revoke_replayed(ctx: SimContext, code: str | None) -> None:
    rec = ctx.server.get("AuthCode", code) if code else None
    if rec and rec.data["grant_id"]:
        with ctx.store.tx():
            oauth._revoke_grant(ctx, rec.data["grant_id"])


@routes.post(REVOKE_PATH)
async def revoke(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    raw = await request.read()
    try:
        body = jsonutil.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    try:
        if not isinstance(body, dict):
            raise OAuthError(400, "invalid_request", "the body must be a JSON object")
        with ctx.store.tx():
            app = oauth.authenticate_client(ctx, request.headers.get("Authorization"))
            oauth.revoke(ctx, app, _s(body.get("token")))
    except OAuthError as exc:
        return _oauth_error(exc)
    return web.Response(status=200)


@routes.get(USERINFO_PATH)
async def userinfo(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    try:
        return json_response(oauth.userinfo(ctx, request.headers.get("Authorization")))
    except OAuthError as exc:
        return _oauth_error(exc)


# -- the interactive authorize flow ------------------------------------------------
def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _redirect(uri: str, **params: str | None) -> web.Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if "?" in uri else "?"
    # Returned, not raised: raising inside a transaction would roll back the code just issued.
    return web.Response(status=302, headers={"Location": f"{uri}{sep}{query}"})


def _flow(ctx: SimContext, flow_id: Any) -> Rec:
    rec = ctx.server.get("Flow", flow_id) if isinstance(flow_id, str) else None
    if rec is None or ctx.clock().timestamp() > rec.data["expires_at"] or rec.data.get("done"):
        raise web.HTTPBadRequest(text=pages.error("This sign-in has expired. Start again from the app."),
                                 content_type="text/html")
    return rec


def _finish(ctx: SimContext, rec: Rec, error: str | None = None) -> web.Response:
    flow = rec.data
    rec.data["done"] = True
    ctx.server.replace(rec)
    if error:
        return _redirect(flow["redirect_uri"], error=error, state=flow["state"])
    app = tenancy.get_app(ctx, flow["client_id"])
    assert app is not None
    code = oauth.issue_code(ctx, app, flow["user_id"], flow.get("realm_id"), flow["scopes"],
                            flow["redirect_uri"])
    return _redirect(flow["redirect_uri"], code=code, state=flow["state"], realmId=flow.get("realm_id"))


@routes.get(AUTHORIZE_PATH)
async def authorize(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    q = request.query
    app = tenancy.get_app(ctx, q.get("client_id", ""))
    try:
        oauth.check_redirect(app, q.get("redirect_uri"))
    except OAuthError as exc:
        return _html(pages.error(f"{exc.error}: {exc.description}"), status=400)
    assert app is not None
    redirect_uri, state = q["redirect_uri"], q.get("state")
    if q.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", state=state)
    try:
        scopes = oauth.parse_scopes(q.get("scope"))
    except OAuthError as exc:
        return _redirect(redirect_uri, error=exc.error, state=state)
    with ctx.store.tx():
        flow_id = ctx.token("flow", 24)
        ctx.server.insert(Rec("Flow", flow_id, {
            "client_id": app["client_id"], "redirect_uri": redirect_uri, "state": state,
            "scopes": scopes, "expires_at": ctx.clock().timestamp() + FLOW_TTL}))
    return _html(pages.sign_in(flow_id, app["name"]))


@routes.post(AUTHORIZE_PATH + "/signin")
async def sign_in(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    form = await _form(request)
    with ctx.store.tx():
        rec = _flow(ctx, form.get("flow"))
        app = tenancy.get_app(ctx, rec.data["client_id"]) or {"name": "?"}
        if form.get("action") == "cancel":
            return _finish(ctx, rec, error="access_denied")
        user = tenancy.find_user(ctx, _s(form.get("email")) or "")
        if user is None or user.data["password"] != form.get("password"):
            return _html(pages.sign_in(rec.id, app["name"], "The email or password is not right."), 401)
        rec.data["user_id"] = user.id
        ctx.server.replace(rec)
        if oauth.needs_company(rec.data["scopes"]):
            companies = [(r, (ctx.store.tenant_info(r) or {}).get("name", r)) for r in user.data["realms"]]
            return _html(pages.choose_company(rec.id, companies))
        return _html(pages.consent(rec.id, app["name"], None, rec.data["scopes"]))


@routes.post(AUTHORIZE_PATH + "/company")
async def choose_company(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    form = await _form(request)
    with ctx.store.tx():
        rec = _flow(ctx, form.get("flow"))
        if form.get("action") == "cancel":
            return _finish(ctx, rec, error="access_denied")
        user = ctx.server.get("User", rec.data.get("user_id", ""))
        realm = _s(form.get("realm_id"))
        if user is None or realm not in user.data["realms"]:
            return _html(pages.error("Choose one of your companies."), 400)
        rec.data["realm_id"] = realm
        ctx.server.replace(rec)
        app = tenancy.get_app(ctx, rec.data["client_id"]) or {"name": "?"}
        company = (ctx.store.tenant_info(realm) or {}).get("name")
        return _html(pages.consent(rec.id, app["name"], company, rec.data["scopes"]))


@routes.post(AUTHORIZE_PATH + "/consent")
async def consent(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    form = await _form(request)
    with ctx.store.tx():
        rec = _flow(ctx, form.get("flow"))
        if "user_id" not in rec.data or (oauth.needs_company(rec.data["scopes"])
                                         and "realm_id" not in rec.data):
            return _html(pages.error("Sign in and choose a company first."), 400)
        if form.get("decision") != "connect":
            return _finish(ctx, rec, error="access_denied")
        return _finish(ctx, rec)
