"""Firms, team members, permission sets, integrations and tokens: the store side.

A firm is a tenant (kind `canopy`); its plan, modules and licenses live in
the tenant's data. Members, custom permission sets and integrations are
records of the firm. Tokens and the e-mail sign-in index belong to no firm
(`SERVER` scope), since a bearer token must be resolved before the firm is
known. Domain refusals raise `CanopyError`; callers hold the transaction.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sim.core.clock import iso
from sim.core.context import SimContext
from sim.core.store import Rec

from . import gates
from .errors import CanopyError, bad_request, conflict, not_found, unauthorized, unprocessable

KIND = "canopy"
USER_TOKEN_TTL = 12 * 3600.0
"""User (sign-in) tokens expire after 12 hours of the firm clock; integration tokens do not expire."""
RECORD_COUNTER, RECORD_START = "canopy_record", 100001
"""The server-wide counter record ids come from, and its first value."""


def now_iso(ctx: SimContext, firm_id: str) -> str:
    return iso(ctx.clock(firm_id).now(), millis=True)


def new_firm_id(ctx: SimContext) -> str:
    return str(ctx.server.next_id("canopy_firm", 1001))


def new_record_id(ctx: SimContext) -> str:
    """Ids are unique across firms, so one firm's id never names another's record."""
    return str(ctx.server.next_id(RECORD_COUNTER, RECORD_START))


# -- firms ------------------------------------------------------------------
def firm_info(ctx: SimContext, firm_id: str) -> dict[str, Any]:
    info = ctx.store.tenant_info(firm_id)
    if info is None or info["kind"] != KIND:
        raise not_found("firm", firm_id)
    return {"id": firm_id, "name": info["name"], **info["data"]}


def firm_view(firm: dict[str, Any]) -> gates.FirmView:
    return gates.FirmView(firm["plan"], frozenset(firm["modules"]), dict(firm["licenses"]))


def _firm_fields(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "plan" in body or not partial:
        plan = body.get("plan", "paid")
        if plan not in gates.PLANS:
            raise bad_request("plan", f"must be one of {', '.join(gates.PLANS)}")
        out["plan"] = plan
    if "modules" in body or not partial:
        modules = body.get("modules", list(gates.FULL_SUITE))
        if (not isinstance(modules, list) or not modules
                or any(m not in gates.MODULES for m in modules)):
            raise bad_request("modules", f"must be a non-empty list of {', '.join(gates.MODULES)}")
        out["modules"] = sorted(set(modules))
    if "licenses" in body or not partial:
        lic = body.get("licenses")
        if lic is None:
            lic = {name: 25 for name in gates.LICENSES
                   if name != gates.TIME_AND_BILLING or gates.TIME_AND_BILLING in out.get("modules", [])}
        if isinstance(lic, list):
            lic = {name: 25 for name in lic}
        if (not isinstance(lic, dict) or any(k not in gates.LICENSES for k in lic)
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in lic.values())):
            raise bad_request("licenses", f"must map {', '.join(gates.LICENSES)} to seat counts (or list them)")
        out["licenses"] = dict(sorted(lic.items()))
    if "rate_limit" in body:
        rl = body["rate_limit"]
        if rl is not None and not (isinstance(rl, dict) and all(
                isinstance(rl.get(k), int) and not isinstance(rl.get(k), bool) and rl[k] > 0
                for k in ("requests", "per_seconds"))):
            raise bad_request("rate_limit", "must be null or {requests, per_seconds} positive integers")
        out["rate_limit"] = rl
    return out


def create_firm(ctx: SimContext, body: dict[str, Any]) -> dict[str, Any]:
    """A firm and its first Admin (a firm always keeps one), with a sign-in token."""
    name = body.get("name") or "Fake Firm"
    if not isinstance(name, str):
        raise bad_request("name", "must be a string")
    fields = _firm_fields(body, partial=False)
    fields.setdefault("rate_limit", None)
    firm_id = new_firm_id(ctx)
    ctx.store.create_tenant(firm_id, KIND, name, ctx.clock(firm_id).timestamp(), fields)
    admin_spec = body.get("admin") or {}
    if not isinstance(admin_spec, dict):
        raise bad_request("admin", "must be an object")
    admin_spec = {"permission_set": "admin", "licenses": sorted(fields["licenses"]), **admin_spec}
    admin_spec.setdefault("email", f"admin-{firm_id}@example.com")
    user = create_user(ctx, firm_id, admin_spec, allow_no_admin=True)
    token = issue_user_token(ctx, firm_id, user["id"])
    return {"firm": firm_info(ctx, firm_id), "admin": user, "password": user_password(ctx, firm_id, user["id"]),
            "token": token}


def update_firm(ctx: SimContext, firm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    firm = firm_info(ctx, firm_id)
    fields = _firm_fields(body, partial=True)
    data = {k: v for k, v in firm.items() if k not in ("id", "name")}
    data.update(fields)
    _check_seats(ctx, firm_id, gates.FirmView(data["plan"], frozenset(data["modules"]), data["licenses"]), {})
    ctx.store.set_tenant_data(firm_id, data)
    return firm_info(ctx, firm_id)


# -- permission sets --------------------------------------------------------
def permission_set(ctx: SimContext, firm_id: str, set_id: str) -> gates.PermissionSet:
    if set_id in gates.PRESETS:
        return gates.PRESETS[set_id]
    rec = ctx.tenant(firm_id).get("permission_set", set_id)
    if rec is None:
        raise bad_request("permission_set", f"no permission set {set_id}")
    d = rec.data
    return gates.PermissionSet(d["id"], d["name"], frozenset(d["permissions"]), False, d["is_admin"])


def _set_fields(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise bad_request("name", "must be a non-empty string")
        out["name"] = body["name"]
    if "permissions" in body:
        perms = body["permissions"]
        if not isinstance(perms, list) or any(p not in gates.PERMISSIONS for p in perms):
            raise bad_request("permissions", f"must be a list of {', '.join(gates.PERMISSIONS)}")
        out["permissions"] = sorted(set(perms))
    if "is_admin" in body:
        if not isinstance(body["is_admin"], bool):
            raise bad_request("is_admin", "must be a boolean")
        out["is_admin"] = body["is_admin"]
    return out


def create_permission_set(ctx: SimContext, firm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    firm_info(ctx, firm_id)
    fields = {"permissions": [], "is_admin": False, **_set_fields(body)}
    if "name" not in fields:
        raise bad_request("name", "is required")
    set_id = new_record_id(ctx)
    data = {"id": set_id, **fields, "is_preset": False}
    ctx.tenant(firm_id).insert(Rec("permission_set", set_id, data))
    return data


def update_permission_set(ctx: SimContext, firm_id: str, set_id: str, body: dict[str, Any]) -> dict[str, Any]:
    firm_info(ctx, firm_id)
    if set_id in gates.PRESETS:
        raise unprocessable("preset_immutable", f"The preset permission set {set_id} cannot be edited",
                            "permission_set")
    t = ctx.tenant(firm_id)
    rec = t.get("permission_set", set_id)
    if rec is None:
        raise not_found("permission_set", set_id)
    rec.data.update(_set_fields(body))
    t.replace(rec)
    _check_admin_kept(ctx, firm_id)
    return rec.data


def list_permission_sets(ctx: SimContext, firm_id: str) -> list[dict[str, Any]]:
    custom = [r.data for r in ctx.tenant(firm_id).find("permission_set")]
    return [p.to_json() for p in gates.PRESETS.values()] + custom


# -- members ----------------------------------------------------------------
@dataclass
class Member:
    rec: Rec
    pset: gates.PermissionSet

    def view(self) -> gates.UserView:
        d = self.rec.data
        return gates.UserView(self.pset, frozenset(d["licenses"]), d["is_active"])


def _members(ctx: SimContext, firm_id: str) -> list[Member]:
    return [Member(r, permission_set(ctx, firm_id, r.data["permission_set_id"]))
            for r in ctx.tenant(firm_id).find("user")]


def public_user(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "password"}


def _check_admin_kept(ctx: SimContext, firm_id: str) -> None:
    if not gates.keeps_an_admin(m.pset for m in _members(ctx, firm_id) if m.rec.data["is_active"]):
        raise conflict("last_admin", "A firm must keep at least one Admin", "permission_set")


def _check_seats(ctx: SimContext, firm_id: str, firm: gates.FirmView, extra: dict[str, int]) -> None:
    assigned = Counter(extra)
    for m in _members(ctx, firm_id):
        if m.rec.data["is_active"]:
            assigned.update(m.rec.data["licenses"])
    over = gates.license_overflow(firm, assigned)
    if over:
        raise unprocessable("license_unavailable", f"The firm has no free {over} license", "licenses")


def _user_fields(ctx: SimContext, firm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("first_name", "last_name"):
        if key in body:
            if not isinstance(body[key], str):
                raise bad_request(key, "must be a string")
            out[key] = body[key]
    if "permission_set" in body:
        if not isinstance(body["permission_set"], str):
            raise bad_request("permission_set", "must be a permission set id")
        out["permission_set_id"] = permission_set(ctx, firm_id, body["permission_set"]).id
    if "licenses" in body:
        lic = body["licenses"]
        if not isinstance(lic, list) or any(x not in gates.LICENSES for x in lic):
            raise bad_request("licenses", f"must be a list of {', '.join(gates.LICENSES)}")
        out["licenses"] = sorted(set(lic))
    if "is_active" in body:
        if not isinstance(body["is_active"], bool):
            raise bad_request("is_active", "must be a boolean")
        out["is_active"] = body["is_active"]
    return out


def create_user(ctx: SimContext, firm_id: str, body: dict[str, Any], *, allow_no_admin: bool = False) -> dict[str, Any]:
    firm_info(ctx, firm_id)
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise bad_request("email", "must be an email address")
    password = body.get("password") or ctx.token("canopy-password", 16)
    if not isinstance(password, str):
        raise bad_request("password", "must be a string")
    if ctx.server.get("login", email.strip().casefold()):
        raise conflict("email_taken", f"A team member with email {email} exists", "email")
    fields = {"first_name": "Team", "last_name": "Member", "permission_set_id": "staff_all_contacts",
              "licenses": [], "is_active": True, **_user_fields(ctx, firm_id, body)}
    user_id = new_record_id(ctx)
    now = now_iso(ctx, firm_id)
    data = {"id": user_id, "email": email.strip(), **fields, "created_at": now, "updated_at": now,
            "password": password}
    ctx.tenant(firm_id).insert(Rec("user", user_id, data, key=email.strip().casefold()))
    ctx.server.insert(Rec("login", email.strip().casefold(), {"firm_id": firm_id, "user_id": user_id}))
    _check_seats(ctx, firm_id, firm_view(firm_info(ctx, firm_id)), {})
    if not allow_no_admin:
        _check_admin_kept(ctx, firm_id)
    return public_user(data)


def get_member(ctx: SimContext, firm_id: str, user_id: str) -> Member:
    rec = ctx.tenant(firm_id).get("user", user_id)
    if rec is None or rec.deleted:
        raise not_found("user", user_id)
    return Member(rec, permission_set(ctx, firm_id, rec.data["permission_set_id"]))


def user_password(ctx: SimContext, firm_id: str, user_id: str) -> str:
    return get_member(ctx, firm_id, user_id).rec.data["password"]


def update_user(ctx: SimContext, firm_id: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Change a member's permission set, licenses or activity; refuse losing the last Admin."""
    member = get_member(ctx, firm_id, user_id)
    member.rec.data.update(_user_fields(ctx, firm_id, body))
    member.rec.data["updated_at"] = now_iso(ctx, firm_id)
    member.rec.version += 1
    ctx.tenant(firm_id).replace(member.rec)
    _check_admin_kept(ctx, firm_id)
    _check_seats(ctx, firm_id, firm_view(firm_info(ctx, firm_id)), {})
    return public_user(member.rec.data)


def delete_user(ctx: SimContext, firm_id: str, user_id: str) -> None:
    member = get_member(ctx, firm_id, user_id)
    member.rec.deleted = True
    member.rec.data["is_active"] = False
    ctx.tenant(firm_id).replace(member.rec)
    ctx.server.remove("login", member.rec.data["email"].casefold())
    _check_admin_kept(ctx, firm_id)
    for tok in ctx.server.find("token", key=firm_id):
        if tok.data.get("user_id") == user_id:
            tok.data["revoked"] = True
            ctx.server.replace(tok)


def list_users(ctx: SimContext, firm_id: str) -> list[dict[str, Any]]:
    return [public_user(m.rec.data) for m in _members(ctx, firm_id)]


# -- tokens -----------------------------------------------------------------
def _issue(ctx: SimContext, firm_id: str, data: dict[str, Any]) -> str:
    token = "cnp_" + ctx.token("canopy-token", 40)
    ctx.server.insert(Rec("token", token, {"firm_id": firm_id, "revoked": False, **data}, key=firm_id))
    return token


def issue_user_token(ctx: SimContext, firm_id: str, user_id: str) -> str:
    get_member(ctx, firm_id, user_id)
    return _issue(ctx, firm_id, {"kind": "user", "user_id": user_id,
                                 "expires_at": ctx.clock(firm_id).timestamp() + USER_TOKEN_TTL})


def sign_in(ctx: SimContext, email: str, password: str) -> tuple[str, dict[str, Any]]:
    login = ctx.server.get("login", email.strip().casefold())
    if login is not None:
        firm_id, user_id = login.data["firm_id"], login.data["user_id"]
        member = get_member(ctx, firm_id, user_id)
        if member.rec.data["password"] == password and member.rec.data["is_active"]:
            return issue_user_token(ctx, firm_id, user_id), {"firm_id": firm_id, "user_id": user_id}
    raise unauthorized("The email or password is incorrect", "invalid_credentials")


def revoke_token(ctx: SimContext, token: str) -> bool:
    rec = ctx.server.get("token", token)
    if rec is None or rec.data["revoked"]:
        return False
    rec.data["revoked"] = True
    ctx.server.replace(rec)
    return True


def resolve_token(ctx: SimContext, token: str) -> dict[str, Any]:
    """The token's grant, or 401 when unknown, revoked or expired."""
    rec = ctx.server.get("token", token)
    if rec is None or rec.data["revoked"]:
        raise unauthorized("The access token is invalid or revoked", "invalid_token")
    exp = rec.data.get("expires_at")
    if exp is not None and ctx.clock(rec.data["firm_id"]).timestamp() >= exp:
        raise unauthorized("The access token has expired", "token_expired")
    return rec.data


# -- integrations ------------------------------------------------------------
def create_integration(ctx: SimContext, firm_id: str, name: str, user_id: str | None) -> dict[str, Any]:
    integration_id = new_record_id(ctx)
    now = now_iso(ctx, firm_id)
    data = {"id": integration_id, "name": name, "created_by_user_id": user_id, "is_active": True,
            "created_at": now, "updated_at": now, "revoked_at": None}
    ctx.tenant(firm_id).insert(Rec("integration", integration_id, data))
    token = _issue(ctx, firm_id, {"kind": "integration", "integration_id": integration_id})
    return {**data, "token": token}


def get_integration(ctx: SimContext, firm_id: str, integration_id: str) -> Rec:
    rec = ctx.tenant(firm_id).get("integration", integration_id)
    if rec is None:
        raise not_found("integration", integration_id)
    return rec


def revoke_integration(ctx: SimContext, firm_id: str, integration_id: str) -> None:
    rec = get_integration(ctx, firm_id, integration_id)
    if not rec.data["is_active"]:
        raise not_found("integration", integration_id)
    rec.data.update(is_active=False, revoked_at=now_iso(ctx, firm_id), updated_at=now_iso(ctx, firm_id))
    rec.active = False
    ctx.tenant(firm_id).replace(rec)
    for tok in ctx.server.find("token", key=firm_id):
        if tok.data.get("integration_id") == integration_id and not tok.data["revoked"]:
            tok.data["revoked"] = True
            ctx.server.replace(tok)


def require(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(field_name, "must be a non-empty string")
    return value


__all__ = ["CanopyError"]
