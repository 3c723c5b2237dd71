"""Fault injection through `/_sim/faults`, seen by a real HTTP client."""
from __future__ import annotations

import json
import time

import pytest
import requests

from tests.conftest import QboTenant
from tests.integration.test_admin import token_for


def info_url(t: QboTenant) -> str:
    return f"{t.api_v3}/company/{t.realm_id}/companyinfo/{t.realm_id}"


def get(t: QboTenant, token: str) -> requests.Response:
    return requests.get(info_url(t), headers={"Authorization": f"Bearer {token}",
                                              "Accept": "application/json"}, timeout=10)


def add(t: QboTenant, **rule) -> dict:
    rule.setdefault("tenant", t.realm_id)
    return t.admin.post("/faults", rule, expect=201)


def test_error_preset_for_the_next_n_matches(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = token_for(t)
    rule = add(t, action={"type": "error", "error": "throttle"}, method="GET", entity="CompanyInfo", times=2)
    statuses = [get(t, token) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].json()["Fault"]["Error"][0]["code"] == "3001"
    notes = [e["note"] for e in t.admin.get("/journal", tenant=t.realm_id)["entries"][-3:]]
    assert notes[:2] == [f"fault:{rule['id']} error"] * 2 and notes[2] == ""
    listed = t.admin.get("/faults")["faults"]
    assert next(r for r in listed if r["id"] == rule["id"])["fired"] == 2


@pytest.mark.parametrize("preset,status,code", [("server_error", 500, "10000"), ("unavailable", 503, "10000"),
                                                ("stale_object", 400, "5010")])
def test_each_error_preset_is_qbo_shaped(qbo_tenant: QboTenant, preset: str, status: int, code: str) -> None:
    token = token_for(qbo_tenant)
    add(qbo_tenant, action={"type": "error", "error": preset}, times=1)
    resp = get(qbo_tenant, token)
    assert resp.status_code == status and resp.json()["Fault"]["Error"][0]["code"] == code


def test_expired_token_preset_uses_the_gateway_shape(qbo_tenant: QboTenant) -> None:
    token = token_for(qbo_tenant)
    add(qbo_tenant, action={"type": "error", "error": "expired_token"}, times=1)
    resp = get(qbo_tenant, token)
    assert resp.status_code == 401 and resp.json()["fault"]["error"][0]["code"] == "3200"


def test_every_nth_match(qbo_tenant: QboTenant) -> None:
    token = token_for(qbo_tenant)
    add(qbo_tenant, action={"type": "error", "error": "server_error"}, every=2)
    assert [get(qbo_tenant, token).status_code for _ in range(4)] == [200, 500, 200, 500]


def test_seeded_probability_repeats(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = token_for(t)
    runs = []
    for _ in range(2):
        rule = add(t, action={"type": "error", "error": "server_error"}, probability=0.5, seed=11)
        runs.append([get(t, token).status_code for _ in range(12)])
        t.admin.call("DELETE", f"/faults/{rule['id']}", expect=200)
    assert runs[0] == runs[1] and {200, 500} == set(runs[0])


def test_rules_match_only_their_tenant(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = token_for(t)
    add(t, action={"type": "error", "error": "server_error"}, tenant="0000")
    assert get(t, token).status_code == 200


def test_delay(qbo_tenant: QboTenant) -> None:
    token = token_for(qbo_tenant)
    add(qbo_tenant, action={"type": "delay", "seconds": 0.3}, times=1)
    started = time.monotonic()
    assert get(qbo_tenant, token).status_code == 200
    assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize("action", [{"type": "reset"}, {"type": "drop_before"},
                                    {"type": "timeout", "seconds": 0.2}])
def test_connection_is_dropped(qbo_tenant: QboTenant, action: dict) -> None:
    token = token_for(qbo_tenant)
    add(qbo_tenant, action=action, times=1)
    with pytest.raises(requests.ConnectionError):
        get(qbo_tenant, token)
    assert get(qbo_tenant, token).status_code == 200


def test_empty_malformed_and_truncated_bodies(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = token_for(t)
    add(t, action={"type": "empty"}, times=1)
    resp = get(t, token)
    assert resp.status_code == 200 and resp.content == b""
    whole = get(t, token).content
    for kind in ("malformed", "truncate"):
        add(t, action={"type": kind}, times=1)
        resp = get(t, token)
        assert resp.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.content)
        if kind == "truncate":
            assert whole.startswith(resp.content) and len(resp.content) < len(whole)


def _exchange(t: QboTenant, code: str) -> requests.Response:
    return requests.post(t.base + "/oauth2/v1/tokens/bearer", auth=(t.client_id, t.client_secret),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": t.redirect_uri}, timeout=10)


def _code(t: QboTenant) -> str:
    return t.admin.post("/oauth/grant", {"client_id": t.client_id, "redirect_uri": t.redirect_uri,
                                         "realm_id": t.realm_id}, expect=200)["code"]


def test_drop_after_applies_the_write_drop_before_does_not(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    code = _code(t)
    t.admin.post("/faults", {"action": {"type": "drop_before"}, "path": "/oauth2/v1/tokens/bearer",
                             "times": 1}, expect=201)
    with pytest.raises(requests.ConnectionError):
        _exchange(t, code)
    assert _exchange(t, code).status_code == 200, "dropped before: the code was not used"
    code = _code(t)
    t.admin.post("/faults", {"action": {"type": "drop_after"}, "path": "/oauth2/v1/tokens/bearer",
                             "times": 1}, expect=201)
    with pytest.raises(requests.ConnectionError):
        _exchange(t, code)
    assert _exchange(t, code).json()["error"] == "invalid_grant", "dropped after: the code was used"


def test_bad_rules_are_refused_and_rules_can_be_cleared(qbo_tenant: QboTenant) -> None:
    admin = qbo_tenant.admin
    for bad in ({"action": {"type": "explode"}}, {"action": {"type": "error", "error": "nope"}},
                {"action": {"type": "delay"}}, {"action": {"type": "reset"}, "times": 0},
                {"action": {"type": "reset"}, "probability": 2}):
        assert admin.post("/faults", bad, expect=400)["error"]["code"] == "bad_request"
    assert admin.call("DELETE", "/faults/fault-999999", expect=404)["error"]["code"] == "fault_not_found"
    assert "throttle" in admin.get("/faults")["error_presets"]


def test_a_bad_seed_is_a_400(qbo_tenant: QboTenant) -> None:
    for seed in (None, "x", 1.5):
        body = {"action": {"type": "reset"}, "probability": 0.5, "seed": seed}
        assert qbo_tenant.admin.post("/faults", body, expect=400)["error"]["code"] == "bad_request"
