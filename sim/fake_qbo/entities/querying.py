"""Queries over the store: the query package decides, the indexes fetch.

The conditions on indexed columns (`Id`, the name in `key`, `alt`, `Active`,
`MetaData.LastUpdatedTime`) pick the candidate rows in SQL; every condition
is then applied again in Python by the query package, so a hint may widen
the candidates but never changes the answer. When every condition was
pushed down exactly and the order is the default (by Id), SQL also does the
paging and `COUNT(*)` is a SQL count.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sim.core.clock import parse_iso

from .. import query as q
from ..query import Cond, Count, FieldType, Query
from . import resource, rules
from .spec import EntitySpec, Session
from .table import spec_for_query

LAST_UPDATED = "MetaData.LastUpdatedTime"


@dataclass
class Plan:
    """What SQL can do for one query: `find` filters, and whether they are the
    whole WHERE clause (`exact`)."""

    find: dict[str, Any] = field(default_factory=dict)
    exact: bool = True


def entity_of(query: Query) -> EntitySpec:
    spec = spec_for_query(query.entity)
    if spec is None:
        raise q.QueryError(q.INVALID, "Invalid query",
                           f"QueryValidationError: Entity '{query.entity}' is not supported or is not queryable")
    return spec


def with_aliases(query: Query, spec: EntitySpec) -> Query:
    """`PrimaryEmailAddr = 'x'` compares the address inside the object."""
    if not spec.where_aliases:
        return query
    folded = {k.casefold(): v for k, v in spec.where_aliases.items()}
    where = tuple(replace(c, path=folded.get(c.path.casefold(), c.path)) for c in query.where)
    return replace(query, where=where)


def indexed_paths(spec: EntitySpec) -> list[str]:
    paths = ["Id", LAST_UPDATED]
    if spec.key_field:
        paths.append(spec.key_field)
    if spec.alt_field and spec.alt_field in spec.fields:
        paths.append(spec.alt_field)
    if spec.name_list:
        paths.append("Active")
    return paths


def plan(query: Query, spec: EntitySpec) -> Plan:
    """Map the query's index hints onto `TenantStore.find` arguments."""
    out = Plan()
    hinted = q.index_hints(query, indexed_paths(spec))
    if len(hinted) != len(query.where):
        out.exact = False
    for cond in hinted:
        if not _push(out.find, cond, spec):
            out.exact = False
    if spec.name_list and q.default_active_filter(query):
        out.find["active"] = True
    return out


def _push(find: dict[str, Any], cond: Cond, spec: EntitySpec) -> bool:
    """Add one hint to `find`; True when the store then filters exactly as
    the query package would."""
    path, op, value = cond.path, cond.op, cond.value
    if path == "Id":
        return _push_id(find, op, value)
    if path == LAST_UPDATED:
        if op in (">=", ">") and isinstance(value, str) and "changed_since" not in find:
            try:
                find["changed_since"] = parse_iso(value.strip()).timestamp()
            except ValueError:
                pass
        return False  # seconds in the body, sub-seconds in the column: always re-check
    if path == "Active":
        return _push_active(find, op, value)
    if path == spec.key_field and spec.fields.get(path) in (FieldType.STRING, FieldType.ENUM):
        return _push_text(find, "key", "keys", op, value)
    if path == spec.alt_field:
        if spec.fields.get(path) is FieldType.REF:
            return _push_ref(find, op, value)
        return op == "=" and isinstance(value, str) and _set_once(find, "alt", value.casefold())
    return False


def _push_active(find: dict[str, Any], op: str, value: Any) -> bool:
    """`Active = b` and `Active IN (...)`: both values asked for means no filter at all."""
    wanted = {value} if op == "=" else set(value) if op == "IN" else None
    if not wanted or not all(isinstance(v, bool) for v in wanted) or "active" in find:
        return False
    if len(wanted) == 1:
        find["active"] = wanted.pop()
    return True


def _set_once(find: dict[str, Any], key: str, value: Any) -> bool:
    if key in find:
        return False
    find[key] = value
    return True


def _push_text(find: dict[str, Any], one: str, many: str, op: str, value: Any) -> bool:
    if op == "=" and isinstance(value, str):
        return _set_once(find, one, value.casefold())
    if op == "IN" and all(isinstance(v, str) for v in value):
        return _set_once(find, many, [v.casefold() for v in value])
    return False


def _canonical(value: Any) -> str | None:
    """A numeric id literal as stored ("058" -> "58"); None if not numeric."""
    n = rules.sync_token(value)
    return None if n is None else str(n)


def _push_ref(find: dict[str, Any], op: str, value: Any) -> bool:
    if op == "=":
        id_ = _canonical(value)
        return id_ is not None and _set_once(find, "alt", id_)
    return False


def _push_id(find: dict[str, Any], op: str, value: Any) -> bool:
    if op == "IN":
        ids = [_canonical(v) for v in value]
        return None not in ids and _set_once(find, "ids", ids)
    n = rules.sync_token(value)
    if n is None:
        return False
    lo, hi = find.get("num_range", (None, None))
    bounds = {"=": (n, n), ">=": (n, None), ">": (n + 1, None), "<=": (None, n), "<": (None, n - 1)}[op]
    lo = bounds[0] if lo is None else (lo if bounds[0] is None else max(lo, bounds[0]))
    hi = bounds[1] if hi is None else (hi if bounds[1] is None else min(hi, bounds[1]))
    find["num_range"] = (lo, hi)
    return True


def run(s: Session, text: str) -> dict[str, Any]:
    """A query statement -> the `QueryResponse` body. Raises `QueryError`."""
    query = q.parse(text)
    spec = entity_of(query)
    query = with_aliases(query, spec)
    bound = q.bind(query, spec.fields)
    start, maxres = q.paging(bound)
    p = plan(bound, spec)
    if isinstance(bound.select, Count):
        return {"totalCount": _count(s, spec, bound, p)}
    if p.exact and not bound.order:
        recs = s.store.find(spec.name, **p.find, limit=maxres, offset=start - 1)
        rows = [q.project(resource.render(r.data), bound.select) for r in recs]
    else:
        records = [r.data for r in s.store.find(spec.name, **p.find)]
        result = q.apply(bound, records, spec.fields, active_only=spec.name_list)
        rows = [resource.render(r) for r in result.rows]
    if not rows:
        return {}
    return {spec.name: rows, "startPosition": start, "maxResults": len(rows)}


def _count(s: Session, spec: EntitySpec, bound: Query, p: Plan) -> int:
    if p.exact and set(p.find) <= {"key", "active"}:
        return s.store.count(spec.name, **p.find)
    if p.exact:
        return len(s.store.find(spec.name, **p.find))
    records = [r.data for r in s.store.find(spec.name, **p.find)]
    return q.apply(bound, records, spec.fields, active_only=spec.name_list).total

