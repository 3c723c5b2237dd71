"""Hooks for Item: which accounts each Type needs.

Service needs an income account; NonInventory an income or an expense
account (sources disagree on which, so either will do); Inventory all three
plus a start date, and tracks quantity; Category is a bare name for grouping.
Group items are not modelled.
"""
from __future__ import annotations

from . import faults
from .spec import Write

TYPES = ("Service", "NonInventory", "Inventory", "Category")
NOT_MODELLED = ("Group",)


def prepare_item(w: Write) -> None:
    kind = w.data.get("Type")
    if kind is None:
        raise faults.required_missing("Type")
    if kind in NOT_MODELLED:
        raise faults.unsupported("create", f"Item of Type {kind}")
    if kind not in TYPES:
        raise faults.invalid_value("Type", kind)
    if w.old is not None and w.old.data.get("Type") == "Inventory" and kind != "Inventory":
        raise faults.business("An inventory item's type can't be changed.", element="Type")
    need: tuple[str, ...] = ()
    if kind == "Service":
        need = ("IncomeAccountRef",)
    elif kind == "Inventory":
        need = ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "InvStartDate")
        w.data["TrackQtyOnHand"] = True
        w.data.setdefault("QtyOnHand", 0)
    elif kind == "NonInventory":
        if w.data.get("IncomeAccountRef") is None and w.data.get("ExpenseAccountRef") is None:
            raise faults.required_missing("IncomeAccountRef")
    elif kind == "Category":
        for ref in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
            w.data.pop(ref, None)
    for field in need:
        if w.data.get(field) is None:
            raise faults.required_missing(field)
    if kind != "Inventory":
        w.data["TrackQtyOnHand"] = False
        w.data.pop("QtyOnHand", None)
    parent = w.refs.get("ParentRef")
    if parent is not None and kind == "Category" and parent.data.get("Type") != "Category":
        raise faults.business("A category can only sit under another category.", element="ParentRef")
