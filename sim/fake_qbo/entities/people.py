"""Hooks for the people lists: Customer, Vendor and Employee.

They share one Id counter and one name space (DisplayName unique across the
three, D-18); the generic name rules do the uniqueness, these hooks only
build the DisplayName QBO would build and the odd fields.
"""
from __future__ import annotations

from decimal import Decimal

from . import faults, rules
from .spec import Write


def _display_name(w: Write) -> None:
    name = rules.display_name(w.data)
    if name is None:
        raise faults.required_missing("DisplayName")
    w.data["DisplayName"] = name
    if not w.data.get("PrintOnCheckName"):
        w.data["PrintOnCheckName"] = rules.without_deleted(name)


def prepare_customer(w: Write) -> None:
    _display_name(w)
    going_inactive = w.was_active and w.data.get("Active") is False
    if going_inactive and (Decimal(w.data.get("Balance", 0)) != 0
                           or Decimal(w.data.get("BalanceWithJobs", 0)) != 0):
        raise faults.list_has_balance("Customer")


def prepare_vendor(w: Write) -> None:
    _display_name(w)


def prepare_employee(w: Write) -> None:
    _display_name(w)
    ssn = w.data.get("SSN")
    if isinstance(ssn, str) and not ssn.startswith("XXX"):
        digits = "".join(c for c in ssn if c.isdigit())
        w.data["SSN"] = f"XXX-XX-{digits[-4:]}" if len(digits) >= 4 else "XXX-XX-XXXX"
