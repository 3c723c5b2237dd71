"""Change data capture: `GET /v3/company/{realm}/cdc?entities=...&changedSince=...`.

Every object of the named entities changed at or after `changedSince`:
full objects for creates, updates and deactivations, `status: "Deleted"`
stubs for deleted transactions, grouped one entity per element as QBO
groups them. At most 1,000 objects an answer: past that, the oldest 1,000
(by change time), so a caller advances `changedSince` to the last one it
saw (docs/decisions.md). `changedSince` more than 30 days back on the
company's clock is refused, as QBO refuses it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .entities import SPECS_BY_NAME, Session, resource
from .errors import QboFault

MAX_OBJECTS = 1000
MAX_DAYS = 30


def parse_entities(raw: str | None) -> list[str]:
    names = [n.strip() for n in (raw or "").split(",") if n.strip()]
    if not names:
        raise QboFault("2020", "Required param missing, need to supply the required value for the API",
                       "Required parameter entities is missing in the request", element="entities")
    canonical = {name.casefold(): name for name in SPECS_BY_NAME}
    out = []
    for name in names:
        found = canonical.get(name.casefold())
        if found is None or SPECS_BY_NAME[found].kind.name == "SINGLETON":
            raise QboFault("2010", "Request has invalid or unsupported property",
                           f"Property Name:entities specified is unsupported or invalid: {name}", element="entities")
        if found not in out:
            out.append(found)
    return out


def parse_since(raw: str | None, s: Session) -> float:
    """An ISO 8601 instant; without an offset it is the company's local time
    (python-quickbooks sends `%Y-%m-%dT%H:%M:%S`); a bare date is its midnight."""
    if not raw:
        raise QboFault("2020", "Required param missing, need to supply the required value for the API",
                       "Required parameter changedSince is missing in the request", element="changedSince")
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:changedSince has an invalid value: {raw}", element="changedSince") from None
    if when.tzinfo is None:
        local = datetime.fromisoformat(s.stamp).tzinfo
        when = when.replace(tzinfo=local)
    since = when.timestamp()
    if since < s.ts - MAX_DAYS * 86400:
        raise QboFault("6000", "A business validation error has occurred while processing your request",
                       f"Business Validation Error: Operation cdc with changedSince date {raw} which is older "
                       f"than fixed days is not supported.")
    return since


def changes(s: Session, entities: list[str], since: float) -> list[dict[str, Any]]:
    """The `QueryResponse` list: one element per entity, in the order asked."""
    found = []
    for name in entities:
        for rec in s.store.find(name, changed_since=since, deleted=None, order="changed", limit=MAX_OBJECTS):
            found.append((rec.changed_at or 0.0, name, int(rec.id) if rec.id.isdigit() else 0, rec))
    found.sort(key=lambda t: (t[0], t[1], t[2]))
    kept = found[:MAX_OBJECTS]
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
    for _, name, _, rec in kept:
        grouped[name].append(resource.render(rec.data))
    out = []
    for name in entities:
        rows = grouped[name]
        out.append({name: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
    return out
