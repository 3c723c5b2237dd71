"""The `/_sim` control plane over real HTTP: state, snapshots, forks, journal, clock."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import requests

from sim.core.server import ServerThread
from sim.fake_qbo.app import QboConfig, create_app
from tests.conftest import Admin, QboTenant


def token_for(t: QboTenant, realm: str | None = None) -> str:
    realm = realm or t.realm_id
    code = t.admin.post("/oauth/grant", {"client_id": t.client_id, "redirect_uri": t.redirect_uri,
                                         "realm_id": realm, "scope": "com.intuit.quickbooks.accounting"},
                        expect=200)["code"]
    resp = requests.post(t.base + "/oauth2/v1/tokens/bearer", auth=(t.client_id, t.client_secret),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": t.redirect_uri}, timeout=5)
    return resp.json()["access_token"]


def test_health_and_admin_spec(qbo_admin: Admin) -> None:
    assert qbo_admin.get("/health")["status"] == "ok"
    spec = qbo_admin.get("/openapi.json")
    assert spec["openapi"].startswith("3.1") and "/_sim/health" not in json.dumps(
        requests.get(qbo_admin.base + "/openapi.json", timeout=5).json().get("paths", {}))


def test_state_of_one_tenant(qbo_tenant: QboTenant) -> None:
    state = qbo_tenant.admin.get("/state", tenant=qbo_tenant.realm_id)
    company = state["tenants"][qbo_tenant.realm_id]
    assert company["kind"] == "qbo"
    assert {"CompanyInfo", "Preferences", "Account"} <= set(company["records"])
    assert "server" not in state


def test_unknown_tenant_is_404_in_the_admin_shape(qbo_admin: Admin) -> None:
    body = qbo_admin.get("/state", expect=404, tenant="0")
    assert body["error"]["code"] == "tenant_not_found"
    assert qbo_admin.post("/apps", {"client_id": "x"}, expect=400)["error"]["code"] == "bad_request"
    resp = requests.post(qbo_admin.base + "/_sim/apps", data="{not json", timeout=5)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_json"


def test_fork_gives_an_independent_company_the_same_user_can_connect_to(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    forked = t.admin.post(f"/tenants/{t.realm_id}/fork", {"name": "Copy"}, expect=201)
    new = forked["tenant_id"]
    assert new != t.realm_id and forked["users"] == [t.user_email]
    state = t.admin.get("/state", tenant=new)["tenants"][new]
    original = t.admin.get("/state", tenant=t.realm_id)["tenants"][t.realm_id]
    assert state["records"] == original["records"]
    token = token_for(t, new)
    resp = requests.get(f"{t.api_v3}/company/{new}/companyinfo/{new}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 200
    # A token for the fork still cannot touch the original.
    resp = requests.get(f"{t.api_v3}/company/{t.realm_id}/companyinfo/{t.realm_id}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 403


def test_snapshot_and_restore_one_tenant(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    before = t.admin.get("/state", tenant=t.realm_id)
    snap = t.admin.post("/snapshots", {"tenant": t.realm_id}, expect=201)["snapshot_id"]
    t.admin.post(f"/companies/{t.realm_id}/subscription", {"status": "suspended"}, expect=200)
    assert t.admin.get("/state", tenant=t.realm_id) != before
    t.admin.post(f"/snapshots/{snap}/restore", expect=200)
    assert t.admin.get("/state", tenant=t.realm_id) == before
    assert t.admin.post("/snapshots/nope/restore", expect=404)["error"]["code"] == "snapshot_not_found"


def test_whole_server_snapshot_and_reset() -> None:
    with ServerThread(lambda: create_app(QboConfig(seed=3, ready_made=True))) as server:
        admin = Admin(server.url)
        assert len(admin.get("/companies")["companies"]) == 1
        snap = admin.post("/snapshots", {}, expect=201)["snapshot_id"]
        admin.post("/companies", {"name": "Extra"}, expect=201)
        admin.post(f"/snapshots/{snap}/restore", expect=200)
        assert [c["name"] for c in admin.get("/companies")["companies"]] == ["Sandbox Company US 1"]
        admin.post("/companies", {"name": "Extra"}, expect=201)
        admin.post("/reset", expect=200)
        assert [c["name"] for c in admin.get("/companies")["companies"]] == ["Sandbox Company US 1"]


def test_journal_records_api_calls_by_tenant_and_status(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    url = f"{t.api_v3}/company/{t.realm_id}/companyinfo/{t.realm_id}"
    requests.get(url, timeout=5)
    requests.get(url, headers={"Authorization": f"Bearer {token_for(t)}"}, timeout=5)
    entries = t.admin.get("/journal", tenant=t.realm_id)["entries"]
    assert [e["status"] for e in entries] == [401, 200]
    assert t.admin.get("/journal", tenant=t.realm_id, status=401)["entries"][0]["path"] == \
        f"/v3/company/{t.realm_id}/companyinfo/{t.realm_id}"
    assert t.admin.get("/journal", method="DELETE", tenant=t.realm_id)["entries"] == []
    assert "journal" not in json.dumps(t.admin.get("/state", tenant=t.realm_id))


def test_clock_per_tenant_and_for_all(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    view = t.admin.post("/clock", {"tenant": t.realm_id, "freeze": True,
                                   "set": "2025-03-04T10:00:00Z"}, expect=200)
    assert view["now"] == "2025-03-04T10:00:00Z" and view["frozen"] and view["own_clock"]
    view = t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": 90}, expect=200)
    assert view["now"] == "2025-03-04T10:01:30Z"
    assert t.admin.get("/clock")["now"] != view["now"], "the server clock did not move"
    assert t.admin.post("/clock", {"set": "yesterday"}, expect=400)["error"]["code"] == "bad_request"


SEEDED_WORLD = textwrap.dedent("""
    import hashlib, json, requests
    from sim.core.server import ServerThread
    from sim.fake_qbo.app import QboConfig, create_app
    with ServerThread(lambda: create_app(QboConfig(seed=42))) as s:
        requests.post(s.url + "/_sim/clock", json={"freeze": True, "set": "2025-01-01T00:00:00Z"})
        requests.post(s.url + "/_sim/apps", json={"client_id": "c", "client_secret": "s",
                                                   "redirect_uris": ["http://x/cb"]})
        for name in ("Alpha", "Beta"):
            realm = requests.post(s.url + "/_sim/companies", json={"name": name}).json()["realm_id"]
            requests.post(s.url + "/_sim/oauth/grant", json={"client_id": "c", "redirect_uri": "http://x/cb",
                                                              "realm_id": realm})
        print(hashlib.sha256(requests.get(s.url + "/_sim/state").content).hexdigest())
""")


def test_same_seed_same_state_bytes_across_processes() -> None:
    digests = {subprocess.run([sys.executable, "-c", SEEDED_WORLD], capture_output=True, text=True,
                              check=True).stdout.strip() for _ in range(2)}
    assert len(digests) == 1 and len(next(iter(digests))) == 64
    other = subprocess.run([sys.executable, "-c", SEEDED_WORLD.replace("seed=42", "seed=43")],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other not in digests
    assert hashlib.sha256(b"").hexdigest() not in digests


def test_a_bad_company_offset_is_a_400(qbo_admin: Admin) -> None:
    for offset in ("+ab:cd", "-8:00", "UTC"):
        assert qbo_admin.post("/companies", {"name": "Odd", "offset": offset}, expect=400)["error"]["code"] == \
            "bad_request"
