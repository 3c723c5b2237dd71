"""The setup wizard's shell: gather, decide with the pure core, apply.

Each call loads the firm's `Wizard`, feeds `engine.setup.advance` one event, performs the
effects it returns against QBO, Canopy and the store, and saves the new wizard only when
the effects succeeded, so a failed step leaves the wizard where it was. Long work runs as
a job (`engine.jobs`); its result comes back into the wizard as an event.

The HTTP layer (`engine.app`) only parses requests and shapes replies.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from engine import mapping, setup
from engine.clients import (
    AuthRefused,
    BatchOp,
    CanopyClient,
    Pacer,
    QboClient,
    QboOAuth,
    RetryPolicy,
    UpstreamError,
)
from engine.clock import Clock
from engine.config import EngineConfig
from engine.gates import GateInputs, connect_refusal, items_step_refusal
from engine.jobs import Jobs, Progress
from engine.matching import default_income_account, match_contacts, match_items
from engine.models import (
    Account,
    Contact,
    Customer,
    ImportChoice,
    ItemLink,
    NameHolder,
    QboItem,
    ServiceItem,
)
from engine.review import PAGE_SIZE, SECTION_ORDER, Section, SectionSizes, page_count
from engine.setup import Step, Wizard, WizardError
from engine.store import (
    LinkPair,
    LogEntry,
    OAuthStateError,
    ReviewRow,
    StaleVersion,
    Store,
)
from engine.sync import canonical
from engine.sync.apply import linked
from engine.sync.canonical import content_hash
from engine.tokens import StoredTokens

log = logging.getLogger("engine.service")
CREATE_CONCURRENCY = 8
"""Canopy has no batch create: this many creates are in flight at once during a contact sync."""
LINK_CHUNK = 200
"""New contacts created between two writes of their links and log lines."""

REAUTH_PREFIX = "re."
"""OAuth states of a reauthorization (R22a) start so; the setup wizard's never do."""
GATE_REASONS = frozenset({"plan_not_eligible", "missing_license", "missing_permission", "not_available_for_module"})
CONNECTED_STEPS = frozenset(setup._CONNECTED) | {Step.AGREEMENT, Step.EXCHANGING}


class ApiError(Exception):
    """An error the API answers as `{"error": {...}}` with this status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def wizard_error(err: WizardError) -> ApiError:
    """Gate refusals are 403 (nothing stored); every other refusal is a 409 with the step."""
    status = 403 if err.reason in GATE_REASONS else 409
    return ApiError(status, err.reason, str(err), step=err.state.value, allowed=list(err.allowed))


@dataclass(frozen=True)
class Me:
    """The Canopy team member a request acts for, as `GET /public/v3/me` describes them."""

    token: str
    firm_id: str
    user_id: str
    gates: GateInputs
    raw: dict[str, Any]


class Engine:
    """Everything the wizard API does, for many firms at once; one instance per process."""

    def __init__(self, config: EngineConfig, store: Store, clock: Clock, http: aiohttp.ClientSession) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.http = http
        self.policy = RetryPolicy(base=config.backoff.base, cap=config.backoff.cap,
                                  attempts=config.backoff.attempts, sleep=clock.sleep)
        self.oauth = QboOAuth(http, config.qbo_url, config.qbo_client_id, config.qbo_client_secret,
                              config.redirect_uri, self.policy)
        self.jobs = Jobs(store, clock)
        self._locks: dict[str, asyncio.Lock] = {}
        self._token_locks: dict[int, asyncio.Lock] = {}
        self._pacers: dict[str, Pacer] = {}
        self.worker: Any = None
        """The in-process worker `serve` runs (None in a process that only serves the API)."""

    # -- plumbing ---------------------------------------------------------------------------

    def lock(self, firm_id: str) -> asyncio.Lock:
        return self._locks.setdefault(firm_id, asyncio.Lock())

    def canopy(self, token: str, stats: Counter[str] | None = None) -> CanopyClient:
        return CanopyClient(self.http, self.config.canopy_url, token, self.policy, stats=stats)

    def qbo(self, conn: Any, stats: Counter[str] | None = None) -> QboClient:
        tokens = StoredTokens(self.store, conn.id, self.oauth, self.clock,
                              on_refused=lambda exc: self.refused(conn.id, exc),
                              lock=self._token_locks.setdefault(conn.id, asyncio.Lock()))
        return QboClient(self.http, self.config.qbo_url, conn.realm_id, tokens, self.policy, stats=stats,
                         pacer=self.pacer(conn.realm_id))

    def pacer(self, realm_id: str) -> Pacer | None:
        """The realm's one pacer in this process: QBO counts its limits per realm, whichever
        firm's connection or job sends (None when pacing is off)."""
        if not self.config.qbo_pacing:
            return None
        if realm_id not in self._pacers:
            self._pacers[realm_id] = Pacer(self.clock, margin=self.config.qbo_pace_margin)
        return self._pacers[realm_id]

    def canopy_for(self, conn: Any, stats: Counter[str] | None = None) -> CanopyClient:
        token = self.store.canopy_credentials(conn.id).token
        if not token:
            raise ApiError(409, "not_connected", "this firm has no Canopy integration token")
        return self.canopy(token, stats)

    def clients_for(self, conn: Any, p: Progress) -> tuple[QboClient, CanopyClient]:
        """Both clients of a job, counting their calls into the job's result (`calls`)."""
        return self.qbo(conn, p.calls["qbo"]), self.canopy_for(conn, p.calls["canopy"])

    def refused(self, connection_id: int, exc: AuthRefused, as_of_version: int | None = None) -> bool:
        """R22a: QBO refused the tokens; the status says why until the user reauthorizes.

        `as_of_version`: the connection's version the refused call started from (or, for a
        refused refresh, `exc.connection_version`, read under the row lock). If the
        connection was written since (a reauthorization committing while the call was in
        flight), the refusal is of tokens already replaced: nothing is marked (False), and the
        caller's events are tried again with the connection as it is now."""
        if exc.connection_version is not None:  # read under the row lock: the surer of the two
            as_of_version = exc.connection_version
        try:
            self.store.update_connection(connection_id, self.clock.now(), expected_version=as_of_version,
                                         state="needs_reauthorization", reason=exc.reason)
        except StaleVersion:
            return False
        self._log(connection_id, "connection", "failed", "R22a", exc.reason, detail={"message": exc.message})
        return True

    async def whoami(self, token: str) -> Me:
        try:
            me = await self.canopy(token).me()
        except AuthRefused as exc:
            raise ApiError(401, "unauthorized", "Canopy does not know this bearer token") from exc
        if me.get("type") != "user" or not isinstance(me.get("user"), dict):
            raise ApiError(401, "unauthorized", "the wizard acts for a team member: send a user token")
        return Me(token, str(me["firm"]["id"]), str(me["user"]["id"]), GateInputs.from_me(me), me)

    def load(self, firm_id: str) -> tuple[Any, Wizard]:
        conn = self.store.connection_for_firm(firm_id)
        return conn, (conn.get_wizard() if conn is not None else Wizard())

    def save(self, firm_id: str, conn: Any, wizard: Wizard, **fields: Any) -> Any:
        now = self.clock.now()
        if conn is None:
            conn = self.store.ensure_connection(firm_id, now)
        return self.store.update_connection(conn.id, now, wizard=wizard, **fields)

    def step(self, wizard: Wizard, event: setup.Event) -> tuple[Wizard, list[setup.Effect]]:
        try:
            return setup.advance(wizard, event)
        except WizardError as err:
            raise wizard_error(err) from err

    def allowed(self, wizard: Wizard, event_type: type) -> None:
        """Refuse early, before gathering data, an event the current step cannot take."""
        if event_type not in setup.TRANSITIONS.get(wizard.step, {}):
            raise wizard_error(WizardError("illegal_event", wizard.step, wizard.allowed()))

    # -- status -----------------------------------------------------------------------------

    def status(self, me: Me) -> dict[str, Any]:
        conn, w = self.load(me.firm_id)
        reason = connect_refusal(me.gates, already_connected=w.step in CONNECTED_STEPS)
        job = self.store.latest_job(conn.id) if conn is not None else None
        connection = None
        if conn is not None and conn.realm_id and w.step in CONNECTED_STEPS | {Step.DISCONNECTED}:
            state = "disconnected" if w.step is Step.DISCONNECTED else (
                conn.state if conn.state == "needs_reauthorization" else
                "connected" if w.step in setup._CONNECTED else "connecting")
            connection = {"realm_id": conn.realm_id, "state": state, "reason": conn.reason,
                          "message": (f"Updates are not syncing with QBO: {conn.reason}"
                                      if state == "needs_reauthorization" else None),
                          "connected_by": conn.connected_by}
        return {
            "firm_id": me.firm_id, "user_id": me.user_id, "step": w.step.value, "allowed": list(w.allowed()),
            "connect": {"enabled": reason is None, "reason": reason},
            "connection": connection,
            "contacts": {"choice": w.choice.value if w.choice else None, "sizes": _sizes(w.sizes),
                         "opened": [s.value for s in SECTION_ORDER if s in w.opened.sections],
                         "result": ({"linked": w.contacts_result.linked, "created": w.contacts_result.created}
                                    if w.contacts_result else None)},
            "items": {"income_account_id": w.income_account, "skipped": w.step is Step.SKIPPED_ITEMS,
                      "available": items_step_refusal(me.gates) is None},
            "job": job_view(job),
            "sync": ({"contacts": conn.ongoing_contacts, "items_and_invoices": conn.ongoing_items,
                      "pending": self.store.inbox_pending(conn.id), "held": len(self.store.held(conn.id))}
                     if conn is not None else None),
        }

    # -- connect, callback, agreement (R1-R4a) -----------------------------------------------

    async def connect(self, me: Me) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            state = secrets.token_urlsafe(24)
            w, _ = self.step(w, setup.Connect(me.gates, state))
            self.store.add_oauth_state(state, me.firm_id, me.user_id, self.clock.now())
            self.save(me.firm_id, conn, w)
        return {"authorize_url": await self.oauth.authorize_url(state, self.config.scopes), "state": state}

    async def callback(self, query: dict[str, str]) -> dict[str, Any]:
        state = query.get("state") or ""
        try:
            bound = self.store.use_oauth_state(state, self.clock.now())
        except OAuthStateError as exc:
            message = {"state_reused": "this sign-in answer was already used"}.get(
                exc.code, "this sign-in was not started here (unknown state)")
            raise ApiError(409, exc.code, message) from exc
        if state.startswith(REAUTH_PREFIX):
            return await self._reauthorized(bound, query)
        async with self.lock(bound.firm_id):
            conn, w = self.load(bound.firm_id)
            if query.get("error"):
                w, effects = self.step(w, setup.CallbackFailed(state, query["error"]))
                self.save(bound.firm_id, conn, w)
                reason = next(e.reason for e in effects if isinstance(e, setup.Notify))
                raise ApiError(400, reason.split(":")[0], f"the QBO sign-in did not finish: {query['error']}")
            code, realm = query.get("code"), query.get("realmId")
            if not code or not realm:
                raise ApiError(400, "bad_request", "the callback needs code, state and realmId")
            w, _ = self.step(w, setup.CallbackOk(state, code, realm))
            try:
                tokens = await self.oauth.exchange(code)
            except UpstreamError as exc:
                w, _ = self.step(w, setup.ExchangeFailed(exc.code or "error"))
                self.save(bound.firm_id, conn, w)
                raise ApiError(502, "token_exchange_failed", f"QBO refused the code: {exc.message}") from exc
            w, _ = self.step(w, setup.ExchangeOk())
            now = self.clock.now()
            conn = self.save(bound.firm_id, conn, w, realm_id=realm, connected_by=bound.user_id, state="setup",
                             reason=None)
            self.store.set_qbo_tokens(conn.id, tokens.access, tokens.refresh,
                                      now + timedelta(seconds=tokens.access_expires_in),
                                      now + timedelta(seconds=tokens.refresh_expires_in))
        return {"step": w.step.value, "realm_id": realm}

    async def reauthorize(self, me: Me) -> dict[str, Any]:
        """R22a: sign in to QBO again for a connection whose tokens QBO refused; setup stays done."""
        conn, w = self.load(me.firm_id)
        if conn is None or w.step not in setup._CONNECTED or not conn.realm_id:
            raise ApiError(409, "not_connected", "there is no connection to reauthorize", step=w.step.value,
                           allowed=list(w.allowed()))
        reason = connect_refusal(me.gates, already_connected=False)
        if reason:
            raise ApiError(403, reason, f"this team member may not connect: {reason}")
        state = REAUTH_PREFIX + secrets.token_urlsafe(24)
        self.store.add_oauth_state(state, me.firm_id, me.user_id, self.clock.now())
        return {"authorize_url": await self.oauth.authorize_url(state, self.config.scopes), "state": state}

    async def _reauthorized(self, bound: Any, query: dict[str, str]) -> dict[str, Any]:
        async with self.lock(bound.firm_id):
            conn, w = self.load(bound.firm_id)
            if query.get("error"):
                raise ApiError(400, "sign_in_cancelled" if query["error"] == "access_denied" else "sign_in_failed",
                               f"the QBO sign-in did not finish: {query['error']}")
            if conn is None or query.get("realmId") != conn.realm_id or not query.get("code"):
                raise ApiError(409, "wrong_company", "reauthorize the company this firm is connected to")
            try:
                tokens = await self.oauth.exchange(query["code"])
            except UpstreamError as exc:
                raise ApiError(502, "token_exchange_failed", f"QBO refused the code: {exc.message}") from exc
            now = self.clock.now()
            self.store.set_qbo_tokens(conn.id, tokens.access, tokens.refresh,
                                      now + timedelta(seconds=tokens.access_expires_in),
                                      now + timedelta(seconds=tokens.refresh_expires_in))
            self.store.update_connection(conn.id, now, state="connected", reason=None, connected_by=bound.user_id)
            self._log(conn.id, "connection", "info", "R22a", "reauthorized")
        self.wake()
        return {"step": w.step.value, "realm_id": conn.realm_id, "reauthorized": True}

    def wake(self) -> None:
        """Tell the in-process worker (if any) that there is work."""
        if self.worker is not None:
            self.worker.wake()

    async def agreement(self, me: Me, accept: bool) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            if conn is not None and w.step is Step.AGREEMENT and conn.connected_by != me.user_id:
                raise ApiError(409, "other_user_connecting", "another team member is connecting this firm",
                               step=w.step.value, allowed=list(w.allowed()))
            w, _effects = self.step(w, setup.Accept() if accept else setup.Decline())
            if accept:
                await self._store_connection(me, conn)
                self.save(me.firm_id, conn, w, state="connected", reason=None)
                self._log(conn.id, "connection", "info", "R4", "agreement_accepted")
            else:
                await self._revoke_qbo(conn)
                self._forget_tokens(conn.id)
                self.save(me.firm_id, conn, w, realm_id=None, connected_by=None, state="setup")
                self._log(conn.id, "connection", "info", "R4", "agreement_declined")
        return self.status(me)

    async def _store_connection(self, me: Me, conn: Any) -> None:
        """R4: the Canopy integration (its own token) and the webhook subscription."""
        user = self.canopy(me.token)
        integration, token = await user.create_integration("QuickBooks Online")
        secret = secrets.token_hex(24)
        hook = await self.canopy(token).create_webhook(
            f"{self.config.public_url}/webhooks/canopy/{me.firm_id}", secret)
        self.store.set_canopy_credentials(conn.id, integration_id=str(integration["id"]), token=token,
                                          webhook_id=str(hook["id"]), webhook_secret=secret)

    def _forget_tokens(self, connection_id: int) -> None:
        self.store.set_qbo_tokens(connection_id, None, None, None, None)
        self.store.set_canopy_credentials(connection_id, integration_id=None, token=None, webhook_id=None,
                                          webhook_secret=None)

    async def _revoke_qbo(self, conn: Any) -> None:
        tokens = self.store.qbo_tokens(conn.id) if conn is not None else None
        if tokens is not None and (tokens.refresh_token or tokens.access_token):
            try:
                await self.oauth.revoke(tokens.refresh_token or tokens.access_token or "")
            except UpstreamError as exc:  # revocation is best effort; the tokens are forgotten anyway
                self._log(conn.id, "connection", "failed", "R22", f"qbo_revoke_failed: {exc.message}")

    # -- contacts (R5-R11) ------------------------------------------------------------------

    async def choose_filter(self, me: Me, choice: ImportChoice) -> int:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            self.allowed(w, setup.ChooseFilter)
            self._not_busy(conn)
            return self.jobs.start(conn.id, "contacts_review", lambda p: self._review_contacts(me.firm_id, conn,
                                                                                               choice, p))

    def _not_busy(self, conn: Any) -> None:
        job = self.store.latest_job(conn.id)
        if job is not None and job.state == "running":
            raise ApiError(409, "job_running", f"a {job.kind} job is still running", job=job_view(job))

    async def _review_contacts(self, firm_id: str, conn: Any, choice: ImportChoice, p: Progress) -> dict[str, Any]:
        qbo, canopy = self.clients_for(conn, p)
        p.at("reading Canopy clients")
        clients = await canopy.list_all("clients", on_page=p.counter())
        contacts = [Contact.from_canopy(c) for c in clients if not c.get("is_deleted")]
        p.at("reading QBO customers", total=p.done)
        where = {ImportChoice.ALL: "Active IN (true, false)", ImportChoice.ACTIVE: "Active = true",
                 ImportChoice.INACTIVE: "Active = false"}[choice]
        customers_raw = await qbo.query_all("Customer", where, on_page=p.counter())
        outside: list[dict[str, Any]] = []
        if choice is not ImportChoice.ALL:  # R5: remembered so the ongoing sync leaves them alone too
            p.at("reading QBO customers outside the filter")
            other = "Active = false" if choice is ImportChoice.ACTIVE else "Active = true"
            outside = await qbo.query_all("Customer", other, select="Id")
        p.at("reading QBO vendors and employees")
        holders = [NameHolder.from_qbo("vendor", v) for v in await qbo.query_all("Vendor", "Active IN (true, false)")]
        holders += [NameHolder.from_qbo("employee", e)
                    for e in await qbo.query_all("Employee", "Active IN (true, false)")]
        p.at("matching names")
        plan = match_contacts(contacts, [Customer.from_qbo(c) for c in customers_raw], holders, choice)
        raw_by_id = {str(c["Id"]): c for c in customers_raw}
        entries: list[dict[str, Any]] = []
        entries += [{"section": "matches", "canopy_id": m.contact.id, "qbo_id": m.customer.id,
                     "name": m.contact.display_name, "detail": {"qbo_name": m.customer.display_name}}
                    for m in plan.matched]
        entries += [{"section": "new_contacts", "canopy_id": None, "qbo_id": n.customer.id,
                     "name": n.customer.display_name,
                     "detail": {"client": mapping.canopy_client_from_customer(raw_by_id[n.customer.id])}}
                    for n in plan.new]
        entries += [{"section": "unmatched", "canopy_id": u.contact.id, "qbo_id": None,
                     "name": u.contact.display_name, "detail": {"reason": u.reason}} for u in plan.unmatched]
        entries += [{"section": "duplicates", "canopy_id": d.id if d.side == "canopy" else None,
                     "qbo_id": d.id if d.side == "qbo" else None, "name": d.display_name,
                     "detail": {"side": d.side, "reasons": list(d.reasons)}} for d in plan.duplicates]
        entries += [{"section": "outside_filter", "canopy_id": None, "qbo_id": str(c["Id"]), "name": ""}
                    for c in outside]
        p.at("saving the review", total=len(entries))
        job_id = p.job_id
        self.store.add_review(job_id, [ReviewRow(**e) for e in entries])
        sizes = SectionSizes.of_plan(plan)
        async with self.lock(firm_id):
            conn2, w = self.load(firm_id)
            w, _ = self.step(w, setup.ChooseFilter(choice, sizes))
            self.save(firm_id, conn2, w)
        return {"sizes": _sizes(sizes), "choice": choice.value}

    def review_job(self, conn: Any, kind: str = "contacts_review") -> Any:
        job = self.store.latest_job(conn.id, kind=kind) if conn is not None else None
        if job is None or job.state != "done":
            raise ApiError(409, "no_review", "run the review first")
        return job

    def review_rows(self, job_id: int, section: str) -> list[Any]:
        return self.store.review_page(job_id, section, 0, 10**9)

    def review(self, me: Me) -> dict[str, Any]:
        _conn, w = self.load(me.firm_id)
        if w.step is not Step.CONTACTS_REVIEW and w.choice is None:
            raise wizard_error(WizardError("illegal_event", w.step, w.allowed()))
        return {"choice": w.choice.value if w.choice else None, "sections": [
            {"section": s.value, "total": w.sizes.of(s), "pages": page_count(w.sizes.of(s)),
             "opened": s in w.opened.sections} for s in SECTION_ORDER],
            "can_sync": all(s in w.opened.sections for s in SECTION_ORDER), "page_size": PAGE_SIZE}

    async def review_page(self, me: Me, section: Section | None, page_no: int) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            if section is None:
                w, _ = self.step(w, setup.Next())
                assert w.opened.current is not None
                section, page_no = w.opened.current, 1
            else:
                w, _ = self.step(w, setup.OpenSection(section, page_no))
            self.save(me.firm_id, conn, w)
        job = self.review_job(conn)
        total = w.sizes.of(section)
        rows = self.store.review_page(job.id, section.value, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
        return {"section": section.value, "page": page_no, "pages": page_count(total), "total": total,
                "records": [_entry(r) for r in rows]}

    async def sync_contacts(self, me: Me) -> tuple[dict[str, Any] | None, int | None]:
        """R10 guard and R11: (first result, None) when already done, else (None, job id)."""
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, effects = self.step(w, setup.SyncContacts())
            for effect in effects:
                if isinstance(effect, setup.AnswerContactSync):
                    return {"linked": effect.result.linked, "created": effect.result.created}, None
            if not effects:  # still running: point at the running job
                job = self.store.latest_job(conn.id, kind="contacts_sync")
                return None, job.id if job else None
            self.save(me.firm_id, conn, w)
            return None, self.start_contact_sync(me.firm_id, conn)

    def start_contact_sync(self, firm_id: str, conn: Any) -> int:
        return self.jobs.start(conn.id, "contacts_sync", lambda p: self._sync_contacts(firm_id, conn, p))

    async def _sync_contacts(self, firm_id: str, conn: Any, p: Progress) -> dict[str, Any]:
        """R11 (and D-15 on a restart): link the matches, create the new contacts, once each."""
        canopy = self.clients_for(conn, p)[1]
        review = self.review_job(conn)
        matches = self.review_rows(review.id, "matches")
        new = self.review_rows(review.id, "new_contacts")
        p.at("linking matches", total=len(matches) + len(new))
        existing = self.store.links(conn.id, "contact")
        matched_ids = {r.canopy_id for r in matches} | {r.qbo_id for r in matches}
        stale = [lk for lk in existing if (lk.canopy_id in matched_ids or lk.qbo_id in matched_ids)
                 and (lk.canopy_id, lk.qbo_id) not in {(r.canopy_id, r.qbo_id) for r in matches}]
        if stale:  # D-15: a link whose records no longer match gives way to the review's match
            for lk in stale:
                self.store.delete_link(conn.id, "contact", canopy_id=lk.canopy_id, qbo_id=lk.qbo_id)
        now = self.clock.now()
        new_links = self.store.add_links(conn.id, "contact", [LinkPair(r.canopy_id, r.qbo_id) for r in matches], now)
        self._log_many(conn.id, "contact", "linked", "R11", [(r.canopy_id, r.qbo_id, None) for r in matches])
        p.add(len(matches))
        p.at("creating new contacts in Canopy", total=len(matches) + len(new), done=len(matches))
        already = {lk.qbo_id for lk in self.store.links(conn.id, "contact")}
        todo = [row for row in new if row.qbo_id not in already]
        p.add(len(new) - len(todo))
        gate = asyncio.Semaphore(CREATE_CONCURRENCY)

        async def create(row: Any) -> tuple[Any, tuple[str, Any] | None]:
            async with gate:
                try:
                    client = await canopy.create("clients", row.detail["client"],
                                                 idempotency_key=f"setup-{conn.id}-contact-{row.qbo_id}")
                except UpstreamError as exc:
                    self._log(conn.id, "contact", "failed", "R8", exc.message, qbo_id=row.qbo_id,
                              direction="qbo_to_canopy", detail={"code": exc.code, "name": row.name})
                    return row, None
                finally:
                    p.add()
            return row, (str(client["id"]), canonical.canopy_contact(client))

        created = 0
        for start in range(0, len(todo), LINK_CHUNK):
            # The Idempotency-Key makes a create that lost its link (a crash before this write) replay
            # the same client on the next run, so links may be written a chunk at a time.
            done = [(row, cid) for row, cid in await asyncio.gather(*map(create, todo[start:start + LINK_CHUNK]))
                    if cid is not None]
            self.store.add_links(conn.id, "contact", [linked(cid, row.qbo_id, mine) for row, (cid, mine) in done],
                                 self.clock.now())
            self.store.append_log(conn.id, [LogEntry(kind="contact", action="created", rule="R8", canopy_id=cid,
                                                     qbo_id=row.qbo_id, direction="qbo_to_canopy")
                                            for row, (cid, _) in done], self.clock.now())
            created += len(done)
        async with self.lock(firm_id):
            conn2, w = self.load(firm_id)
            w, _ = self.step(w, setup.ContactsSynced(linked=len(matches), created=created))
            conn2 = self.save(firm_id, conn2, w, ongoing_contacts=True)
        from engine.sync import reconcile
        await reconcile.initial_cursors(self, conn2)
        return {"linked": len(matches), "created": created, "new_links": new_links}

    # -- items (R13-R17) --------------------------------------------------------------------

    async def start_items(self, me: Me, repeat: bool = False) -> int:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            event_type = setup.RepeatItems if repeat else setup.StartItems
            self.allowed(w, event_type)
            if not repeat and (reason := items_step_refusal(me.gates)):
                raise wizard_error(WizardError(reason, w.step, w.allowed()))
            self._not_busy(conn)
            return self.jobs.start(conn.id, "items_review",
                                   lambda p: self._review_items(me, conn, repeat, p))

    async def _review_items(self, me: Me, conn: Any, repeat: bool, p: Progress) -> dict[str, Any]:
        qbo, canopy = self.clients_for(conn, p)
        p.at("reading QBO accounts")
        accounts = [Account.from_qbo(a) for a in await qbo.query_all("Account", "AccountType = 'Income'")]
        p.at("reading Canopy service items")
        c_items = [ServiceItem.from_canopy(i) for i in await canopy.list_all("service_items")
                   if not i.get("is_deleted") and i.get("is_active", True)]
        p.at("reading QBO items")
        q_items = [QboItem.from_qbo(i) for i in await qbo.query_all("Item", "Type = 'Service'")]
        links = [ItemLink(lk.canopy_id, lk.qbo_id) for lk in self.store.links(conn.id, "item")]
        p.at("matching items", total=len(c_items) + len(q_items))
        plan = match_items(c_items, q_items, links)
        p.add(len(c_items) + len(q_items))
        entries = [{"section": "item_matches", "canopy_id": m.canopy.id, "qbo_id": m.qbo.id, "name": m.canopy.name,
                    "detail": {"qbo_name": m.qbo.name, "rate": str(m.canopy.rate), "sku": m.canopy.sku}}
                   for m in plan.matched]
        entries += [{"section": "item_unmatched", "canopy_id": u.id if u.side == "canopy" else None,
                     "qbo_id": u.id if u.side == "qbo" else None, "name": u.name,
                     "detail": {"side": u.side, "reason": u.reason, "differs": list(u.differs),
                                "candidates": list(u.candidate_ids)}} for u in plan.unmatched]
        self.store.add_review(p.job_id, [ReviewRow(**e) for e in entries])
        async with self.lock(me.firm_id):
            conn2, w = self.load(me.firm_id)
            event = setup.RepeatItems() if repeat else setup.StartItems(me.gates, default_income_account(accounts))
            w, _ = self.step(w, event)
            self.save(me.firm_id, conn2, w)
        return {"matched": len(plan.matched), "kept": len(plan.kept), "unmatched": len(plan.unmatched)}

    def items_review(self, me: Me) -> dict[str, Any]:
        conn, w = self.load(me.firm_id)
        job = self.review_job(conn, "items_review")
        matched = [_entry(r) for r in self.review_rows(job.id, "item_matches")]
        unmatched = [_entry(r) for r in self.review_rows(job.id, "item_unmatched")]
        kept = [{"canopy_id": lk.canopy_id, "qbo_id": lk.qbo_id} for lk in self.store.links(conn.id, "item")]
        return {"income_account_id": w.income_account, "matched": matched, "unmatched": unmatched, "linked": kept}

    async def income_account(self, me: Me, account_id: str) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            self.allowed(w, setup.ChooseIncomeAccount)
            try:
                account = await self.qbo(conn).get("Account", account_id)
            except UpstreamError as exc:
                raise ApiError(400, "bad_request", f"no QBO account {account_id}: {exc.message}") from exc
            if account.get("AccountType") != "Income" or not account.get("Active", True):
                raise ApiError(400, "bad_request", f"account {account_id} is not an active Income account")
            w, _ = self.step(w, setup.ChooseIncomeAccount(account_id))
            self.save(me.firm_id, conn, w, income_account_id=account_id)
        return self.status(me)

    async def sync_items(self, me: Me) -> dict[str, Any]:
        """R17: link the matched items (a few hundred at most: done inline, not as a job)."""
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, effects = self.step(w, setup.SyncItems())
            result = {"linked": 0}
            if any(isinstance(e, setup.RunItemSync) for e in effects):
                job = self.review_job(conn, "items_review")
                rows = self.review_rows(job.id, "item_matches")
                result["linked"] = self.store.add_links(conn.id, "item", [LinkPair(r.canopy_id, r.qbo_id) for r in rows],
                                                        self.clock.now())
                self._log_many(conn.id, "item", "linked", "R17", [(r.canopy_id, r.qbo_id, None) for r in rows])
            self.save(me.firm_id, conn, w, income_account_id=w.income_account)
        return {**result, "integration": self.status(me)}

    async def skip_items(self, me: Me) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, _ = self.step(w, setup.SkipItems())
            self.save(me.firm_id, conn, w, items_skipped=True)
            self._log(conn.id, "item", "skipped", "R14", "items_step_skipped")
        return self.status(me)

    async def finish(self, me: Me) -> int | None:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, effects = self.step(w, setup.Finish())
            if not effects:
                return None
            self._not_busy(conn)
            self.save(me.firm_id, conn, w, items_skipped=False, ongoing_items=True)
            return self.jobs.start(conn.id, "invoices_send", lambda p: self._send_invoices(conn, p))

    async def _send_invoices(self, conn: Any, p: Progress) -> dict[str, Any]:
        """R17: every existing Canopy invoice whose client and items are linked goes to QBO once."""
        qbo, canopy = self.clients_for(conn, p)
        p.at("reading Canopy invoices")
        invoices = [i for i in await canopy.list_all("invoices") if mapping.sendable(i)]
        customers = {lk.canopy_id: lk.qbo_id for lk in self.store.links(conn.id, "contact")}
        items = {lk.canopy_id: lk.qbo_id for lk in self.store.links(conn.id, "item")}
        sent_already = {lk.canopy_id for lk in self.store.links(conn.id, "invoice")}
        to_send: list[tuple[str, dict[str, Any]]] = []
        held = 0
        for inv in invoices:
            if str(inv["id"]) in sent_already:
                continue
            decision = mapping.qbo_invoice(inv, customers, items)
            if decision.body is None:
                held += 1
                self.store.hold(conn.id, "invoice", str(inv["id"]), decision.held, self.clock.now())
                self._log(conn.id, "invoice", "held", "R19", ",".join(decision.held), canopy_id=str(inv["id"]),
                          direction="canopy_to_qbo", detail={"number": inv.get("number")})
            else:
                to_send.append((str(inv["id"]), decision.body))
        p.at("sending invoices to QBO", total=len(to_send))
        bodies = dict(to_send)
        sent = failed = 0
        for start in range(0, len(to_send), 30):
            chunk = to_send[start:start + 30]
            ids = ",".join(cid for cid, _ in chunk)
            prefix = f"inv-{conn.id}-{hashlib.sha1(ids.encode()).hexdigest()[:16]}"
            results = await qbo.batch([BatchOp("Invoice", "create", body) for _, body in chunk], prefix)
            for (canopy_id, _), res in zip(chunk, results):
                if res.ok and res.entity is not None:
                    digest = content_hash(bodies[canopy_id])  # what was sent: an unchanged invoice is not resent
                    self.store.add_links(conn.id, "invoice", [LinkPair(canopy_id, str(res.entity["Id"]), digest,
                                                                       digest)], self.clock.now())
                    self._log(conn.id, "invoice", "created", "R17", None, canopy_id=canopy_id,
                              qbo_id=str(res.entity["Id"]), direction="canopy_to_qbo")
                    sent += 1
                else:
                    error = res.error
                    self._log(conn.id, "invoice", "failed", "R17", error.message if error else "no answer",
                              canopy_id=canopy_id, direction="canopy_to_qbo",
                              detail={"code": error.code if error else None})
                    failed += 1
            p.add(len(chunk))
        return {"sent": sent, "held": held, "failed": failed}

    # -- disconnect, restart (R22) ----------------------------------------------------------

    async def disconnect(self, me: Me) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, _ = self.step(w, setup.Disconnect())
            await self._revoke_qbo(conn)
            integration = self.store.canopy_credentials(conn.id)
            if integration.token and integration.integration_id:
                try:
                    if integration.webhook_id:  # no more deliveries to a connection that is gone
                        await self.canopy(integration.token).delete_webhook(integration.webhook_id)
                    await self.canopy(integration.token).delete_integration(integration.integration_id)
                except UpstreamError as exc:
                    self._log(conn.id, "connection", "failed", "R22", f"canopy_revoke_failed: {exc.message}")
            self._forget_tokens(conn.id)
            self.save(me.firm_id, conn, w, state="disconnected", ongoing_contacts=False, ongoing_items=False)
            self._log(conn.id, "connection", "info", "R22", "disconnected")
        return self.status(me)

    async def restart(self, me: Me) -> dict[str, Any]:
        async with self.lock(me.firm_id):
            conn, w = self.load(me.firm_id)
            w, _ = self.step(w, setup.Restart())
            self.save(me.firm_id, conn, w, state="setup", realm_id=None, reason=None)
        return self.status(me)

    # -- log --------------------------------------------------------------------------------

    def sync_log(self, me: Me, limit: int, before: int | None) -> dict[str, Any]:
        conn, _ = self.load(me.firm_id)
        if conn is None:
            return {"entries": [], "next_before": None}
        rows = self.store.read_log(conn.id, limit=limit, before=before)
        return {"entries": [log_view(r) for r in rows],
                "next_before": rows[-1].id if len(rows) == limit else None}

    def _log(self, connection_id: int, kind: str, action: str, rule: str | None, reason: str | None,
             **fields: Any) -> None:
        self.store.append_log(connection_id, [LogEntry(kind=kind, action=action, rule=rule, reason=reason, **fields)],
                              self.clock.now())

    def _log_many(self, connection_id: int, kind: str, action: str, rule: str,
                  pairs: list[tuple[str | None, str | None, str | None]]) -> None:
        if pairs:
            self.store.append_log(connection_id, [
                LogEntry(kind=kind, action=action, rule=rule, reason=reason, canopy_id=c, qbo_id=q)
                for c, q, reason in pairs], self.clock.now())

    # -- recovery ---------------------------------------------------------------------------

    def resume(self) -> None:
        """After a restart: jobs that were running are failed; a contact sync that was cut off
        runs again (it links and creates nothing twice: R11)."""
        self.store.fail_running_jobs(self.clock.now(), "the engine stopped while this job ran")
        for conn in self.store.connections():
            if conn.get_wizard().step is Step.CONTACTS_SYNCING:
                self.start_contact_sync(conn.firm_id, conn)


def _sizes(sizes: SectionSizes) -> dict[str, int]:
    return {s.value: sizes.of(s) for s in SECTION_ORDER}


def _entry(row: Any) -> dict[str, Any]:
    return {"canopy_id": row.canopy_id, "qbo_id": row.qbo_id, "name": row.name, **(row.detail or {})}


def job_view(job: Any) -> dict[str, Any] | None:
    if job is None:
        return None
    return {"id": str(job.id), "kind": job.kind, "state": job.state, "done": job.done, "total": job.total,
            "step": job.step, "error": job.error, "result": job.result}


def log_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "kind": row.kind, "action": row.action,
            "direction": row.direction, "canopy_id": row.canopy_id, "qbo_id": row.qbo_id, "rule": row.rule,
            "reason": row.reason, "detail": row.detail}

