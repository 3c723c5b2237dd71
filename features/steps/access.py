"""Steps of access and connection: the gates (R1-R3), sign-in and agreement (R4), one
connection (R4a)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

from pytest_bdd import parsers, then, when

from features.harness.engine import Engine
from features.harness.http import Reply
from features.harness.servers import ENGINE_CLIENT_ID
from features.harness.signin import Redirect, sign_in
from features.harness.tenants import Tenant
from features.steps.common import WHO, member_of

TRUTH_GATES = ("plan_not_eligible", "missing_license", "missing_permission")


def _gate_truth(tenant: Tenant, who_key: str) -> str | None:
    """The ground truth's first failing gate for a member the scenario declares (None otherwise)."""
    m = tenant.member(who_key)
    for row in tenant.truth["gates"]:
        if row["email"] == m.scenario_email:
            return row["connect"]
    return None


# -- the Connect button ----------------------------------------------------------------------

@then(parsers.parse('the QBO Connect button is greyed out because of "{reason}"'))
def connect_greyed_out(tenant: Tenant, status: Reply, reason: str) -> None:
    connect = status.body["connect"]
    assert connect == {"enabled": False, "reason": reason}, status.show()
    if reason in TRUTH_GATES and status.who:
        assert _gate_truth(tenant, status.who) in (reason, None), "the scenario's ground truth disagrees"


@then("the QBO Connect button is enabled")
def connect_enabled(tenant: Tenant, status: Reply) -> None:
    assert status.body["connect"] == {"enabled": True, "reason": None}, status.show()
    if status.who:
        assert _gate_truth(tenant, status.who) in ("ok", None), "the scenario's ground truth disagrees"


@when(parsers.re(WHO + r" clicks Connect(?: anyway| again)?$"), target_fixture="connect_reply")
def click_connect(engine: Engine, tenant: Tenant, who: str) -> Reply:
    return engine.post(member_of(tenant, who), "/integration/connect")


@then(parsers.parse('the connect attempt is refused with HTTP {status:d} and the reason "{reason}"'))
def connect_refused(connect_reply: Reply, status: int, reason: str) -> None:
    assert (connect_reply.status, connect_reply.error_code) == (status, reason), connect_reply.show()


@then("QBO's sign-in pop-up opens for Canopy's QBO app")
def pop_up_opens(engine: Engine, connect_reply: Reply, tenant: Tenant) -> None:
    body = connect_reply.expect(200).body
    url = urlparse(body["authorize_url"])
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == tenant.servers.qbo_url and url.path == "/connect/oauth2", body
    assert q.get("client_id") == ENGINE_CLIENT_ID and q.get("response_type") == "code", q
    assert q.get("redirect_uri") == engine.base + "/oauth/callback", q
    assert q.get("state") == body["state"] and "com.intuit.quickbooks.accounting" in q.get("scope", ""), q


# -- QBO's pop-up and its answer -----------------------------------------------------------------

@when("the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect",
      target_fixture="redirect")
def sign_in_and_consent(tenant: Tenant, connect_reply: Reply) -> Redirect:
    url = connect_reply.expect(200).body["authorize_url"]
    return sign_in(url, tenant.qbo_user["email"], tenant.qbo_user["password"], tenant.realm_id)


@when(parsers.parse("the Admin cancels the QBO sign-in on the {page} page"), target_fixture="redirect")
def cancel_sign_in(tenant: Tenant, connect_reply: Reply, page: str) -> Redirect:
    url = connect_reply.expect(200).body["authorize_url"]
    cancel_at = {"sign-in": "signin", "company": "company", "connect": "consent"}[page]
    return sign_in(url, tenant.qbo_user["email"], tenant.qbo_user["password"], tenant.realm_id,
                   cancel_at=cancel_at)  # type: ignore[arg-type]


@then(parsers.parse('QBO sends the browser back with "{keys}"'))
def qbo_redirects_with(redirect: Redirect, connect_reply: Reply, keys: str) -> None:
    assert sorted(redirect.params) == sorted(k.strip() for k in keys.split(",")), redirect.location
    assert redirect.state == connect_reply.body["state"], redirect.location


@when("QBO sends the browser back to Canopy", target_fixture="callback_reply")
def back_to_canopy(engine: Engine, redirect: Redirect) -> Reply:
    return engine.callback(redirect.location)


@when("the same answer from QBO reaches Canopy again", target_fixture="callback_reply")
def same_answer_again(engine: Engine, redirect: Redirect) -> Reply:
    return engine.callback(redirect.location)


@when("QBO's answer reaches Canopy with a state Canopy never issued", target_fixture="callback_reply")
def forged_state(engine: Engine, redirect: Redirect) -> Reply:
    params = {**redirect.params, "state": "forged-" + (redirect.state or "")[:8]}
    return engine.callback(f"{engine.base}/oauth/callback?{urlencode(params)}")


@when("an answer with a code QBO never issued reaches Canopy", target_fixture="callback_reply")
def forged_code(engine: Engine, tenant: Tenant, connect_reply: Reply) -> Reply:
    params = {"code": "AB11-not-a-code-QBO-issued", "state": connect_reply.expect(200).body["state"],
              "realmId": tenant.realm_id}
    return engine.callback(f"{engine.base}/oauth/callback?{urlencode(params)}")


@then("Canopy shows the data-sharing agreement")
def agreement_shown(callback_reply: Reply) -> None:
    assert callback_reply.status == 200 and callback_reply.body.get("step") == "agreement", callback_reply.show()


@then(parsers.parse('Canopy refuses QBO\'s answer with HTTP {status:d} and the reason "{reason}"'))
def callback_refused(callback_reply: Reply, status: int, reason: str) -> None:
    assert (callback_reply.status, callback_reply.error_code) == (status, reason), callback_reply.show()


# -- the data-sharing agreement -------------------------------------------------------------------

@when(parsers.re(WHO + r" (?P<verb>accepts|declines) the data-sharing agreement"), target_fixture="agreement_reply")
def answer_agreement(engine: Engine, tenant: Tenant, who: str, verb: str) -> Reply:
    return engine.post(member_of(tenant, who), "/integration/agreement", {"accept": verb == "accepts"})


@then(parsers.re(r"the firm is connected to its QBO company by " + WHO))
def connected_by(engine: Engine, tenant: Tenant, who: str) -> None:
    reply = engine.status(tenant.admin).expect(200)
    conn = reply.body["connection"]
    assert conn is not None, reply.show()
    assert (conn["realm_id"], conn["state"], conn["connected_by"]) == (
        tenant.realm_id, "connected", member_of(tenant, who).user_id), reply.show()
    assert reply.body["connect"] == {"enabled": False, "reason": "already_connected"}, reply.show()


@then("no QBO connection is stored for the firm")
def nothing_stored(engine: Engine, tenant: Tenant) -> None:
    reply = engine.status(tenant.admin).expect(200)
    assert reply.body["connection"] is None, reply.show()
    assert reply.body["step"] in ("not_connected", "authorizing"), reply.show()
    assert reply.body["connect"]["reason"] != "already_connected", reply.show()


@then(parsers.re(r"Canopy holds (?P<how>no|one active) integration for the firm"))
def canopy_integrations(tenant: Tenant, how: str) -> None:
    rows = tenant.canopy_state().get("integration", [])
    active = [r for r in rows if r["data"].get("is_active")]
    assert len(active) == (0 if how == "no" else 1), rows


@then("QBO has revoked every token it gave Canopy's QBO app for the company")
def qbo_tokens_revoked(tenant: Tenant) -> None:
    grants = tenant.qbo_grants(ENGINE_CLIENT_ID)
    assert grants, "QBO never gave the engine tokens for this company"
    assert all(g["revoked"] for g in grants), grants


@then("Canopy's QBO app holds a live grant for the company")
def qbo_grant_live(tenant: Tenant) -> None:
    grants = tenant.qbo_grants(ENGINE_CLIENT_ID)
    assert [g for g in grants if not g["revoked"]], grants
