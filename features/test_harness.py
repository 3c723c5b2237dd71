"""The harness checks itself without the engine: per-test tenants, ground-truth lookups and QBO's
sign-in pages up to the redirect."""
from __future__ import annotations

from urllib.parse import urlencode

from features.harness.http import Http, ok_json
from features.harness.servers import Servers
from features.harness.signin import sign_in
from features.harness.tenants import seed_tenant


def test_two_tenants_of_one_scenario_share_nothing(servers: Servers, worker_id: str) -> None:
    a = seed_tenant(servers, "contacts_import_filter", worker_id)
    b = seed_tenant(servers, "contacts_import_filter", worker_id)
    assert a.realm_id != b.realm_id and a.firm_id != b.firm_id and a.admin.email != b.admin.email
    counts = a.truth["counts"]
    for t in (a, b):
        assert len(t.qbo_all("Customer")) == counts["qbo_customers"]
        assert len(t.qbo_query("Customer")) == counts["qbo_customers_active"]
        assert len(t.canopy_list("clients")) == counts["canopy_clients"]
        me = ok_json(t.canopy().get("/public/v3/me"), 200)
        assert me["firm"]["id"] == t.firm_id and "manage_integrations" in me["permissions"]
    # the ground truth speaks in refs; the tenant knows the ids behind them
    matched = a.contacts_truth("All")["matched"]
    customers = {c["Id"]: c for c in a.qbo_all("Customer")}
    clients = {c["id"]: c for c in a.canopy_list("clients")}
    for client_ref, customer_ref in matched:
        assert clients[a.canopy_ids[client_ref]]["display_name"].casefold() == \
            customers[a.qbo_ids[customer_ref]]["DisplayName"].replace(" (deleted)", "").casefold()


def test_team_members_of_a_scenario(servers: Servers, worker_id: str) -> None:
    t = seed_tenant(servers, "gate_no_license", worker_id)
    assert set(t.members) == {"admin", "unlicensed"}
    me = ok_json(t.canopy(t.member("unlicensed").token).get("/public/v3/me"), 200)
    assert "time_and_billing" not in me["effective_licenses"]
    assert [g["connect"] for g in t.truth["gates"]] == ["ok", "missing_license"]


def test_sign_in_pages_answer_the_redirect(servers: Servers, worker_id: str) -> None:
    t = seed_tenant(servers, "gate_freemium", worker_id)
    redirect_uri = "http://127.0.0.1:9/harness-self-test"
    client_id = f"self-test-{t.tag}"
    ok_json(Http(servers.qbo_url + "/_sim").post("/apps", {"client_id": client_id, "client_secret": "s",
                                                           "redirect_uris": [redirect_uri]}), 201)
    url = servers.qbo_url + "/connect/oauth2?" + urlencode({
        "client_id": client_id, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": redirect_uri, "state": "st-1"})
    back = sign_in(url, t.qbo_user["email"], t.qbo_user["password"], t.realm_id)
    assert back.location.startswith(redirect_uri + "?")
    assert back.params["state"] == "st-1" and back.params["realmId"] == t.realm_id and back.params["code"]
    for page in ("signin", "company", "consent"):
        cancelled = sign_in(url, t.qbo_user["email"], t.qbo_user["password"], t.realm_id, cancel_at=page)  # type: ignore[arg-type]
        assert cancelled.params == {"error": "access_denied", "state": "st-1"}, (page, cancelled.location)
