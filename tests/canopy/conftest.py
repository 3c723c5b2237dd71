"""Fake Canopy fixtures: one server per session, a fresh firm per test."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sim.core.server import ServerThread
from tests.conftest import Admin

V3 = "/public/v3"


class Api:
    """The public API as one bearer token sees it."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.http = requests.Session()

    def call(self, method: str, path: str, expect: int | None = None, headers: dict[str, str] | None = None,
             **kw: Any) -> requests.Response:
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        resp = self.http.request(method, self.base + V3 + path, headers=h, timeout=10, **kw)
        if expect is not None:
            assert resp.status_code == expect, (resp.status_code, resp.text)
        return resp

    def get(self, path: str, expect: int | None = 200, **params: Any) -> Any:
        return self.call("GET", path, expect, params=params).json()

    def create(self, plural: str, single: str, fields: dict[str, Any], expect: int = 201, **kw: Any) -> Any:
        resp = self.call("POST", f"/{plural}", expect, json={single: fields}, **kw)
        return resp.json()[single] if expect == 201 else resp.json()


@dataclass
class Firm:
    id: str
    admin: Admin
    api: Api
    user: dict[str, Any]
    password: str
    base: str

    def user_api(self, **spec: Any) -> tuple[Api, dict[str, Any]]:
        """A new member of this firm (permission set, licenses) and their API."""
        spec.setdefault("email", f"member-{uuid.uuid4().hex[:12]}@example.com")
        out = self.admin.post(f"/firms/{self.id}/users", spec, expect=201)
        return Api(self.base, out["token"]), out["user"]

    def integration_api(self) -> Api:
        out = self.admin.post(f"/firms/{self.id}/integrations", {"name": "test"}, expect=201)
        return Api(self.base, out["access_token"])


def make_firm(server: ServerThread, admin: Admin, **spec: Any) -> Firm:
    out = admin.post("/firms", spec, expect=201)
    return Firm(out["firm"]["id"], admin, Api(server.url, out["token"]), out["admin"], out["password"], server.url)


@pytest.fixture
def firm(canopy_server: ServerThread, canopy_admin: Admin) -> Firm:
    """A fresh paid firm with every module and license; its Admin's API."""
    return make_firm(canopy_server, canopy_admin, name="Test Firm")


@pytest.fixture
def new_firm(canopy_server: ServerThread, canopy_admin: Admin):
    def make(**spec: Any) -> Firm:
        return make_firm(canopy_server, canopy_admin, **spec)
    return make
