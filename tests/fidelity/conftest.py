"""Fixtures for the fidelity suite: a connected python-quickbooks client per test.

Against the fake (default) every test gets a company and an app of its own
(`qbo_tenant`) and connects through the real OAuth flow: `/_sim/oauth/grant`
stands in for the consent pages, intuit-oauth exchanges the code. With
`--qbo-sandbox` (and the QBO_* variables, see README.md) `qb` is a client of a
real Intuit sandbox company instead, and tests marked `fake_only` are skipped.

Every exchange a test makes through `requests` (so through python-quickbooks
and intuit-oauth) is checked against the fake's OpenAPI document.
"""
from __future__ import annotations

import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from intuitlib.client import AuthClient
from quickbooks import QuickBooks

from .spec import Recorder, SpecValidator

ACCOUNTING = "com.intuit.quickbooks.accounting"
MINOR_VERSION = 75
SPEC_FILE = Path(__file__).resolve().parents[2] / "sim" / "fake_qbo" / "openapi.yaml"
SANDBOX_ENV = ("QBO_SANDBOX_REALM_ID", "QBO_SANDBOX_REFRESH_TOKEN", "QBO_CLIENT_ID", "QBO_CLIENT_SECRET")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--qbo-sandbox", action="store_true", default=False,
                     help="run tests/fidelity against a real Intuit sandbox company (needs the QBO_* env vars)")


def sandbox_mode(config: pytest.Config) -> bool:
    try:
        wanted = bool(config.getoption("--qbo-sandbox"))
    except ValueError:  # this conftest was not loaded early enough to add the option
        wanted = False
    return wanted


def pytest_runtest_setup(item: pytest.Item) -> None:
    if sandbox_mode(item.config):
        missing = [k for k in SANDBOX_ENV if not os.environ.get(k)]
        if missing:
            pytest.exit(f"--qbo-sandbox needs the environment variables {', '.join(missing)}", returncode=4)
        if item.get_closest_marker("fake_only"):
            pytest.skip("needs the fake's /_sim admin API")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(scope="session")
def sandbox(pytestconfig: pytest.Config) -> bool:
    return sandbox_mode(pytestconfig)


# -- the spec and the recorder -------------------------------------------------------------
@pytest.fixture(scope="session")
def qbo_spec(sandbox: bool, request: pytest.FixtureRequest) -> SpecValidator:
    if sandbox:
        return SpecValidator(yaml.safe_load(SPEC_FILE.read_text()))
    server = request.getfixturevalue("qbo_server")
    resp = requests.get(server.url + "/openapi.json", timeout=30)
    assert resp.status_code == 200, resp.text
    return SpecValidator(resp.json())


def _skip_url(url: str) -> bool:
    return urlsplit(url).path.startswith("/_sim")


@pytest.fixture
def recorder(qbo_spec: SpecValidator, sandbox: bool, monkeypatch: pytest.MonkeyPatch,
             request: pytest.FixtureRequest) -> Iterator[Recorder]:
    rec = Recorder(qbo_spec, skip=_skip_url, strict=not sandbox).install(monkeypatch)
    yield rec
    call = getattr(request.node, "rep_call", None)
    if call is not None and (call.failed or hasattr(call, "wasxfail")):
        return  # the violation (raised where it happened) is already the failure
    # a violation some library swallowed (intuit-oauth drops id_token errors silently) still fails the test
    assert not rec.violations, "responses that break the OpenAPI document:\n" + "\n".join(rec.violations)


# -- connecting ------------------------------------------------------------------------------
@dataclass
class Connection:
    qb: QuickBooks
    auth: AuthClient
    realm: str


def grant_code(tenant: Any, scope: str = ACCOUNTING, realm: str | None = None) -> dict[str, Any]:
    """Consent through the fake's admin shortcut: `{"redirect_url", "code", "realm_id"}`."""
    return tenant.admin.post("/oauth/grant", {"client_id": tenant.client_id, "redirect_uri": tenant.redirect_uri,
                                              "realm_id": realm or tenant.realm_id, "scope": scope,
                                              "state": "fidelity"}, expect=200)


def auth_client(tenant: Any, secret: str | None = None) -> AuthClient:
    return AuthClient(tenant.client_id, secret or tenant.client_secret, tenant.redirect_uri,
                      environment=tenant.discovery_url)


def connect_fake(tenant: Any, scope: str = ACCOUNTING, **qb_kwargs: Any) -> Connection:
    grant = grant_code(tenant, scope)
    auth = auth_client(tenant)
    auth.get_bearer_token(grant["code"], realm_id=grant["realm_id"])
    qb = client_for(auth, grant["realm_id"], tenant.api_v3, **qb_kwargs)
    return Connection(qb, auth, grant["realm_id"])


def client_for(auth: AuthClient, realm: str, api_v3: str | None, minorversion: int = MINOR_VERSION,
               use_decimal: bool = False) -> QuickBooks:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # minorversion < 75 warns; tests may want it
        qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=realm,
                        minorversion=minorversion, use_decimal=use_decimal)
    if api_v3:
        qb.api_url_v3 = api_v3
        qb.sandbox_api_url_v3 = api_v3
    return qb


@pytest.fixture(scope="session")
def sandbox_auth(sandbox: bool) -> Iterator[AuthClient | None]:
    """One refresh per session against the real sandbox; the newest refresh token is kept."""
    if not sandbox:
        yield None
        return
    auth = AuthClient(os.environ["QBO_CLIENT_ID"], os.environ["QBO_CLIENT_SECRET"],
                      os.environ.get("QBO_REDIRECT_URI", "https://developer.intuit.com/v2/OAuth2Playground/RedirectUrl"),
                      environment=os.environ.get("QBO_SANDBOX_DISCOVERY_URL", "sandbox"))
    old = os.environ["QBO_SANDBOX_REFRESH_TOKEN"]
    auth.refresh(refresh_token=old)
    yield auth
    if auth.refresh_token != old:  # Intuit rotates refresh tokens about daily: keep the newest
        out = os.environ.get("QBO_SANDBOX_REFRESH_TOKEN_FILE")
        if out:
            Path(out).write_text(auth.refresh_token + "\n")
        warnings.warn("Intuit rotated the sandbox refresh token; store the new one "
                      "(QBO_SANDBOX_REFRESH_TOKEN_FILE receives it when set)")


@pytest.fixture
def conn(recorder: Recorder, sandbox: bool, request: pytest.FixtureRequest,
         sandbox_auth: AuthClient | None) -> Connection:
    if sandbox:
        assert sandbox_auth is not None
        realm = os.environ["QBO_SANDBOX_REALM_ID"]
        return Connection(client_for(sandbox_auth, realm, os.environ.get("QBO_SANDBOX_API_URL")), sandbox_auth, realm)
    return connect_fake(request.getfixturevalue("qbo_tenant"))


@pytest.fixture
def qb(conn: Connection) -> QuickBooks:
    return conn.qb


@pytest.fixture
def qb_decimal(conn: Connection) -> QuickBooks:
    """The same company through a client that parses amounts as Decimal."""
    return client_for(conn.auth, conn.realm, same_api(conn), use_decimal=True)


def same_api(conn: Connection) -> str | None:
    """The API base `conn` was pointed at (None: python-quickbooks' own sandbox URL)."""
    return None if conn.qb.sandbox else conn.qb.api_url_v3


@pytest.fixture
def uniq() -> str:
    """A per-test name stem, so tests also work in a shared sandbox company."""
    return "Fid" + uuid.uuid4().hex[:10]


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Move the test company's clock (fake only)."""
    tenant = request.getfixturevalue("qbo_tenant")

    def move(**body: Any) -> Any:
        return tenant.admin.post("/clock", {"tenant": tenant.realm_id, **body}, expect=200)
    return move
