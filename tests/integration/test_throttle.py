"""QBO's throttles on the realm's clock: 429 with Fault 3001 over a limit, never under it."""
from __future__ import annotations

import requests

from tests.conftest import QboTenant
from tests.integration.test_admin import token_for


def read(t: QboTenant, token: str) -> requests.Response:
    return requests.get(f"{t.api_v3}/company/{t.realm_id}/companyinfo/{t.realm_id}",
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=10)


def real_limits_on_a_frozen_clock(t: QboTenant) -> str:
    token = token_for(t)
    t.admin.post("/limits", {"tenant": t.realm_id, "reset": True}, expect=200)
    t.admin.post("/clock", {"tenant": t.realm_id, "freeze": True}, expect=200)
    return token


def test_ten_a_second_per_realm_and_app(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = real_limits_on_a_frozen_clock(t)
    assert [read(t, token).status_code for _ in range(10)] == [200] * 10
    refused = read(t, token)
    assert refused.status_code == 429
    assert refused.json()["Fault"]["Error"][0]["code"] == "3001"
    t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": 1}, expect=200)
    assert read(t, token).status_code == 200


def test_per_realm_minute_limit_counts_every_app(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = real_limits_on_a_frozen_clock(t)
    t.admin.post("/limits", {"tenant": t.realm_id, "per_realm_per_minute": 12}, expect=200)
    statuses = []
    for second in range(3):
        statuses += [read(t, token).status_code for _ in range(5)]
        t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": 1}, expect=200)
    assert statuses.count(200) == 12 and statuses[-3:] == [429] * 3
    t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": 60}, expect=200)
    assert read(t, token).status_code == 200


def test_limits_can_be_switched_off_and_bad_settings_refused(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = real_limits_on_a_frozen_clock(t)
    t.admin.post("/limits", {"tenant": t.realm_id, "enabled": False}, expect=200)
    assert {read(t, token).status_code for _ in range(25)} == {200}
    assert t.admin.get("/limits", tenant=t.realm_id)["enabled"] is False
    assert t.admin.post("/limits", {"per_app_per_second": 0}, expect=400)["error"]["code"] == "bad_request"
    assert t.admin.post("/limits", {"speed": 3}, expect=400)["error"]["code"] == "bad_request"


def test_a_refused_request_is_not_journaled_as_a_success(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    token = real_limits_on_a_frozen_clock(t)
    for _ in range(11):
        read(t, token)
    assert [e["status"] for e in t.admin.get("/journal", tenant=t.realm_id, status=429)["entries"]] == [429]
