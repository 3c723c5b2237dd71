"""JSON with money as `Decimal` end to end.

QBO sends amounts as JSON numbers; a float round trip would turn 0.1 + 0.2
into 0.30000000000000004. simplejson reads numbers with a fraction as
`Decimal` and writes `Decimal` back as a bare number.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def dumps(obj: Any, *, sort_keys: bool = False, indent: int | None = None) -> str:
    return simplejson.dumps(obj, use_decimal=True, sort_keys=sort_keys, indent=indent,
                            ensure_ascii=False, separators=(",", ":") if indent is None else None)


def loads(text: str | bytes) -> Any:
    """Parse JSON; non-integral numbers become `Decimal`, never float."""
    return simplejson.loads(text, use_decimal=True)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)
