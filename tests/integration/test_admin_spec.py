"""The `/_sim` admin API is documented, completely and truly.

Each fake serves its admin document at `GET /_sim/openapi.json`: the core spec
(sim/core/admin_openapi.yaml) merged with the fake's own (sim/fake_*/admin_openapi.yaml).
These tests prove it a valid OpenAPI 3.1 document, that the routes the admin sub-app
registers and the operations the document describes are the same set (so neither can drift),
and that real answers match their documented schemas.
"""
from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from aiohttp import web
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sim.core.openapi import SpecMergeError, merge_specs, merged_spec
from sim.core.server import ServerThread
from sim.fake_canopy.app import CanopyConfig
from sim.fake_canopy.app import create_app as create_canopy
from sim.fake_qbo.app import QboConfig
from sim.fake_qbo.app import create_app as create_qbo
from tests.receiver import Receiver, start_receiver

ROOT = Path(__file__).resolve().parents[2]
CORE_SPEC = ROOT / "sim" / "core" / "admin_openapi.yaml"
FAKE_SPECS = {"qbo": ROOT / "sim" / "fake_qbo" / "admin_openapi.yaml",
              "canopy": ROOT / "sim" / "fake_canopy" / "admin_openapi.yaml"}
FACTORIES: dict[str, Callable[[], web.Application]] = {
    "qbo": lambda: create_qbo(QboConfig(limits=False)),
    "canopy": lambda: create_canopy(CanopyConfig()),
}
MOUNT = "/_sim"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SPEC_URI = "urn:sim-admin-spec"


# -- the document as a checker -------------------------------------------------------------------
def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local refs are expected, got {ref}"
    node: Any = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"$ref {ref} does not resolve"
        node = node[token]
    return node


class AdminDoc:
    """A served admin document: validates answers against the schema it documents for them."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self.checked: set[tuple[str, str, str]] = set()

    def schema_pointer(self, method: str, path: str, status: int) -> str | None:
        """Where the JSON schema of that answer is (None when the answer has no body)."""
        op = self.spec["paths"].get(path, {}).get(method.lower())
        assert op is not None, f"{method} {path} is not documented"
        assert str(status) in op["responses"], f"{method} {path} answered {status}, which is not documented"
        pointer = f"#/paths/{_escape(path)}/{method.lower()}/responses/{status}"
        response = op["responses"][str(status)]
        while "$ref" in response:
            pointer = response["$ref"]
            response = _pointer(self.spec, pointer)
        if "content" not in response:
            return None
        assert "application/json" in response["content"], f"{method} {path} {status} is not documented as JSON"
        return f"{pointer}/content/application~1json/schema"

    def check(self, resp: requests.Response, template: str) -> Any:
        """Assert the answer is documented for (method, template, status) and matches its schema."""
        method = resp.request.method or "GET"
        pointer = self.schema_pointer(method, template, resp.status_code)
        self.checked.add((method, template, str(resp.status_code)))
        if pointer is None:
            assert not resp.content, f"{method} {template} {resp.status_code} is documented without a body"
            return None
        assert resp.headers["Content-Type"].startswith("application/json")
        body = resp.json()
        validator = Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=self.registry,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {template} {resp.status_code}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5])
        return body


class Admin:
    """The admin API over real HTTP, checking every answer against the served document."""

    def __init__(self, base: str, doc: AdminDoc) -> None:
        self.base, self.doc = base, doc
        self.http = requests.Session()

    def call(self, method: str, template: str, expect: int, *, path_args: dict[str, str] | None = None,
             **kw: Any) -> Any:
        path = template.format(**(path_args or {}))
        resp = self.http.request(method, self.base + MOUNT + path, timeout=30, **kw)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text[:500])
        return self.doc.check(resp, template)


class Fake:
    def __init__(self, name: str, server: ServerThread) -> None:
        self.name, self.server = name, server
        self.spec = requests.get(server.url + MOUNT + "/openapi.json", timeout=30).json()
        self.doc = AdminDoc(self.spec)
        self.admin = Admin(server.url, self.doc)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerThread]]:
    started = {name: ServerThread(factory).start() for name, factory in FACTORIES.items()}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(params=sorted(FACTORIES))
def fake(request: pytest.FixtureRequest, servers: dict[str, ServerThread]) -> Fake:
    return Fake(request.param, servers[request.param])


@pytest.fixture
def qbo(servers: dict[str, ServerThread]) -> Fake:
    return Fake("qbo", servers["qbo"])


@pytest.fixture
def canopy(servers: dict[str, ServerThread]) -> Fake:
    return Fake("canopy", servers["canopy"])


# -- routes on the sub-app versus documented operations ------------------------------------------
def admin_subapp(app: web.Application) -> web.Application:
    for resource in app.router.resources():
        info = resource.get_info()
        if info.get("prefix") == MOUNT and isinstance(info.get("app"), web.Application):
            return info["app"]
    raise AssertionError("no admin sub-app mounted at /_sim")


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path template without /_sim) of every route of the admin sub-app, HEAD ignored."""
    out: set[tuple[str, str]] = set()
    for resource in admin_subapp(app).router.resources():
        template = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", resource.canonical)
        assert template.startswith(MOUNT + "/"), template
        for route in resource:
            if route.method != "HEAD":
                out.add((route.method, template[len(MOUNT):]))
    return out


def documented_routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_the_served_admin_spec_is_a_valid_openapi_3_1_document(fake: Fake) -> None:
    validate(fake.spec)
    assert fake.spec["openapi"].startswith("3.1")
    assert fake.spec["servers"] == [{"url": fake.server.url + MOUNT, "description": "This fake's admin API"}]
    expected = merged_spec(CORE_SPEC, FAKE_SPECS[fake.name])
    assert {k: v for k, v in fake.spec.items() if k != "servers"} == {
        k: v for k, v in expected.items() if k != "servers"}
    assert not any(p.startswith(MOUNT) for p in fake.spec["paths"]), "paths are written without /_sim"


def test_every_admin_route_is_documented_and_every_documented_route_exists(fake: Fake) -> None:
    assert fake.server.app is not None
    registered = registered_routes(fake.server.app)
    documented = documented_routes(fake.spec)
    assert not registered - documented, f"routes of {fake.name}'s /_sim with no documentation"
    assert not documented - registered, f"documented {fake.name} /_sim operations that do not exist"
    assert len(registered) >= 25


def test_the_core_routes_are_in_each_fake_spec_and_each_fakes_own_only_in_its_own(fake: Fake) -> None:
    core = merged_spec(CORE_SPEC, None)
    assert documented_routes(core) <= documented_routes(fake.spec)
    others = {name: documented_routes(merged_spec(CORE_SPEC, path)) - documented_routes(core)
              for name, path in FAKE_SPECS.items() if name != fake.name}
    for other, routes in others.items():
        assert not routes & documented_routes(fake.spec), f"{other}'s own routes leaked into {fake.name}'s spec"


def test_refs_resolve_path_parameters_are_declared_and_operation_ids_are_unique(fake: Fake) -> None:
    spec = fake.spec

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(spec):
        _pointer(spec, ref)
    ids = [op["operationId"] for item in spec["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))

    def resolved(param: dict[str, Any]) -> dict[str, Any]:
        return _pointer(spec, param["$ref"]) if "$ref" in param else param

    for path, item in spec["paths"].items():
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            if method not in METHODS:
                continue
            params = [resolved(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == wanted, (method, path, declared)
            assert op.get("responses"), (method, path)


# -- real answers against their schemas: the shared core routes ------------------------------------
def a_tenant(f: Fake) -> str:
    if f.name == "qbo":
        return f.admin.call("POST", "/companies", 201, json={"name": "Spec Co"})["realm_id"]
    return f.admin.call("POST", "/firms", 201, json={"name": "Spec CPA"})["firm"]["id"]


def test_core_answers_match_their_schemas(fake: Fake) -> None:
    a = fake.admin
    tenant = a_tenant(fake)
    health = a.call("GET", "/health", 200)
    assert health["kind"] == fake.name and health["tenants"] >= 1
    one = a.call("GET", "/state", 200, params={"tenant": tenant})
    assert list(one["tenants"]) == [tenant] and "server" not in one
    assert "server" in a.call("GET", "/state", 200)
    assert tenant in [t["id"] for t in a.call("GET", "/tenants", 200)["tenants"]]

    forked = a.call("POST", "/tenants/{tenant}/fork", 201, path_args={"tenant": tenant}, json={"name": "Copy"})
    assert forked["forked_from"] == tenant
    a.call("POST", "/tenants/{tenant}/fork", 201, path_args={"tenant": tenant})
    a.call("POST", "/tenants/{tenant}/fork", 404, path_args={"tenant": "0"})
    snap = a.call("POST", "/snapshots", 201, json={"tenant": tenant})["snapshot_id"]
    a.call("POST", "/snapshots", 201)
    assert snap in [s["snapshot_id"] for s in a.call("GET", "/snapshots", 200)["snapshots"]]
    a.call("POST", "/snapshots/{snap}/restore", 200, path_args={"snap": snap})
    a.call("POST", "/snapshots/{snap}/restore", 404, path_args={"snap": "nope"})

    # A public API call (refused: no token) lands in the journal, with a fault rule noted.
    api_path = "/v3/company/1/companyinfo/1" if fake.name == "qbo" else "/public/v3/clients"
    rule = a.call("POST", "/faults", 201, json={"action": {"type": "error", "error": "throttle"},
                                                "path": api_path, "times": 1})
    assert rule["seen"] == 0 and "method" not in rule
    a.call("POST", "/faults", 201, json={"action": {"type": "delay", "lognormal": {"mu": 0, "sigma": 0.1}},
                                         "method": "PUT", "probability": 0.5, "seed": 7, "every": 2})
    a.call("POST", "/faults", 400, json={"action": {"type": "explode"}})
    requests.get(fake.server.url + api_path, timeout=10)
    faults = a.call("GET", "/faults", 200)
    assert faults["faults"][0]["fired"] == 1 and "throttle" in faults["error_presets"]
    a.call("DELETE", "/faults/{rule}", 200, path_args={"rule": rule["id"]})
    a.call("DELETE", "/faults/{rule}", 404, path_args={"rule": rule["id"]})
    a.call("DELETE", "/faults", 200)
    entries = a.call("GET", "/journal", 200, params={"path_prefix": api_path, "limit": 5})["entries"]
    assert entries and entries[-1]["note"].startswith("fault:")
    a.call("GET", "/journal", 200, params={"tenant": tenant, "status": 200, "method": "get"})
    a.call("GET", "/journal", 400, params={"limit": "many"})

    a.call("GET", "/clock", 200)
    assert a.call("GET", "/clock", 200, params={"tenant": tenant})["tenant"] == tenant
    moved = a.call("POST", "/clock", 200, json={"tenant": tenant, "freeze": True, "advance_seconds": 1.5,
                                                "set": "2030-01-02T03:04:05Z"})
    assert moved["frozen"] and moved["own_clock"] and moved["now"] == "2030-01-02T03:04:06Z"
    a.call("POST", "/clock", 200, json={"tenant": tenant, "freeze": False})
    a.call("POST", "/clock", 200, json={"advance_seconds": 0, "all": True})
    a.call("POST", "/clock", 400, json={"set": "someday"})
    a.call("POST", "/clock", 400)
    a.call("GET", "/clock", 404, params={"tenant": "0"})
    a.call("GET", "/state", 404, params={"tenant": "0"})

    summary = a.call("GET", "/webhooks", 200)
    assert summary["paused"] is False
    a.call("GET", "/webhooks", 200, params={"tenant": tenant})
    a.call("POST", "/webhooks/pause", 200)
    a.call("POST", "/webhooks/resume", 200)
    a.call("POST", "/webhooks/flush", 200)
    a.call("POST", "/webhooks/chaos", 200, json={"drop_fraction": 0.25, "reorder": True, "seed": 3})
    assert a.call("POST", "/webhooks/chaos", 200, json={"reset": True})["chaos"]["drop_fraction"] == 0
    a.call("POST", "/webhooks/chaos", 400, json={"explode": 1})
    a.call("POST", "/webhooks/chaos", 400, data=b"{not json")

    spec = a.call("GET", "/openapi.json", 200)
    assert spec["servers"][0]["url"].endswith(MOUNT)


def test_fork_answers_exactly_what_each_fake_documents(qbo: Fake, canopy: Fake) -> None:
    realm = a_tenant(qbo)
    forked = qbo.admin.call("POST", "/tenants/{tenant}/fork", 201, path_args={"tenant": realm})
    assert set(forked) == {"tenant_id", "forked_from", "realm_id", "users"}
    firm = a_tenant(canopy)
    assert set(canopy.admin.call("POST", "/tenants/{tenant}/fork", 201, path_args={"tenant": firm})) == {
        "tenant_id", "forked_from"}
    # The documents are strict: a QBO fork answer is not a Canopy one, and the other way round.
    bad = AdminDoc(canopy.spec)
    validator = Draft202012Validator({"$ref": SPEC_URI + "#/components/schemas/ForkResult"}, registry=bad.registry)
    assert not validator.is_valid(forked)
    validator = Draft202012Validator({"$ref": SPEC_URI + "#/components/schemas/ForkResult"},
                                     registry=AdminDoc(qbo.spec).registry)
    assert not validator.is_valid({"tenant_id": "2", "forked_from": "1"})


# -- QBO's own routes ------------------------------------------------------------------------------
def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_qbo_own_answers_match_their_schemas(qbo: Fake) -> None:
    a = qbo.admin
    company = a.call("POST", "/companies", 201, json={
        "name": "Documented Co", "offset": "+01:00", "custom_txn_numbers": True, "country": "GB",
        "user": {"email": "owner@documented.test", "given_name": "Olive"}})
    realm = company["realm_id"]
    assert company["user"]["email"] == "owner@documented.test" and company["accounts"]
    a.call("POST", "/companies", 400, json={"name": ""})
    a.call("POST", "/companies", 409, json={"name": "Twin", "realm_id": realm})
    assert realm in [c["realm_id"] for c in a.call("GET", "/companies", 200)["companies"]]

    app = a.call("POST", "/apps", 201, json={"client_id": "doc-app", "client_secret": "s3cret",
                                             "redirect_uris": ["http://127.0.0.1:9/cb"],
                                             "webhook_entities": ["Customer"]})
    assert app["webhook_format"] == "classic" and app["webhook_url"] is None
    a.call("POST", "/apps", 201, json={"client_id": "doc-app-2", "client_secret": "s",
                                       "redirect_uris": ["http://127.0.0.1:9/cb"], "webhook_format": "cloudevents",
                                       "name": "Second", "verifier_token": "v"})
    a.call("POST", "/apps", 409, json={"client_id": "doc-app", "client_secret": "s", "redirect_uris": ["http://x"]})
    a.call("POST", "/apps", 400, json={"client_id": "x", "client_secret": "s", "redirect_uris": ["http://x"],
                                       "colour": "blue"})
    assert "doc-app" in [x["client_id"] for x in a.call("GET", "/apps", 200)["apps"]]
    a.call("GET", "/apps/{client_id}", 200, path_args={"client_id": "doc-app"})
    a.call("GET", "/apps/{client_id}", 404, path_args={"client_id": "nope"})
    a.call("PATCH", "/apps/{client_id}", 200, path_args={"client_id": "doc-app-2"},
           json={"name": None, "webhook_url": "http://127.0.0.1:9/hook"})
    a.call("PATCH", "/apps/{client_id}", 400, path_args={"client_id": "doc-app"}, json={"client_id": "other"})
    a.call("PATCH", "/apps/{client_id}", 404, path_args={"client_id": "nope"}, json={})

    a.call("POST", "/companies/{realm}/subscription", 200, path_args={"realm": realm}, json={"status": "suspended"})
    a.call("POST", "/companies/{realm}/subscription", 200, path_args={"realm": realm}, json={"status": "active"})
    a.call("POST", "/companies/{realm}/subscription", 400, path_args={"realm": realm}, json={"status": "gone"})
    a.call("POST", "/companies/{realm}/subscription", 404, path_args={"realm": "0"}, json={"status": "active"})
    granted = a.call("POST", "/companies/{realm}/users/grant", 201, path_args={"realm": realm},
                     json={"email": "second@documented.test", "password": "pw"})
    assert granted["realms"] == [realm] and granted["password"] == "pw"
    a.call("POST", "/companies/{realm}/users/grant", 404, path_args={"realm": "0"}, json={"email": "x@y.z"})
    a.call("POST", "/companies/{realm}/users/revoke", 200, path_args={"realm": realm},
           json={"email": "second@documented.test"})
    a.call("POST", "/companies/{realm}/users/revoke", 404, path_args={"realm": realm},
           json={"email": "second@documented.test"})
    a.call("POST", "/companies/{realm}/users/revoke", 400, path_args={"realm": realm}, json={})

    grant = a.call("POST", "/oauth/grant", 200, json={"client_id": "doc-app", "redirect_uri": "http://127.0.0.1:9/cb",
                                                     "realm_id": realm, "state": "xyz"})
    assert grant["realm_id"] == realm and "state=xyz" in grant["redirect_url"]
    assert a.call("POST", "/oauth/grant", 200, json={"client_id": "doc-app", "redirect_uri": "http://127.0.0.1:9/cb",
                                                     "scope": "openid email", "user_email": "owner@documented.test"}
                  )["realm_id"] is None
    a.call("POST", "/oauth/grant", 400, json={"client_id": "nope", "redirect_uri": "http://127.0.0.1:9/cb",
                                              "realm_id": realm})
    a.call("POST", "/oauth/grant", 404, json={"client_id": "doc-app", "redirect_uri": "http://127.0.0.1:9/cb",
                                              "realm_id": "0"})
    assert a.call("POST", "/companies/{realm}/revoke-tokens", 200, path_args={"realm": realm}) == {
        "revoked_grants": 0}

    seeded = a.call("POST", "/companies/{realm}/seed", 201, path_args={"realm": realm}, json={
        "Customer": [{"$id": "acme", "DisplayName": "Acme"}],
        "Item": [{"$id": "svc", "Name": "Consulting", "Type": "Service",
                  "IncomeAccountRef": {"value": company["accounts"][0]["Id"]}}],
        "Invoice": [{"$id": "inv", "CustomerRef": {"$ref": "acme"}, "Line": [{
            "Amount": 100, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"$ref": "svc"}, "Qty": 1, "UnitPrice": 100}}]}]})
    assert seeded["counts"] == {"Account": 0, "Customer": 1, "Vendor": 0, "Employee": 0, "Item": 1, "Invoice": 1}
    a.call("POST", "/companies/{realm}/seed", 400, path_args={"realm": realm}, json={"Bill": []})
    a.call("POST", "/companies/{realm}/seed", 400, path_args={"realm": realm},
           json={"Customer": [{"DisplayName": "Acme"}]})
    a.call("POST", "/companies/{realm}/seed", 404, path_args={"realm": "0"}, json={})
    edited = a.call("POST", "/companies/{realm}/edit", 200, path_args={"realm": realm},
                    json={"entity": "Customer", "id": seeded["ids"]["acme"], "changes": {"CompanyName": "Acme Ltd"}})
    assert edited["Customer"]["SyncToken"] == "1"
    voided = a.call("POST", "/companies/{realm}/edit", 200, path_args={"realm": realm},
                    json={"entity": "Invoice", "id": seeded["ids"]["inv"], "void": True})
    assert list(voided) == ["Invoice"]
    a.call("POST", "/companies/{realm}/edit", 400, path_args={"realm": realm},
           json={"entity": "Customer", "id": seeded["ids"]["acme"]})
    a.call("POST", "/companies/{realm}/edit", 404, path_args={"realm": realm},
           json={"entity": "Customer", "id": "999999", "deactivate": True})

    limits = a.call("GET", "/limits", 200)
    assert limits["tenant"] is None and limits["enabled"] is False
    set_ = a.call("POST", "/limits", 200, json={"tenant": realm, "enabled": True, "per_app_per_second": 3})
    assert set_["tenant"] == realm and set_["per_app_per_second"] == 3
    a.call("GET", "/limits", 200, params={"tenant": realm})
    a.call("POST", "/limits", 200, json={"tenant": realm, "reset": True, "enabled": False})
    a.call("POST", "/limits", 400, json={"per_app_per_second": 0})


@dataclass
class Hooked:
    """A QBO server of its own, a company, an app listening on a receiver and connected to it."""

    fake: Fake
    receiver: Receiver
    realm: str
    customer: str

    def edit(self, name: str) -> None:
        self.fake.admin.call("POST", "/companies/{realm}/edit", 200, path_args={"realm": self.realm},
                             json={"entity": "Customer", "id": self.customer, "changes": {"CompanyName": name}})

    def counts(self) -> dict[str, int]:
        return self.fake.admin.call("GET", "/webhooks", 200, params={"tenant": self.realm})["counts"]


@pytest.fixture
def hooked() -> Iterator[Hooked]:
    """Its own server: what these tests leave in the outbox stays out of the shared ones."""
    receiver = start_receiver()
    server = ServerThread(FACTORIES["qbo"]).start()
    try:
        f = Fake("qbo", server)
        a = f.admin
        realm = a.call("POST", "/companies", 201, json={"name": "Hooked Co"})["realm_id"]
        redirect = "http://127.0.0.1:9/cb"
        a.call("POST", "/apps", 201, json={"client_id": "hook-app", "client_secret": "hook-secret",
                                           "redirect_uris": [redirect], "webhook_url": receiver.url,
                                           "verifier_token": "verifier"})
        code = a.call("POST", "/oauth/grant", 200, json={"client_id": "hook-app", "redirect_uri": redirect,
                                                         "realm_id": realm})["code"]
        token = requests.post(server.url + "/oauth2/v1/tokens/bearer", auth=("hook-app", "hook-secret"),
                              data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
                              timeout=10)
        assert token.status_code == 200, token.text
        customer = a.call("POST", "/companies/{realm}/seed", 201, path_args={"realm": realm},
                          json={"Customer": [{"$id": "c", "DisplayName": "Hooked"}]})["ids"]["c"]
        yield Hooked(f, receiver, realm, customer)
    finally:
        server.stop()
        assert receiver.server is not None
        receiver.server.stop()


def test_qbo_webhook_summary_with_deliveries_in_every_state(hooked: Hooked) -> None:
    """Delivered, dropped (chaos), queued (paused) and failed (the receiver says 500)."""
    a, h = hooked.fake.admin, hooked
    h.edit("one")
    wait_for(lambda: h.counts()["delivered"] == 1)
    a.call("POST", "/webhooks/chaos", 200, json={"drop_next": 1})
    h.edit("two")
    wait_for(lambda: h.counts()["dropped"] == 1)
    a.call("POST", "/webhooks/pause", 200)
    h.edit("three")
    wait_for(lambda: h.counts()["queued"] == 1)
    summary = a.call("GET", "/webhooks", 200, params={"tenant": h.realm})
    assert summary["paused"] and summary["delivered"][0]["history"][0]["status"] == 200
    assert summary["delivered"][0]["events"][0]["name"] == "Customer"
    counts_only = a.call("GET", "/webhooks", 200, params={"tenant": h.realm, "limit": "0"})
    assert counts_only["counts"] == summary["counts"]
    assert counts_only["delivered"] == counts_only["dropped"] == counts_only["queued"] == []
    newest = a.call("GET", "/webhooks", 200, params={"tenant": h.realm, "limit": "1"})
    assert len(newest["queued"]) == len(newest["delivered"]) == 1
    a.call("GET", "/webhooks", 400, params={"limit": "-1"})
    h.receiver.status = 500
    a.call("POST", "/webhooks/resume", 200)
    wait_for(lambda: h.counts()["retrying"] == 1)
    summary = a.call("GET", "/webhooks", 200)
    assert summary["failed"][0]["history"][0]["status"] == 500 and summary["failed"][0]["state"] == "retrying"
    h.receiver.status = 200
    assert a.call("POST", "/webhooks/flush", 200)["counts"]["delivered"] == 2
    reset = a.call("POST", "/reset", 200)
    assert reset == {"reset": True, "tenants": []}
    assert a.call("GET", "/webhooks", 200)["counts"]["delivered"] == 0


def test_the_webhook_summary_after_a_flush_is_still_documented_json(hooked: Hooked) -> None:
    """A flush makes deliveries due at once (`next_at` = -inf): the summary says null, not a 500."""
    a, h = hooked.fake.admin, hooked
    a.call("POST", "/webhooks/pause", 200)
    h.edit("flushed")
    wait_for(lambda: h.counts()["queued"] == 1)
    assert a.call("POST", "/webhooks/flush", 200)["counts"]["delivered"] == 1
    summary = a.call("GET", "/webhooks", 200, params={"tenant": h.realm})
    assert summary["delivered"][-1]["next_attempt_at"] is None


# -- Canopy's own routes ---------------------------------------------------------------------------
def test_canopy_own_answers_match_their_schemas(canopy: Fake) -> None:
    a = canopy.admin
    created = a.call("POST", "/firms", 201, json={
        "name": "Documented CPA", "plan": "paid", "modules": ["client_management", "time_and_billing"],
        "licenses": {"time_and_billing": 3}, "rate_limit": {"requests": 100, "per_seconds": 60},
        "admin": {"email": "boss@documented.test", "first_name": "Bea"}})
    firm = created["firm"]["id"]
    assert created["admin"]["permission_set_id"] == "admin" and created["token"].startswith("cnp_")
    a.call("POST", "/firms", 201)
    a.call("POST", "/firms", 400, json={"plan": "platinum"})
    a.call("POST", "/firms", 400, data=b"[1]")
    assert firm in [f["id"] for f in a.call("GET", "/firms", 200)["firms"]]
    a.call("GET", "/firms/{firm}", 200, path_args={"firm": firm})
    a.call("GET", "/firms/{firm}", 404, path_args={"firm": "9"})
    a.call("PATCH", "/firms/{firm}", 200, path_args={"firm": firm},
           json={"rate_limit": None, "licenses": {"time_and_billing": 5, "transcripts_and_notices": 1}})
    a.call("PATCH", "/firms/{firm}", 400, path_args={"firm": firm}, json={"modules": []})

    made = a.call("POST", "/firms/{firm}/users", 201, path_args={"firm": firm},
                  json={"email": "staff@documented.test", "licenses": ["time_and_billing"]})
    user = made["user"]["id"]
    a.call("POST", "/firms/{firm}/users", 409, path_args={"firm": firm}, json={"email": "staff@documented.test"})
    a.call("POST", "/firms/{firm}/users", 400, path_args={"firm": firm}, json={"email": "nobody"})
    a.call("PATCH", "/firms/{firm}/users/{user}", 200, path_args={"firm": firm, "user": user},
           json={"first_name": "Sam", "is_active": False})
    a.call("PATCH", "/firms/{firm}/users/{user}", 409, path_args={"firm": firm, "user": created["admin"]["id"]},
           json={"permission_set": "staff_all_contacts"})
    a.call("POST", "/firms/{firm}/users/{user}/token", 201, path_args={"firm": firm, "user": created["admin"]["id"]})
    a.call("POST", "/firms/{firm}/users/{user}/token", 404, path_args={"firm": firm, "user": "1"})

    integration = a.call("POST", "/firms/{firm}/integrations", 201, path_args={"firm": firm},
                         json={"name": "Sync"})
    a.call("POST", "/firms/{firm}/integrations", 201, path_args={"firm": firm})
    a.call("POST", "/firms/{firm}/integrations", 400, path_args={"firm": firm}, json={"name": 5})
    assert a.call("POST", "/tokens/revoke", 200, json={"token": integration["access_token"]}) == {"revoked": True}
    assert a.call("POST", "/tokens/revoke", 200, json={"token": integration["access_token"]}) == {"revoked": False}
    a.call("POST", "/tokens/revoke", 400, json={})

    sets = a.call("GET", "/firms/{firm}/permission_sets", 200, path_args={"firm": firm})["permission_sets"]
    assert sets[0]["is_preset"]
    custom = a.call("POST", "/firms/{firm}/permission_sets", 201, path_args={"firm": firm},
                    json={"name": "Billing only", "permissions": ["billing"]})["permission_set"]
    a.call("POST", "/firms/{firm}/permission_sets", 400, path_args={"firm": firm}, json={"permissions": []})
    a.call("PATCH", "/firms/{firm}/permission_sets/{set}", 200, path_args={"firm": firm, "set": custom["id"]},
           json={"name": "Billing"})
    a.call("PATCH", "/firms/{firm}/permission_sets/{set}", 422, path_args={"firm": firm, "set": "admin"},
           json={"name": "Boss"})
    a.call("PATCH", "/firms/{firm}/permission_sets/{set}", 404, path_args={"firm": firm, "set": "1"}, json={})

    seeded = a.call("POST", "/firms/{firm}/seed", 201, path_args={"firm": firm}, json={
        "clients": [{"ref": "c", "is_business": True, "business_name": "Acme"}],
        "service_items": [{"ref": "s", "name": "Audit", "rate": "250"}],
        "invoices": [{"client_id": "$c", "lines": [{"service_item_id": "$s", "quantity": "2"}]}]})
    assert seeded["refs"]["c"] == seeded["clients"][0] and seeded["payments"] == []
    a.call("POST", "/firms/{firm}/seed", 400, path_args={"firm": firm}, json={"widgets": []})
    a.call("POST", "/firms/{firm}/seed", 404, path_args={"firm": "9"}, json={})

    a.call("DELETE", "/firms/{firm}/users/{user}", 204, path_args={"firm": firm, "user": user})
    a.call("DELETE", "/firms/{firm}/users/{user}", 404, path_args={"firm": firm, "user": user})
    a.call("DELETE", "/firms/{firm}/users/{user}", 409, path_args={"firm": firm, "user": created["admin"]["id"]})


def test_canopy_own_routes_refuse_in_the_v3_envelope_and_core_routes_in_the_core_shape(canopy: Fake) -> None:
    own = canopy.admin.call("GET", "/firms/{firm}", 404, path_args={"firm": "9"})
    assert set(own) == {"errors"} and own["errors"]["httpStatusCode"] == 404
    core = canopy.admin.call("GET", "/state", 404, params={"tenant": "9"})
    assert set(core) == {"error"} and core["error"]["code"] == "tenant_not_found"


# -- the merge ------------------------------------------------------------------------------------
CORE = {"openapi": "3.1.0", "info": {"title": "core", "version": "1"}, "tags": [{"name": "A"}],
        "paths": {"/x": {"get": {"operationId": "getX", "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"Fixed": {"type": "string"},
                                   "Hook": {"x-sim-overridable": True, "type": "object"}}}}


def test_merge_adds_paths_methods_components_and_replaces_only_extension_points() -> None:
    extra = {"openapi": "3.1.0", "info": {"title": "fake"}, "tags": [{"name": "A"}, {"name": "B"}],
             "paths": {"/x": {"delete": {"operationId": "deleteX", "responses": {"200": {"description": "ok"}}}},
                       "/y": {"get": {"operationId": "getY", "responses": {"200": {"description": "ok"}}}}},
             "components": {"schemas": {"Hook": {"type": "object", "required": ["a"]}, "Own": {"type": "integer"},
                                        "Fixed": {"type": "string"}},
                            "responses": {"Gone": {"description": "gone"}}}}
    before = copy.deepcopy(CORE)
    out = merge_specs(CORE, extra)
    assert CORE == before, "the core document is not changed"
    assert set(out["paths"]["/x"]) == {"get", "delete"} and "/y" in out["paths"]
    assert out["components"]["schemas"]["Hook"] == {"type": "object", "required": ["a"]}
    assert out["components"]["schemas"]["Own"] == {"type": "integer"}
    assert out["components"]["responses"] == {"Gone": {"description": "gone"}}
    assert out["info"] == {"title": "fake", "version": "1"} and [t["name"] for t in out["tags"]] == ["A", "B"]


@pytest.mark.parametrize("extra", [
    {"paths": {"/x": {"get": {"operationId": "other", "responses": {"200": {"description": "ok"}}}}}},
    {"components": {"schemas": {"Fixed": {"type": "integer"}}}},
    {"openapi": "3.0.3"},
], ids=["same-operation", "non-overridable-component", "openapi-version"])
def test_merge_refuses_contradictions(extra: dict[str, Any]) -> None:
    with pytest.raises(SpecMergeError):
        merge_specs(CORE, extra)


def test_merged_spec_is_a_fresh_copy_and_the_fake_specs_only_replace_extension_points() -> None:
    first = merged_spec(CORE_SPEC, FAKE_SPECS["qbo"])
    first["paths"].clear()
    assert merged_spec(CORE_SPEC, FAKE_SPECS["qbo"])["paths"]
    core = merged_spec(CORE_SPEC, None)["components"]["schemas"]
    for path in FAKE_SPECS.values():
        schemas = merged_spec(CORE_SPEC, path)["components"]["schemas"]
        replaced = {name for name in core if schemas[name] != core[name]}
        assert replaced and all(core[name].get("x-sim-overridable") for name in replaced)
