""":class:`Query` -> canonical text, the inverse of ``parse``.

Canonical form: upper-case keywords, ``ORDERBY`` (Intuit's documented
spelling), single spaces, ``true``/``false``, plain decimal notation, and
strings with ``\\`` and ``'`` backslash-escaped so ``parse(to_text(q)) == q``.
"""

from __future__ import annotations

from decimal import Decimal

from .ast import Cond, Count, Fields, Order, Query, Scalar, Select, Star


def to_text(query: Query) -> str:
    """Print ``query`` as one line of QBO query text."""
    parts = [f"SELECT {_select(query.select)} FROM {query.entity}"]
    if query.where:
        parts.append("WHERE " + " AND ".join(_cond(c) for c in query.where))
    if query.order:
        parts.append("ORDERBY " + ", ".join(_order(o) for o in query.order))
    if query.start is not None:
        parts.append(f"STARTPOSITION {query.start}")
    if query.max is not None:
        parts.append(f"MAXRESULTS {query.max}")
    return " ".join(parts)


def _select(select: Select) -> str:
    if isinstance(select, Star):
        return "*"
    if isinstance(select, Count):
        return "COUNT(*)"
    if isinstance(select, Fields):
        names = ", ".join(select.names)
        return f"*, {names}" if select.star else names
    raise TypeError(f"not a select clause: {select!r}")


def _cond(cond: Cond) -> str:
    if cond.op == "IN":
        return f"{cond.path} IN ({', '.join(literal(v) for v in cond.value)})"
    return f"{cond.path} {cond.op} {literal(cond.value)}"


def _order(order: Order) -> str:
    return f"{order.path} DESC" if order.descending else order.path


def literal(value: Scalar) -> str:
    """One value as query text; bool is checked before numbers on purpose."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot print non-finite number {value}")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"not a query literal: {value!r}")
