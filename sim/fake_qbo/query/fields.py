"""Field types and the two coercions every comparison goes through.

A query literal and a stored record value are both turned into a *key* of
the same Python type (``casefold`` str, ``Decimal``, ``int``, ``date``, aware
``datetime``...), so matching and ordering are plain ``==``/``<`` on keys.
Query literals that cannot become a key are the client's fault (4002);
stored values that cannot are treated as missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from .ast import Scalar
from .errors import invalid, processing
from .printer import literal


class FieldType(Enum):
    STRING = "string"
    BOOL = "bool"
    DECIMAL = "decimal"
    ID = "id"  # numeric string, compared numerically
    INT = "int"
    DATE = "date"  # 'YYYY-MM-DD'
    DATETIME = "datetime"  # ISO 8601, compared as instants
    REF = "ref"  # {"value": "58", "name": ...}; compared on value, ID-style
    ENUM = "enum"  # a string from a fixed set


_ORDERED = frozenset({"=", "<", ">", "<=", ">=", "IN"})
ALLOWED_OPS: Mapping[FieldType, frozenset[str]] = {
    FieldType.STRING: _ORDERED | {"LIKE"},
    FieldType.REF: frozenset({"=", "IN", "LIKE"}),
    FieldType.ENUM: frozenset({"=", "IN", "LIKE"}),
    FieldType.BOOL: frozenset({"=", "IN"}),
    FieldType.ID: _ORDERED,
    FieldType.DECIMAL: _ORDERED,
    FieldType.INT: _ORDERED,
    FieldType.DATE: _ORDERED,
    FieldType.DATETIME: _ORDERED,
}

# Every entity is keyed by Id; it is queryable and the default sort even when
# an entity's field map forgets to list it.
IMPLICIT_FIELDS: Mapping[str, FieldType] = {"Id": FieldType.ID}

# A WHERE datetime without an offset (or a bare date) is read in this zone.
NAIVE_TZ = timezone.utc

# Sentinel for "no usable value": absent key, JSON null, or unreadable text.
MISSING = object()


def resolve(path: str, fields: Mapping[str, FieldType]) -> tuple[str, FieldType]:
    """Map a path as written to its canonical key and type.

    Property names are case-insensitive (``displayname`` finds
    ``DisplayName``); an exact spelling wins if the map has near-duplicates.
    """
    if path in fields:
        return path, fields[path]
    folded = path.casefold()
    for name, ftype in fields.items():
        if name.casefold() == folded:
            return name, ftype
    for name, ftype in IMPLICIT_FIELDS.items():
        if name.casefold() == folded:
            return name, ftype
    raise invalid(f"QueryValidationError: property '{path}' is not queryable")


def check_op(path: str, ftype: FieldType, op: str) -> None:
    """4001 when the operator makes no sense for the field's type."""
    if op not in ALLOWED_OPS[ftype]:
        raise invalid(
            f"QueryValidationError: operator '{op}' is not supported for property "
            f"'{path}' of type {ftype.name}"
        )


def literal_key(value: Scalar, ftype: FieldType, path: str, op: str = "=") -> Any:
    """Turn a WHERE literal into a comparison key, or raise 4002."""
    key = _literal_key(value, ftype, op)
    if key is MISSING:
        raise processing(
            f"QueryValidationError: value {literal(value)} is not a valid "
            f"{ftype.name} for property '{path}'"
        )
    return key


def _literal_key(value: Scalar, ftype: FieldType, op: str) -> Any:
    if op == "LIKE":
        # LIKE is textual whatever the field: only a quoted pattern makes sense.
        return value.casefold() if isinstance(value, str) else MISSING
    if ftype in (FieldType.STRING, FieldType.ENUM):
        return value.casefold() if isinstance(value, str) else MISSING
    if isinstance(value, bool):
        return value if ftype is FieldType.BOOL else MISSING
    if ftype is FieldType.BOOL:
        return _to_bool(value)
    if ftype is FieldType.ID:
        as_int = _to_int(value)
        return MISSING if as_int is None else (0, as_int)
    if ftype is FieldType.REF:
        return _id_key(value)
    if ftype is FieldType.INT:
        as_int = _to_int(value)
        return MISSING if as_int is None else as_int
    if ftype is FieldType.DECIMAL:
        number = to_decimal(value)
        return MISSING if number is None else number
    if ftype is FieldType.DATE:
        return _to_date(value) if isinstance(value, str) else MISSING
    if ftype is FieldType.DATETIME:
        return _to_instant(value) if isinstance(value, str) else MISSING
    raise AssertionError(ftype)  # pragma: no cover


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """Walk a dotted path through nested dicts; ``MISSING`` if absent or null."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return MISSING if node is None else node


def record_key(raw: Any, ftype: FieldType) -> Any:
    """Key of a stored value; ``None`` when missing or unreadable (never matches)."""
    if raw is MISSING:
        return None
    key = _record_key(raw, ftype)
    return None if key is MISSING else key


def record_text(raw: Any, ftype: FieldType) -> str | None:
    """Casefolded text a LIKE pattern runs against (a ref's value for REF)."""
    if raw is MISSING:
        return None
    if ftype is FieldType.REF:
        raw = raw.get("value") if isinstance(raw, Mapping) else raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
    return raw.casefold() if isinstance(raw, str) else None


def _record_key(raw: Any, ftype: FieldType) -> Any:
    if ftype in (FieldType.STRING, FieldType.ENUM):
        return raw.casefold() if isinstance(raw, str) else MISSING
    if ftype is FieldType.BOOL:
        return raw if isinstance(raw, bool) else _to_bool(raw)
    if ftype is FieldType.REF:
        raw = raw.get("value", MISSING) if isinstance(raw, Mapping) else raw
        return MISSING if raw is MISSING or raw is None else _id_key(raw)
    if isinstance(raw, bool):
        return MISSING
    if ftype is FieldType.ID:
        return _id_key(raw)
    if ftype is FieldType.INT:
        as_int = _to_int(raw)
        return MISSING if as_int is None else as_int
    if ftype is FieldType.DECIMAL:
        number = to_decimal(raw)
        return MISSING if number is None else number
    if ftype is FieldType.DATE:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if not isinstance(raw, str):
            return MISSING
        day = _to_date(raw)
        if day is MISSING:  # a stored timestamp in a date field: use its day
            moment = _to_instant(raw)
            day = MISSING if moment is MISSING else moment.date()
        return day
    if ftype is FieldType.DATETIME:
        if isinstance(raw, datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=NAIVE_TZ)
        return _to_instant(raw) if isinstance(raw, str) else MISSING
    raise AssertionError(ftype)  # pragma: no cover


def _id_key(raw: Any) -> Any:
    """Id-like key: numeric ids as ``(0, n)`` sort before any text id ``(1, s)``."""
    as_int = _to_int(raw)
    if as_int is not None:
        return (0, as_int)
    if isinstance(raw, str):
        return (1, raw.casefold())
    return MISSING


def _to_bool(value: Any) -> Any:
    """'true'/'false' in any case; anything else (numbers too) is not a bool."""
    if not isinstance(value, str):
        return MISSING
    return {"true": True, "false": False}.get(value.strip().lower(), MISSING)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, str):
        text = value.strip()
        body = text[1:] if text[:1] in "+-" else text
        return int(text) if body.isascii() and body.isdigit() else None
    return None


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a number or numeric text; None when there is none (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _to_date(text: str) -> Any:
    """Only the documented 'YYYY-MM-DD' form (fromisoformat alone is laxer)."""
    text = text.strip()
    if not _DATE.fullmatch(text):
        return MISSING
    try:
        return date.fromisoformat(text)
    except ValueError:
        return MISSING


def _to_instant(text: str) -> Any:
    """ISO 8601 -> aware datetime; no offset means ``NAIVE_TZ``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return MISSING
    return moment if moment.tzinfo else moment.replace(tzinfo=NAIVE_TZ)
