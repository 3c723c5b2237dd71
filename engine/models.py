"""Plain input records for the pure core: what the shell reads, reduced to what the rules need.

Each record keeps only the fields a rule in docs/rules.md looks at, so tests can build
them by hand. The `from_*` constructors read the JSON shapes of QBO and Canopy; they
never fetch anything. Money is `Decimal` throughout (D-16).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal


class ImportChoice(enum.Enum):
    """The R5 import filter the user picks in the contacts step."""

    ALL = "all"
    ACTIVE = "active"
    INACTIVE = "inactive"


def to_decimal(value: object) -> Decimal:
    """Read a rate as an exact Decimal (D-9); a float goes through `str` so 0.1 stays 0.1.

    Callers should parse JSON with `parse_float=Decimal`; this is the safety net.
    """
    if isinstance(value, bool):
        raise TypeError(f"not a rate: {value!r}")
    try:
        out = Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a rate: {value!r}") from exc
    if not out.is_finite():
        raise ValueError(f"not a finite rate: {value!r}")
    return out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Contact:
    """A Canopy client (the article's "contact"); only its display name takes part in matching (R6)."""

    id: str
    display_name: str

    @classmethod
    def from_canopy(cls, data: Mapping[str, Any]) -> Contact:
        return cls(id=str(data["id"]), display_name=str(data["display_name"]))


@dataclass(frozen=True)
class Customer:
    """A QBO Customer: the name fields R6/D-5 read, `Active` for R5, `Job` for sub-customers."""

    id: str
    display_name: str
    active: bool = True
    company_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    job: bool = False

    @classmethod
    def from_qbo(cls, data: Mapping[str, Any]) -> Customer:
        return cls(id=str(data["Id"]), display_name=str(data["DisplayName"]),
                   active=bool(data.get("Active", True)), company_name=_text(data.get("CompanyName")),
                   given_name=_text(data.get("GivenName")), family_name=_text(data.get("FamilyName")),
                   job=bool(data.get("Job", False)))


@dataclass(frozen=True)
class NameHolder:
    """A QBO Vendor or Employee: it shares the name list with customers (R7, D-3)."""

    id: str
    kind: Literal["vendor", "employee"]
    display_name: str
    active: bool = True

    @classmethod
    def from_qbo(cls, kind: Literal["vendor", "employee"], data: Mapping[str, Any]) -> NameHolder:
        return cls(id=str(data["Id"]), kind=kind, display_name=str(data["DisplayName"]),
                   active=bool(data.get("Active", True)))


@dataclass(frozen=True)
class ServiceItem:
    """A Canopy service item: name, rate and SKU are the R15 match keys."""

    id: str
    name: str
    rate: Decimal
    sku: str | None = None

    @classmethod
    def from_canopy(cls, data: Mapping[str, Any]) -> ServiceItem:
        return cls(id=str(data["id"]), name=str(data["name"]), rate=to_decimal(data["rate"]),
                   sku=_text(data.get("sku")))


@dataclass(frozen=True)
class QboItem:
    """A QBO Item; only `Type` Service takes part in R15. A missing `UnitPrice` reads as 0."""

    id: str
    name: str
    type: str = "Service"
    unit_price: Decimal = Decimal(0)
    sku: str | None = None

    @classmethod
    def from_qbo(cls, data: Mapping[str, Any]) -> QboItem:
        price = data.get("UnitPrice")
        return cls(id=str(data["Id"]), name=str(data["Name"]), type=str(data.get("Type", "")),
                   unit_price=Decimal(0) if price is None else to_decimal(price), sku=_text(data.get("Sku")))


@dataclass(frozen=True)
class Account:
    """A QBO Account, as far as the default income account (R17, D-12) needs it."""

    id: str
    account_type: str
    active: bool = True
    name: str = ""

    @classmethod
    def from_qbo(cls, data: Mapping[str, Any]) -> Account:
        return cls(id=str(data["Id"]), account_type=str(data.get("AccountType", "")),
                   active=bool(data.get("Active", True)), name=str(data.get("Name", "")))


@dataclass(frozen=True)
class ItemLink:
    """An existing link between a Canopy service item and a QBO item (kept by R16)."""

    canopy_id: str
    qbo_id: str
