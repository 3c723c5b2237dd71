"""Semantic checks of a parsed query against one entity's field map."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .ast import Cond, Count, Fields, Order, Query, Star
from .errors import parse_error
from .fields import FieldType, check_op, literal_key, resolve

DEFAULT_MAX_RESULTS = 100
# Intuit documents 1000 as the maximum page; larger requests are capped to it
# rather than rejected (python-quickbooks users routinely ask for more).
MAX_RESULTS_LIMIT = 1000


def validate(query: Query, fields: Mapping[str, FieldType]) -> None:
    """Raise ``QueryError`` (4000/4001/4002) if the query cannot run on ``fields``."""
    bind(query, fields)


def bind(query: Query, fields: Mapping[str, FieldType]) -> Query:
    """Validate and return the query with every path spelled canonically.

    Values stay as parsed; evaluation re-derives typed keys from them.
    """
    where = tuple(bind_cond(c, fields) for c in query.where)
    order = tuple(Order(resolve(o.path, fields)[0], o.descending) for o in query.order)
    select = query.select
    if isinstance(select, Fields):
        select = Fields(tuple(resolve(n, fields)[0] for n in select.names), select.star)
    elif not isinstance(select, (Star, Count)):
        raise TypeError(f"not a select clause: {select!r}")
    paging(query)
    return replace(query, select=select, where=where, order=order)


def bind_cond(cond: Cond, fields: Mapping[str, FieldType]) -> Cond:
    """Check one condition (4001 unknown path/operator, 4002 bad literal)."""
    path, ftype = resolve(cond.path, fields)
    check_op(path, ftype, cond.op)
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    for value in values:
        literal_key(value, ftype, path, cond.op)
    return Cond(path, cond.op, cond.value)


def paging(query: Query) -> tuple[int, int]:
    """Effective 1-based (start, max): STARTPOSITION 0 means 1, MAXRESULTS is
    capped at 1000; a negative start or a max below 1 is a 4000."""
    start = 1 if query.start is None else query.start
    if start < 0:
        raise parse_error(f"QueryParserError: STARTPOSITION must be 1 or greater, got {start}")
    maxres = DEFAULT_MAX_RESULTS if query.max is None else query.max
    if maxres < 1:
        raise parse_error(f"QueryParserError: MAXRESULTS must be 1 or greater, got {maxres}")
    return max(start, 1), min(maxres, MAX_RESULTS_LIMIT)
