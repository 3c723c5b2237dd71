"""Intuit OAuth 2.0 through the real intuit-oauth client and the HTML pages."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from tests.conftest import QboTenant

ACCOUNTING = "com.intuit.quickbooks.accounting"


def auth_client(t: QboTenant, secret: str | None = None) -> AuthClient:
    return AuthClient(t.client_id, secret or t.client_secret, t.redirect_uri, t.discovery_url)


def grant_code(t: QboTenant, scope: str = ACCOUNTING, state: str = "st-1", realm: str | None = None) -> str:
    out = t.admin.post("/oauth/grant", {"client_id": t.client_id, "redirect_uri": t.redirect_uri,
                                        "realm_id": realm or t.realm_id, "scope": scope,
                                        "state": state}, expect=200)
    return out["code"]


def company_info(t: QboTenant, token: str, realm: str | None = None) -> requests.Response:
    realm = realm or t.realm_id
    return requests.get(f"{t.api_v3}/company/{realm}/companyinfo/{realm}",
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                        timeout=10)


def advance(t: QboTenant, seconds: float) -> None:
    t.admin.post("/clock", {"tenant": t.realm_id, "advance_seconds": seconds}, expect=200)


def connected(t: QboTenant, scope: str = ACCOUNTING) -> AuthClient:
    client = auth_client(t)
    client.get_bearer_token(grant_code(t, scope), realm_id=t.realm_id)
    return client


# -- discovery and the authorize URL -----------------------------------------------
def test_discovery_points_back_at_the_fake(qbo_tenant: QboTenant) -> None:
    client = auth_client(qbo_tenant)
    assert client.token_endpoint == qbo_tenant.base + "/oauth2/v1/tokens/bearer"
    assert client.auth_endpoint == qbo_tenant.base + "/connect/oauth2"
    assert client.issuer_uri == qbo_tenant.base + "/op/v1"
    for path in ("/.well-known/openid_configuration/", "/.well-known/openid_sandbox_configuration/"):
        assert requests.get(qbo_tenant.base + path, timeout=5).json()["jwks_uri"] == client.jwks_uri


def test_authorization_url_opens_the_sign_in_page(qbo_tenant: QboTenant) -> None:
    url = auth_client(qbo_tenant).get_authorization_url([Scopes.ACCOUNTING], "abc")
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200 and "text/html" in resp.headers["Content-Type"]
    assert "name='password'" in resp.text


# -- code exchange ------------------------------------------------------------
def test_code_exchange_gives_tokens_that_read_the_company(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    assert client.expires_in == 3600
    assert client.x_refresh_token_expires_in == 100 * 86400
    assert client.refresh_token.startswith("RT1-")
    resp = company_info(qbo_tenant, client.access_token)
    assert resp.status_code == 200
    assert resp.json()["CompanyInfo"]["CompanyName"].startswith("Test Co")
    assert resp.headers["intuit_tid"]


def test_openid_scope_gives_a_valid_id_token_and_userinfo(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant, f"{ACCOUNTING} openid email profile")
    assert client.id_token, "intuit-oauth dropped the id_token: its signature or claims did not verify"
    info = client.get_user_info().json()
    assert info["email"] == qbo_tenant.user_email and info["emailVerified"] is True
    assert "givenName" in info


def test_userinfo_needs_openid(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    with pytest.raises(AuthClientError) as err:
        client.get_user_info()
    assert err.value.status_code == 403


def test_a_code_works_once_and_its_replay_revokes_the_tokens(qbo_tenant: QboTenant) -> None:
    code = grant_code(qbo_tenant)
    first = auth_client(qbo_tenant)
    first.get_bearer_token(code, realm_id=qbo_tenant.realm_id)
    assert company_info(qbo_tenant, first.access_token).status_code == 200
    with pytest.raises(AuthClientError) as err:
        auth_client(qbo_tenant).get_bearer_token(code)
    assert err.value.status_code == 400 and b"invalid_grant" in err.value.content
    assert company_info(qbo_tenant, first.access_token).status_code == 401
    with pytest.raises(AuthClientError):
        first.refresh()


def test_wrong_redirect_uri_is_invalid_grant(qbo_tenant: QboTenant) -> None:
    client = AuthClient(qbo_tenant.client_id, qbo_tenant.client_secret, "http://127.0.0.1:9/other",
                        qbo_tenant.discovery_url)
    with pytest.raises(AuthClientError) as err:
        client.get_bearer_token(grant_code(qbo_tenant))
    assert err.value.status_code == 400 and b"invalid_grant" in err.value.content


def test_wrong_secret_is_invalid_client(qbo_tenant: QboTenant) -> None:
    with pytest.raises(AuthClientError) as err:
        auth_client(qbo_tenant, secret="nope").get_bearer_token(grant_code(qbo_tenant))
    assert err.value.status_code == 401 and b"invalid_client" in err.value.content


def test_unknown_code_and_expired_code_are_invalid_grant(qbo_tenant: QboTenant) -> None:
    with pytest.raises(AuthClientError) as err:
        auth_client(qbo_tenant).get_bearer_token("AB11not-a-code")
    assert err.value.status_code == 400
    code = grant_code(qbo_tenant)
    advance(qbo_tenant, 601)
    with pytest.raises(AuthClientError) as err:
        auth_client(qbo_tenant).get_bearer_token(code)
    assert b"invalid_grant" in err.value.content


def test_unsupported_grant_type(qbo_tenant: QboTenant) -> None:
    resp = requests.post(qbo_tenant.base + "/oauth2/v1/tokens/bearer",
                         auth=(qbo_tenant.client_id, qbo_tenant.client_secret),
                         data={"grant_type": "password"}, timeout=5)
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"


# -- refresh ----------------------------------------------------------------------
def test_access_token_expires_after_an_hour_and_refresh_renews_it(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    old_access, old_refresh = client.access_token, client.refresh_token
    advance(qbo_tenant, 3601)
    expired = company_info(qbo_tenant, old_access)
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["code"] == "3200"
    client.refresh()
    assert client.access_token != old_access
    assert client.refresh_token == old_refresh, "a refresh token under 24 h old comes back unchanged"
    assert company_info(qbo_tenant, client.access_token).status_code == 200


def test_refresh_token_rotates_after_a_day_and_the_old_one_has_grace(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    first = client.refresh_token
    advance(qbo_tenant, 25 * 3600)
    client.refresh()
    second = client.refresh_token
    assert second != first
    other = auth_client(qbo_tenant)
    other.refresh(first)  # still inside the 24 h grace
    assert other.refresh_token == second
    advance(qbo_tenant, 25 * 3600)
    with pytest.raises(AuthClientError):
        auth_client(qbo_tenant).refresh(first)


def test_refresh_token_dies_after_100_idle_days(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    advance(qbo_tenant, 100 * 86400 + 1)
    with pytest.raises(AuthClientError) as err:
        client.refresh()
    assert err.value.status_code == 400 and b"invalid_grant" in err.value.content


def test_hard_expiry_header(qbo_tenant: QboTenant) -> None:
    code = grant_code(qbo_tenant)
    resp = requests.post(qbo_tenant.base + "/oauth2/v1/tokens/bearer",
                         auth=(qbo_tenant.client_id, qbo_tenant.client_secret),
                         headers={"x-include-refresh-token-hard-expires-in": "true"},
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": qbo_tenant.redirect_uri}, timeout=5)
    assert resp.json()["x_refresh_token_hard_expires_in"] == 5 * 365 * 86400


def test_refresh_with_another_apps_token_is_refused(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    qbo_tenant.admin.post("/apps", {"client_id": qbo_tenant.client_id + "-b", "client_secret": "b",
                                    "redirect_uris": [qbo_tenant.redirect_uri]}, expect=201)
    other = AuthClient(qbo_tenant.client_id + "-b", "b", qbo_tenant.redirect_uri, qbo_tenant.discovery_url)
    with pytest.raises(AuthClientError):
        other.refresh(client.refresh_token)


# -- revoke -------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["refresh", "access"])
def test_revoke_kills_the_grant(qbo_tenant: QboTenant, which: str) -> None:
    client = connected(qbo_tenant)
    access, refresh = client.access_token, client.refresh_token
    assert client.revoke(token=refresh if which == "refresh" else access) is True
    resp = company_info(qbo_tenant, access)
    assert resp.status_code == 401 and resp.json()["fault"]["type"] == "AUTHENTICATION"
    with pytest.raises(AuthClientError):
        auth_client(qbo_tenant).refresh(refresh)


def test_revoke_needs_client_credentials(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    with pytest.raises(AuthClientError) as err:
        auth_client(qbo_tenant, secret="wrong").revoke(token=client.refresh_token)
    assert err.value.status_code == 401
    assert company_info(qbo_tenant, client.access_token).status_code == 200


# -- API calls: token, realm and scope --------------------------------------------------
def test_missing_or_garbage_token_is_401_3200(qbo_tenant: QboTenant) -> None:
    url = f"{qbo_tenant.api_v3}/company/{qbo_tenant.realm_id}/companyinfo/{qbo_tenant.realm_id}"
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        resp = requests.get(url, headers=headers, timeout=5)
        assert resp.status_code == 401
        assert resp.json()["fault"]["error"][0]["code"] == "3200"


def test_a_token_never_reads_another_realm(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    other = qbo_tenant.admin.post("/companies", {"name": "Someone Else"}, expect=201)["realm_id"]
    resp = company_info(qbo_tenant, client.access_token, realm=other)
    assert resp.status_code == 403
    body = resp.json()
    assert body["fault"]["error"][0]["code"] == "3100" and "Fault" not in body


def test_openid_only_token_cannot_call_the_api(qbo_tenant: QboTenant) -> None:
    client = auth_client(qbo_tenant)
    client.get_bearer_token(grant_code(qbo_tenant, "openid email"))
    resp = company_info(qbo_tenant, client.access_token)
    assert resp.status_code == 403 and resp.json()["fault"]["error"][0]["code"] == "3100"


def test_user_who_lost_access_gets_120(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    qbo_tenant.admin.post(f"/companies/{qbo_tenant.realm_id}/users/revoke",
                          {"email": qbo_tenant.user_email}, expect=200)
    resp = company_info(qbo_tenant, client.access_token)
    assert resp.status_code == 403
    assert resp.json()["Fault"]["Error"][0]["code"] == "120"


def test_suspended_subscription_still_reads(qbo_tenant: QboTenant) -> None:
    client = connected(qbo_tenant)
    qbo_tenant.admin.post(f"/companies/{qbo_tenant.realm_id}/subscription", {"status": "suspended"},
                          expect=200)
    assert company_info(qbo_tenant, client.access_token).status_code == 200
    info = qbo_tenant.admin.get("/companies")
    assert {"realm_id": qbo_tenant.realm_id, "subscription": "suspended"}.items() <= next(
        c for c in info["companies"] if c["realm_id"] == qbo_tenant.realm_id).items()


# -- the HTML sign-in, driven by form posts --------------------------------------------
def _open(t: QboTenant, scope: str = ACCOUNTING, state: str = "s-42") -> tuple[requests.Session, str]:
    http = requests.Session()
    query = urlencode({"client_id": t.client_id, "response_type": "code", "scope": scope,
                       "redirect_uri": t.redirect_uri, "state": state})
    page = http.get(f"{t.base}/connect/oauth2?{query}", timeout=5)
    assert page.status_code == 200
    flow = re.search(r"name='flow' value='([^']+)'", page.text)
    assert flow
    return http, flow.group(1)


def _redirect_params(resp: requests.Response) -> dict[str, list[str]]:
    assert resp.status_code == 302, resp.text
    return parse_qs(urlparse(resp.headers["Location"]).query)


def test_html_sign_in_company_and_consent_end_in_a_code(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    http, flow = _open(t)
    page = http.post(t.base + "/connect/oauth2/signin",
                     data={"flow": flow, "email": t.user_email, "password": t.user_password,
                           "action": "signin"}, timeout=5)
    assert t.realm_id in page.text
    page = http.post(t.base + "/connect/oauth2/company",
                     data={"flow": flow, "realm_id": t.realm_id, "action": "next"}, timeout=5)
    assert "decision" in page.text
    resp = http.post(t.base + "/connect/oauth2/consent", data={"flow": flow, "decision": "connect"},
                     allow_redirects=False, timeout=5)
    params = _redirect_params(resp)
    assert params["state"] == ["s-42"] and params["realmId"] == [t.realm_id]
    client = auth_client(t)
    client.get_bearer_token(params["code"][0], realm_id=t.realm_id)
    assert company_info(t, client.access_token).status_code == 200


def test_html_wrong_password_shows_an_error_and_lets_you_retry(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    http, flow = _open(t)
    page = http.post(t.base + "/connect/oauth2/signin",
                     data={"flow": flow, "email": t.user_email, "password": "wrong", "action": "signin"},
                     timeout=5)
    assert page.status_code == 401 and "not right" in page.text
    page = http.post(t.base + "/connect/oauth2/signin",
                     data={"flow": flow, "email": t.user_email, "password": t.user_password,
                           "action": "signin"}, timeout=5)
    assert page.status_code == 200


@pytest.mark.parametrize("where", ["signin", "consent"])
def test_html_cancel_redirects_with_access_denied(qbo_tenant: QboTenant, where: str) -> None:
    t = qbo_tenant
    http, flow = _open(t)
    if where == "signin":
        resp = http.post(t.base + "/connect/oauth2/signin", data={"flow": flow, "action": "cancel"},
                         allow_redirects=False, timeout=5)
    else:
        http.post(t.base + "/connect/oauth2/signin", data={"flow": flow, "email": t.user_email,
                                                          "password": t.user_password, "action": "signin"})
        http.post(t.base + "/connect/oauth2/company", data={"flow": flow, "realm_id": t.realm_id})
        resp = http.post(t.base + "/connect/oauth2/consent", data={"flow": flow, "decision": "cancel"},
                         allow_redirects=False, timeout=5)
    params = _redirect_params(resp)
    assert params == {"error": ["access_denied"], "state": ["s-42"]}


def test_html_flow_cannot_be_replayed(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    http, flow = _open(t)
    http.post(t.base + "/connect/oauth2/signin", data={"flow": flow, "action": "cancel"},
              allow_redirects=False)
    again = http.post(t.base + "/connect/oauth2/consent", data={"flow": flow, "decision": "connect"},
                      allow_redirects=False, timeout=5)
    assert again.status_code == 400


def test_authorize_rejects_unknown_client_and_unregistered_redirect(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    for client_id, redirect in (("nobody", t.redirect_uri), (t.client_id, "http://evil.example/cb")):
        query = urlencode({"client_id": client_id, "response_type": "code", "scope": ACCOUNTING,
                           "redirect_uri": redirect, "state": "x"})
        resp = requests.get(f"{t.base}/connect/oauth2?{query}", allow_redirects=False, timeout=5)
        assert resp.status_code == 400, "never redirect to an unverified URI"


def test_authorize_redirects_bad_scope_back_to_the_app(qbo_tenant: QboTenant) -> None:
    t = qbo_tenant
    query = urlencode({"client_id": t.client_id, "response_type": "code", "scope": "launch.missiles",
                       "redirect_uri": t.redirect_uri, "state": "x"})
    resp = requests.get(f"{t.base}/connect/oauth2?{query}", allow_redirects=False, timeout=5)
    assert _redirect_params(resp) == {"error": ["invalid_scope"], "state": ["x"]}
