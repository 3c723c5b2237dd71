"""R21 steps: the same scripted changes, once cleanly and once under a fault, compared as the
canonical projection of both fakes (features/harness/faults.py)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.harness import faults as fh
from features.harness.engine import Engine
from features.harness.servers import Servers


@dataclass
class FaultCase:
    fault: fh.Fault
    run: fh.FaultRun
    own: fh.OwnEngine | None = None
    end: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="session")
def clean_end_state(servers: Servers, engine: Engine, worker_id: str) -> dict[str, Any]:
    """The clean run of the script (once per worker): its settled projection."""
    run = fh.session_run(servers, worker_id)
    fault = fh.fault_named("no fault")
    fh.run_script(run, fault)
    end = fh.settle(run)
    assert end is not None
    problems = fh.duplicates(end)
    assert not problems, f"the clean run itself created records twice: {problems}"
    _script_took_effect(run, end)
    return end


def _script_took_effect(run: fh.FaultRun, end: dict[str, Any]) -> None:
    """The clean run is worth comparing with: every change of the script shows on both sides."""
    customers = {c["DisplayName"]: c for c in end["qbo"]["Customer"]}
    clients = {c["display_name"]: c for c in end["canopy"]["client"]}
    for name in ("Harper Faultline", "Faultline Partners LLC", "Rowan Newbooks"):
        assert name in customers and name in clients, f"{name!r} is not on both sides after the clean run"
    p = run.picks
    assert customers[p["canopy_edit"]["name"]]["PrimaryPhone"]["FreeFormNumber"] == "(555) 010-2002"
    assert clients[p["qbo_edit"]["name"]]["emails"][0]["email"] == "changed@qbo-edit.test"
    race_customer, race_client = customers[p["race"]["name"]], clients[p["race"]["name"]]
    assert race_customer["PrimaryEmailAddr"]["Address"] == "race@canopy-edit.test", race_customer
    assert race_client["phones"][0]["number"] == "(555) 010-3003", race_client
    items = {i["name"]: i for i in end["canopy"]["service_item"]}
    assert items[p["item_edit"]["name"]]["rate"] == "321.50", items[p["item_edit"]["name"]]
    invoices = [i for i in end["qbo"]["Invoice"] if i.get("DocNumber") == "F-2001"]
    assert len(invoices) == 1 and invoices[0]["CustomerRef"] == p["billed"]["name"], invoices


@given(parsers.parse('a firm and QBO company in ongoing sync of contacts, items and invoices, for "{fault}"'),
       target_fixture="fault_case")
def fault_case(servers: Servers, engine: Engine, worker_id: str, tmp_path: Path, fault: str,
               request: pytest.FixtureRequest) -> FaultCase:
    chosen = fh.fault_named(fault)
    started = time.perf_counter()
    own = None
    if chosen.kill:
        own = fh.OwnEngine(servers, tmp_path / "own-engine")
        request.addfinalizer(own.stop)
        run = fh.set_up(servers, own.start(), own.app, worker_id)
    else:
        run = fh.session_run(servers, worker_id)
    case = FaultCase(chosen, run, own)
    case.seconds["set_up"] = time.perf_counter() - started
    return case


@when(parsers.parse('the scripted changes are made on both sides while "{fault}"'))
def scripted_changes(fault_case: FaultCase, fault: str) -> None:
    started = time.perf_counter()
    fh.run_script(fault_case.run, fault_case.fault, fault_case.own)
    fault_case.seconds["script"] = time.perf_counter() - started


@when("the sync settles: webhooks flushed, the engine reconciled, its inbox empty")
def sync_settles(fault_case: FaultCase) -> None:
    started = time.perf_counter()
    fault_case.end = fh.settle(fault_case.run)
    fault_case.seconds["settle"] = time.perf_counter() - started


@then("the canonical projection of both fakes equals the clean run's")
def same_as_clean(fault_case: FaultCase, clean_end_state: dict[str, Any]) -> None:
    end = fault_case.end
    assert end is not None
    assert end == clean_end_state, (
        f"under {fault_case.fault.text!r} the end state differs from the clean run's "
        f"(- clean, + this run):\n{fh.projection_difference(clean_end_state, end)}")


@then("no record is created twice, in either fake or in the sync log")
def nothing_twice(fault_case: FaultCase) -> None:
    assert fault_case.end is not None
    assert not fh.duplicates(fault_case.end), fh.duplicates(fault_case.end)
    twice = fh.created_twice(fault_case.run.log())
    assert not twice, f"the sync log shows records created twice: {twice}"


@then("the fault really happened")
def fault_happened(fault_case: FaultCase) -> None:
    why = fault_case.fault.happened()
    print(f"R21 {fault_case.fault.key}: {fault_case.fault.evidence} "
          + " ".join(f"{k}={v:.1f}s" for k, v in fault_case.seconds.items())
          + f" settles={fault_case.run.settles} advances={fault_case.run.advances}")
    assert why is None, why
