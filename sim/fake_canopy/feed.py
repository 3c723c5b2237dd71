"""The change feed: an append-only, ordered log of every write, per firm.

Each event has a sequence number from the firm's counter, written in the
same transaction as the change it records, so the feed never shows a change
that was rolled back nor misses one that was committed. A cursor is an
opaque string encoding the last sequence seen; it stays valid for ever.
"""
from __future__ import annotations

from typing import Any

from sim.core.store import Rec, TenantStore

from . import cursors

ENTITY = "event"


def encode_cursor(seq: int) -> str:
    return cursors.encode("seq", seq)


def decode_cursor(cursor: str, name: str = "cursor") -> int:
    return cursors.decode("seq", cursor, name)


def emit(t: TenantStore, type_: str, resource: str, data: dict[str, Any], at_iso: str,
         at_ts: float) -> dict[str, Any]:
    seq = t.next_id("event_seq")
    event = {"id": str(seq), "sequence": seq, "type": type_, "resource_type": resource,
             "resource_id": data["id"], "occurred_at": at_iso, "data": data}
    t.insert(Rec(ENTITY, str(seq), event, num=seq, changed_at=at_ts))
    return event


def page(t: TenantStore, after: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Events after `after`, in order; the last sequence returned; whether more wait."""
    recs = t.find(ENTITY, num_range=(after + 1, None), limit=limit + 1, deleted=None)
    more = len(recs) > limit
    events = [r.data for r in recs[:limit]]
    last = events[-1]["sequence"] if events else after
    return events, last, more
