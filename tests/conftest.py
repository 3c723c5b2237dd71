"""Shared fixtures: servers on 127.0.0.1:<ephemeral>, a tenant per test."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sim.core.server import ServerThread
from sim.fake_canopy.app import CanopyConfig
from sim.fake_canopy.app import create_app as create_canopy_app
from sim.fake_qbo.app import QboConfig, create_app
from tests.receiver import Receiver, start_receiver

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
_ids = itertools.count(1)


class Admin:
    """The `/_sim` API over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def call(self, method: str, path: str, expect: int | None = None, **kw: Any) -> Any:
        resp = self.http.request(method, self.base + "/_sim" + path, timeout=30, **kw)
        if expect is not None:
            assert resp.status_code == expect, (resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def post(self, path: str, json: Any = None, expect: int | None = None) -> Any:
        return self.call("POST", path, expect=expect, json=json)

    def get(self, path: str, expect: int | None = 200, **params: Any) -> Any:
        return self.call("GET", path, expect=expect, params=params)


@pytest.fixture(scope="session")
def qbo_server() -> Iterator[ServerThread]:
    with ServerThread(lambda: create_app(QboConfig(limits=False))) as server:
        yield server


@pytest.fixture(scope="session")
def qbo_admin(qbo_server: ServerThread) -> Admin:
    return Admin(qbo_server.url)


@pytest.fixture(scope="session")
def canopy_server() -> Iterator[ServerThread]:
    with ServerThread(lambda: create_canopy_app(CanopyConfig())) as server:
        yield server


@pytest.fixture(scope="session")
def canopy_admin(canopy_server: ServerThread) -> Admin:
    return Admin(canopy_server.url)


@dataclass
class QboTenant:
    """A company of its own and an app connected to nothing yet."""

    base: str
    realm_id: str
    client_id: str
    client_secret: str
    redirect_uri: str
    user_email: str
    user_password: str
    admin: Admin

    @property
    def discovery_url(self) -> str:
        return self.base + "/.well-known/openid-configuration"

    @property
    def api_v3(self) -> str:
        return self.base + "/v3"


@pytest.fixture
def qbo_tenant(qbo_server: ServerThread, qbo_admin: Admin, worker_id: str) -> QboTenant:
    n = f"{worker_id}-{next(_ids)}"
    company = qbo_admin.post("/companies", {"name": f"Test Co {n}",
                                            "user": {"email": f"owner-{n}@example.com"}}, expect=201)
    client_id = f"client-{n}"
    redirect = "http://127.0.0.1:9/callback"
    qbo_admin.post("/apps", {"client_id": client_id, "client_secret": f"secret-{n}",
                             "redirect_uris": [redirect]}, expect=201)
    return QboTenant(qbo_server.url, company["realm_id"], client_id, f"secret-{n}", redirect,
                     company["user"]["email"], company["user"]["password"], qbo_admin)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a real socket, stopped after the test."""
    r = start_receiver()
    yield r
    assert r.server is not None
    r.server.stop()


PG_SKIP = "PostgreSQL not available"
"""The skip reason of every engine test that needs PostgreSQL (tests/engine/conftest.py)."""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line when the PostgreSQL half did not run, so a green run cannot hide it.

    It lives here, in the root conftest, because under xdist only the initial conftests
    take part in the controller's summary."""
    reasons = [r.longrepr[2] for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and PG_SKIP in str(r.longrepr[2])]
    if reasons:
        terminalreporter.write_line(f"engine store: the PostgreSQL half did NOT run ({len(reasons)} tests "
                                    f"skipped; {reasons[0].removeprefix('Skipped: ')})", yellow=True, bold=True)
