"""The served `/openapi.json` is the contract: generated requests get no 5xx and conforming answers."""
from __future__ import annotations

import requests
import yaml
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                         response_schema_conformance, status_code_conformance)
from hypothesis import given

import pytest

from sim.core.server import ServerThread
from sim.fake_canopy.app import SPEC
from tests.conftest import Admin

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def contract(canopy_server: ServerThread, canopy_admin: Admin):
    firm = canopy_admin.post("/firms", {"name": "Contract Firm"}, expect=201)
    canopy_admin.post(f"/firms/{firm['firm']['id']}/seed", {
        "clients": [{"ref": "c", "is_business": False, "first_name": "Seed"}],
        "service_items": [{"ref": "s", "name": "Seeded", "rate": "10"}],
        "invoices": [{"client_id": "$c", "lines": [{"service_item_id": "$s"}]}]}, expect=201)
    schema = schemathesis.openapi.from_url(canopy_server.url + "/openapi.json")
    schema.config.headers = {"Authorization": f"Bearer {firm['token']}"}
    return schema


OPERATIONS = [(path, method) for path, item in yaml.safe_load(SPEC.read_text())["paths"].items()
              for method in item if method != "parameters"]


@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_api_conforms(contract, path: str, method: str) -> None:
    operation = contract[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case) -> None:
        case.call_and_validate(checks=CHECKS)
    run()


def test_spec_is_served(canopy_server: ServerThread) -> None:
    spec = requests.get(canopy_server.url + "/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.1") and not any(p.startswith("/_sim") for p in spec["paths"])
    links = spec["paths"]["/public/v3/clients"]["post"]["responses"]["201"]["links"]
    assert {"GetClient", "UpdateClient", "DeleteClient"} <= set(links)
