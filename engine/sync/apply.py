"""Applying one inbox event: re-read the record at its source, decide, write idempotently.

Webhooks and CDC can be stale, repeated or out of order, so an event only names a record;
what to do comes from the records' current state on both sides, the link and its merge base
(`engine.sync.canonical`), decided by the same pure functions as setup (`engine.matching`,
`engine.mapping`). Every write carries a key derived from what it writes (`requestid` for
QBO, `Idempotency-Key` for Canopy), so applying an event twice writes nothing twice.

Rules: R12 (contacts both ways, linking instead of a second record, duplicates reported),
R13/R14 (no items or invoices unless that step finished), R18 (items both ways), R19
(invoices Canopy -> QBO, held while a reference is unlinked), R20 (no echo).
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine import mapping
from engine.clients import CanopyClient, NotFound, QboClient, StaleObject, UpstreamError
from engine.matching import normalise_name, strip_deleted_suffix
from engine.store import IncomingEvent, LinkPair, LinkRow, LogEntry, Store
from engine.sync import canonical as cn

ATTEMPTS_ON_STALE = 3
"""A record edited between our read and our write (stale SyncToken / ETag) is read again."""


@dataclass
class Target:
    """What one apply works with: the connection, its clients, the store and the time.

    Log lines are kept until the next write and committed in its transaction (or, when an
    apply writes nothing, with the event's "done" mark: `take_log`), so a line never says what
    a rolled-back change did, and a crash loses the line together with the change it records.
    """

    store: Store
    conn: Any
    qbo: QboClient
    canopy: CanopyClient
    now: datetime
    contacts_review: int | None = None
    """The setup review the contacts step synced (its job id), to know what setup already saw."""
    items_review: int | None = None
    pending: list[LogEntry] = field(default_factory=list)

    async def seen_at_setup(self, kind: str, canopy_id: str | None = None, qbo_id: str | None = None) -> str | None:
        """The review section of a record setup saw and did not link (R5, R7, R9, R15)."""
        job = self.contacts_review if kind == "contact" else self.items_review
        if job is None:
            return None
        return await self.store.call(self.store.review_section_of, job, canopy_id=canopy_id, qbo_id=qbo_id)

    def not_new(self, kind: str, section: str, **ids: str) -> str:
        """Ongoing sync creates and links new records only; setup's leftovers wait (R24 resolves them)."""
        rule = {"unmatched": "R9", "duplicates": "R7", "outside_filter": "R5", "item_unmatched": "R15"}.get(section,
                                                                                                          "R11")
        self.log(kind, "skipped", rule, f"not_linked_at_setup:{section}", **ids)
        return "skipped"

    def entry(self, kind: str, action: str, rule: str | None, reason: str | None = None, **fields: Any) -> LogEntry:
        return LogEntry(kind=kind, action=action, rule=rule, reason=reason, at=self.now, **fields)

    def log(self, kind: str, action: str, rule: str | None, reason: str | None = None, **fields: Any) -> None:
        """A log line, written with the next write (see the class)."""
        self.pending.append(self.entry(kind, action, rule, reason, **fields))

    def take_log(self) -> list[LogEntry]:
        entries, self.pending = self.pending, []
        return entries

    async def write(self, *ops: Callable[[Session], Any]) -> None:
        """One transaction, off the event loop: `ops` in order, then the log lines so far."""
        entries = self.take_log()

        def run() -> None:
            with self.store.session() as s:
                for op in ops:
                    op(s)
                self.store.append_log(self.conn.id, entries, self.now, session=s)
        await self.store.call(run)

    async def link(self, kind: str, canopy_id: str | None = None, qbo_id: str | None = None) -> LinkRow | None:
        if canopy_id is not None:
            return await self.store.call(self.store.link_by_canopy, self.conn.id, kind, canopy_id)
        assert qbo_id is not None
        return await self.store.call(self.store.link_by_qbo, self.conn.id, kind, qbo_id)

    async def add_link(self, kind: str, canopy_id: str, qbo_id: str, synced: cn.Canonical | None,
                       digest: str | None = None) -> None:
        """Link two records (with the log lines so far); a contact or item may be what a held
        invoice waits for. `digest`: the hash of what was sent, when there is no merge base."""
        pair = linked(canopy_id, qbo_id, synced) if digest is None else LinkPair(canopy_id, qbo_id, digest, digest,
                                                                                 synced)
        ops: list[Callable[[Session], Any]] = [
            lambda s: self.store.add_links(self.conn.id, kind, [pair], self.now, session=s)]
        if kind in ("contact", "item"):
            ops.append(lambda s: self.retry_held(s, kind, canopy_id))
        await self.write(*ops)

    async def set_synced(self, kind: str, canopy_id: str, synced: Any, digest: str | None, *,
                         retry_held: bool = False) -> None:
        ops: list[Callable[[Session], Any]] = [
            lambda s: self.store.set_link_synced(self.conn.id, kind, canopy_id, synced, digest, self.now, session=s)]
        if retry_held:
            ops.append(lambda s: self.retry_held(s, kind, canopy_id, linked_now=False))  # e.g. a customer active again
        await self.write(*ops)

    async def hold(self, kind: str, canopy_id: str, reasons: list[str], entry: LogEntry) -> None:
        """Hold a record; `entry` is logged only when that is news (new, or other reasons)."""
        def op(s: Session) -> None:
            if self.store.hold(self.conn.id, kind, canopy_id, reasons, self.now, session=s):
                self.store.append_log(self.conn.id, [entry], self.now, session=s)
        await self.write(op)

    async def release(self, kind: str, canopy_id: str) -> None:
        await self.write(lambda s: self.store.release(self.conn.id, kind, canopy_id, session=s))

    def retry_held(self, s: Session, kind: str, canopy_id: str, linked_now: bool = True) -> None:
        """A new link may be the reference a held invoice waits for, and a changed contact or
        item may be why QBO refused one: look again at those, and only those (R19, D-50)."""
        def waits_for(reasons: list[str]) -> bool:
            if any(r.startswith("qbo_refused") for r in reasons):
                return True
            if not linked_now:
                return False
            return ("client_unlinked" in reasons if kind == "contact"
                    else f"item_unlinked:{canopy_id}" in reasons)

        held = [h for h in self.store.held(self.conn.id, "invoice", session=s) if waits_for(list(h.reasons or []))]
        if held:
            self.store.add_inbox(self.conn.id, [IncomingEvent("canopy", "invoice", h.canopy_id,
                                                              {"reason": "reference_linked"}) for h in held],
                                 self.now, session=s)


def linked(canopy_id: str, qbo_id: str, synced: cn.Canonical | None) -> LinkPair:
    """A new link; with the content both records agree on, its merge base and hashes too."""
    digest = cn.content_hash(synced) if synced is not None else None
    return LinkPair(canopy_id, qbo_id, digest, digest, synced)


def key(*parts: object) -> str:
    """An idempotency key from what a write is about; short enough for QBO's 50 characters."""
    return "e" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:40]


def esc(text: str) -> str:
    """A literal in QBO's query language."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


async def apply_event(t: Target, source: str, kind: str, record_id: str) -> str:
    """Apply one event; answers what happened, in a word, for the worker's counters."""
    conn = t.conn
    if (source, kind) in (("canopy", "client"), ("qbo", "Customer")):
        if not conn.ongoing_contacts:
            return "waiting"
        return await (contact_from_canopy(t, record_id) if source == "canopy" else contact_from_qbo(t, record_id))
    if (source, kind) in (("canopy", "service_item"), ("qbo", "Item"), ("canopy", "invoice")):
        if not conn.ongoing_items:  # R13 (no items step at all), R14 (skipped), or not finished yet
            if not conn.items_skipped:
                return "waiting"
            t.log("item" if kind != "invoice" else "invoice", "skipped", "R14", "items_step_skipped",
                  **({"canopy_id": record_id} if source == "canopy" else {"qbo_id": record_id}))
            return "skipped"
        if kind == "invoice":
            return await invoice_from_canopy(t, record_id)
        return await (item_from_canopy(t, record_id) if source == "canopy" else item_from_qbo(t, record_id))
    return "ignored"  # QBO invoices (R19 is one way), payments (R23, later), other kinds


# --- contacts (R12) -----------------------------------------------------------------------------

async def _client(t: Target, client_id: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        client, etag = await t.canopy.get_versioned("clients", client_id)
    except NotFound:
        return None, None
    return (None, None) if client.get("is_deleted") else (client, etag)


async def _customer(t: Target, customer_id: str) -> dict[str, Any] | None:
    try:
        return await t.qbo.get("Customer", customer_id)
    except NotFound:
        return None


async def contact_from_canopy(t: Target, client_id: str) -> str:
    link = await t.link("contact", canopy_id=client_id)
    if link is not None:
        return await reconcile_contact(t, link, source="canopy")
    client, _ = await _client(t, client_id)
    if client is None:
        return "ignored"
    if (section := await t.seen_at_setup("contact", canopy_id=client_id)) is not None:
        return t.not_new("contact", section, canopy_id=client_id)
    if client.get("is_archived"):
        t.log("contact", "skipped", "R12", "archived_and_not_linked", canopy_id=client_id)
        return "skipped"
    name = str(client["display_name"])
    norm = normalise_name(name)
    holders = []
    for entity in ("Vendor", "Employee"):
        rows = await t.qbo.query(f"select * from {entity} where DisplayName = '{esc(name)}'")
        holders += [entity.lower() for r in rows if normalise_name(str(r.get("DisplayName", ""))) == norm]
    # inactive customers carry " (deleted)" after their name (D-17): find them by prefix
    same = [c for c in await t.qbo.query("select * from Customer where Active IN (true, false) and "
                                         f"DisplayName LIKE '{esc(name)}%'")
            if normalise_name(str(c.get("DisplayName", ""))) == norm]
    twins = [c for c in await t.canopy.search_clients(name)
             if str(c["id"]) != client_id and normalise_name(str(c.get("name", ""))) == norm]
    linked = [c for c in same if await t.link("contact", qbo_id=str(c["Id"])) is not None]
    reasons = ([f"qbo_{h}" for h in sorted(set(holders))] + (["name_taken_by_linked_record"] if linked else [])
               + (["several_canopy_contacts"] if twins and not linked else [])
               + (["several_qbo_customers"] if len(same) > 1 and not linked else []))
    if reasons:
        t.log("contact", "skipped", "R12", "duplicate:" + ",".join(reasons), canopy_id=client_id,
              direction="canopy_to_qbo", detail={"name": name})
        return "duplicate"
    if same:
        t.log("contact", "linked", "R12", "same_name", canopy_id=client_id, qbo_id=str(same[0]["Id"]),
              direction="canopy_to_qbo")
        await t.add_link("contact", client_id, str(same[0]["Id"]), None)
        return await reconcile_contact(t, await t.link("contact", canopy_id=client_id))  # type: ignore[arg-type]
    mine = cn.canopy_contact(client)
    body = cn.qbo_customer_body({k: v for k, v in mine.items() if v is not None})
    body.setdefault("DisplayName", name)
    created = await t.qbo.create("Customer", body, key("c2q", t.conn.id, client_id))
    qbo_id = str(created["Id"])
    t.log("contact", "created", "R12", None, canopy_id=client_id, qbo_id=qbo_id, direction="canopy_to_qbo")
    await t.add_link("contact", client_id, qbo_id, cn.qbo_contact(created, bool(client.get("is_business"))))
    return "created"


async def contact_from_qbo(t: Target, customer_id: str) -> str:
    link = await t.link("contact", qbo_id=customer_id)
    if link is not None:
        return await reconcile_contact(t, link, source="qbo")
    customer = await _customer(t, customer_id)
    if customer is None:
        return "ignored"
    if (section := await t.seen_at_setup("contact", qbo_id=customer_id)) is not None:
        return t.not_new("contact", section, qbo_id=customer_id)
    if not customer.get("Active", True):
        t.log("contact", "skipped", "R12", "inactive_and_not_linked", qbo_id=customer_id)
        return "skipped"
    name = strip_deleted_suffix(str(customer["DisplayName"]))
    norm = normalise_name(name)
    found = [c for c in await t.canopy.search_clients(name) if normalise_name(str(c.get("name", ""))) == norm]
    linked = [c for c in found if await t.link("contact", canopy_id=str(c["id"])) is not None]
    if linked or len(found) > 1:
        reason = "name_taken_by_linked_record" if linked else "several_canopy_contacts"
        t.log("contact", "skipped", "R12", f"duplicate:{reason}", qbo_id=customer_id, direction="qbo_to_canopy",
              detail={"name": name})
        return "duplicate"
    if found:
        t.log("contact", "linked", "R12", "same_name", canopy_id=str(found[0]["id"]), qbo_id=customer_id,
              direction="qbo_to_canopy")
        await t.add_link("contact", str(found[0]["id"]), customer_id, None)
        return await reconcile_contact(t, await t.link("contact", qbo_id=customer_id))  # type: ignore[arg-type]
    body = mapping.canopy_client_from_customer(customer)
    created = await t.canopy.create("clients", body, key("q2c", t.conn.id, customer_id))
    canopy_id = str(created["id"])
    t.log("contact", "created", "R12", None, canopy_id=canopy_id, qbo_id=customer_id, direction="qbo_to_canopy")
    await t.add_link("contact", canopy_id, customer_id, cn.canopy_contact(created))
    return "created"


async def reconcile_contact(t: Target, link: LinkRow, source: str | None = None) -> str:
    """Both records of a linked pair, merged against what was last synced; write the differences."""
    for attempt in range(ATTEMPTS_ON_STALE):
        base = link.synced if attempt == 0 else None
        pair = await _read_pair(source, base, lambda: _client(t, link.canopy_id), lambda: _customer(t, link.qbo_id),
                                cn.canopy_contact, functools.partial(cn.qbo_contact, is_business="company" in (base or {})))
        if pair is None:
            return "unchanged"
        (client, etag), customer = pair
        if customer is None:
            t.log("contact", "failed", "R12", "qbo_customer_missing", canopy_id=link.canopy_id, qbo_id=link.qbo_id)
            return "failed"
        if client is None:  # deleted in Canopy: QBO customers are never deleted, only made inactive
            if customer.get("Active", True):
                await t.qbo.update("Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"],
                                                "sparse": True, "Active": False},
                                   key("inactive", t.conn.id, link.qbo_id, customer["SyncToken"]))
                t.log("contact", "applied", "R12", "deleted_in_canopy", canopy_id=link.canopy_id,
                      qbo_id=link.qbo_id, direction="canopy_to_qbo", detail={"Active": False})
                return "applied"
            return "unchanged"
        business = bool(client.get("is_business"))
        mine, theirs = cn.canopy_contact(client), cn.qbo_contact(customer, business)
        m = cn.merge(link.synced, mine, theirs, cn.canopy_changed_at(client), cn.qbo_changed_at(customer))
        try:
            await _write_pair(t, "contact", link, m, client, etag, customer, cn.qbo_customer_body,
                              functools.partial(_client_patch, client=client), "Customer", "clients")
        except StaleObject:
            continue
        return "applied" if (m.to_qbo or m.to_canopy) else "unchanged"
    t.log("contact", "failed", "R21", "changed_during_every_attempt", canopy_id=link.canopy_id, qbo_id=link.qbo_id)
    return "failed"


CanopyRead = tuple[dict[str, Any] | None, str | None]


async def _read_pair(source: str | None, base: cn.Canonical | None,
                     read_canopy: Callable[[], Awaitable[CanopyRead]],
                     read_qbo: Callable[[], Awaitable[dict[str, Any] | None]],
                     view_canopy: Callable[[dict[str, Any]], cn.Canonical],
                     view_qbo: Callable[[dict[str, Any]], cn.Canonical]) -> tuple[CanopyRead, Any] | None:
    """Both records of a linked pair, the event's side first. None when that side still equals
    the base: the event is an echo of our own write or already applied (R20), and the other
    side is not even read."""
    if base is not None and source == "qbo":
        qbo_rec = await read_qbo()
        if qbo_rec is not None and view_qbo(qbo_rec) == base:
            return None
        return await read_canopy(), qbo_rec
    canopy = await read_canopy()
    if base is not None and source == "canopy" and canopy[0] is not None and view_canopy(canopy[0]) == base:
        return None
    return canopy, await read_qbo()


def _client_patch(changes: cn.Canonical, client: dict[str, Any]) -> dict[str, Any]:
    return cn.canopy_client_patch(changes, client)


async def _write_pair(t: Target, kind: str, link: LinkRow, m: cn.Merge, canopy_rec: dict[str, Any],
                      etag: str | None, qbo_rec: dict[str, Any], qbo_body: Any, canopy_body: Any,
                      qbo_entity: str, canopy_kind: str) -> None:
    """Write a merge's differences to each side, then store the merge as the new base."""
    if m.to_qbo:
        to_qbo = cn.with_both_names(m.to_qbo, m.merged) if kind == "contact" else m.to_qbo
        await t.qbo.update(qbo_entity, {"Id": qbo_rec["Id"], "SyncToken": qbo_rec["SyncToken"], "sparse": True,
                                        **qbo_body(to_qbo)},
                           key("u", t.conn.id, qbo_entity, qbo_rec["Id"], qbo_rec["SyncToken"],
                               cn.content_hash(m.merged)))
    if m.to_canopy:
        await t.canopy.patch(canopy_kind, link.canopy_id, canopy_body(m.to_canopy),
                             key("p", t.conn.id, canopy_kind, link.canopy_id, etag, cn.content_hash(m.merged)),
                             if_match=etag)
    rule = "R12" if kind == "contact" else "R18"
    if m.to_qbo:
        t.log(kind, "applied", rule, "conflict_later_wins:" + ",".join(m.conflicts) if m.conflicts else None,
              canopy_id=link.canopy_id, qbo_id=link.qbo_id, direction="canopy_to_qbo",
              detail={"fields": sorted(m.to_qbo)})
    if m.to_canopy:
        t.log(kind, "applied", rule, "conflict_later_wins:" + ",".join(m.conflicts) if m.conflicts else None,
              canopy_id=link.canopy_id, qbo_id=link.qbo_id, direction="qbo_to_canopy",
              detail={"fields": sorted(m.to_canopy)})
    await t.set_synced(kind, link.canopy_id, m.merged, cn.content_hash(m.merged),
                       retry_held=bool(m.to_qbo or m.to_canopy))


# --- service items (R18) ------------------------------------------------------------------------

async def _service_item(t: Target, item_id: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        item, etag = await t.canopy.get_versioned("service_items", item_id)
    except NotFound:
        return None, None
    return (None, None) if item.get("is_deleted") else (item, etag)


async def _qbo_item(t: Target, item_id: str) -> dict[str, Any] | None:
    try:
        return await t.qbo.get("Item", item_id)
    except NotFound:
        return None


async def item_from_canopy(t: Target, item_id: str) -> str:
    link = await t.link("item", canopy_id=item_id)
    if link is not None:
        return await reconcile_item(t, link, source="canopy")
    item, _ = await _service_item(t, item_id)
    if item is None or not item.get("is_active", True):
        return "ignored"
    if (section := await t.seen_at_setup("item", canopy_id=item_id)) is not None:
        return t.not_new("item", section, canopy_id=item_id)
    name = str(item["name"])
    same = [q for q in await t.qbo.query(f"select * from Item where Name = '{esc(name)}'")
            if normalise_name(str(q.get("Name", ""))) == normalise_name(name)]
    free = [q for q in same if q.get("Type") == "Service" and await t.link("item", qbo_id=str(q["Id"])) is None]
    if len(same) != len(free) or len(free) > 1:
        t.log("item", "skipped", "R18", "duplicate:name_taken", canopy_id=item_id, direction="canopy_to_qbo",
              detail={"name": name})
        return "duplicate"
    if free:
        t.log("item", "linked", "R18", "same_name", canopy_id=item_id, qbo_id=str(free[0]["Id"]))
        await t.add_link("item", item_id, str(free[0]["Id"]), None)
        return await reconcile_item(t, await t.link("item", canopy_id=item_id))  # type: ignore[arg-type]
    mine = cn.canopy_item(item)
    body = {**cn.qbo_item_body({k: v for k, v in mine.items() if v is not None}), "Type": "Service"}
    if t.conn.income_account_id:
        body["IncomeAccountRef"] = {"value": t.conn.income_account_id}
    created = await t.qbo.create("Item", body, key("i2q", t.conn.id, item_id))
    t.log("item", "created", "R18", None, canopy_id=item_id, qbo_id=str(created["Id"]), direction="canopy_to_qbo")
    await t.add_link("item", item_id, str(created["Id"]), cn.qbo_item(created))
    return "created"


async def item_from_qbo(t: Target, item_id: str) -> str:
    link = await t.link("item", qbo_id=item_id)
    if link is not None:
        return await reconcile_item(t, link, source="qbo")
    item = await _qbo_item(t, item_id)
    if item is None or item.get("Type") != "Service" or not item.get("Active", True):
        return "ignored"
    if (section := await t.seen_at_setup("item", qbo_id=item_id)) is not None:
        return t.not_new("item", section, qbo_id=item_id)
    norm = normalise_name(str(item["Name"]))
    same = [c for c in await t.canopy.list_all("service_items")
            if not c.get("is_deleted") and normalise_name(str(c.get("name", ""))) == norm]
    free = [c for c in same if await t.link("item", canopy_id=str(c["id"])) is None]
    if len(same) != len(free) or len(free) > 1:
        t.log("item", "skipped", "R18", "duplicate:name_taken", qbo_id=item_id, direction="qbo_to_canopy",
              detail={"name": item["Name"]})
        return "duplicate"
    if free:
        t.log("item", "linked", "R18", "same_name", canopy_id=str(free[0]["id"]), qbo_id=item_id)
        await t.add_link("item", str(free[0]["id"]), item_id, None)
        return await reconcile_item(t, await t.link("item", qbo_id=item_id))  # type: ignore[arg-type]
    theirs = cn.qbo_item(item)
    body = cn.canopy_item_body({k: v for k, v in theirs.items() if v is not None and k != "active"})
    created = await t.canopy.create("service_items", body, key("q2i", t.conn.id, item_id))
    t.log("item", "created", "R18", None, canopy_id=str(created["id"]), qbo_id=item_id, direction="qbo_to_canopy")
    await t.add_link("item", str(created["id"]), item_id, cn.canopy_item(created))
    return "created"


async def reconcile_item(t: Target, link: LinkRow, source: str | None = None) -> str:
    """As `reconcile_contact`, for service items (R18)."""
    for attempt in range(ATTEMPTS_ON_STALE):
        base = link.synced if attempt == 0 else None
        pair = await _read_pair(source, base, lambda: _service_item(t, link.canopy_id),
                                lambda: _qbo_item(t, link.qbo_id), cn.canopy_item, cn.qbo_item)
        if pair is None:
            return "unchanged"
        (item, etag), qitem = pair
        if qitem is None:
            t.log("item", "failed", "R18", "qbo_item_missing", canopy_id=link.canopy_id, qbo_id=link.qbo_id)
            return "failed"
        if item is None:
            item_view = {**cn.qbo_item(qitem), "active": False}  # deleted in Canopy: deactivate in QBO
            m = cn.merge(link.synced, item_view, cn.qbo_item(qitem), t.now, cn.qbo_changed_at(qitem))
            if m.to_qbo:
                await t.qbo.update("Item", {"Id": qitem["Id"], "SyncToken": qitem["SyncToken"], "sparse": True,
                                            "Active": False}, key("iinactive", t.conn.id, qitem["Id"],
                                                                  qitem["SyncToken"]))
                t.log("item", "applied", "R18", "deleted_in_canopy", canopy_id=link.canopy_id, qbo_id=link.qbo_id,
                      direction="canopy_to_qbo")
                return "applied"
            return "unchanged"
        m = cn.merge(link.synced, cn.canopy_item(item), cn.qbo_item(qitem), cn.canopy_changed_at(item),
                     cn.qbo_changed_at(qitem))
        try:
            await _write_pair(t, "item", link, m, item, etag, qitem, cn.qbo_item_body, cn.canopy_item_body,
                              "Item", "service_items")
        except StaleObject:
            continue
        return "applied" if (m.to_qbo or m.to_canopy) else "unchanged"
    t.log("item", "failed", "R21", "changed_during_every_attempt", canopy_id=link.canopy_id, qbo_id=link.qbo_id)
    return "failed"


# --- invoices (R19) -------------------------------------------------------------------------------

async def invoice_from_canopy(t: Target, invoice_id: str) -> str:
    """One way, Canopy -> QBO: create, update, void, delete; held while a reference is unlinked."""
    try:
        invoice: dict[str, Any] | None = await t.canopy.get("invoices", invoice_id)
    except NotFound:
        invoice = None
    link = await t.link("invoice", canopy_id=invoice_id)
    gone = invoice is None or invoice.get("is_deleted")
    if gone or (invoice or {}).get("status") == "void":
        await t.release("invoice", invoice_id)
        if link is None:
            return "ignored"
        action = "delete" if gone else "void"
        if link.canopy_hash == action:
            return "unchanged"
        try:
            current = await t.qbo.get("Invoice", link.qbo_id)
        except NotFound:
            current = None
        if current is not None:
            write = t.qbo.delete if gone else t.qbo.void
            await write("Invoice", link.qbo_id, str(current["SyncToken"]), key(action, t.conn.id, link.qbo_id))
        t.log("invoice", "applied", "R19", "deleted_in_canopy" if gone else "voided_in_canopy", canopy_id=invoice_id,
              qbo_id=link.qbo_id, direction="canopy_to_qbo")
        await t.set_synced("invoice", invoice_id, None, action)
        return "applied"
    assert invoice is not None
    customers = await _linked(t, "contact", [str(invoice["client_id"])])
    items = await _linked(t, "item", [str(line["service_item_id"]) for line in invoice.get("lines") or []])
    decision = mapping.qbo_invoice(invoice, customers, items)
    if decision.body is None:
        await t.hold("invoice", invoice_id, decision.held,
                     t.entry("invoice", "held", "R19", ",".join(decision.held), canopy_id=invoice_id,
                             direction="canopy_to_qbo", detail={"number": invoice.get("number")}))
        return "held"
    await t.release("invoice", invoice_id)
    digest = cn.content_hash(decision.body)
    if link is None:
        try:
            created = await t.qbo.create("Invoice", decision.body, key("inv", t.conn.id, invoice_id))
        except UpstreamError as exc:
            return await _refused_invoice(t, invoice_id, invoice, exc)
        t.log("invoice", "created", "R19", None, canopy_id=invoice_id, qbo_id=str(created["Id"]),
              direction="canopy_to_qbo")
        await t.add_link("invoice", invoice_id, str(created["Id"]), None, digest)
        return "created"
    if link.canopy_hash == digest:
        return "unchanged"  # R20: nothing new since the last send
    for _ in range(ATTEMPTS_ON_STALE):
        current = await t.qbo.get("Invoice", link.qbo_id)
        try:
            await t.qbo.update("Invoice", {**decision.body, "Id": current["Id"], "SyncToken": current["SyncToken"]},
                               key("uinv", t.conn.id, link.qbo_id, current["SyncToken"], digest), sparse=False)
        except StaleObject:
            continue
        except UpstreamError as exc:
            return await _refused_invoice(t, invoice_id, invoice, exc)
        t.log("invoice", "applied", "R19", "updated_in_canopy", canopy_id=invoice_id, qbo_id=link.qbo_id,
              direction="canopy_to_qbo")
        await t.set_synced("invoice", invoice_id, None, digest)
        return "applied"
    t.log("invoice", "failed", "R21", "changed_during_every_attempt", canopy_id=invoice_id, qbo_id=link.qbo_id)
    return "failed"


async def _refused_invoice(t: Target, invoice_id: str, invoice: dict[str, Any], exc: UpstreamError) -> str:
    """QBO refused the invoice for a reason a person must fix (e.g. its customer is inactive):
    held with that reason, looked at again when a contact or item changes (D-50)."""
    if exc.retryable:
        raise exc
    reason = f"qbo_refused:{exc.code}"
    await t.hold("invoice", invoice_id, [reason],
                 t.entry("invoice", "held", "R19", reason, canopy_id=invoice_id, direction="canopy_to_qbo",
                         detail={"number": invoice.get("number"), "message": exc.message}))
    return "held"


async def _linked(t: Target, kind: str, canopy_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cid in canopy_ids:
        link = await t.link(kind, canopy_id=cid)
        if link is not None:
            out[cid] = link.qbo_id
    return out
