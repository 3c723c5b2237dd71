"""The connect gates and the items-step gate: pure decisions over the Canopy `/me` answer.

Order (rules.md, "Access and connection"): plan (R2) -> license (R3) -> permission (R1)
-> one connection (R4a). Only the first failing gate is reported. The engine applies D-1
itself rather than trusting the caller's view of licenses, so a real Canopy that reports
only the T&N license still passes the license gate on a T&N standalone firm.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ELIGIBLE_PLANS = frozenset({"paid"})
TIME_AND_BILLING = "time_and_billing"
TRANSCRIPTS_AND_NOTICES = "transcripts_and_notices"
MANAGE_INTEGRATIONS = "manage_integrations"

ConnectRefusal = Literal["plan_not_eligible", "missing_license", "missing_permission", "already_connected"]
GATE_ORDER: tuple[ConnectRefusal, ...] = ("plan_not_eligible", "missing_license", "missing_permission",
                                          "already_connected")


@dataclass(frozen=True)
class GateInputs:
    """What the gates read from GET /public/v3/me: plan, modules, licenses, permissions."""

    plan: str
    modules: frozenset[str]
    effective_licenses: frozenset[str]
    permissions: frozenset[str]
    """Effective permissions: granted and backed by the license they need."""
    is_tn_standalone: bool

    @classmethod
    def from_me(cls, me: Mapping[str, Any]) -> GateInputs:
        """Read the /me JSON; `is_tn_standalone` is derived from `modules` when absent."""
        modules = frozenset(me.get("modules") or ())
        standalone = me.get("is_tn_standalone")
        if standalone is None:
            standalone = modules == frozenset({TRANSCRIPTS_AND_NOTICES})
        return cls(plan=str(me.get("plan", "")), modules=modules,
                   effective_licenses=frozenset(me.get("effective_licenses") or ()),
                   permissions=frozenset(me.get("permissions") or ()), is_tn_standalone=bool(standalone))


def holds_time_and_billing(me: GateInputs) -> bool:
    """R3 with D-1: the T&B license, or the T&N license on a T&N standalone firm."""
    return TIME_AND_BILLING in me.effective_licenses or (
        me.is_tn_standalone and TRANSCRIPTS_AND_NOTICES in me.effective_licenses)


def connect_refusal(me: GateInputs, already_connected: bool) -> ConnectRefusal | None:
    """R2 -> R3 -> R1 -> R4a: the reason of the first gate that fails, or None to go ahead."""
    if me.plan not in ELIGIBLE_PLANS:
        return "plan_not_eligible"
    if not holds_time_and_billing(me):
        return "missing_license"
    if MANAGE_INTEGRATIONS not in me.permissions:
        return "missing_permission"
    if already_connected:
        return "already_connected"
    return None


def items_step_refusal(me: GateInputs) -> Literal["not_available_for_module"] | None:
    """R13: a T&N standalone firm has no service items and invoices step (contacts still sync, D-1)."""
    return "not_available_for_module" if me.is_tn_standalone else None
