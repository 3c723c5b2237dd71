"""The gates as pure functions, and as `/me` and `POST /integrations` report them."""
from __future__ import annotations

import pytest

from sim.fake_canopy import gates
from sim.fake_canopy.gates import FirmView, UserView

from .conftest import Firm

FULL = frozenset(gates.FULL_SUITE)
TN_ONLY = frozenset({gates.TRANSCRIPTS_AND_NOTICES})
TB, TN = gates.TIME_AND_BILLING, gates.TRANSCRIPTS_AND_NOTICES


def user(preset: str, *licenses: str, active: bool = True) -> UserView:
    return UserView(gates.PRESETS[preset], frozenset(licenses), active)


@pytest.mark.parametrize("plan,modules,preset,licenses,reason", [
    ("paid", FULL, "admin", (TB,), None),
    ("paid", FULL, "admin_no_billing", (TB,), None),
    ("freemium", FULL, "admin", (TB,), "plan_not_eligible"),
    ("legacy", FULL, "staff_all_contacts", (), "plan_not_eligible"),
    ("paid", FULL, "admin", (), "missing_license"),
    ("paid", FULL, "admin", (TN,), "missing_license"),
    ("paid", FULL, "staff_all_contacts", (TB,), "missing_permission"),
    ("paid", FULL, "staff_assigned_contacts_no_billing", (TB,), "missing_permission"),
    ("paid", TN_ONLY, "admin", (TN,), None),            # D-1
    ("paid", TN_ONLY, "admin", (), "missing_license"),
    ("paid", TN_ONLY, "staff_all_contacts", (TN,), "missing_permission"),
])
def test_integration_gate_order(plan, modules, preset, licenses, reason) -> None:
    refusal = gates.integration_refusal(user(preset, *licenses), FirmView(plan, modules, {TB: 5, TN: 5}))
    assert (refusal.reason if refusal else None) == reason


def test_permissions_take_effect_only_with_their_license() -> None:
    firm = FirmView("paid", FULL)
    assert gates.effective_permissions(user("admin"), firm) == {gates.CLIENTS_ALL, gates.MANAGE_TEAM}
    assert gates.ineffective_permissions(user("admin"), firm) == {gates.MANAGE_INTEGRATIONS: TB, gates.BILLING: TB}
    assert gates.MANAGE_INTEGRATIONS in gates.effective_permissions(user("admin", TB), firm)
    assert gates.effective_permissions(user("admin", TB, active=False), firm) == frozenset()


def test_tn_standalone_and_modules() -> None:
    tn = FirmView("paid", TN_ONLY)
    assert gates.is_tn_standalone(tn) and not gates.is_tn_standalone(FirmView("paid", FULL))
    assert TB in gates.effective_licenses(user("admin", TN), tn)
    assert TB not in gates.effective_licenses(user("admin", TN), FirmView("paid", FULL))
    billing = gates.Needs(module=TB, any_permission=(gates.BILLING,))
    assert gates.access_refusal(tn, None, billing).reason == "module_not_available"
    assert gates.access_refusal(FirmView("paid", FULL), user("staff_all_contacts_no_billing", TB), billing).reason \
        == "missing_permission"
    assert gates.access_refusal(FirmView("paid", FULL), user("staff_all_contacts"), billing).missing \
        == {"license": TB, "permission": gates.BILLING}
    assert gates.access_refusal(FirmView("paid", FULL), None, billing) is None


def test_admin_kept_and_seats() -> None:
    assert not gates.keeps_an_admin([gates.PRESETS["staff_all_contacts"]])
    assert gates.keeps_an_admin([gates.PRESETS["admin_no_billing"]])
    assert gates.license_overflow(FirmView("paid", FULL, {TB: 1}), {TB: 2}) == TB
    assert gates.license_overflow(FirmView("paid", FULL, {TB: 1}), {TN: 1}) == TN
    assert gates.license_overflow(FirmView("paid", FULL, {TB: 1}), {TB: 1}) is None


@pytest.mark.parametrize("plan,modules,preset,licenses,effective,reason", [
    ("paid", list(FULL), "admin", [TB, TN], ["billing", "clients_all", "manage_integrations", "manage_team"], None),
    ("paid", list(FULL), "admin_no_billing", [TB], ["clients_all", "manage_integrations", "manage_team"], None),
    ("paid", list(FULL), "admin", [], ["clients_all", "manage_team"], "missing_license"),
    ("freemium", list(FULL), "admin", [TB], ["billing", "clients_all", "manage_integrations", "manage_team"],
     "plan_not_eligible"),
    ("legacy", list(FULL), "admin", [TB], ["billing", "clients_all", "manage_integrations", "manage_team"],
     "plan_not_eligible"),
    ("paid", list(FULL), "staff_all_contacts", [TB], ["billing", "clients_all"], "missing_permission"),
    ("paid", list(FULL), "staff_assigned_contacts", [], ["clients_assigned"], "missing_license"),
    ("paid", [TN], "admin", [TN], ["billing", "clients_all", "manage_integrations", "manage_team"], None),
    ("paid", [TN], "staff_all_contacts_no_billing", [TN], ["clients_all"], "missing_permission"),
])
def test_me_and_integration_creation(new_firm, plan, modules, preset, licenses, effective, reason) -> None:
    firm: Firm = new_firm(plan=plan, modules=modules)
    api, member = firm.user_api(permission_set=preset, licenses=licenses)
    me = api.get("/me")
    assert (me["type"], me["plan"], sorted(me["modules"])) == ("user", plan, sorted(modules))
    assert me["licenses"] == sorted(licenses) and me["permissions"] == effective
    assert me["permission_set"]["id"] == preset and me["user"]["id"] == member["id"]
    assert me["is_tn_standalone"] == (modules == [TN])
    resp = api.call("POST", "/integrations", json={"integration": {"name": "QBO"}})
    if reason is None:
        assert resp.status_code == 201, resp.text
        token = resp.json()["access_token"]
        assert firm.api.__class__(firm.base, token).get("/me")["type"] == "integration"
    else:
        assert resp.status_code == 403
        err = resp.json()["errors"]
        assert err["code"] == reason and err["httpStatusCode"] == 403 and err["details"]


def test_integration_token_me_and_revoke(firm: Firm) -> None:
    created = firm.api.call("POST", "/integrations", 201, json={}).json()
    from .conftest import Api
    integ = Api(firm.base, created["access_token"])
    me = integ.get("/me")
    assert me["type"] == "integration" and me["user"] is None
    assert me["integration"]["id"] == created["integration"]["id"] and me["firm"]["id"] == firm.id
    assert integ.call("POST", "/integrations", json={}).json()["errors"]["code"] == "user_token_required"
    firm.api.call("DELETE", f"/integrations/{created['integration']['id']}", 204)
    assert integ.call("GET", "/me").status_code == 401
    firm.api.call("DELETE", f"/integrations/{created['integration']['id']}", 404)


def test_sign_in_and_admin_token_revoke(firm: Firm) -> None:
    import requests
    ok = requests.post(firm.base + "/public/v3/auth/sign_in",
                       json={"email": firm.user["email"], "password": firm.password}, timeout=5)
    assert ok.status_code == 200 and ok.json()["firm_id"] == firm.id
    bad = requests.post(firm.base + "/public/v3/auth/sign_in",
                        json={"email": firm.user["email"], "password": "nope"}, timeout=5)
    assert bad.status_code == 401 and bad.json()["errors"]["code"] == "invalid_credentials"
    token = ok.json()["access_token"]
    assert firm.admin.post("/tokens/revoke", {"token": token}, expect=200)["revoked"] is True
    r = requests.get(firm.base + "/public/v3/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 401 and r.json()["errors"]["code"] == "invalid_token"
