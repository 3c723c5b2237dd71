"""Immutable syntax tree for a QBO query.

Frozen dataclasses so queries are hashable, comparable (the printer round
trip relies on ``==``) and safe to share between requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

Scalar = Union[str, Decimal, bool]
Value = Union[Scalar, tuple[Scalar, ...]]

OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "LIKE", "IN"})


@dataclass(frozen=True)
class Star:
    """``SELECT *``: every property of the entity."""


@dataclass(frozen=True)
class Count:
    """``SELECT COUNT(*)``: only the number of matching rows is returned."""


@dataclass(frozen=True)
class Fields:
    """An explicit field list; ``star`` is set for the ``*, Sku`` form."""

    names: tuple[str, ...]
    star: bool = False

    def __post_init__(self) -> None:
        # An empty list would print as "SELECT *, FROM" or collapse into Star.
        if not self.names:
            raise ValueError("Fields needs at least one name; use Star() for '*'")


Select = Union[Star, Count, Fields]


@dataclass(frozen=True)
class Cond:
    """``path op value``; for ``IN`` the value is a tuple of scalars."""

    path: str
    op: str
    value: Value

    def __post_init__(self) -> None:
        # Guard hand-built ASTs so the printer never emits unparsable text.
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")
        if (self.op == "IN") != isinstance(self.value, tuple) or self.value == ():
            raise ValueError("IN takes a non-empty tuple of values; other operators a scalar")


@dataclass(frozen=True)
class Order:
    """One ORDERBY key."""

    path: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A whole statement; ``start``/``max`` are None when not written."""

    select: Select
    entity: str
    where: tuple[Cond, ...] = ()
    order: tuple[Order, ...] = ()
    start: int | None = None
    max: int | None = None
