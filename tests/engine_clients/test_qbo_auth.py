"""Tokens and refusals: one refresh per 401, and each kind of lost access has its own reason."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from engine.clients import AuthRefused, BatchOp, QboClient, QboOAuth, RetryPolicy, TokenSet, Unreachable
from tests.engine_clients.conftest import Qbo, Tokens, grant_code, make_oauth


class Refuses:
    """A TokenSource whose refresh always fails, as the engine's does for a dead connection."""

    def __init__(self, access: str) -> None:
        self.access, self.calls = access, 0

    async def access_token(self) -> str:
        return self.access

    async def refresh(self, stale: str) -> str:
        self.calls += 1
        raise AuthRefused("qbo", 400, "invalid_grant", "Incorrect or invalid refresh token", reason="invalid_grant")


async def test_expired_access_token_refreshes_once_then_succeeds(qbo: Qbo) -> None:
    first = qbo.tokens.tokens.access
    qbo.clock(advance_seconds=3601)
    assert (await qbo.client.company_info())["Id"] == "1"
    assert qbo.tokens.refreshed == [first] and qbo.client.stats["refreshes"] == 1
    assert qbo.client.stats["company_info"] == 2 and qbo.client.stats["retries"] == 0
    assert (await qbo.client.company_info())["Id"] == "1" and len(qbo.tokens.refreshed) == 1


async def test_a_401_preset_triggers_exactly_one_refresh(qbo: Qbo) -> None:
    qbo.fault(method="GET", entity="CompanyInfo", action={"type": "error", "error": "expired_token"}, times=1)
    assert (await qbo.client.company_info())["Id"] == "1"
    assert len(qbo.tokens.refreshed) == 1


async def test_a_second_401_after_the_refresh_is_refused(qbo: Qbo) -> None:
    qbo.fault(method="GET", entity="CompanyInfo", action={"type": "error", "error": "expired_token"}, times=5)
    with pytest.raises(AuthRefused) as err:
        await qbo.client.company_info()
    assert err.value.reason == "token_expired" and err.value.status == 401 and err.value.code == "3200"
    assert len(qbo.tokens.refreshed) == 1 and qbo.client.stats["company_info"] == 2


async def test_revoked_tokens_are_refused_as_revoked(qbo: Qbo) -> None:
    await qbo.oauth.revoke(qbo.tokens.tokens.refresh)
    with pytest.raises(AuthRefused) as err:
        await qbo.client.company_info()
    assert err.value.reason == "token_revoked" and err.value.code == "invalid_grant"
    assert len(qbo.tokens.refreshed) == 1


async def test_company_disconnecting_every_app_is_revoked(qbo: Qbo) -> None:
    qbo.admin.post(f"/companies/{qbo.tenant.realm_id}/revoke-tokens", expect=200)
    with pytest.raises(AuthRefused) as err:
        await qbo.client.create("Customer", {"DisplayName": "Never"}, "never-1")
    assert err.value.reason == "token_revoked"


async def test_refresh_token_past_100_days_is_refused_as_expired(qbo: Qbo) -> None:
    qbo.clock(advance_seconds=101 * 86400)
    with pytest.raises(AuthRefused) as err:
        await qbo.client.company_info()
    assert err.value.reason == "token_expired" and len(qbo.tokens.refreshed) == 1


async def test_refused_refresh_keeps_the_401s_reason(qbo: Qbo) -> None:
    qbo.fault(method="GET", entity="CompanyInfo", action={"type": "error", "error": "expired_token"}, times=1)
    source = Refuses(qbo.tokens.tokens.access)
    client = QboClient(qbo.session, qbo.tenant.base, qbo.tenant.realm_id, source, qbo.policy)
    with pytest.raises(AuthRefused) as err:
        await client.company_info()
    assert err.value.reason == "token_expired" and source.calls == 1


async def test_removed_user_access_is_refused_without_a_refresh(qbo: Qbo) -> None:
    qbo.admin.post(f"/companies/{qbo.tenant.realm_id}/users/revoke", {"email": qbo.tenant.user_email}, expect=200)
    with pytest.raises(AuthRefused) as err:
        await qbo.client.company_info()
    assert (err.value.reason, err.value.status, err.value.code) == ("access_removed", 403, "120")
    assert qbo.tokens.refreshed == [] and qbo.client.stats["calls"] == 1


async def test_suspended_subscription_refuses_writes_but_not_reads(qbo: Qbo) -> None:
    qbo.admin.post(f"/companies/{qbo.tenant.realm_id}/subscription", {"status": "suspended"}, expect=200)
    assert (await qbo.client.company_info())["Id"] == "1"
    with pytest.raises(AuthRefused) as err:
        await qbo.client.create("Customer", {"DisplayName": "Lapsed"}, "lapsed-1")
    assert (err.value.reason, err.value.code) == ("subscription_suspended", "6190")
    [result] = await qbo.client.batch([BatchOp("Customer", "create", {"DisplayName": "Lapsed"})], "lapsed-b")
    assert isinstance(result.error, AuthRefused) and result.error.reason == "subscription_suspended"


async def test_another_realm_is_not_authorized(qbo: Qbo) -> None:
    other = qbo.admin.post("/companies", {"name": "Someone Else"}, expect=201)["realm_id"]
    with pytest.raises(AuthRefused) as err:
        await qbo.client_for(other).company_info()
    assert (err.value.reason, err.value.status, err.value.code) == ("app_not_authorized", 403, "3100")


# -- OAuth ---------------------------------------------------------------------------------------
async def test_authorize_url_comes_from_discovery_fetched_once(qbo: Qbo) -> None:
    oauth = make_oauth(qbo.session, qbo.tenant, qbo.policy)
    url = await oauth.authorize_url("state-123")
    again = await oauth.authorize_url("state-456", scopes="com.intuit.quickbooks.accounting openid")
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}{parsed.path}" == qbo.tenant.base + "/connect/oauth2"
    q = parse_qs(parsed.query)
    assert q == {"client_id": [qbo.tenant.client_id], "response_type": ["code"],
                 "scope": ["com.intuit.quickbooks.accounting"], "redirect_uri": [qbo.tenant.redirect_uri],
                 "state": ["state-123"]}
    assert parse_qs(urlparse(again).query)["scope"] == ["com.intuit.quickbooks.accounting openid"]
    assert oauth.stats["discovery"] == 1


async def test_discovery_failure_falls_back_to_documented_paths(qbo: Qbo) -> None:
    oauth = make_oauth(qbo.session, qbo.tenant, RetryPolicy(attempts=1),
                       discovery_url=qbo.tenant.base + "/no/such/discovery")
    assert (await oauth.authorize_url("s")).startswith(qbo.tenant.base + "/connect/oauth2?")
    tokens = await oauth.exchange(grant_code(qbo.tenant))
    assert tokens.access and tokens.refresh


async def test_exchange_refresh_and_revoke(qbo: Qbo) -> None:
    oauth = make_oauth(qbo.session, qbo.tenant, qbo.policy)
    code = grant_code(qbo.tenant)
    tokens = await oauth.exchange(code)
    assert isinstance(tokens, TokenSet)
    assert tokens.access_expires_in == 3600 and tokens.refresh_expires_in == 100 * 86400
    with pytest.raises(AuthRefused) as replay:
        await oauth.exchange(code)
    assert replay.value.reason == "invalid_grant" and replay.value.status == 400
    # the replay revoked what the first exchange issued (as Intuit does)
    with pytest.raises(AuthRefused):
        await oauth.refresh(tokens.refresh)

    fresh = await oauth.exchange(grant_code(qbo.tenant))
    renewed = await oauth.refresh(fresh.refresh)
    assert renewed.access != fresh.access and renewed.refresh
    client = QboClient(qbo.session, qbo.tenant.base, qbo.tenant.realm_id, Tokens(oauth, renewed), qbo.policy)
    assert (await client.company_info())["Id"] == "1"
    await oauth.revoke(renewed.refresh)
    with pytest.raises(AuthRefused) as gone:
        await oauth.refresh(renewed.refresh)
    assert gone.value.reason == "invalid_grant"
    await oauth.revoke("unknown-token")  # RFC 7009: no error


async def test_bad_client_secret_is_invalid_client(qbo: Qbo) -> None:
    t = qbo.tenant
    oauth = QboOAuth(qbo.session, t.base, t.client_id, "wrong-secret", t.redirect_uri, qbo.policy)
    with pytest.raises(AuthRefused) as err:
        await oauth.exchange(grant_code(t))
    assert (err.value.reason, err.value.status) == ("invalid_client", 401)


async def test_exchange_is_not_repeated_after_a_lost_answer(qbo: Qbo) -> None:
    """A repeated code would be refused and would revoke the grant: a lost answer surfaces instead."""
    qbo.admin.post("/faults", {"path": "/oauth2/v1/tokens/bearer", "action": {"type": "drop_after"}, "times": 1},
                   expect=201)
    oauth = make_oauth(qbo.session, qbo.tenant, qbo.policy)
    with pytest.raises(Unreachable):
        await oauth.exchange(grant_code(qbo.tenant))
    assert oauth.stats["exchange"] == 1
