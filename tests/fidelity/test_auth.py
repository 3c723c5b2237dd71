"""OAuth 2.0 through intuit-oauth, and auth failures as python-quickbooks sees them."""
from __future__ import annotations

import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import (AuthorizationException, QuickbooksException, SevereException,
                                   ValidationException)
from quickbooks.objects.customer import Customer

from .conftest import ACCOUNTING, auth_client, client_for, connect_fake, grant_code, same_api
from .entities import customer

ONE_HOUR = 3600


def assert_401(exc: pytest.ExceptionInfo) -> None:
    """python-quickbooks turns any 401 into AuthorizationException(401) without parsing the body."""
    assert type(exc.value) is AuthorizationException
    assert exc.value.error_code == 401
    assert exc.value.message == "Application authentication failed"


# -- the OAuth endpoints ------------------------------------------------------------------------
@pytest.mark.fake_only
def test_discovery_points_intuit_oauth_at_the_fake(qbo_tenant, recorder):
    auth = auth_client(qbo_tenant)
    base = qbo_tenant.base
    assert auth.token_endpoint == base + "/oauth2/v1/tokens/bearer"
    assert auth.revoke_endpoint == base + "/v2/oauth2/tokens/revoke"
    assert auth.user_info_url == base + "/v1/openid_connect/userinfo"
    assert auth.jwks_uri == base + "/op/v1/jwks"
    assert auth.issuer_uri == base + "/op/v1"
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="s1")
    assert url.startswith(base + "/connect/oauth2?")
    assert "client_id=" + qbo_tenant.client_id in url and "state=s1" in url
    assert recorder.last().operation == "openidConfiguration"


@pytest.mark.fake_only
def test_code_exchange_gives_tokens(qbo_tenant, recorder):
    grant = grant_code(qbo_tenant)
    assert grant["redirect_url"].startswith(qbo_tenant.redirect_uri + "?")
    assert "code=" + grant["code"] in grant["redirect_url"] and "realmId=" + qbo_tenant.realm_id in grant["redirect_url"]
    auth = auth_client(qbo_tenant)
    auth.get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    assert auth.access_token and auth.refresh_token
    assert auth.expires_in == ONE_HOUR
    assert auth.x_refresh_token_expires_in == 100 * 86400  # D-27
    assert auth.realm_id == qbo_tenant.realm_id
    assert auth.id_token is None  # no openid scope
    assert recorder.last().operation == "tokenBearer"


def test_refresh_gives_a_working_access_token(conn, recorder):
    old = conn.auth.access_token
    conn.auth.refresh()
    assert conn.auth.access_token and conn.auth.access_token != old
    assert recorder.last().operation == "tokenBearer"
    qb = client_for(conn.auth, conn.realm, same_api(conn))
    assert isinstance(Customer.all(max_results=1, qb=qb), list)


@pytest.mark.fake_only
def test_a_code_works_once_and_a_replay_revokes_its_tokens(qbo_tenant):
    """D-23."""
    grant = grant_code(qbo_tenant)
    auth = auth_client(qbo_tenant)
    auth.get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    qb = client_for(auth, grant["realm_id"], qbo_tenant.api_v3)
    Customer.all(qb=qb)
    with pytest.raises(AuthClientError) as exc:
        auth_client(qbo_tenant).get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    assert exc.value.status_code == 400
    assert "invalid_grant" in exc.value.content.decode()
    with pytest.raises(AuthorizationException) as api:
        Customer.all(qb=qb)
    assert_401(api)
    with pytest.raises(AuthClientError):
        auth.refresh()


@pytest.mark.fake_only
def test_wrong_client_secret_is_invalid_client(qbo_tenant):
    grant = grant_code(qbo_tenant)
    with pytest.raises(AuthClientError) as exc:
        auth_client(qbo_tenant, secret="not-the-secret").get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    assert exc.value.status_code == 401
    assert "invalid_client" in exc.value.content.decode()
    assert exc.value.intuit_tid  # OAuth answers carry intuit_tid too


@pytest.mark.fake_only
def test_wrong_redirect_uri_is_invalid_grant(qbo_tenant):
    grant = grant_code(qbo_tenant)
    auth = AuthClient(qbo_tenant.client_id, qbo_tenant.client_secret, "http://127.0.0.1:9/elsewhere",
                      environment=qbo_tenant.discovery_url)
    with pytest.raises(AuthClientError) as exc:
        auth.get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    assert exc.value.status_code == 400
    assert "invalid_grant" in exc.value.content.decode()


@pytest.mark.fake_only
def test_bad_refresh_token_is_invalid_grant(qbo_tenant):
    auth = auth_client(qbo_tenant)
    with pytest.raises(AuthClientError) as exc:
        auth.refresh(refresh_token="RT1-not-a-token")
    assert exc.value.status_code == 400
    assert "invalid_grant" in exc.value.content.decode()


@pytest.mark.fake_only
@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoke_kills_the_whole_grant(qbo_tenant, which, recorder):
    """D-28: revoking either token revokes every token of that consent."""
    conn = connect_fake(qbo_tenant)
    Customer.all(qb=conn.qb)
    assert conn.auth.revoke(token=getattr(conn.auth, which)) is True
    assert recorder.last().operation == "revokeToken"
    with pytest.raises(AuthorizationException) as exc:
        Customer.all(qb=conn.qb)
    assert_401(exc)
    assert "3200" in exc.value.detail
    with pytest.raises(AuthClientError) as refresh:
        conn.auth.refresh()
    assert refresh.value.status_code == 400


@pytest.mark.fake_only
def test_revoking_an_unknown_token_is_a_no_op(qbo_tenant):
    conn = connect_fake(qbo_tenant)
    assert conn.auth.revoke(token="RT1-unknown") is True
    assert isinstance(Customer.all(qb=conn.qb), list)


@pytest.mark.fake_only
def test_openid_scopes_give_an_id_token_and_user_info(qbo_tenant, recorder):
    conn = connect_fake(qbo_tenant, scope=f"{ACCOUNTING} openid email profile")
    assert conn.auth.id_token  # intuit-oauth keeps it only if iss, aud, exp and the RS256 signature check out
    assert "jwks" in list(recorder.operations())
    info = conn.auth.get_user_info().json()
    assert info["email"] == qbo_tenant.user_email
    assert info["sub"] and info["emailVerified"] is True
    assert info["givenName"] and info["familyName"]
    assert isinstance(Customer.all(max_results=1, qb=conn.qb), list)


@pytest.mark.fake_only
def test_user_info_needs_the_openid_scope(qbo_tenant):
    conn = connect_fake(qbo_tenant)
    with pytest.raises(AuthClientError) as exc:
        conn.auth.get_user_info()
    assert exc.value.status_code == 403


# -- auth failures on API calls -----------------------------------------------------------------
def test_garbage_access_token_is_401(qb):
    qb.session.access_token = "not-a-token"
    with pytest.raises(AuthorizationException) as exc:
        Customer.all(qb=qb)
    assert_401(exc)


@pytest.mark.fake_only
def test_expired_access_token_is_401_and_refresh_recovers(conn, clock):
    Customer.all(qb=conn.qb)
    clock(advance_seconds=ONE_HOUR + 1)
    with pytest.raises(AuthorizationException) as exc:
        Customer.all(qb=conn.qb)
    assert_401(exc)
    assert "3200" in exc.value.detail and "expired" in exc.value.detail.lower()
    conn.auth.refresh()  # no auto-refresh in python-quickbooks: the caller refreshes and reconnects
    qb = client_for(conn.auth, conn.realm, conn.qb.api_url_v3)
    assert isinstance(Customer.all(qb=qb), list)


@pytest.mark.fake_only
def test_token_for_another_realm_is_403_which_python_quickbooks_misreads(conn, qbo_admin, recorder):
    """D-24: the gateway's lower-case `fault` (003100) is not a `Fault`, so python-quickbooks raises a
    generic QuickbooksException with code 10000, exactly as it does against real QBO."""
    other = qbo_admin.post("/companies", {"name": "Someone Else"}, expect=201)
    conn.qb.company_id = other["realm_id"]
    with pytest.raises(QuickbooksException) as exc:
        Customer.all(qb=conn.qb)
    assert type(exc.value) is QuickbooksException
    assert exc.value.error_code == 10000
    assert "403" in exc.value.message and "003100" in exc.value.message
    body = recorder.last("queryPost").json()
    assert "Fault" not in body and body["fault"]["error"][0]["code"] == "3100"


@pytest.mark.fake_only
def test_user_who_lost_access_gets_fault_120(conn, qbo_tenant):
    """D-29: the documented Fault shape with code 120, so python-quickbooks maps it."""
    qbo_tenant.admin.post(f"/companies/{conn.realm}/users/revoke", {"email": qbo_tenant.user_email}, expect=200)
    with pytest.raises(AuthorizationException) as exc:
        Customer.all(qb=conn.qb)
    assert exc.value.error_code == 120
    assert exc.value.message == "Authorization Failure"


@pytest.mark.fake_only
def test_suspended_subscription_refuses_writes_with_6190_and_serves_reads(conn, qbo_tenant, uniq):
    """D-29."""
    made = customer(uniq).save(qb=conn.qb)
    qbo_tenant.admin.post(f"/companies/{conn.realm}/subscription", {"status": "suspended"}, expect=200)
    with pytest.raises(QuickbooksException) as exc:
        customer(uniq + " 2").save(qb=conn.qb)
    assert type(exc.value) is QuickbooksException  # 6190 is past GeneralException's 600-1999
    assert exc.value.error_code == 6190
    assert Customer.get(made.Id, qb=conn.qb).DisplayName == uniq
    assert [c.Id for c in Customer.filter(DisplayName=uniq, qb=conn.qb)] == [made.Id]


def test_minor_versions_below_75_are_accepted_and_ignored(conn, recorder, uniq):
    qb = client_for(conn.auth, conn.realm, same_api(conn),
                    minorversion=40)
    made = customer(uniq).save(qb=qb)
    assert "minorversion=40" in recorder.last("createOrUpdateCustomer").url
    assert Customer.get(made.Id, qb=qb).DisplayName == uniq


# -- injected faults (fake only): QBO's shapes, mapped as python-quickbooks maps them -----------
@pytest.mark.fake_only
@pytest.mark.parametrize("preset,exc_type,code", [("throttle", ValidationException, 3001),
                                                  ("server_error", SevereException, 10000),
                                                  ("unavailable", SevereException, 10000),
                                                  ("stale_object", QuickbooksException, 5010)])
def test_injected_faults_come_back_in_qbo_shapes(qb, conn, qbo_admin, preset, exc_type, code):
    qbo_admin.post("/faults", {"action": {"type": "error", "error": preset}, "tenant": conn.realm, "times": 1},
                   expect=201)
    with pytest.raises(exc_type) as exc:
        Customer.all(qb=qb)
    assert type(exc.value) is exc_type
    assert exc.value.error_code == code
    assert isinstance(Customer.all(qb=qb), list)  # it fired once


@pytest.mark.fake_only
def test_injected_expired_token_is_401(qb, conn, qbo_admin):
    qbo_admin.post("/faults", {"action": {"type": "error", "error": "expired_token"}, "tenant": conn.realm,
                               "times": 1}, expect=201)
    with pytest.raises(AuthorizationException) as exc:
        Customer.all(qb=qb)
    assert_401(exc)


# -- token lifetimes on the company clock (D-21, D-22, D-26, D-27) -------------------------------
@pytest.mark.fake_only
def test_a_code_expires_after_ten_minutes(qbo_tenant, clock):
    grant = grant_code(qbo_tenant)
    clock(advance_seconds=601)
    with pytest.raises(AuthClientError) as exc:
        auth_client(qbo_tenant).get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    assert exc.value.status_code == 400 and "invalid_grant" in exc.value.content.decode()


@pytest.mark.fake_only
def test_refresh_token_rotates_daily_and_the_old_one_has_a_day_of_grace(conn, clock):
    first = conn.auth.refresh_token
    conn.auth.refresh()
    assert conn.auth.refresh_token == first  # same value within a day
    clock(advance_seconds=25 * 3600)
    conn.auth.refresh()
    second = conn.auth.refresh_token
    assert second != first
    conn.auth.refresh(refresh_token=first)  # the superseded token still works for 24 h
    clock(advance_seconds=25 * 3600)
    with pytest.raises(AuthClientError) as exc:
        conn.auth.refresh(refresh_token=first)
    assert exc.value.status_code == 400
    conn.auth.refresh(refresh_token=conn.auth.refresh_token)
    assert isinstance(Customer.all(qb=client_for(conn.auth, conn.realm, conn.qb.api_url_v3)), list)


@pytest.mark.fake_only
def test_refresh_token_dies_after_100_idle_days(conn, clock):
    clock(advance_seconds=100 * 86400 + 1)
    with pytest.raises(AuthClientError) as exc:
        conn.auth.refresh()
    assert exc.value.status_code == 400 and "invalid_grant" in exc.value.content.decode()


@pytest.mark.fake_only
def test_refreshing_keeps_the_connection_alive_past_100_days(conn, clock):
    for _ in range(3):
        clock(advance_seconds=60 * 86400)
        conn.auth.refresh()
    qb = client_for(conn.auth, conn.realm, conn.qb.api_url_v3)
    assert isinstance(Customer.all(qb=qb), list)
