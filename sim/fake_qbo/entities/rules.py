"""QBO's entity rules as plain functions: no store, no clock, no HTTP.

What python-quickbooks sends shapes much of this: empty strings and nulls
for every unset field (read as absent), Decimals as strings, an int
SyncToken, and on a full update everything it read back, read-only fields
included.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..query.fields import to_decimal
from . import faults

CENT = Decimal("0.01")
DELETED_SUFFIX = " (deleted)"
NAME_FORBIDDEN = ":\t\n"
"""Characters QBO refuses in names (accounts also refuse a double quote)."""

NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")


# -- input shape ---------------------------------------------------------------
def clean(value: Any) -> Any:
    """Drop what stands for "unset": None, "" and objects left empty by that.

    Returns None when the whole value is unset. Lists keep their place (an
    empty `Line` list is a value) but lose unset elements.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            c = clean(v)
            if c is not None:
                out[k] = c
        return out or None
    if isinstance(value, list):
        return [c for c in (clean(v) for v in value) if c is not None]
    return value


def unknown_fields(body: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [k for k in body if k not in known]


def merge(old: Mapping[str, Any], sent: Mapping[str, Any], writable: Iterable[str],
          sparse: bool) -> dict[str, Any]:
    """The writable fields after an update.

    Sparse: the old values with the sent ones laid over (top level only:
    a sent object or list replaces the old one whole). Full: only what was
    sent; an omitted writable field is cleared.
    """
    writable = set(writable)
    base = {k: v for k, v in old.items() if k in writable} if sparse else {}
    base.update((k, v) for k, v in sent.items() if k in writable)
    return base


def sync_token(value: Any) -> int | None:
    """A SyncToken as sent (str or int) -> int; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def positive_id(value: Any) -> str | None:
    """An `Id` as python-quickbooks decides it: a positive integer, else none."""
    n = sync_token(value)
    return str(n) if n is not None and n > 0 else None


# -- numbers -------------------------------------------------------------------
def to_number(value: Any, field: str) -> int | Decimal:
    """An int stays an int; Decimals and numeric strings become Decimal (2010 otherwise)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = to_decimal(value)
    if number is None:
        raise faults.invalid_value(field, str(value) if isinstance(value, Decimal) else value)
    return number


def money(value: int | Decimal) -> Decimal:
    """Rounded to the cent (half up), written with the fewest decimals, at least one.

    QBO writes `150.0`, `10.5`, `362.07`; never a float artefact.
    """
    cents = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    if cents == cents.to_integral_value():
        return cents.quantize(Decimal("0.0"))
    if cents == cents.quantize(Decimal("0.1")):
        return cents.quantize(Decimal("0.1"))
    return cents


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def is_zero(value: Any) -> bool:
    return value is None or value == 0


def supplied(amount: Decimal | int) -> str:
    """An amount as QBO quotes it back: `1,000`, `1,234.5`."""
    value = Decimal(amount).normalize()
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,f}"


# -- names ---------------------------------------------------------------------
def name_key(name: str) -> str:
    """The form names are compared in for uniqueness (D-18: case ignored)."""
    return name.casefold()


def check_name(name: str, element: str, forbidden: str = NAME_FORBIDDEN) -> None:
    """6000 for a name holding a colon, tab or newline (colons build FQNs)."""
    bad = [c for c in forbidden if c in name]
    if bad:
        shown = ", ".join({":": "a colon (:)", "\t": "a tab", "\n": "a newline", '"': 'a double quote (")'}
                          .get(c, repr(c)) for c in bad)
        raise faults.business(f"{element} can't contain {shown}.", element=element)


def with_deleted(name: str) -> str:
    """D-17: an inactive record's name carries " (deleted)", freeing the original."""
    return name if name.endswith(DELETED_SUFFIX) else name + DELETED_SUFFIX


def without_deleted(name: str) -> str:
    return name.removesuffix(DELETED_SUFFIX)


def display_name(fields: Mapping[str, Any]) -> str | None:
    """DisplayName as sent, else built from the name parts (QBO does this)."""
    given = fields.get("DisplayName")
    if isinstance(given, str) and given.strip():
        return given.strip()
    parts = [str(fields[p]).strip() for p in NAME_PARTS if isinstance(fields.get(p), str) and fields[p].strip()]
    return " ".join(parts) or None


def fully_qualified(parent_fqn: str | None, name: str) -> str:
    return f"{parent_fqn}:{name}" if parent_fqn else name


def deactivation_name(name: str, was_active: bool, active: bool) -> str:
    """The stored name given the Active transition (D-17).

    Going or staying inactive adds the suffix; coming back strips it; an
    active record keeps its name as sent.
    """
    if not active:
        return with_deleted(name)
    if not was_active:
        return without_deleted(name)
    return name


# -- invoice lines ---------------------------------------------------------------
def check_line_amount(amount: Decimal | int, qty: Any, price: Any) -> None:
    """6070 when Qty and UnitPrice are both non-zero and Amount is not their
    product to the cent; with either zero or absent the Amount stands."""
    if is_zero(qty) or is_zero(price):
        return
    if money(Decimal(qty) * Decimal(price)) != money(amount):
        raise faults.amount_mismatch(supplied(amount))


def line_ids(lines: list[dict[str, Any]]) -> list[str]:
    """Line Ids: a sent positive unique Id is kept; others get the next free one."""
    taken: set[int] = set()
    kept: list[int | None] = []
    for line in lines:
        n = sync_token(line.get("Id"))
        if n is not None and n > 0 and n not in taken:
            taken.add(n)
            kept.append(n)
        else:
            kept.append(None)
    nxt = max(taken, default=0)
    out = []
    for n in kept:
        if n is None:
            nxt += 1
            n = nxt
        out.append(str(n))
    return out


def discount_amount(detail: Mapping[str, Any], amount: Decimal | None, subtotal: Decimal) -> Decimal:
    """A discount line's amount: a percentage of the subtotal, or as sent."""
    if detail.get("PercentBased") and detail.get("DiscountPercent") is not None:
        return money(subtotal * Decimal(detail["DiscountPercent"]) / 100)
    return money(amount or 0)


def invoice_totals(sale_amounts: Iterable[Decimal], discounts: Iterable[Decimal]) -> tuple[Decimal, Decimal]:
    """(subtotal, total): total = lines - discounts (no tax in the fake)."""
    subtotal = money(sum(sale_amounts, Decimal(0)))
    total = money(subtotal - sum(discounts, Decimal(0)))
    return subtotal, total


def voided_note(note: str | None) -> str:
    """PrivateNote after a void: "Voided", keeping what was there after it."""
    if not note:
        return "Voided"
    return note if note.startswith("Voided") else f"Voided - {note}"
