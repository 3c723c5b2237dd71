"""Apps, sign-in users and companies: who exists before any API call.

Apps, users and tokens belong to no company (server scope); a company is a
tenant whose id is its realm id, holding its CompanyInfo, Preferences and
chart of accounts as ordinary records.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from sim.core.context import SimContext
from sim.core.http import AdminError
from sim.core.store import Rec

KIND = "qbo"
DEFAULT_OFFSET = "-08:00"

# (Name, AccountType, AccountSubType, Classification): a small default chart.
DEFAULT_ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("Uncategorized Income", "Income", "OtherPrimaryIncome", "Revenue"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Checking", "Bank", "Checking", "Asset"),
    ("Inventory Asset", "Other Current Asset", "Inventory", "Asset"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost", "Expense"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
]


def qbo_time(moment: datetime, offset: str = DEFAULT_OFFSET, millis: bool = False) -> str:
    """A company-local ISO 8601 time, as QBO writes `MetaData` (seconds)
    and envelope `time`s (milliseconds)."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    tz = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return moment.astimezone(tz).isoformat(timespec="milliseconds" if millis else "seconds")


def company_offset(ctx: SimContext, realm: str) -> str:
    info = ctx.store.tenant_info(realm)
    return (info or {}).get("data", {}).get("offset", DEFAULT_OFFSET)


def new_realm_id(ctx: SimContext) -> str:
    return "9341" + ctx.secrets.digits("realm", ctx.server.next_id("realm"), 12)


# -- apps -------------------------------------------------------------------
def _str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AdminError(400, "bad_request", f"'{key}' must be a list of non-empty strings")
    return value


def _app_fields(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("client_secret", "webhook_url", "verifier_token", "name"):
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise AdminError(400, "bad_request", f"'{key}' must be a string")
            out[key] = body[key]
    if "redirect_uris" in body:
        out["redirect_uris"] = _str_list(body["redirect_uris"], "redirect_uris")
    if "webhook_entities" in body:
        out["webhook_entities"] = _str_list(body["webhook_entities"], "webhook_entities")
    if "webhook_format" in body:
        if body["webhook_format"] not in ("classic", "cloudevents"):
            raise AdminError(400, "bad_request", "'webhook_format' must be 'classic' or 'cloudevents'")
        out["webhook_format"] = body["webhook_format"]
    unknown = set(body) - {"client_id", "client_secret", "redirect_uris", "webhook_url",
                           "verifier_token", "name", "webhook_format", "webhook_entities"}
    if unknown:
        raise AdminError(400, "bad_request", f"unknown field(s): {', '.join(sorted(unknown))}")
    if not partial:
        for key in ("client_secret", "redirect_uris"):
            if not out.get(key):
                raise AdminError(400, "bad_request", f"'{key}' is required")
    return out


def register_app(ctx: SimContext, body: dict[str, Any]) -> dict[str, Any]:
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise AdminError(400, "bad_request", "'client_id' must be a non-empty string")
    fields = _app_fields(body, partial=False)
    if ctx.server.get("App", client_id):
        raise AdminError(409, "app_exists", f"an app with client_id {client_id} exists")
    app = {"client_id": client_id, "name": client_id, "webhook_url": None, "verifier_token": None,
           "webhook_format": "classic", **fields}
    ctx.server.insert(Rec("App", client_id, app, key=client_id))
    return app


def update_app(ctx: SimContext, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
    rec = ctx.server.get("App", client_id)
    if rec is None:
        raise AdminError(404, "app_not_found", f"no app {client_id}")
    if "client_id" in body and body["client_id"] != client_id:
        raise AdminError(400, "bad_request", "client_id cannot change")
    rec.data.update(_app_fields(body, partial=True))
    ctx.server.replace(rec)
    return rec.data


def get_app(ctx: SimContext, client_id: str) -> dict[str, Any] | None:
    rec = ctx.server.get("App", client_id)
    return rec.data if rec else None


# -- users ------------------------------------------------------------------
def find_user(ctx: SimContext, email: str) -> Rec | None:
    found = ctx.server.find("User", key=email.strip().casefold())
    return found[0] if found else None


def ensure_user(ctx: SimContext, spec: dict[str, Any], realm: str, default_email: str) -> dict[str, Any]:
    """The company's sign-in user: an existing one gains access, else a new one."""
    email = spec.get("email") or default_email
    if not isinstance(email, str) or "@" not in email:
        raise AdminError(400, "bad_request", "'user.email' must be an email address")
    rec = find_user(ctx, email)
    if rec is None:
        n = ctx.server.next_id("user")
        rec = Rec("User", ctx.secrets.hex("user-sub", n, 16), {
            "email": email,
            "password": spec.get("password") or ctx.token("password", 16),
            "given_name": spec.get("given_name", "Quinn"),
            "family_name": spec.get("family_name", "Bookkeeper"),
            "phone": spec.get("phone", "+1 555-0100"),
            "realms": []}, key=email.casefold())
        rec.data["sub"] = rec.id
        ctx.server.insert(rec)
    if realm not in rec.data["realms"]:
        rec.data["realms"].append(realm)
        ctx.server.replace(rec)
    return rec.data


def revoke_user_access(ctx: SimContext, realm: str, email: str) -> dict[str, Any]:
    rec = find_user(ctx, email)
    if rec is None or realm not in rec.data["realms"]:
        raise AdminError(404, "user_not_found", f"no user {email} with access to {realm}")
    rec.data["realms"].remove(realm)
    ctx.server.replace(rec)
    return rec.data


def user_has_access(ctx: SimContext, user_id: str, realm: str) -> bool:
    rec = ctx.server.get("User", user_id)
    return rec is not None and realm in rec.data["realms"]


# -- companies --------------------------------------------------------------
def _meta(now: str) -> dict[str, str]:
    return {"CreateTime": now, "LastUpdatedTime": now}


def _default_accounts(ctx: SimContext, realm: str) -> list[dict[str, Any]]:
    """The default chart, created through the entity layer like any API create."""
    from .entities import SPECS_BY_NAME, Session, resource  # noqa: PLC0415 (entities import tenancy)
    session, spec = Session(ctx, realm), SPECS_BY_NAME["Account"]
    return [resource.create(session, spec, {"Name": name, "AccountType": type_, "AccountSubType": sub})
            for name, type_, sub, _cls in DEFAULT_ACCOUNTS]


def create_company(ctx: SimContext, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "bad_request", "'name' must be a non-empty string")
    offset = body.get("offset", DEFAULT_OFFSET)
    if not (isinstance(offset, str) and re.fullmatch(r"[+-][0-9]{2}:[0-9]{2}", offset)):
        raise AdminError(400, "bad_request", "'offset' must look like -08:00")
    user_spec = body.get("user") or {}
    if not isinstance(user_spec, dict):
        raise AdminError(400, "bad_request", "'user' must be an object")
    custom_numbers = bool(body.get("custom_txn_numbers", False))
    realm = body.get("realm_id") or new_realm_id(ctx)
    if not isinstance(realm, str) or not realm.isdigit():
        raise AdminError(400, "bad_request", "'realm_id' must be a digit string")
    if ctx.store.tenant_info(realm):
        raise AdminError(409, "company_exists", f"realm {realm} exists")
    clock = ctx.clock(realm)
    now = qbo_time(clock.now(), offset)
    ctx.store.create_tenant(realm, KIND, name, clock.timestamp(),
                            {"offset": offset, "subscription": "active"})
    t = ctx.tenant(realm)
    email = body.get("email") or f"admin+{realm}@example.com"
    company_info = {
        "CompanyName": name, "LegalName": body.get("legal_name", name),
        "CompanyAddr": {"Id": "1", "Line1": "2700 Coast Ave", "City": "Mountain View",
                        "CountrySubDivisionCode": "CA", "PostalCode": "94043", "Country": "US"},
        "CustomerCommunicationAddr": {"Id": "1", "Line1": "2700 Coast Ave", "City": "Mountain View",
                                      "CountrySubDivisionCode": "CA", "PostalCode": "94043"},
        "LegalAddr": {"Id": "1", "Line1": "2700 Coast Ave", "City": "Mountain View",
                      "CountrySubDivisionCode": "CA", "PostalCode": "94043"},
        "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
        "CompanyStartDate": clock.now().date().isoformat(),
        "FiscalYearStartMonth": "January", "Country": body.get("country", "US"),
        "Email": {"Address": email}, "WebAddr": {}, "SupportedLanguages": "en",
        "NameValue": [{"Name": "NeoEnabled", "Value": "true"},
                      {"Name": "IndustryType", "Value": "Accounting Services"},
                      {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
                      {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
        "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0", "MetaData": _meta(now)}
    preferences = {
        "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False,
                                "CustomerTerminology": "Customers", "BookCloseDate": None},
        "ProductAndServicesPrefs": {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True,
                                    "QuantityOnHand": True},
        "SalesFormsPrefs": {"CustomTxnNumbers": custom_numbers, "AllowDiscount": True,
                            "AllowDeposit": False, "AllowShipping": False, "DefaultTerms": None,
                            "ETransactionEnabledStatus": "NotApplicable"},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False,
                          "HomeCurrency": {"value": "USD"}},
        "TaxPrefs": {"UsingSalesTax": False},
        "OtherPrefs": {"NameValue": []},
        "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0", "MetaData": _meta(now)}
    t.insert(Rec("CompanyInfo", "1", company_info, changed_at=clock.timestamp()))
    t.insert(Rec("Preferences", "1", preferences, changed_at=clock.timestamp()))
    accounts = _default_accounts(ctx, realm)
    user = ensure_user(ctx, user_spec, realm, email)
    return {"realm_id": realm, "name": name, "CompanyInfo": company_info, "Preferences": preferences,
            "accounts": accounts,
            "user": {"email": user["email"], "password": user["password"], "sub": user["sub"]}}


def require_company(ctx: SimContext, realm: str) -> dict[str, Any]:
    """The company's tenant info, or the admin API's 404."""
    info = ctx.store.tenant_info(realm)
    if info is None or info["kind"] != KIND:
        raise AdminError(404, "company_not_found", f"no company {realm}")
    return info


def set_subscription(ctx: SimContext, realm: str, status: str) -> dict[str, Any]:
    info = require_company(ctx, realm)
    if status not in ("active", "suspended"):
        raise AdminError(400, "bad_request", "'subscription' must be 'active' or 'suspended'")
    info["data"]["subscription"] = status
    ctx.store.set_tenant_data(realm, info["data"])
    return {"realm_id": realm, "subscription": status}


def subscription_active(ctx: SimContext, realm: str) -> bool:
    info = ctx.store.tenant_info(realm)
    return bool(info) and info["data"].get("subscription", "active") == "active"


def grant_fork_access(ctx: SimContext, src: str, dst: str) -> dict[str, Any]:
    """A forked company keeps its sign-in users, so tests can connect to it."""
    users = []
    for rec in ctx.server.find("User"):
        if src in rec.data["realms"] and dst not in rec.data["realms"]:
            rec.data["realms"].append(dst)
            ctx.server.replace(rec)
            users.append(rec.data["email"])
    return {"realm_id": dst, "users": users}
