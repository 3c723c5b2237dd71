"""Gates: R2 -> R3 -> R1 -> R4a in that order, D-1 for T&N standalone, R13 for the items step."""
from __future__ import annotations

from typing import Any

import pytest

from engine.gates import GateInputs, connect_refusal, items_step_refusal


def me(**over: Any) -> GateInputs:
    """A /public/v3/me answer (shape of sim/fake_canopy/api.py `me_view`), admin on a paid full suite."""
    body: dict[str, Any] = {"type": "user", "plan": "paid",
                            "modules": ["client_management", "time_and_billing", "transcripts_and_notices"],
                            "is_tn_standalone": False, "licenses": ["time_and_billing"],
                            "effective_licenses": ["time_and_billing"],
                            "granted_permissions": ["manage_integrations"], "permissions": ["manage_integrations"]}
    body.update(over)
    return GateInputs.from_me(body)


def test_admin_with_license_on_paid_plan_may_connect() -> None:
    assert connect_refusal(me(), already_connected=False) is None


@pytest.mark.parametrize("plan", ["freemium", "legacy"])
def test_plan_gate(plan: str) -> None:
    assert connect_refusal(me(plan=plan), False) == "plan_not_eligible"


def test_license_gate() -> None:
    assert connect_refusal(me(effective_licenses=[]), False) == "missing_license"


def test_permission_gate() -> None:
    assert connect_refusal(me(permissions=[]), False) == "missing_permission"


def test_one_connection_gate() -> None:
    assert connect_refusal(me(), already_connected=True) == "already_connected"


def test_gates_report_only_the_first_failure_in_order() -> None:
    worst = {"plan": "freemium", "effective_licenses": [], "permissions": []}
    assert connect_refusal(me(**worst), True) == "plan_not_eligible"
    assert connect_refusal(me(effective_licenses=[], permissions=[]), True) == "missing_license"
    assert connect_refusal(me(permissions=[]), True) == "missing_permission"


def test_tn_standalone_counts_as_time_and_billing() -> None:
    tn = me(modules=["transcripts_and_notices"], is_tn_standalone=True, effective_licenses=["transcripts_and_notices"])
    assert connect_refusal(tn, False) is None
    assert connect_refusal(me(modules=["transcripts_and_notices"], is_tn_standalone=True,
                              effective_licenses=["transcripts_and_notices"], permissions=[]), False) \
        == "missing_permission"
    not_standalone = me(effective_licenses=["transcripts_and_notices"])
    assert connect_refusal(not_standalone, False) == "missing_license"


def test_items_step_refused_for_tn_standalone_only() -> None:
    assert items_step_refusal(me(modules=["transcripts_and_notices"], is_tn_standalone=True)) \
        == "not_available_for_module"
    assert items_step_refusal(me()) is None


def test_from_me_derives_standalone_when_absent() -> None:
    assert GateInputs.from_me({"plan": "paid", "modules": ["transcripts_and_notices"]}).is_tn_standalone
    g = GateInputs.from_me({"type": "integration", "plan": "paid", "modules": ["time_and_billing"], "user": None})
    assert not g.is_tn_standalone and connect_refusal(g, False) == "missing_license"
