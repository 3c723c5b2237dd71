"""What a storage layer may learn from a query without evaluating it."""

from __future__ import annotations

from collections.abc import Collection

from .ast import Cond, Query

_PUSHABLE = frozenset({"=", "IN", "<", ">", "<=", ">="})


def default_active_filter(query: Query) -> bool:
    """True when WHERE never names ``Active``: name-list entities then return
    active rows only (QBO shows inactive ones only when asked explicitly)."""
    return not any(c.path.casefold() == "active" for c in query.where)


def index_hints(query: Query, indexed: Collection[str]) -> list[Cond]:
    """Conditions on ``indexed`` paths that a database can pre-filter with.

    Paths come back spelled as in ``indexed``; values as parsed (a Decimal
    for numbers, so cast as the column needs). Each hint is one of the
    query's own conditions, hence exact when applied with *this* package's
    semantics: string/enum ``=``/``IN``/ranges case-insensitively, ID/ref
    values numerically, datetimes as instants. Where a database cannot honour
    that, it must widen (or skip) the hint, never narrow it: the caller
    re-applies every condition in Python afterwards. ``LIKE 'abc%'`` is
    offered as a case-insensitive prefix test only when the prefix holds no
    ``%``, ``_`` or backslash, so it maps to SQL without escaping.
    """
    by_fold = {name.casefold(): name for name in indexed}
    hints: list[Cond] = []
    for cond in query.where:
        name = by_fold.get(cond.path.casefold())
        if name is None:
            continue
        if cond.op in _PUSHABLE or _is_prefix_like(cond):
            hints.append(Cond(name, cond.op, cond.value))
    return hints


def _is_prefix_like(cond: Cond) -> bool:
    if cond.op != "LIKE" or not isinstance(cond.value, str):
        return False
    prefix, pct, rest = cond.value.partition("%")
    return bool(prefix) and pct == "%" and rest == "" and not any(c in prefix for c in "_\\")
