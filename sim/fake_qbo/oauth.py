"""Intuit OAuth 2.0 as rules over the store: codes, grants, tokens.

A *grant* is one consent (app, user, realm, scopes); the code, the refresh
tokens and the access tokens issued from it hang off it, so revoking or
replaying a code kills the whole family at once. Lifetimes run on the
realm's clock. The decisions behind each number are in docs/decisions.md.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sim.core.context import SimContext
from sim.core.store import Rec

from . import tenancy
from .errors import QboFault, app_not_authorized, authentication_failed, authorization_failure

ACCOUNTING = "com.intuit.quickbooks.accounting"
PAYMENT = "com.intuit.quickbooks.payment"
OPENID_SCOPES = {"openid", "profile", "email", "phone", "address"}
KNOWN_SCOPES = {ACCOUNTING, PAYMENT, *OPENID_SCOPES}

CODE_TTL = 600                    # seconds an authorization code can be exchanged
ACCESS_TTL = 3600                 # access token: 1 hour
REFRESH_TTL = 100 * 86400         # refresh token: rolling 100 days
REFRESH_ROTATE_AFTER = 86400      # a refresh returns a new value once the old is a day old
REFRESH_GRACE = 86400             # a superseded refresh token still works this long
HARD_TTL = 5 * 365 * 86400        # hard cap since 2025: five years from consent


class OAuthError(Exception):
    """An OAuth error answer: `{"error": ..., "error_description": ...}`."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@dataclass
class Access:
    """Who a valid bearer token speaks for."""

    token: str
    client_id: str
    realm_id: str | None
    scopes: list[str]
    user_id: str


def parse_scopes(scope: str | None) -> list[str]:
    scopes = (scope or "").split()
    if not scopes:
        raise OAuthError(400, "invalid_scope", "scope is required")
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise OAuthError(400, "invalid_scope", f"unknown scope(s): {' '.join(unknown)}")
    return scopes


def needs_company(scopes: list[str]) -> bool:
    return ACCOUNTING in scopes or PAYMENT in scopes


# -- client authentication ----------------------------------------------------
def authenticate_client(ctx: SimContext, header: str | None) -> dict[str, Any]:
    if not header or not header.startswith("Basic "):
        raise OAuthError(401, "invalid_client", "client authentication is required")
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "malformed Basic credentials") from None
    app = tenancy.get_app(ctx, client_id)
    if app is None or app["client_secret"] != secret:
        raise OAuthError(401, "invalid_client")
    return app


def check_redirect(app: dict[str, Any] | None, redirect_uri: str | None) -> None:
    if app is None:
        raise OAuthError(400, "invalid_client", "unknown client_id")
    if not redirect_uri or redirect_uri not in app["redirect_uris"]:
        raise OAuthError(400, "invalid_request", "redirect_uri is not registered for this app")


# -- codes ----------------------------------------------------------------------
def issue_code(ctx: SimContext, app: dict[str, Any], user_id: str, realm: str | None,
               scopes: list[str], redirect_uri: str) -> str:
    now = ctx.clock(realm).timestamp()
    code = "AB11" + ctx.token("code", 46)
    ctx.server.insert(Rec("AuthCode", code, {
        "client_id": app["client_id"], "redirect_uri": redirect_uri, "realm_id": realm,
        "scopes": scopes, "user_id": user_id, "issued_at": now, "expires_at": now + CODE_TTL,
        "grant_id": None}))
    return code


def _new_grant(ctx: SimContext, code: dict[str, Any], now: float) -> Rec:
    grant = Rec("Grant", str(ctx.server.next_id("grant")), {
        "client_id": code["client_id"], "realm_id": code["realm_id"], "scopes": code["scopes"],
        "user_id": code["user_id"], "created_at": now, "hard_expires_at": now + HARD_TTL,
        "revoked": False}, key=code["realm_id"])
    ctx.server.insert(grant)
    return grant


def _revoke_grant(ctx: SimContext, grant_id: str | None) -> None:
    grant = ctx.server.get("Grant", grant_id) if grant_id else None
    if grant and not grant.data["revoked"]:
        grant.data["revoked"] = True
        ctx.server.replace(grant)


def exchange_code(ctx: SimContext, app: dict[str, Any], code: str | None, redirect_uri: str | None,
                  issuer: str, want_hard: bool) -> dict[str, Any]:
    if not code:
        raise OAuthError(400, "invalid_request", "code is required")
    rec = ctx.server.get("AuthCode", code)
    if rec is None or rec.data["client_id"] != app["client_id"]:
        raise OAuthError(400, "invalid_grant")
    data = rec.data
    now = ctx.clock(data["realm_id"]).timestamp()
    if data["grant_id"] is not None:
        # A replayed code: refuse it and revoke what the first exchange issued.
        _revoke_grant(ctx, data["grant_id"])
        raise OAuthError(400, "invalid_grant")
    if now > float(data["expires_at"]) or redirect_uri != data["redirect_uri"]:
        raise OAuthError(400, "invalid_grant")
    grant = _new_grant(ctx, data, now)
    data["grant_id"] = grant.id
    ctx.server.replace(rec)
    refresh = _new_refresh(ctx, grant, now)
    return _token_response(ctx, grant, refresh, now, issuer, want_hard)


# -- tokens ---------------------------------------------------------------------
def _new_refresh(ctx: SimContext, grant: Rec, now: float) -> Rec:
    n = ctx.server.next_id("refresh")
    value = f"RT1-{n % 97}-H0-{int(now)}{ctx.token('refresh', 20).lower()}"
    expires = min(now + REFRESH_TTL, float(grant.data["hard_expires_at"]))
    rec = Rec("RefreshToken", value, {"grant_id": grant.id, "issued_at": now, "expires_at": expires,
                                      "superseded_at": None}, key=grant.id)
    ctx.server.insert(rec)
    grant.data["current_refresh"] = value
    ctx.server.replace(grant)
    return rec


def _token_response(ctx: SimContext, grant: Rec, refresh: Rec, now: float, issuer: str,
                    want_hard: bool) -> dict[str, Any]:
    access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + ctx.token("access", 96)
    ctx.server.insert(Rec("AccessToken", access, {"grant_id": grant.id, "issued_at": now,
                                                  "expires_at": now + ACCESS_TTL}, key=grant.id))
    out: dict[str, Any] = {
        "token_type": "bearer", "access_token": access, "expires_in": ACCESS_TTL,
        "refresh_token": refresh.id,
        "x_refresh_token_expires_in": int(float(refresh.data["expires_at"]) - now)}
    if want_hard:
        out["x_refresh_token_hard_expires_in"] = int(float(grant.data["hard_expires_at"]) - now)
    if "openid" in grant.data["scopes"]:
        from .keys import id_token  # noqa: PLC0415 (RSA work only when asked)
        user = ctx.server.get("User", grant.data["user_id"])
        out["id_token"] = id_token(ctx, issuer=issuer, client_id=grant.data["client_id"],
                                   sub=grant.data["user_id"], realm=grant.data["realm_id"], now=now,
                                   email=user.data["email"] if user else None)
    return out


def refresh(ctx: SimContext, app: dict[str, Any], token: str | None, issuer: str,
            want_hard: bool) -> dict[str, Any]:
    if not token:
        raise OAuthError(400, "invalid_request", "refresh_token is required")
    rec = ctx.server.get("RefreshToken", token)
    grant = ctx.server.get("Grant", rec.data["grant_id"]) if rec else None
    if rec is None or grant is None or grant.data["client_id"] != app["client_id"]:
        raise OAuthError(400, "invalid_grant", "Incorrect or invalid refresh token")
    now = ctx.clock(grant.data["realm_id"]).timestamp()
    superseded = rec.data["superseded_at"]
    if (grant.data["revoked"] or now > float(rec.data["expires_at"]) or now > float(grant.data["hard_expires_at"])
            or (superseded is not None and now > float(superseded) + REFRESH_GRACE)):
        raise OAuthError(400, "invalid_grant", "Incorrect or invalid refresh token")
    current = ctx.server.get("RefreshToken", grant.data["current_refresh"]) or rec
    if now - float(current.data["issued_at"]) >= REFRESH_ROTATE_AFTER:
        current.data["superseded_at"] = now
        ctx.server.replace(current)
        current = _new_refresh(ctx, grant, now)
    else:
        current.data["expires_at"] = min(now + REFRESH_TTL, float(grant.data["hard_expires_at"]))
        ctx.server.replace(current)
    return _token_response(ctx, grant, current, now, issuer, want_hard)


def revoke(ctx: SimContext, app: dict[str, Any], token: str | None) -> None:
    """Revoke the grant behind a refresh or access token (unknown ones: no-op, RFC 7009)."""
    if not token:
        raise OAuthError(400, "invalid_request", "token is required")
    rec = ctx.server.get("RefreshToken", token) or ctx.server.get("AccessToken", token)
    if rec is None:
        return
    grant = ctx.server.get("Grant", rec.data["grant_id"])
    if grant and grant.data["client_id"] == app["client_id"]:
        _revoke_grant(ctx, grant.id)


def revoke_for_realm(ctx: SimContext, realm: str) -> int:
    """Revoke every grant on a realm (admin: the company disconnected every app)."""
    count = 0
    for grant in ctx.server.find("Grant", key=realm):
        if not grant.data["revoked"]:
            _revoke_grant(ctx, grant.id)
            count += 1
    return count


# -- bearer tokens on API calls ---------------------------------------------------
def authenticate_bearer(ctx: SimContext, header: str | None) -> Access:
    """The grant behind `Authorization: Bearer ...`, or QBO's 401 3200."""
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise authentication_failed("Token invalid: no bearer token in the Authorization header")
    token = header[7:].strip()
    rec = ctx.server.get("AccessToken", token)
    grant = ctx.server.get("Grant", rec.data["grant_id"]) if rec else None
    if rec is None or grant is None:
        raise authentication_failed("Token invalid: the bearer token is not recognised")
    if grant.data["revoked"]:
        raise authentication_failed("Token revoked: the grant behind this token was revoked")
    now = ctx.clock(grant.data["realm_id"]).timestamp()
    if now >= float(rec.data["expires_at"]):
        raise authentication_failed(f"Token expired: {token[-12:]}")
    return Access(token, grant.data["client_id"], grant.data["realm_id"], grant.data["scopes"],
                  grant.data["user_id"])


def authorize_realm(ctx: SimContext, access: Access, realm: str) -> None:
    """May this token touch this realm? 403 in QBO's shapes if not."""
    if access.realm_id != realm or not ctx.store.tenant_info(realm):
        raise app_not_authorized("The access token is not authorized for this realm")
    if ACCOUNTING not in access.scopes:
        raise app_not_authorized("The access token lacks the com.intuit.quickbooks.accounting scope")
    if not tenancy.user_has_access(ctx, access.user_id, realm):
        raise authorization_failure("AuthorizationFailure: the user who connected this app no longer "
                                    "has access to this company")


def userinfo(ctx: SimContext, header: str | None) -> dict[str, Any]:
    try:
        access = authenticate_bearer(ctx, header)
    except QboFault:
        raise OAuthError(401, "invalid_token") from None
    if "openid" not in access.scopes:
        raise OAuthError(403, "insufficient_scope", "the token was not granted openid")
    user = ctx.server.get("User", access.user_id)
    if user is None:
        raise OAuthError(401, "invalid_token")
    u = user.data
    out: dict[str, Any] = {"sub": u["sub"]}
    if "email" in access.scopes:
        out.update(email=u["email"], emailVerified=True)
    if "profile" in access.scopes:
        out.update(givenName=u["given_name"], familyName=u["family_name"])
    if "phone" in access.scopes:
        out.update(phoneNumber=u["phone"], phoneNumberVerified=False)
    if "address" in access.scopes:
        out["address"] = {"streetAddress": "2700 Coast Ave", "locality": "Mountain View",
                          "region": "CA", "postalCode": "94043", "country": "US"}
    return out
