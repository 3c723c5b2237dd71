"""Run a query over plain record dicts: filter, order, page, project.

Everything here is a pure function of its arguments; records are never
mutated and returned rows are deep copies, so callers may serialise or edit
them freely.
"""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .ast import Cond, Count, Fields, Order, Query
from .fields import MISSING, FieldType, literal_key, lookup, record_key, record_text, resolve
from .hints import default_active_filter
from .validate import bind, bind_cond, paging

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]

_COMPARE = {
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Result:
    """One page of a query: ``total`` counts every match, ``rows`` only the page
    (empty for COUNT); ``start``/``max`` are the effective paging values."""

    rows: list[dict]
    total: int
    start: int
    max: int


def compile_cond(cond: Cond, fields: Mapping[str, FieldType]) -> Predicate:
    """Validate one condition and turn it into a record predicate.

    A record whose field is missing, null or unreadable never matches.
    """
    bound = bind_cond(cond, fields)
    path, ftype = resolve(bound.path, fields)
    if bound.op == "LIKE":
        pattern = _like_regex(literal_key(bound.value, ftype, path, "LIKE"))
        return lambda record: _like(pattern, record_text(lookup(record, path), ftype))
    if bound.op == "IN":
        keys = [literal_key(v, ftype, path) for v in bound.value]
        return lambda record: _in(record_key(lookup(record, path), ftype), keys)
    compare = _COMPARE[bound.op]
    wanted = literal_key(bound.value, ftype, path)
    return lambda record: _cmp(compare, record_key(lookup(record, path), ftype), wanted)


def _like_regex(pattern: str) -> re.Pattern[str]:
    """``%`` is the only wildcard; everything else (``_`` included) is literal."""
    return re.compile(".*".join(re.escape(piece) for piece in pattern.split("%")), re.S)


def _like(pattern: re.Pattern[str], text: str | None) -> bool:
    return text is not None and pattern.fullmatch(text) is not None


def _in(key: Any, keys: list[Any]) -> bool:
    return key is not None and any(key == k for k in keys)


def _cmp(compare: Callable[[Any, Any], bool], key: Any, wanted: Any) -> bool:
    return key is not None and compare(key, wanted)


def compile_where(conds: Iterable[Cond], fields: Mapping[str, FieldType]) -> Predicate:
    """All conditions ANDed (the language has no OR)."""
    predicates = [compile_cond(c, fields) for c in conds]
    return lambda record: all(p(record) for p in predicates)


def matches(
    query_or_conds: Query | Cond | Iterable[Cond],
    record: Record,
    fields: Mapping[str, FieldType],
) -> bool:
    """Does ``record`` satisfy the WHERE clause (or the given conditions)?"""
    if isinstance(query_or_conds, Query):
        conds: Iterable[Cond] = query_or_conds.where
    elif isinstance(query_or_conds, Cond):
        conds = (query_or_conds,)
    else:
        conds = query_or_conds
    return compile_where(conds, fields)(record)


class _Desc:
    """Inverts the order of a key so one ``sorted`` call handles ASC/DESC mixes."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key


def _present(key: Any) -> tuple:
    """Missing values sort before present ones (SQL Server's NULLS FIRST)."""
    return (0,) if key is None else (1, key)


def sort_key(order: Sequence[Order], fields: Mapping[str, FieldType]) -> Callable[[Record], tuple]:
    """Key for ``sorted``: the ORDERBY keys, then Id ascending as tie-breaker,
    so with no ORDERBY the result is by Id, numerically."""
    resolved = [(*resolve(o.path, fields), o.descending) for o in order]

    def key(record: Record) -> tuple:
        parts: list[Any] = []
        for path, ftype, descending in resolved:
            part = _present(record_key(lookup(record, path), ftype))
            parts.append(_Desc(part) if descending else part)
        parts.append(_present(record_key(lookup(record, "Id"), FieldType.ID)))
        return tuple(parts)

    return key


def project(record: Record, select: Any) -> dict:
    """Copy of ``record`` cut down to ``Id`` plus the listed (canonical) paths;
    dotted paths keep their nesting. ``*``, ``COUNT`` and ``*, X`` keep all."""
    if not isinstance(select, Fields) or select.star:
        return copy.deepcopy(dict(record))
    row: dict = {}
    for path in ("Id", *select.names):
        value = lookup(record, path)
        if value is MISSING:
            continue
        node = row
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = copy.deepcopy(value)
    return row


def _is_active(record: Record) -> bool:
    """QBO's implicit name-list filter; a record without ``Active`` is active."""
    return record.get("Active", True) is not False


def apply(
    query: Query,
    records: Iterable[Record],
    fields: Mapping[str, FieldType],
    *,
    active_only: bool = False,
) -> Result:
    """Validate and run ``query``. With ``active_only`` (name-list entities),
    inactive records are dropped unless the WHERE clause mentions Active."""
    bound = bind(query, fields)
    start, maxres = paging(bound)
    keep = compile_where(bound.where, fields)
    implicit = active_only and default_active_filter(bound)
    hits = [r for r in records if (not implicit or _is_active(r)) and keep(r)]
    if isinstance(bound.select, Count):
        return Result([], len(hits), start, maxres)
    hits.sort(key=sort_key(bound.order, fields))
    page = hits[start - 1 : start - 1 + maxres]
    return Result([project(r, bound.select) for r in page], len(hits), start, maxres)
