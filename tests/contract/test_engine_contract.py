"""schemathesis against the engine's own /openapi.json, over real HTTP on 127.0.0.1.

The engine runs as a real process (`python -m engine serve`, as features/harness starts it)
against both fakes in threads of this process. Every operation gets a few generated requests
(valid and invalid), sent with a Canopy Admin's token as bearer, and every answer must be
documented: no 5xx, a documented status and media type, a body matching the schema.

So that most operations can reach a 2xx, each test takes a QBO company and a Canopy firm of
its own, seeded from the `default` scenario, and walks the wizard to the step that operation
belongs to (`STAGE`) before the first request: connect, sign in through QBO's pages, accept
the agreement, choose the contacts filter, open every section, sync contacts, start and sync
items, finish, disconnect. What no generator can guess is aimed at the tenant: the OAuth
callback's `state` at the firm's pending sign-in (its first example reaches the code exchange,
with a random code: 502 `token_exchange_failed`; the next ones meet `state_reused`), every other
income account at one of the company's, the Canopy webhook at the firm, the QBO webhook's
realms at the company. Webhook deliveries that carry a signature header are signed the way QBO
(the engine runs with a verifier token) and Canopy (the subscription's secret, read from the
fake) sign them, so their generated bodies are read and stored; the others meet 401.

`test_wizard_sequence` walks the whole wizard once with hand-made requests and checks every
answer the same way, and that each step succeeded; the spec has no links, so a schemathesis
state machine would have nothing to follow.

Bounded for CI: a few examples each, no deadline, no health checks, a fixed seed. Left out:
`positive_data_acceptance` (the OAuth callback's `code`, `realmId` and `error` are each optional
in the spec but needed together, so a schema-valid callback can get the documented 400),
`unsupported_method` (the engine answers an undeclared method 405, but without the `Allow`
header RFC 9110 asks for) and `negative_data_rejection` (a repeated `contacts/sync` or `finish`
does not look at `wait`, and Canopy webhook events are not checked field by field): the last
two are reported as engine issues.

The schema must exist when pytest collects (one item per operation, so xdist can spread them),
so this module starts its own fakes and engine at import, as tests/contract/test_qbo_contract.py
does (`schemathesis.pytest.from_fixture` writes `Node._nodeid`, which pytest 9 no longer has).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine.sync.signatures import canopy_signature, qbo_signature
from features.harness.engine import SECTIONS, Engine, job_result
from features.harness.flows import connect as connect_flow
from features.harness.servers import (
    Servers,
    register_checker_app,
    register_engine_app,
    start_engine,
)
from features.harness.signin import sign_in
from features.harness.tenants import Tenant, seed_tenant
from sim.core.server import ServerThread
from sim.fake_canopy.app import CanopyConfig
from sim.fake_canopy.app import create_app as canopy_app
from sim.fake_qbo.app import QboConfig
from sim.fake_qbo.app import create_app as qbo_app

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
BOUNDED = settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                   phases=[Phase.explicit, Phase.generate], database=None)
SCENARIO = "default"
QBO_VERIFIER = "contract-verifier-token"


# -- the servers of this worker, started at import ------------------------------------------
def _start() -> Servers:
    workdir = Path(tempfile.mkdtemp(prefix="engine-contract-"))
    qbo = ServerThread(lambda: qbo_app(QboConfig(limits=False))).start()
    canopy = ServerThread(lambda: canopy_app(CanopyConfig())).start()
    servers = Servers(qbo, canopy)

    def stop() -> None:
        if servers.engine is not None:
            servers.engine.stop()
        canopy.stop()
        qbo.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    register_checker_app(qbo.url)
    before = os.environ.get("ENGINE_QBO_VERIFIER_TOKEN")
    os.environ["ENGINE_QBO_VERIFIER_TOKEN"] = QBO_VERIFIER  # start_engine passes os.environ on; put it back after
    try:
        servers.engine = start_engine(qbo.url, canopy.url, workdir)
    finally:
        if before is None:
            del os.environ["ENGINE_QBO_VERIFIER_TOKEN"]
        else:
            os.environ["ENGINE_QBO_VERIFIER_TOKEN"] = before
    register_engine_app(qbo.url, servers.engine.url)
    return servers


SERVERS = _start()
ENGINE = Engine(SERVERS.engine_url)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    schema = schemathesis.openapi.from_url(SERVERS.engine_url + "/openapi.json",
                                           config=schemathesis.Config.from_dict({"seed": 20250304}))


# -- walking a tenant's wizard to a step ------------------------------------------------------
def _connected(t: Tenant) -> None:
    connect_flow(ENGINE, t, t.admin)


def _reviewing(t: Tenant) -> None:
    _connected(t)
    job_result(ENGINE.post(t.admin, "/integration/contacts/filter", {"choice": "all"}))


def _reviewed(t: Tenant) -> None:
    _reviewing(t)
    for section in SECTIONS:
        ENGINE.get(t.admin, f"/integration/contacts/review/{section}", page=1).expect(200)


def _contacts_done(t: Tenant) -> None:
    _reviewed(t)
    job_result(ENGINE.post(t.admin, "/integration/contacts/sync"))


def _items_review(t: Tenant) -> None:
    _contacts_done(t)
    job_result(ENGINE.post(t.admin, "/integration/items/start"))


def _items_synced(t: Tenant) -> None:
    _items_review(t)
    ENGINE.post(t.admin, "/integration/items/sync").expect(200)


def _finished(t: Tenant) -> None:
    _items_synced(t)
    job_result(ENGINE.post(t.admin, "/integration/finish"))


def _disconnected(t: Tenant) -> None:
    _finished(t)
    ENGINE.post(t.admin, "/integration/disconnect").expect(200)


def _authorizing(t: Tenant) -> None:
    t.notes["state"] = ENGINE.post(t.admin, "/integration/connect").expect(200).body["state"]


def _agreement(t: Tenant) -> None:
    started = ENGINE.post(t.admin, "/integration/connect").expect(200).body
    back = sign_in(started["authorize_url"], t.qbo_user["email"], t.qbo_user["password"], t.realm_id)
    ENGINE.callback(back.location).expect(200)


STAGES: dict[str, Callable[[Tenant], None]] = {
    "fresh": lambda t: None, "authorizing": _authorizing, "agreement": _agreement, "connected": _connected,
    "reviewing": _reviewing, "reviewed": _reviewed, "contacts_done": _contacts_done,
    "items_review": _items_review, "items_synced": _items_synced, "finished": _finished,
    "disconnected": _disconnected,
}
STAGE = {
    "health": "fresh", "connect": "fresh", "oauthCallback": "authorizing", "agreement": "agreement",
    "getIntegration": "reviewing", "chooseContactsFilter": "connected", "getContactsReview": "reviewing",
    "nextContactsSection": "reviewing", "getContactsSection": "reviewing", "syncContacts": "reviewed",
    "startItems": "contacts_done", "skipItems": "contacts_done", "repeatItems": "items_review",
    "chooseIncomeAccount": "items_review", "getItemsReview": "items_review", "syncItems": "items_review",
    "finish": "items_synced", "disconnect": "finished", "restart": "disconnected", "getSyncLog": "finished",
    "reconcile": "finished", "qboWebhook": "finished", "canopyWebhook": "finished",
}
"""operationId -> the wizard step its tenant is brought to before the first request; an
operation not named here (one added to the spec later) starts from a connected firm."""


class Stage:
    """One test's tenant, seeded and walked to its operation's step on the first case."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.tenant: Tenant | None = None
        self.seen: list[tuple[str, int]] = []
        self.calls = 0

    def ready(self, case: Any) -> Tenant:
        if self.tenant is None:
            op = case.operation.definition.raw["operationId"]
            self.tenant = seed_tenant(SERVERS, SCENARIO, self.worker)
            stage = STAGE.get(op, "connected")
            with engine_stderr_on_failure(f"bringing a tenant to {stage!r} for {op}"):
                STAGES[stage](self.tenant)
        return self.tenant

    def headers_for(self, case: Any) -> dict[str, str]:
        security = case.operation.definition.raw.get("security")
        if security == []:
            return {}
        return {"Authorization": f"Bearer {self.ready(case).admin.token}"}

    def aim(self, case: Any) -> None:
        """Point what no generator can guess at the tenant: its firm and realm, its pending sign-in,
        an income account of its company (every other call). Schema-violating cases stay as made."""
        t = self.ready(case)
        op = case.operation.definition.raw["operationId"]
        self.calls += 1
        if case.meta is not None and not case.meta.generation.mode.is_positive:
            return
        if op == "canopyWebhook":
            case.path_parameters["firm_id"] = t.firm_id
        elif op == "oauthCallback" and isinstance(case.query, dict) and "state" in case.query:
            case.query["state"] = t.notes["state"]
        elif op == "chooseIncomeAccount" and isinstance(case.body, dict) and self.calls % 2:
            case.body["account_id"] = next(a["Id"] for a in t.accounts if a.get("AccountType") == "Income")
        elif op == "qboWebhook":
            notes = case.body.get("eventNotifications") if isinstance(case.body, dict) else case.body
            for note in notes if isinstance(notes, list) else []:
                if isinstance(note, dict):
                    note["intuitaccountid" if "intuitaccountid" in note else "realmId"] = t.realm_id

    def signer(self, case: Any) -> Signer | None:
        """Sign webhook deliveries that carry a signature header, so their bodies are read."""
        op = case.operation.definition.raw["operationId"]
        names = {k.lower() for k in case.headers or {}}
        if op == "qboWebhook" and "intuit-signature" in names:
            return Signer(case, lambda body: {"intuit-signature": qbo_signature(body, QBO_VERIFIER)})
        if op == "canopyWebhook" and "canopy-signature" in names:
            secret = canopy_webhook_secret(self.ready(case))

            def sign(body: bytes) -> dict[str, str]:
                stamp = int(time.time())
                return {"Canopy-Signature": canopy_signature(body, secret, stamp), "Canopy-Timestamp": str(stamp)}
            return Signer(case, sign)
        return None

    def call(self, case: Any, checks: list = CHECKS) -> None:
        self.aim(case)
        with engine_stderr_on_failure(case.operation.label):
            response = case.call_and_validate(headers=self.headers_for(case), checks=checks, timeout=60,
                                              auth=self.signer(case))
        self.seen.append((case.operation.label, response.status_code))


@contextmanager
def engine_stderr_on_failure(what: str) -> Iterator[None]:
    """A failure shows the tail of the engine's stderr (a 500's traceback is there)."""
    try:
        yield
    except BaseException as exc:
        exc.add_note(f"engine stderr while {what}:\n{SERVERS.engine.stderr_tail(6000) if SERVERS.engine else ''}")
        raise


class Signer(requests.auth.AuthBase):
    """Signs the very bytes requests is about to send (schemathesis serializes the body)."""

    def __init__(self, case: Any, sign: Callable[[bytes], dict[str, str]]) -> None:
        self.case, self.sign = case, sign

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        for name in [n for n in r.headers if n.lower() in ("intuit-signature", "canopy-signature", "canopy-timestamp")]:
            del r.headers[name]
        r.headers.update(self.sign(body.encode() if isinstance(body, str) else body))
        return r


def canopy_webhook_secret(t: Tenant) -> str:
    """The secret of the subscription the engine made at Canopy when the agreement was accepted."""
    if "webhook_secret" not in t.notes:
        subs = t.canopy_state().get("webhook", [])
        mine = [s["data"] for s in subs if s["data"].get("url", "").endswith(f"/webhooks/canopy/{t.firm_id}")]
        assert mine, f"no engine webhook subscription at Canopy for firm {t.firm_id}: {subs}"
        t.notes["webhook_secret"] = mine[-1]["secret"]
    return t.notes["webhook_secret"]


@pytest.fixture
def stage(worker_id: str) -> Stage:
    return Stage(worker_id)


@schema.parametrize()
@BOUNDED
def test_operation_conforms(case, stage):
    stage.call(case)


@schema.include(operation_id=["getIntegration", "getSyncLog", "connect"]).parametrize()
@settings(BOUNDED, max_examples=3)
def test_integration_routes_need_a_canopy_token(case, stage):
    """ignored_auth: the same request without the bearer token (or with a bad one) must get 401."""
    stage.call(case, checks=[ignored_auth, not_a_server_error])


# -- the whole wizard once, in order ----------------------------------------------------------
def test_wizard_sequence(worker_id: str) -> None:
    """Connect -> callback -> agreement -> filter -> review -> sync contacts -> items -> finish ->
    log -> reconcile -> disconnect -> restart, each answer checked against the spec."""
    t = seed_tenant(SERVERS, SCENARIO, worker_id)
    bearer = {"Authorization": f"Bearer {t.admin.token}"}
    seen: list[tuple[str, int]] = []

    def step(method: str, path: str, expect: int, *, body: Any = None, query: dict[str, Any] | None = None,
             path_parameters: dict[str, Any] | None = None, auth: bool = True) -> Any:
        template = path
        for name, value in (path_parameters or {}).items():
            template = template.replace(str(value), "{" + name + "}")
        operation = schema[template][method]
        kwargs: dict[str, Any] = {"query": query, "path_parameters": path_parameters}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        case = operation.Case(**kwargs)
        with engine_stderr_on_failure(f"{method} {path}"):
            response = case.call_and_validate(headers=bearer if auth else {}, checks=CHECKS, timeout=120)
        seen.append((f"{method} {path}", response.status_code))
        assert response.status_code == expect, (method, path, response.status_code, response.text[:1500])
        return response.json()

    status = step("GET", "/integration", 200)
    assert status["connect"]["enabled"] is True, status
    started = step("POST", "/integration/connect", 200)
    back = sign_in(started["authorize_url"], t.qbo_user["email"], t.qbo_user["password"], t.realm_id)
    params = {k: v[0] for k, v in parse_qs(urlparse(back.location).query).items()}
    assert step("GET", "/oauth/callback", 200, query=params, auth=False)["step"] == "agreement"
    step("GET", "/oauth/callback", 409, query=params, auth=False)  # the state was used
    assert step("POST", "/integration/agreement", 200, body={"accept": True})["step"] == "contacts_filter"
    step("POST", "/integration/contacts/filter", 200, body={"choice": "all"}, query={"wait": "true"})
    review = step("GET", "/integration/contacts/review", 200)
    assert review["can_sync"] is False
    step("POST", "/integration/contacts/sync", 409, query={"wait": "true"})  # sections_not_opened
    for _ in SECTIONS:
        step("POST", "/integration/contacts/review/next", 200)
    step("GET", "/integration/contacts/review/matches", 200, query={"page": 1},
         path_parameters={"section": "matches"})
    assert step("GET", "/integration/contacts/review", 200)["can_sync"] is True
    step("POST", "/integration/contacts/sync", 200, query={"wait": "true"})
    step("POST", "/integration/contacts/sync", 200, query={"wait": "true"})  # a repeat: the first result
    step("POST", "/integration/items/start", 200, query={"wait": "true"})
    items = step("GET", "/integration/items/review", 200)
    account = items.get("income_account_id") or next(a["Id"] for a in t.accounts if a["AccountType"] == "Income")
    step("PUT", "/integration/items/income-account", 200, body={"account_id": account})
    step("POST", "/integration/items/repeat", 200, query={"wait": "true"})
    step("POST", "/integration/items/sync", 200)
    step("POST", "/integration/finish", 200, query={"wait": "true"})
    log = step("GET", "/integration/log", 200, query={"limit": 5})
    assert log["entries"], log
    step("POST", "/integration/reconcile", 200)
    step("POST", "/integration/disconnect", 200)
    assert step("POST", "/integration/restart", 200)["step"] == "not_connected"
    assert Counter(code // 100 for _, code in seen)[5] == 0, seen
