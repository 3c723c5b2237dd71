"""The content a link keeps in step, and the three-way merge that keeps it (R12, R18, R20): pure.

Each side's record is projected onto the fields both sides carry for it (docs/rules.md,
"Field mapping"): a *canonical* dict of plain strings, `Decimal`-free (rates as normalised
decimal strings) and `None` for "not set". The link stores the canonical content both sides
agreed on at the last sync (the *base*). On any change:

- a field that only one side changed since the base takes that side's value;
- a field both sides changed takes the value of the side whose record changed later, by
  each side's own modification time (D-48);
- the writes are the differences between the merge and each side's current content.

So the engine's own writes, coming back as webhooks or in CDC, find both sides equal to the
base and write nothing (R20), and a change applied twice writes nothing the second time.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from engine.matching import person_names, strip_deleted_suffix

Side = Literal["canopy", "qbo"]
Canonical = dict[str, Any]

INDIVIDUAL_FIELDS = ("name", "first", "last", "email", "phone", "address", "active")
BUSINESS_FIELDS = ("name", "company", "email", "phone", "address", "active")
ADDRESS_PARTS = (("line1", "address_1", "Line1"), ("line2", "address_2", "Line2"), ("city", "locality", "City"),
                 ("region", "region", "CountrySubDivisionCode"), ("postal", "postal_code", "PostalCode"),
                 ("country", "country", "Country"))
"""Canonical part, Canopy address key, QBO `BillAddr` key."""
ITEM_FIELDS = ("name", "rate", "sku", "description", "active")


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _rate(value: Any) -> str | None:
    """A rate as a normalised decimal string: 100, 100.0 and "100.00" are all "100" (D-9)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError):
        return None
    if not d.is_finite():
        return None
    d = d.normalize()
    return format(d, "f") if d == d.to_integral() else str(d)


def _primary(items: Any, key: str) -> str | None:
    chosen = _primary_entry(items)
    return _text(chosen.get(key)) if chosen is not None else None


def _address(parts: Mapping[str, Any] | None, side: int) -> dict[str, str] | None:
    """A primary address as canonical parts (None when it has none of them)."""
    if not isinstance(parts, Mapping):
        return None
    out = {canon: text for canon, *keys in ADDRESS_PARTS if (text := _text(parts.get(keys[side])))}
    return out or None


def _primary_entry(items: Any) -> Mapping[str, Any] | None:
    """The primary entry of a Canopy list (emails, phones, addresses), else the first one."""
    if not isinstance(items, list) or not items:
        return None
    chosen = next((i for i in items if isinstance(i, dict) and i.get("is_primary")), items[0])
    return chosen if isinstance(chosen, Mapping) else None


def contact_fields(is_business: bool) -> tuple[str, ...]:
    """A Canopy client cannot switch kind, so the kind fixes which name fields are kept in step."""
    return BUSINESS_FIELDS if is_business else INDIVIDUAL_FIELDS


def canopy_contact(client: Mapping[str, Any]) -> Canonical:
    full = {"name": _text(client.get("display_name")), "first": _text(client.get("first_name")),
            "last": _text(client.get("last_name")), "company": _text(client.get("business_name")),
            "email": _primary(client.get("emails"), "email"), "phone": _primary(client.get("phones"), "number"),
            "address": _address(_primary_entry(client.get("addresses")), 0),
            "active": not client.get("is_archived") and not client.get("is_deleted")}
    return {k: full[k] for k in contact_fields(bool(client.get("is_business")))}


def qbo_contact(customer: Mapping[str, Any], is_business: bool) -> Canonical:
    name = customer.get("DisplayName")
    first, last = person_names(_text(customer.get("GivenName")), _text(customer.get("FamilyName")),
                               name if isinstance(name, str) else None)
    full = {"name": _text(strip_deleted_suffix(name)) if isinstance(name, str) else None,
            "first": first, "last": last,
            "company": _text(customer.get("CompanyName")),
            "email": _text((customer.get("PrimaryEmailAddr") or {}).get("Address")),
            "phone": _text((customer.get("PrimaryPhone") or {}).get("FreeFormNumber")),
            "address": _address(customer.get("BillAddr"), 1),
            "active": bool(customer.get("Active", True))}
    return {k: full[k] for k in contact_fields(is_business)}


def canopy_item(item: Mapping[str, Any]) -> Canonical:
    return {"name": _text(item.get("name")), "rate": _rate(item.get("rate")), "sku": _text(item.get("sku")),
            "description": _text(item.get("description")),
            "active": bool(item.get("is_active", True)) and not item.get("is_deleted")}


def qbo_item(item: Mapping[str, Any]) -> Canonical:
    name = item.get("Name")
    return {"name": _text(strip_deleted_suffix(name)) if isinstance(name, str) else None,
            "rate": _rate(item.get("UnitPrice") or 0),
            "sku": _text(item.get("Sku")), "description": _text(item.get("Description")),
            "active": bool(item.get("Active", True))}


def content_hash(content: Mapping[str, Any]) -> str:
    """Stable over key order; what a link stores as the hash of the content last synced."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Merge:
    merged: Canonical
    to_canopy: Canonical
    """Fields whose Canopy value must change (empty: write nothing)."""
    to_qbo: Canonical
    conflicts: tuple[str, ...]
    """Fields both sides changed; the later side won them."""


def merge(base: Mapping[str, Any] | None, canopy: Mapping[str, Any], qbo: Mapping[str, Any],
          canopy_changed_at: datetime | None, qbo_changed_at: datetime | None) -> Merge:
    """Three-way merge over the fields both projections carry. Without a base (two records
    just linked), every differing field counts as changed on both sides."""
    later: Side = "canopy" if _stamp(canopy_changed_at) >= _stamp(qbo_changed_at) else "qbo"
    merged: Canonical = {}
    conflicts: list[str] = []
    for field in canopy.keys() & qbo.keys():
        c, q = canopy[field], qbo[field]
        b = base.get(field) if base is not None and field in base else object()
        c_changed, q_changed = c != b, q != b
        if c == q:
            merged[field] = c
        elif c_changed and q_changed:
            merged[field] = c if later == "canopy" else q
            conflicts.append(field)
        else:
            merged[field] = c if c_changed else q
    ordered = {k: merged[k] for k in canopy if k in merged}
    return Merge(ordered, {k: v for k, v in ordered.items() if canopy[k] != v},
                 {k: v for k, v in ordered.items() if qbo[k] != v}, tuple(sorted(conflicts)))


def _stamp(when: datetime | None) -> float:
    return when.timestamp() if when is not None else float("-inf")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def canopy_changed_at(record: Mapping[str, Any]) -> datetime | None:
    return parse_time(record.get("updated_at"))


def qbo_changed_at(record: Mapping[str, Any]) -> datetime | None:
    return parse_time((record.get("MetaData") or {}).get("LastUpdatedTime"))


# --- writes: canonical differences as each API's body ----------------------------------------

def with_both_names(changes: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """D-55: a first or last name goes to QBO with its twin. A customer named by its display name
    (no `GivenName`, no `FamilyName`) that is given only a family name would otherwise lose the
    first name its display name gave it."""
    if {"first", "last"} & changes.keys():
        return {**changes, "first": merged.get("first"), "last": merged.get("last")}
    return dict(changes)


def qbo_customer_body(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A sparse update (or create) body for the changed canonical contact fields."""
    out: dict[str, Any] = {}
    simple = {"name": "DisplayName", "first": "GivenName", "last": "FamilyName", "company": "CompanyName"}
    for field, value in changes.items():
        if field in simple:
            out[simple[field]] = value or ""
        elif field == "email":
            out["PrimaryEmailAddr"] = {"Address": value or ""}
        elif field == "phone":
            out["PrimaryPhone"] = {"FreeFormNumber": value or ""}
        elif field == "address":
            out["BillAddr"] = {qbo: (value or {}).get(canon, "") for canon, _, qbo in ADDRESS_PARTS}
        elif field == "active":
            out["Active"] = bool(value)
    return out


def canopy_client_patch(changes: Mapping[str, Any], client: Mapping[str, Any]) -> dict[str, Any]:
    """A PATCH body for the changed fields; contact lists keep their other entries."""
    out: dict[str, Any] = {}
    simple = {"name": "display_name", "first": "first_name", "last": "last_name", "company": "business_name"}
    for field, value in changes.items():
        if field in simple:
            out[simple[field]] = value or ""
        elif field == "active":
            out["is_archived"] = not value
        elif field == "address":
            others = [a for a in (client.get("addresses") or []) if isinstance(a, dict) and not a.get("is_primary")]
            kept = [{k: v for k, v in a.items() if k in {c for _, c, _ in ADDRESS_PARTS} | {"type"} and v}
                    for a in others]
            new = {canopy: value[canon] for canon, canopy, _ in ADDRESS_PARTS if value and value.get(canon)}
            out["addresses"] = ([{**new, "type": "WORK", "is_primary": True}] if new else []) + kept
        elif field in ("email", "phone"):
            key, listed = ("email", "emails") if field == "email" else ("number", "phones")
            others = [e for e in (client.get(listed) or []) if isinstance(e, dict) and not e.get("is_primary")]
            others = [{k: v for k, v in e.items() if k in (key, "type", "extension")} for e in others]
            out[listed] = ([{key: value, "type": "WORK", "is_primary": True}] if value else []) + others
    return out


def qbo_item_body(changes: Mapping[str, Any]) -> dict[str, Any]:
    names = {"name": "Name", "sku": "Sku", "description": "Description"}
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field in names:
            out[names[field]] = value or ""
        elif field == "rate":
            out["UnitPrice"] = Decimal(value or "0")
        elif field == "active":
            out["Active"] = bool(value)
    return out


def canopy_item_body(changes: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ("name", "sku", "description"):
            out[field] = value if value is not None or field == "name" else None
        elif field == "rate":
            out["rate"] = format(Decimal(value or "0").quantize(Decimal("0.01")), "f")
        elif field == "active":
            out["is_active"] = bool(value)
    return out
