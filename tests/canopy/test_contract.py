"""The served `/openapi.json` is the contract: generated requests get no 5xx and conforming answers.

`test_api_conforms` sends each operation a few generated (schema-valid) requests. `test_stateful_links`
follows the spec's links (create -> read / patch / delete, client -> contact / invoice, invoice -> payment)
with the ids and `ETag`s the fake hands out, checks every answer, and asserts that every step of the
chains succeeded at least once (2xx counts per operation), so the positive paths are really exercised.
The stateful schema is loaded inside the test from the session server, so no import-time server is needed
(`schemathesis.pytest.from_fixture` breaks on pytest 9).
"""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

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


# -- stateful: create -> read -> patch -> delete through the spec's links -----------------------
RESOURCES = {"clients": "client", "contacts": "contact", "service_items": "service_item", "invoices": "invoice",
             "payments": "payment"}
STATEFUL_CONFIG = {"seed": 20250304, "generation": {"mode": "positive"},
                   "phases": {"stateful": {"inference": {"algorithms": []}}}}  # the spec's own links only
STEPS = [f"{verb}{name}" for name in ("Client", "Contact", "ServiceItem", "Invoice", "Payment")
         for verb in ("create", "get", "update", "delete")]
# Two machines, so each chain gets its share of steps (and xdist can run them side by side): clients,
# contacts and service items; and the billing chain client -> invoice -> payment.
CHAINS = {"people": [s for s in STEPS if s.endswith(("Client", "Contact", "ServiceItem"))],
          "billing": ["createClient"] + [s for s in STEPS if s.endswith(("Invoice", "Payment"))]}


def _live_refs(case: Any, live: dict[str, list[str]], owner: dict[str, str]) -> None:
    """Point foreign keys at live records: the spec can say `client_id` is a string, not that it must exist.

    Only ids that name nothing are replaced (a link's id, or one the server handed out, stays), so the
    generated data keeps every other field and the links keep their meaning. Root payments are left alone:
    amounts that add up to open invoices' balances come only from the PayInvoice / PayInvoiceInPart links.
    """
    op = case.operation.definition.raw.get("operationId")
    wrapper = {"createContact": "contact", "createInvoice": "invoice", "updateContact": "contact",
               "updateInvoice": "invoice"}.get(op)
    body = case.body.get(wrapper) if wrapper and isinstance(case.body, dict) else None
    if not isinstance(body, dict):
        return
    if op.startswith("update"):  # a contact or an invoice keeps its client: a patch may only repeat it
        if "client_id" in body and (case.path_parameters or {}).get("id") in owner:
            body["client_id"] = owner[case.path_parameters["id"]]
    elif body.get("client_id") not in live["client"]:
        body["client_id"] = live["client"][-1]
    for line in body.get("lines") or []:
        if isinstance(line, dict) and line.get("service_item_id") not in live["service_item"]:
            line["service_item_id"] = live["service_item"][0]


@pytest.mark.parametrize("chain", list(CHAINS))
def test_stateful_links(canopy_server: ServerThread, canopy_admin: Admin, chain: str) -> None:
    """Chains create -> read / patch / delete for the five record types through the spec's links.

    Creates get schemathesis' own bodies (the spec says what a valid one is); links carry the new id, its
    `ETag` as `If-Match`, the client into contacts and invoices, and an invoice's balance into a payment.
    Every answer is checked; afterwards each step of each chain must have succeeded at least once.
    """
    schema = schemathesis.openapi.from_url(canopy_server.url + "/openapi.json",
                                           config=schemathesis.Config.from_dict(STATEFUL_CONFIG))
    base = schema.include(operation_id=CHAINS[chain]).as_state_machine()
    firms = itertools.count(1)
    keys = itertools.count(1)
    seen: list[tuple[str, int]] = []

    class Workflow(base):  # type: ignore[misc, valid-type]
        def setup(self):
            """A fresh firm per example: what one example wrote (a taken invoice number) must not change the next."""
            super().setup()
            firm = canopy_admin.post("/firms", {"name": f"Stateful Firm {next(firms)}"}, expect=201)
            seeded = canopy_admin.post(f"/firms/{firm['firm']['id']}/seed", {
                "clients": [{"ref": "c", "is_business": False, "first_name": "Stateful"}],
                "service_items": [{"ref": "s", "name": "Stateful hour", "rate": "10"}]}, expect=201)
            self.live = {"client": list(seeded["clients"]), "service_item": list(seeded["service_items"])}
            self.headers = {"Authorization": f"Bearer {firm['token']}"}
            self.owner: dict[str, str] = {}  # contact / invoice id -> its client

        def before_call(self, case):
            _live_refs(case, self.live, self.owner)
            if case.headers and "Idempotency-Key" in case.headers:  # generated keys repeat ("0"): keep them apart
                case.headers["Idempotency-Key"] += f"-{next(keys)}"

        def get_call_kwargs(self, case):
            return {"headers": self.headers}

        def after_call(self, response, case):
            op = case.operation.definition.raw["operationId"]
            seen.append((op, response.status_code))
            entity = RESOURCES[case.operation.path.split("/")[3]]
            if op.startswith("create") and response.status_code == 201:
                record = response.json()[entity]
                self.live.setdefault(entity, []).append(record["id"])
                if entity in ("contact", "invoice"):
                    self.owner[record["id"]] = record["client_id"]
            elif op.startswith("delete") and response.status_code == 204 and entity in self.live:
                gone = case.path_parameters["id"]
                if gone in self.live[entity] and len(self.live[entity]) > 1:
                    self.live[entity].remove(gone)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    Workflow.run(settings=settings(max_examples=100, stateful_step_count=15, deadline=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck), database=None))
    ok = Counter(op for op, status in seen if 200 <= status < 300)
    print(f"stateful {chain} 2xx per operation:", dict(sorted(ok.items())), f"({len(seen)} calls)")
    assert not [s for s in seen if s[1] >= 500], seen
    # the chains really ran: every create succeeded and was read, patched and deleted through a link
    assert not [step for step in CHAINS[chain] if not ok[step]], (dict(ok), Counter(seen))
