"""Money as `Decimal`, written as a decimal string ("100.00"), never a float."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
MAX = Decimal("1000000000")


def parse(value: Any, *, places: int = 2) -> Decimal | None:
    """A JSON string or number as a Decimal with at most `places` decimals; None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        return None
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite() or abs(d) >= MAX:
        return None
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places and d != d.quantize(Decimal(1).scaleb(-places)):
        return None
    return d


def cents(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def text(d: Decimal) -> str:
    """Two decimals at least ("100.00"); more only when the value has them (rates, quantities)."""
    exponent = d.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{d:.{places}f}"


def quantity_text(d: Decimal) -> str:
    """Quantities without padding ("1", "1.5")."""
    n = d.normalize()
    return f"{n:f}"
