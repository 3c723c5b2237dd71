"""Step 5: a few changes on both sides after setup, made through the fakes' public APIs (QBO with
a token of the scenario's own app, Canopy with the firm Admin's token), then webhooks flushed
and the other side watched until each change has arrived there or the engine's sync log says
why it did not (R12 contacts, R18 items, R19 invoices)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .http import Surprise
from .report import mark, table
from .story import LIVE, Story, money

LIVE_TIMEOUT_S = 20.0
SETTLE_TIMEOUT_S = 120.0
POLL_S = 0.25
NEW_CLIENT = "Juniper Lane Studio"
NEW_CUSTOMER = ("Odessa", "Whitcombe")
NEW_ITEM = {"Name": "Quarterly Advisory Retainer", "UnitPrice": 450, "Sku": "LIVE-0001"}
WHY_NOT = ("skipped", "failed", "held")

Entry = dict[str, Any]
Probe = Callable[[list[Entry]], Awaitable[tuple[bool | None, str]]]


@dataclass
class Change:
    what: str
    expect: str
    keys: set[tuple[str, str, str]]
    """(log kind, "canopy"|"qbo", id) of the records whose sync log lines belong to this change."""
    probe: Probe
    done: bool = False
    ok: bool = False
    outcome: str = ""
    seconds: float | None = None
    log: list[Entry] = field(default_factory=list)

    def mine(self, e: Entry) -> bool:
        return ((e["kind"], "canopy", e.get("canopy_id")) in self.keys
                or (e["kind"], "qbo", e.get("qbo_id")) in self.keys)


def entries_for(entries: list[Entry], kind: str, side: str, ident: str) -> list[Entry]:
    return [e for e in entries if e["kind"] == kind and e.get(f"{side}_id") == ident]


def why_not(entries: list[Entry]) -> Entry | None:
    return next((e for e in reversed(entries) if e["action"] in WHY_NOT), None)


def log_line(e: Entry) -> str:
    parts = [e["kind"], e["action"], e.get("direction") or "", f"canopy {e['canopy_id']}" if e.get("canopy_id") else "",
             f"qbo {e['qbo_id']}" if e.get("qbo_id") else "", e.get("rule") or "", e.get("reason") or ""]
    return " ".join(p for p in parts if p)


class Live:
    def __init__(self, story: Story) -> None:
        self.s = story

    async def run(self) -> None:
        s = self.s
        s.heading("Step 5 · Live changes on both sides, after setup")
        await s.read_log()  # from here on, only the ongoing sync's lines
        await self.settle()
        changes = [await self.canopy_client(), await self.qbo_customer()]
        if s.items_available:
            changes.append(await self.qbo_item())
            changes += await self.canopy_invoices()
        else:
            s.note("Items and invoices do not sync for this firm (R13): no item or invoice change is made.")
        started = time.monotonic()
        entries: list[Entry] = []
        with s.console.status("Flushing webhooks and waiting for the engine to apply the changes…"):
            while True:
                for fake in (s.qbo, s.canopy):
                    await fake.post("/_sim/webhooks/flush")
                entries += await s.read_log()
                for c in changes:
                    if not c.done:
                        result, text = await c.probe(entries)
                        c.outcome = text or c.outcome  # provisional until the log has its line
                        if result is not None:
                            c.done, c.ok = True, result
                            c.seconds = time.monotonic() - started
                if all(c.done for c in changes) or time.monotonic() - started > LIVE_TIMEOUT_S:
                    break
                await asyncio.sleep(POLL_S)
        status = await s.as_admin.get("/integration")
        sync = status.get("sync") or {}
        conn = status.get("connection") or {}
        t = table(f"What happened to each change (webhooks flushed, watched for up to {LIVE_TIMEOUT_S:.0f} s)",
                  ("change", {"ratio": 3}), ("expected", {"ratio": 2}), ("what happened", {"ratio": 3}),
                  ("the engine's sync log", {"ratio": 3}), ("", {"width": 1}))
        for c in changes:
            c.log = [e for e in entries if c.mine(e)]
            if not c.done:
                c.outcome = (f"{c.outcome or 'nothing arrived'} within {LIVE_TIMEOUT_S:.0f} s, and the log says "
                             f"nothing more; engine status: connection {conn.get('state')}"
                             f"{' (' + str(conn.get('reason')) + ')' if conn.get('reason') else ''}, "
                             f"{sync.get('pending')} events pending, {sync.get('held')} held")
            s.ledger.check(LIVE, c.what, c.expect, c.outcome, c.ok)
            when = f" [dim]({c.seconds:.1f} s)[/]" if c.seconds is not None else ""
            t.add_row(c.what, c.expect, c.outcome + when, "\n".join(log_line(e) for e in c.log) or "[dim]nothing[/]",
                      mark(c.ok))
        s.console.print(t)
        s.note(f"Engine status after the changes: connection {conn.get('state')}, {sync.get('pending')} events "
               f"pending, {sync.get('held')} held.")

    async def settle(self) -> None:
        """Let the engine work through what setup left in its inbox (above all the webhooks of its own
        writes, which it must recognise as its own, R20), so the changes below are timed on their own."""
        s = self.s
        started = time.monotonic()
        first = pending = int(((await s.as_admin.get("/integration")).get("sync") or {}).get("pending") or 0)
        with Progress(SpinnerColumn(), TextColumn("[bold]The engine works through its inbox[/]"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=s.console, transient=True,
                      disable=not s.console.is_terminal) as progress:
            task = progress.add_task("inbox", total=max(first, 1))
            while pending and time.monotonic() - started < SETTLE_TIMEOUT_S:
                for fake in (s.qbo, s.canopy):
                    await fake.post("/_sim/webhooks/flush")
                await asyncio.sleep(POLL_S)
                pending = int(((await s.as_admin.get("/integration")).get("sync") or {}).get("pending") or 0)
                progress.update(task, completed=max(0, first - pending))
        took = time.monotonic() - started
        if first:
            s.note(f"After setup the engine's inbox held {first} events (the echoes of its own writes among them); "
                   + (f"it worked through them in {took:.1f} s." if not pending else
                      f"{pending} are still pending after {took:.0f} s: the changes are made anyway."))
        else:
            s.note("After setup the engine's inbox is empty.")

    # -- the changes -----------------------------------------------------------------------------------------

    async def canopy_client(self) -> Change:
        s = self.s
        made = (await s.canopy_api.post("/public/v3/clients", {"client": {
            "is_business": True, "business_name": NEW_CLIENT,
            "emails": [{"email": "hello@juniperlane.example", "type": "WORK", "is_primary": True}]}},
            expect=(201,)))["client"]
        cid = made["id"]

        async def probe(entries: list[Entry]) -> tuple[bool | None, str]:
            mine = entries_for(entries, "contact", "canopy", cid)
            found = await s.qbo_query(f"SELECT * FROM Customer WHERE DisplayName = '{NEW_CLIENT}'")
            if found:
                cust = found[0]
                link = next((e for e in mine if e["action"] in ("created", "linked")), None)
                ok = len(found) == 1 and link is not None and link.get("qbo_id") == cust["Id"]
                return (ok if link else None), (f"QBO customer {cust['Id']} {cust['DisplayName']!r} created"
                                                + ("" if link else ", but the log shows no link")
                                                + (", twice" if len(found) > 1 else ""))
            bad = why_not(mine)
            return (False, f"not synced: {bad['action']} {bad.get('reason')}") if bad else (None, "")

        return Change(f"new client in Canopy: {cid} {NEW_CLIENT!r}", "a new QBO customer, linked (R12)",
                      {("contact", "canopy", cid)}, probe)

    async def qbo_customer(self) -> Change:
        s = self.s
        realm = s.seeded.realm_id
        given, family = NEW_CUSTOMER
        name = f"{given} {family}"
        made = (await s.qbo_api.post(f"/v3/company/{realm}/customer", {
            "DisplayName": name, "GivenName": given, "FamilyName": family,
            "PrimaryEmailAddr": {"Address": "odessa.whitcombe@example.com"}}, params={"minorversion": "75"}))
        qid = made["Customer"]["Id"]

        async def probe(entries: list[Entry]) -> tuple[bool | None, str]:
            mine = entries_for(entries, "contact", "qbo", qid)
            found = [c for c in (await s.canopy_api.get("/public/v3/clients/search",
                                                        params={"q": name, "query_field": "name"}))["clients"]
                     if c["name"] == name]
            if found:
                client = (await s.canopy_api.get(f"/public/v3/clients/{found[0]['id']}"))["client"]
                link = next((e for e in mine if e["action"] in ("created", "linked")), None)
                ok = (len(found) == 1 and link is not None and link.get("canopy_id") == client["id"]
                      and client["display_name"] == name and not client["is_business"])
                kind = "business" if client["is_business"] else "individual"
                made = f"Canopy client {client['id']} {client['display_name']!r} ({kind}) created"
                return (ok if link else None), (made
                            + ("" if link else ", but the log shows no link") + (", twice" if len(found) > 1 else ""))
            bad = why_not(mine)
            return (False, f"not synced: {bad['action']} {bad.get('reason')}") if bad else (None, "")

        return Change(f"new customer in QBO: {qid} {name!r}", "a new Canopy client (an individual, D-5), linked (R12)",
                      {("contact", "qbo", qid)}, probe)

    async def qbo_item(self) -> Change:
        s = self.s
        realm = s.seeded.realm_id
        account = (s.status.get("items") or {}).get("income_account_id")
        if not account:
            accounts = await s.qbo_query("SELECT * FROM Account WHERE AccountType = 'Income'")
            account = accounts[0]["Id"]
        made = await s.qbo_api.post(f"/v3/company/{realm}/item", {
            **NEW_ITEM, "Type": "Service", "IncomeAccountRef": {"value": account}}, params={"minorversion": "75"})
        qid = made["Item"]["Id"]
        name, rate, sku = NEW_ITEM["Name"], Decimal(NEW_ITEM["UnitPrice"]), NEW_ITEM["Sku"]

        async def probe(entries: list[Entry]) -> tuple[bool | None, str]:
            mine = entries_for(entries, "item", "qbo", qid)
            found = [i for i in await s.canopy_list("service_items") if i["name"] == name]
            if found:
                item = found[0]
                link = next((e for e in mine if e["action"] in ("created", "linked")), None)
                same = money(item.get("rate")) == rate and (item.get("sku") or "") == sku
                ok = len(found) == 1 and link is not None and link.get("canopy_id") == item["id"] and same
                made = (f"Canopy service item {item['id']} {item['name']!r} · {item.get('rate')} · "
                        f"{item.get('sku') or 'no SKU'} created")
                return (ok if link else None), made + ("" if link else ", but the log shows no link")
            bad = why_not(mine)
            return (False, f"not synced: {bad['action']} {bad.get('reason')}") if bad else (None, "")

        return Change(f"new service item in QBO: {qid} {name!r} · {rate:.2f} · {sku}",
                      "a new Canopy service item, same name, rate and SKU, linked (R18)", {("item", "qbo", qid)}, probe)

    async def canopy_invoices(self) -> list[Change]:
        s = self.s
        linked_pairs = {(r["canopy_id"], r["qbo_id"]) for r in s.review.get("matches", [])}
        tampered = s.tampered[0] if s.tampered else None
        client = next(((c, q, n) for c, q, n in s.expected.billable_clients()
                       if (c, q) in linked_pairs and c != tampered), None)
        linked_items = {(r["canopy_id"], r["qbo_id"]) for r in s.items_review.get("matched", [])}
        items = [(c, q, n) for c, q, n in s.expected.linked_items() if (c, q) in linked_items][:2]
        unlinked = s.expected.unlinked_canopy_items()
        out: list[Change] = []
        if client is None or not items:  # the scenario plants none (or step 3/4 already failed to link them)
            s.note("No new invoice: this world has "
                   + ("no linked service item" if not items else "no linked client with an active QBO customer")
                   + " to bill.")
            return out
        cid, customer, client_name = client
        out.append(await self._linked_invoice(cid, customer, client_name, items))
        if unlinked:
            out.append(await self._held_invoice(cid, client_name, items[0], unlinked[0]))
        else:
            s.note("This scenario has no unlinked Canopy service item: no invoice to hold.")
        return out

    async def _create_invoice(self, client_id: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
        body = {"invoice": {"client_id": client_id,
                            "lines": [{"service_item_id": i, "quantity": str(q)} for i, q in lines]}}
        return (await self.s.canopy_api.post("/public/v3/invoices", body, expect=(201,)))["invoice"]

    async def _linked_invoice(self, cid: str, customer: str, client_name: str,
                              items: list[tuple[str, str, str]]) -> Change:
        s = self.s
        inv = await self._create_invoice(cid, [(c, n + 1) for n, (c, _, _) in enumerate(items)])
        want_items = sorted(q for _, q, _ in items)
        total = money(inv["total"])

        async def probe(entries: list[Entry]) -> tuple[bool | None, str]:
            mine = entries_for(entries, "invoice", "canopy", inv["id"])
            sent = next((e for e in mine if e["action"] == "created"), None)
            if sent:
                got = await s.qbo_api.call("GET", f"/v3/company/{s.seeded.realm_id}/invoice/{sent['qbo_id']}",
                                           params={"minorversion": "75"}, expect=None)
                if got.status != 200:
                    return False, f"the log says QBO invoice {sent['qbo_id']}, which QBO does not have"
                q = got.body["Invoice"]
                refs = sorted(ln["SalesItemLineDetail"]["ItemRef"]["value"] for ln in q.get("Line", [])
                              if ln.get("DetailType") == "SalesItemLineDetail")
                who = (q.get("CustomerRef") or {}).get("value")
                ok = who == customer and refs == want_items and money(q.get("TotalAmt")) == total
                seen = f"QBO invoice {q['Id']} for customer {who}, items {', '.join(refs)}, total " \
                       f"{money(q.get('TotalAmt')) or 0:.2f}"
                wanted = f" (expected customer {customer}, items {', '.join(want_items)}, total {total})"
                return ok, seen + ("" if ok else wanted)
            bad = why_not(mine)
            return (False, f"not sent: {bad['action']} {bad.get('reason')}") if bad else (None, "")

        return Change(f"new invoice in Canopy: {inv['id']} no. {inv['number']} for {client_name!r}, "
                      f"{len(items)} linked items, total {inv['total']}",
                      f"a QBO invoice for customer {customer}, the linked items, the same total (R19)",
                      {("invoice", "canopy", inv["id"])}, probe)

    async def _held_invoice(self, cid: str, client_name: str, linked: tuple[str, str, str],
                            unlinked: tuple[str, str]) -> Change:
        inv = await self._create_invoice(cid, [(linked[0], 1), (unlinked[0], 2)])
        reason = f"item_unlinked:{unlinked[0]}"

        async def probe(entries: list[Entry]) -> tuple[bool | None, str]:
            mine = entries_for(entries, "invoice", "canopy", inv["id"])
            if any(e["action"] == "created" for e in mine):
                return False, "sent to QBO although one of its items is not linked"
            held = next((e for e in mine if e["action"] in WHY_NOT), None)
            if held:
                ok = held["action"] == "held" and (held.get("reason") or "") == reason
                return ok, f"{held['action']}: {held.get('reason')}"
            return None, ""

        return Change(f"new invoice in Canopy: {inv['id']} no. {inv['number']} for {client_name!r} with the "
                      f"unlinked item {unlinked[0]} {unlinked[1]!r}",
                      f"held, with the reason {reason} in the sync log (R19)", {("invoice", "canopy", inv["id"])},
                      probe)


async def live_changes(story: Story) -> None:
    if story.qbo_token is None:
        raise Surprise("no QBO token of the demo's own app")
    await Live(story).run()
