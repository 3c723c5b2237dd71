"""Steps 1-4 of the story as Canopy's help article tells it, driven over the engine's wizard API:
who may connect, the Admin connects, the contacts review and sync, the service items review,
sync and Finish. Each step lays what the engine answered beside the scenario's ground truth.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlparse

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sim.scenario import World
from sim.scenario.seed import Seeded

from .expect import ENGINE_SECTIONS, SECTION_TITLE, Expected
from .http import Http, Surprise
from .report import ROWS_SHOWN, Ledger, mark, more_rows, plain, table

JOB_TIMEOUT_S = 600.0
GATES, CONNECT, CONTACTS, ITEMS, LIVE = ("1 gates", "2 connect", "3 contacts", "4 items & invoices",
                                        "5 live changes")


def money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def diff_sets(expected: set[Any], got: set[Any], label: Any = str, limit: int = 4) -> str:
    """'' when equal, else what is missing and what is extra, a few of each by name."""
    missing, extra = sorted(expected - got, key=str), sorted(got - expected, key=str)
    parts = []
    for what, rows in (("missing", missing), ("not expected", extra)):
        if rows:
            shown = ", ".join(label(r) for r in rows[:limit])
            shown += f" (+{len(rows) - limit})" if len(rows) > limit else ""
            parts.append(f"{len(rows)} {what}: {shown}")
    return "; ".join(parts)


@dataclass
class Member:
    email: str
    token: str
    user_id: str
    permission_set: str


@dataclass
class Story:
    console: Console
    world: World
    seeded: Seeded
    engine: Http
    qbo: Http
    canopy: Http
    ledger: Ledger
    tamper: bool = False
    members: list[Member] = field(default_factory=list)
    admin: Member | None = None
    expected: Expected = field(init=False)
    qbo_token: str | None = None
    status: dict[str, Any] = field(default_factory=dict)
    review: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tampered: tuple[str, str, str] | None = None
    """(Canopy client id, old name, new name) when --tamper renamed one."""
    items_available: bool = True
    items_review: dict[str, Any] = field(default_factory=dict)
    log_seen: int = 0

    def __post_init__(self) -> None:
        self.expected = Expected(self.world, self.seeded)
        self.members = [Member(u["email"], u["token"], str(u["user_id"]), u["permission_set"])
                        for u in self.seeded.canopy_users]

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def as_admin(self) -> Http:
        assert self.admin is not None
        return self.engine.bearer(self.admin.token)

    @property
    def qbo_api(self) -> Http:
        assert self.qbo_token is not None
        return self.qbo.bearer(self.qbo_token)

    @property
    def canopy_api(self) -> Http:
        assert self.admin is not None
        return self.canopy.bearer(self.admin.token)

    def heading(self, text: str) -> None:
        self.console.rule(f"[bold cyan]{text}")

    def note(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)

    async def job(self, path: str, body: Any, label: str) -> dict[str, Any]:
        """Start a job route, show its progress from the status, answer the job once it ended."""
        reply = await self.as_admin.call("POST", path, json_body=body, expect=(200, 202))
        job = (reply.body or {}).get("job") or {}
        if reply.status == 200 and job.get("state") != "running":
            return self._job_done(job or {"state": "done", "result": reply.body.get("result")}, label)
        started = time.monotonic()
        with Progress(SpinnerColumn(), TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[step]}"), TimeElapsedColumn(), console=self.console,
                      transient=True, disable=not self.console.is_terminal) as progress:
            task = progress.add_task(label, total=job.get("total") or None, step=job.get("step", ""))
            while True:
                status = await self.as_admin.get("/integration")
                now = status.get("job") or {}
                if now.get("id") == job.get("id"):
                    progress.update(task, total=now.get("total") or None, completed=now.get("done", 0),
                                    step=now.get("step", ""))
                    if now.get("state") != "running":
                        job = now
                        break
                if time.monotonic() - started > JOB_TIMEOUT_S:
                    raise Surprise(f"{label}: the job {job.get('id')} still runs after {JOB_TIMEOUT_S:.0f} s")
                await asyncio.sleep(0.1)
        return self._job_done(job, label, time.monotonic() - started)

    def _job_done(self, job: dict[str, Any], label: str, seconds: float = 0.0) -> dict[str, Any]:
        if job.get("state") == "failed":
            raise Surprise(f"{label}: the engine's job failed: {job.get('error')}")
        self.note(f"[dim]{label}: job {job.get('id', '-')} {job.get('state')}, {job.get('done', 0)}/"
                  f"{job.get('total', 0)} in {seconds:.2f} s[/]")
        return job

    async def read_log(self) -> list[dict[str, Any]]:
        """The sync log entries newer than the last read, oldest first."""
        entries: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if before is not None:
                params["before"] = before
            page = await self.as_admin.get("/integration/log", params=params)
            fresh = [e for e in page["entries"] if e["id"] > self.log_seen]
            entries.extend(fresh)
            before = page.get("next_before")
            if before is None or len(fresh) < len(page["entries"]) or not page["entries"]:
                break
        entries.sort(key=lambda e: e["id"])
        if entries:
            self.log_seen = entries[-1]["id"]
        return entries

    async def qbo_query(self, statement: str) -> list[dict[str, Any]]:
        realm = self.seeded.realm_id
        entity = statement.split()[3]
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            body = await self.qbo_api.get(f"/v3/company/{realm}/query", params={
                "query": f"{statement} STARTPOSITION {start} MAXRESULTS 1000", "minorversion": "75"})
            page = body.get("QueryResponse", {}).get(entity, [])
            rows.extend(page)
            if len(page) < 1000:
                return rows
            start += 1000

    async def canopy_list(self, kind: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 500, **({"next_cursor": cursor} if cursor else {})}
            body = await self.canopy_api.get(f"/public/v3/{kind}", params=params)
            rows.extend(body[kind])
            cursor = body.get("next_cursor")
            if not cursor:
                return rows

    # -- step 1: the connect gates (R1-R3, R13) -----------------------------------------------------------

    async def gates(self) -> None:
        self.heading("Step 1 · Who may connect QBO")
        truth = {g["email"]: g for g in self.world.truth["gates"]}
        t = table("Connect gates per team member (GET /integration as each; plan → license → permission)",
                  *((c, {"no_wrap": True}) for c in ("team member", "permission set", "connect (engine)",
                                                     "ground truth")), "items step", ("tries anyway", {"no_wrap": True}),
                  "")
        for m in self.members:
            me = self.engine.bearer(m.token)
            status = await me.get("/integration")
            enabled, reason = status["connect"]["enabled"], status["connect"]["reason"] or "ok"
            exp = truth[m.email]
            ok = self.ledger.check(GATES, f"{m.email} may connect", exp["connect"], reason)
            ok &= self.ledger.check(GATES, f"{m.email} connect button", exp["connect"] == "ok", enabled)
            items = "available" if status["items"].get("available", True) else "not_available_for_module"
            ok &= self.ledger.check(GATES, f"{m.email} items step", exp["items_step"], items)
            tries = "-"
            if not enabled:  # R1: a user who may not connect and tries anyway is refused, nothing stored
                r = await me.call("POST", "/integration/connect", expect=None)
                tries = f"{r.status} {r.error_code or ''}".strip()
                ok &= self.ledger.check(GATES, f"{m.email} connect attempt", f"403 {exp['connect']}", tries)
            if exp["connect"] == "ok" and self.admin is None:
                self.admin = m
            t.add_row(m.email, m.permission_set, "[green]enabled[/]" if enabled else f"[red]disabled:[/] {reason}",
                      exp["connect"], "yes" if items == "available" else "no (R13)", tries, mark(ok))
        self.console.print(t)
        if self.admin is None:
            self.note("[yellow]Nobody in this firm may connect (as the ground truth says): the story ends here.[/]")
        else:
            self.note(f"{self.admin.email} ({self.admin.permission_set}) connects.")

    # -- step 2: sign in and agreement (R4, R4a) ---------------------------------------------------------------

    async def connect(self) -> None:
        self.heading("Step 2 · The Admin connects QBO")
        assert self.admin is not None
        t = table("Sign-in through QBO's pages, then the data-sharing agreement", "what", "outcome", "")

        def row(what: str, outcome: str, ok: bool) -> None:
            self.ledger.check(CONNECT, what, "as expected", outcome, ok)
            t.add_row(what, outcome, mark(ok))

        try:
            started = await self.as_admin.post("/integration/connect")
            auth = urlparse(started["authorize_url"])
            row("Connect (POST /integration/connect)", f"authorize URL at {auth.scheme}://{auth.netloc}{auth.path}, "
                f"state {started['state'][:10]}…", auth.netloc == urlparse(self.qbo.base).netloc)
            browser = Http(self.qbo.session, self.qbo.base)
            page = await browser.call("GET", started["authorize_url"])
            found = re.search(r"name='flow' value='([^']+)'", page.text)
            if not found:
                raise Surprise(f"the sign-in page carries no flow id: {page.show()}")
            flow = found.group(1)
            row("QBO sign-in page", f"HTTP {page.status}", True)
            user = self.seeded.qbo_user
            chooser = await browser.call("POST", "/connect/oauth2/signin", data={
                "flow": flow, "email": user["email"], "password": user["password"], "action": "signin"})
            row(f"sign in as {user['email']}", f"company chooser offers realm {self.seeded.realm_id}",
                self.seeded.realm_id in chooser.text)
            consent = await browser.call("POST", "/connect/oauth2/company", data={
                "flow": flow, "realm_id": self.seeded.realm_id, "action": "next"})
            row("choose the company", "consent page shown", "/connect/oauth2/consent" in consent.text)
            back = await browser.call("POST", "/connect/oauth2/consent", data={"flow": flow, "decision": "connect"},
                                      allow_redirects=False, expect=(302,))
            location = back.headers.get("Location", "")
            q = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
            row("consent: Connect", f"302 to {location.split('?')[0]} with code, state, realmId",
                location.startswith(self.engine.base + "/oauth/callback") and q.get("state") == started["state"]
                and q.get("realmId") == self.seeded.realm_id and bool(q.get("code")))
            callback = await self.engine.get(location)
            row("the engine's OAuth callback", f"step {callback.get('step')}, realm {callback.get('realm_id')}",
                callback.get("step") == "agreement")
            status = await self.as_admin.post("/integration/agreement", {"accept": True})
            conn = status.get("connection") or {}
            row("accept the data-sharing agreement",
                f"connection {conn.get('state')}, by user {conn.get('connected_by')}, next step {status['step']}",
                conn.get("state") == "connected" and conn.get("connected_by") == self.admin.user_id
                and conn.get("realm_id") == self.seeded.realm_id)
            self.status = status
        finally:
            self.console.print(t)

    # -- the hidden --tamper: make the outcome differ from the ground truth -------------------------------------

    async def do_tamper(self) -> None:
        client_id, _, name = self.expected.matched_clients()[0]
        renamed = f"{name} Renamed"
        await self.canopy_api.call("PATCH", f"/public/v3/clients/{client_id}",
                                   json_body={"client": {"display_name": renamed}})
        self.tampered = (client_id, name, renamed)
        self.note(f"[yellow]--tamper: renamed Canopy client {client_id} {name!r} to {renamed!r} behind the "
                  "ground truth's back[/]")

    # -- step 3: contacts (R5-R11) ---------------------------------------------------------------------------------

    async def contacts(self) -> None:
        self.heading("Step 3 · Contacts: import All, review, Sync contacts")
        await self.job("/integration/contacts/filter", {"choice": "all"}, "Reading both sides and matching names")
        overview = await self.as_admin.get("/integration/contacts/review")
        totals = {s["section"]: s for s in overview["sections"]}
        for expected_section in ENGINE_SECTIONS:  # R10: Next walks the sections in order
            page = await self.as_admin.post("/integration/contacts/review/next")
            section = page["section"]
            self.ledger.check(CONTACTS, "Next opens the sections in order", expected_section, section)
            records = list(page["records"])
            for n in range(2, page["pages"] + 1):
                more = await self.as_admin.get(f"/integration/contacts/review/{section}", params={"page": n})
                records.extend(more["records"])
            self.review[section] = records
        after = await self.as_admin.get("/integration/contacts/review")
        truth_counts, truth_records = self.expected.contact_counts(), self.expected.contacts()
        got_records: dict[str, set[Any]] = {
            "matches": {(r["canopy_id"], r["qbo_id"]) for r in self.review.get("matches", [])},
            "new_contacts": {r["qbo_id"] for r in self.review.get("new_contacts", [])},
            "unmatched": {r["canopy_id"] for r in self.review.get("unmatched", [])},
            "duplicates": {("canopy", r["canopy_id"]) if r.get("canopy_id") else ("qbo", r["qbo_id"])
                           for r in self.review.get("duplicates", [])}}
        names = self._contact_names()
        t = table("Contacts review, import All (R5-R10)", "section", "records", "ground truth", "pages", "opened",
                  "differences", "")
        for section in ENGINE_SECTIONS:
            got_n = totals.get(section, {}).get("total")
            ok = self.ledger.check(CONTACTS, f"{SECTION_TITLE[section]} count", truth_counts[section], got_n)
            diff = diff_sets(truth_records[section], got_records[section], lambda k: names.get(k, str(k)))
            ok &= self.ledger.check(CONTACTS, f"{SECTION_TITLE[section]} records",
                                    f"the ground truth's {len(truth_records[section])}", diff or "the same", not diff)
            opened = next((s["opened"] for s in after["sections"] if s["section"] == section), False)
            t.add_row(SECTION_TITLE[section], str(got_n), str(truth_counts[section]),
                      str(totals.get(section, {}).get("pages")), "yes" if opened else "no", diff or "-", mark(ok))
        self.console.print(t)
        self.ledger.check(CONTACTS, "Sync contacts allowed once every section was opened", True, after["can_sync"])
        self._not_synced_table()

        job = await self.job("/integration/contacts/sync", None, "Linking matches, creating new contacts in Canopy")
        result = job.get("result") or {}
        linked_ok = self.ledger.check(CONTACTS, "contacts linked", truth_counts["matches"], result.get("linked"))
        created_ok = self.ledger.check(CONTACTS, "contacts created in Canopy", truth_counts["new_contacts"],
                                       result.get("created"))
        wanted = {r["client"]["display_name"] for r in self.review.get("new_contacts", []) if r.get("client")}
        present = {c["display_name"] for c in await self.canopy_list("clients")}
        missing = sorted(wanted - present)
        found_ok = self.ledger.check(CONTACTS, "new contacts present in Canopy", "all", ", ".join(missing) or "all")
        self.note(f"Sync contacts: {result.get('linked')} linked (ground truth {truth_counts['matches']}) "
                  f"{mark(linked_ok)}, {result.get('created')} created in Canopy (ground truth "
                  f"{truth_counts['new_contacts']}) {mark(created_ok)}; "
                  + (f"all {len(wanted)} new clients are in Canopy {mark(found_ok)}" if not missing
                     else f"missing in Canopy: {', '.join(missing)} {mark(False)}"))

    def _contact_names(self) -> dict[Any, str]:
        names: dict[Any, str] = {}
        for rows in self.review.values():
            for r in rows:
                names[(r.get("canopy_id"), r.get("qbo_id"))] = r["name"]
                if r.get("canopy_id"):
                    names[r["canopy_id"]] = names[("canopy", r["canopy_id"])] = r["name"]
                if r.get("qbo_id"):
                    names.setdefault(r["qbo_id"], r.get("qbo_name") or r["name"])
                    names.setdefault(("qbo", r["qbo_id"]), r.get("qbo_name") or r["name"])
        names.update({k: v for k, v in self._truth_names().items() if k not in names})
        return names

    def _truth_names(self) -> dict[Any, str]:
        out: dict[Any, str] = {}
        ex = self.expected
        for ref, name in self.world.truth["names"].items():
            cid, qid = self.seeded.ids["canopy"].get(ref), self.seeded.ids["qbo"].get(ref)
            if ref.startswith("cl-") and cid:
                out[cid] = out[("canopy", cid)] = name
            elif ref.startswith("cu-") and qid:
                out[qid] = out[("qbo", qid)] = name
        for c, q, name in ex.matched_clients():
            out[(c, q)] = name
        return out

    def _not_synced_table(self) -> None:
        rows = [("Unmatched", r) for r in self.review.get("unmatched", [])] + \
               [("Duplicates", r) for r in self.review.get("duplicates", [])]
        t = table("Not synced, and why (the review's reasons)", "section", "name", "Canopy client", "QBO customer",
                  "why")
        for section, r in rows[:ROWS_SHOWN]:
            why = r.get("reason") or ", ".join(r.get("reasons") or []) or "-"
            t.add_row(section, r["name"], plain(r.get("canopy_id")), plain(r.get("qbo_id")), why)
        more_rows(t, min(len(rows), ROWS_SHOWN), len(rows))
        self.console.print(t)

    # -- step 4: items and invoices (R13, R15-R17, R19) --------------------------------------------------------------

    async def items(self) -> None:
        self.heading("Step 4 · Service items and invoices: review, Sync service items, Finish")
        gate = next(g for g in self.world.truth["gates"] if g["email"] == self.admin.email)  # type: ignore[union-attr]
        if gate["items_step"] != "available":
            r = await self.as_admin.call("POST", "/integration/items/start", expect=None)
            got = f"HTTP {r.status} {r.error_code}"
            ok = self.ledger.check(ITEMS, "items step refused (R13)", f"HTTP 403 {gate['items_step']}", got)
            self.items_available = False
            self.note(f"Start service items: {got} (ground truth: {gate['items_step']}) {mark(ok)}; "
                      "no item or invoice of this firm syncs.")
            return
        await self.job("/integration/items/start", None, "Reading and matching service items")
        review = self.items_review = await self.as_admin.get("/integration/items/review")
        matched = {(r["canopy_id"], r["qbo_id"]) for r in review["matched"]}
        unmatched = {("canopy", r["canopy_id"]) if r.get("side") == "canopy" or not r.get("qbo_id")
                     else ("qbo", r["qbo_id"]): r for r in review["unmatched"]}
        t = table("Service items review (R15: name, rate and SKU must all agree; what differs in yellow)",
                  "Canopy item (name · rate · SKU)", "QBO item (name · rate · SKU)", "engine says", "ground truth", "")
        pairs = self.expected.item_pairs()
        accounted: set[Any] = set()
        for n, p in enumerate(pairs):
            self._item_row(t if n < ROWS_SHOWN else None, p, matched, unmatched, accounted)
        more_rows(t, min(len(pairs), ROWS_SHOWN), len(pairs))
        extra = [k for k in unmatched if k not in accounted] + \
                [f"{c}~{q}" for c, q in matched if ("pair", c, q) not in accounted]
        self.ledger.check(ITEMS, "items the ground truth does not plant", "none", plain(extra), not extra)
        self.console.print(t)
        truth_linked = len(self.expected.linked_items())
        synced = await self.as_admin.post("/integration/items/sync")
        ok = self.ledger.check(ITEMS, "service items linked", truth_linked, synced.get("linked"))
        self.status = synced.get("integration") or self.status
        self.note(f"Sync service items: {synced.get('linked')} linked (ground truth {truth_linked}) {mark(ok)}; "
                  f"income account for new QBO items: {review.get('income_account_id')}.")
        await self.finish()

    def _item_row(self, t: Any, p: dict[str, Any], matched: set[tuple[str, str]], unmatched: dict[Any, Any],
                  accounted: set[Any]) -> None:
        def show(item: tuple[str, Decimal, str | None] | None, other: tuple[str, Decimal, str | None] | None,
                 ident: str | None) -> str:
            if item is None:
                return "[dim]none[/]"
            parts = [item[0], f"{item[1]:.2f}", item[2] or "no SKU"]
            if other is not None:  # highlight what differs from the other side's item
                same = [item[0].casefold() == other[0].casefold(), item[1] == other[1],
                        (item[2] or "").strip().casefold() == (other[2] or "").strip().casefold()]
                parts = [x if s else f"[yellow]{x}[/]" for x, s in zip(parts, same)]
            return f"{ident} " + " · ".join(parts)

        c, q = p["canopy_id"], p["qbo_id"]
        if p["kind"] == "matched":
            got = "matched" if (c, q) in matched else "not matched"
            accounted.add(("pair", c, q))
            ok = self.ledger.check(ITEMS, f"item {p['canopy_item'][0]} matched", "matched", got)
            says, truth = got, "matched"
        else:
            said: dict[str, str] = {}
            ok = True
            for side, ident in (("canopy", c), ("qbo", q)):
                if ident is None:
                    continue
                entry = unmatched.get((side, ident))
                accounted.add((side, ident))
                differs = sorted(entry.get("differs") or []) if entry else None
                name = (p["canopy_item"] if side == "canopy" else p["qbo_item"])[0]
                ok &= self.ledger.check(ITEMS, f"{'Canopy' if side == 'canopy' else 'QBO'} item {name} differs in",
                                        sorted(p["engine_differs"]), differs if entry else "matched")
                said["Canopy" if side == "canopy" else "QBO"] = (f"{', '.join(differs or []) or '?'} differs"
                                                                 if entry else "matched")
            says = next(iter(said.values())) if len(set(said.values())) == 1 else \
                "; ".join(f"{k}: {v}" for k, v in said.items())
            truth = ("no item of that name on the other side" if p["differs"] == ["no_counterpart"]
                     else ", ".join(p["differs"]) + " differs")
        if t is not None:
            t.add_row(show(p["canopy_item"], p["qbo_item"], c), show(p["qbo_item"], p["canopy_item"], q), says,
                      truth, mark(ok))

    async def finish(self) -> None:
        await self.read_log()  # what setup logged so far is not about invoices
        job = await self.job("/integration/finish", None, "Finish: sending invoices to QBO")
        result = job.get("result") or {}
        entries = [e for e in await self.read_log() if e["kind"] == "invoice"]
        got: dict[str, dict[str, Any]] = {}
        for e in entries:
            if e["action"] == "created":
                got[e["canopy_id"]] = {"outcome": "sent", "qbo_id": e["qbo_id"], "reasons": []}
            elif e["action"] == "held":
                got[e["canopy_id"]] = {"outcome": "held", "reasons": sorted((e.get("reason") or "").split(",")),
                                       "number": (e.get("detail") or {}).get("number")}
        expected = self.expected.invoices()
        qbo_invoices = {i["Id"]: i for i in await self.qbo_query("SELECT * FROM Invoice")}
        t = table("Invoices at Finish (R17: sent when the client and every item are linked; else held, R19)",
                  "Canopy invoice", "client", "lines", "total", "engine", "ground truth", "")
        sent_n = sum(1 for e in expected.values() if e["outcome"] == "sent")
        self.ledger.check(ITEMS, "invoices sent", sent_n, result.get("sent"))
        self.ledger.check(ITEMS, "invoices held", len(expected) - sent_n, result.get("held"))
        for n, (cid, exp) in enumerate(sorted(expected.items(), key=lambda kv: (kv[1]["outcome"], int(kv[0])
                                                                                 if kv[0].isdigit() else 0))):
            g = got.get(cid, {"outcome": "nothing logged", "reasons": []})
            ok = self.ledger.check(ITEMS, f"invoice {cid} ({exp['client']})",
                                   f"{exp['outcome']} {','.join(exp['reasons'])}".strip(),
                                   f"{g['outcome']} {','.join(g['reasons'])}".strip())
            detail = ""
            if g["outcome"] == "sent":
                inv = qbo_invoices.get(g["qbo_id"] or "")
                total = money(inv.get("TotalAmt")) if inv else None
                customer = ((inv or {}).get("CustomerRef") or {}).get("value")
                want = f"customer {exp['customer']}, total {exp['total']:.2f}"
                seen = f"customer {customer}, total {total:.2f}" if inv and total is not None else "not in QBO"
                ok &= self.ledger.check(ITEMS, f"QBO invoice {g['qbo_id']} for Canopy invoice {cid}", want, seen)
                detail = f"sent → QBO invoice {g['qbo_id']}" + (f" (DocNumber {inv.get('DocNumber')})" if inv else "")
            elif g["outcome"] == "held":
                detail = f"held: {', '.join(g['reasons'])}"
            else:
                detail = g["outcome"]
            truth = "sent" if exp["outcome"] == "sent" else f"held: {', '.join(exp['reasons'])}"
            if n < ROWS_SHOWN:
                t.add_row(cid, exp["client"], str(exp["lines"]), f"{exp['total']:.2f}", detail, truth, mark(ok))
        more_rows(t, min(len(expected), ROWS_SHOWN), len(expected))
        extra = sorted(set(got) - set(expected))
        self.ledger.check(ITEMS, "invoices the ground truth does not have", "none", plain(extra), not extra)
        self.console.print(t)
        self.status = await self.as_admin.get("/integration")
        sync = self.status.get("sync") or {}
        self.note(f"Finish: {result.get('sent')} sent, {result.get('held')} held; the wizard is at step "
                  f"{self.status['step']!r}; ongoing sync: contacts {sync.get('contacts')}, items and invoices "
                  f"{sync.get('items_and_invoices')}.")
        self.ledger.check(ITEMS, "ongoing sync of items and invoices on after Finish", True,
                          sync.get("items_and_invoices"))
