"""The change feed: an append-only, ordered log of every write, per firm.

Each event has a sequence number from the firm's counter, written in the
same transaction as the change it records, so the feed never shows a change
that was rolled back nor misses one that was committed. A cursor is an
opaque string encoding the last sequence seen; it stays valid for ever.

An event shows the record as it was written (`data`). While the record is
still at that version, the event does not store a copy of it: its row says
which version it shows (`version`) and which record (`alt`, the record's id,
set only while the event points at it), and a page reads the body from the
record. Before a record changes, `keep` writes the body it had into the
event that points at it, so an event's `data` never moves (docs/decisions.md
D-52). A seeded world thus holds each record once, not twice.
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


def emit(t: TenantStore, type_: str, rec: Rec, at_iso: str, at_ts: float) -> dict[str, Any]:
    """Record that `rec` (just written) changed; the event as readers see it."""
    seq = t.next_id("event_seq")
    head = {"id": str(seq), "sequence": seq, "type": type_, "resource_type": rec.entity,
            "resource_id": rec.id, "occurred_at": at_iso}
    t.insert(Rec(ENTITY, str(seq), head, version=rec.version, alt=rec.id, num=seq, changed_at=at_ts))
    return {**head, "data": rec.data}


def keep(t: TenantStore, entity: str, id: str) -> None:
    """Before record `entity` `id` is overwritten: the event showing its stored version keeps a copy."""
    for ev in t.find(ENTITY, alt=id):
        if ev.data["resource_type"] != entity:
            continue
        rec = t.get(entity, id)
        if rec is not None and rec.version == ev.version:
            t.replace(Rec(ENTITY, ev.id, {**ev.data, "data": rec.data}, version=ev.version, num=ev.num,
                          changed_at=ev.changed_at))


def _shown(t: TenantStore, ev: Rec) -> dict[str, Any]:
    if "data" in ev.data:
        return ev.data
    head = ev.data
    rec = t.get(head["resource_type"], head["resource_id"])
    if rec is None or rec.version != ev.version:
        raise RuntimeError(f"feed event {ev.id} points at {head['resource_type']} {head['resource_id']} "
                           f"version {ev.version}, which is no longer stored")
    return {**head, "data": rec.data}


def page(t: TenantStore, after: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Events after `after`, in order; the last sequence returned; whether more wait."""
    recs = t.find(ENTITY, num_range=(after + 1, None), limit=limit + 1, deleted=None)
    more = len(recs) > limit
    events = [_shown(t, r) for r in recs[:limit]]
    last = events[-1]["sequence"] if events else after
    return events, last, more
