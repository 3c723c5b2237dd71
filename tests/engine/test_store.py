"""The engine's store on SQLite and PostgreSQL: schema, secrets, OAuth states, jobs, reviews,
links, the sync log, the connection lock, the inbox and cursors."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, text
from sqlalchemy.exc import StatementError

from engine.crypto import TokenBox, TokenKeyError
from engine.models import ImportChoice
from engine.review import Opened, Section, SectionSizes
from engine.setup import Step, Wizard
from engine.store import (
    Base,
    InboxEvent,
    IncomingEvent,
    LinkConflict,
    LinkPair,
    LogEntry,
    OAuthStateError,
    ReviewRow,
    StaleVersion,
    Store,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run_threads(*targets: Any, timeout: float = 20) -> None:
    """Run callables in threads; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def wrap(fn: Any) -> Any:
        def go() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)
        return go

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


@pytest.fixture
def conn_id(store: Store) -> int:
    return store.ensure_connection("firm-1", T0).id


# --- schema ----------------------------------------------------------------------------------

def test_migrations_build_exactly_the_models_schema(store: Store) -> None:
    store.migrate()  # a second run is a no-op
    with store.engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
        assert ctx.get_current_revision() == ScriptDirectory.from_config(store.alembic_config()).get_current_head()
        # the comparison is live: a model column the migration lacks is reported
        changed = MetaData(naming_convention=Base.metadata.naming_convention)
        for t in Base.metadata.tables.values():
            t.to_metadata(changed)
        changed.tables["links"].append_column(Column("note", String()))
        assert [d[0] for d in compare_metadata(ctx, changed)] == ["add_column"]
        if store.dialect == "postgresql":  # everything, version table included, in the test's schema
            schema = c.exec_driver_sql("SELECT current_schema()").scalar()
            assert schema.startswith("engine_test_")
            tables = set(c.execute(text("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = :s"), {"s": schema}).scalars())
            assert tables == set(Base.metadata.tables) | {"alembic_version"}


# --- connections -----------------------------------------------------------------------------

def test_a_firm_gets_one_connection_even_when_requests_race(store: Store) -> None:
    ids: list[int] = []
    run_threads(*[lambda: ids.append(store.ensure_connection("firm-race", T0).id)] * 6)
    assert len(set(ids)) == 1
    assert [c.firm_id for c in store.connections()] == ["firm-race"]


def test_connection_fields_wizard_and_optimistic_version(store: Store, conn_id: int) -> None:
    row = store.get_connection(conn_id)
    assert row is not None and row.state == "setup" and row.get_wizard() == Wizard()
    assert row.created_at == T0 and row.created_at.tzinfo is not None

    wizard = Wizard(step=Step.CONTACTS_REVIEW, realm_id="9130", choice=ImportChoice.ACTIVE,
                    sizes=SectionSizes(3, 2, 1, 0), opened=Opened().open(Section.MATCHES),
                    used_states=frozenset({"s1"}))
    later = T0 + timedelta(minutes=5)
    saved = store.save_wizard(conn_id, wizard, later, expected_version=row.version)
    assert saved.version == row.version + 1 and saved.updated_at == later
    assert store.connection_for_firm("firm-1").get_wizard() == wizard  # type: ignore[union-attr]

    with pytest.raises(StaleVersion):  # written with a version someone else already moved on
        store.update_connection(conn_id, later, expected_version=row.version, state="connected")
    updated = store.update_connection(conn_id, later, state="connected", realm_id="9130", connected_by="u-7",
                                      items_skipped=True)
    assert (updated.state, updated.realm_id, updated.connected_by, updated.items_skipped) == (
        "connected", "9130", "u-7", True)
    assert [c.id for c in store.connections(state="connected")] == [conn_id]
    assert store.connections(state="setup") == []

    with pytest.raises(ValueError, match="set_qbo_tokens"):
        store.update_connection(conn_id, later, qbo_access_token="plain")
    with pytest.raises(StatementError, match="naive datetime"):
        store.update_connection(conn_id, datetime(2025, 1, 1), state="connected")


def test_deleting_a_connection_removes_what_belongs_to_it(store: Store, conn_id: int) -> None:
    other = store.ensure_connection("firm-2", T0).id
    for cid in (conn_id, other):
        store.add_links(cid, "contact", [LinkPair("c1", "q1")], T0)
        store.append_log(cid, [LogEntry("contact", "linked")], T0)
    assert store.delete_connection(conn_id) is True
    assert store.get_connection(conn_id) is None
    assert store.links(conn_id, "contact") == [] and store.read_log(conn_id) == []
    assert len(store.links(other, "contact")) == 1 and len(store.read_log(other)) == 1


# --- secrets ---------------------------------------------------------------------------------

def test_tokens_are_encrypted_at_rest_and_need_the_right_key(store: Store, conn_id: int, db_url: str) -> None:
    exp, rexp = T0 + timedelta(hours=1), T0 + timedelta(days=100)
    store.set_qbo_tokens(conn_id, "ACCESS-abc123", "REFRESH-xyz789", exp, rexp)
    store.set_canopy_credentials(conn_id, integration_id="int-1", token="CANOPY-tok", webhook_id="wh-1",
                                 webhook_secret="WH-secret")

    with store.engine.connect() as c:
        raw = c.execute(text("SELECT qbo_access_token, qbo_refresh_token, canopy_token, canopy_webhook_secret "
                             "FROM connections WHERE id = :i"), {"i": conn_id}).one()
    assert all(v is not None for v in raw)
    for value, secret in zip(raw, ["ACCESS-abc123", "REFRESH-xyz789", "CANOPY-tok", "WH-secret"]):
        assert secret not in value

    tokens = store.qbo_tokens(conn_id)
    assert (tokens.access_token, tokens.refresh_token) == ("ACCESS-abc123", "REFRESH-xyz789")
    assert (tokens.access_expires_at, tokens.refresh_expires_at) == (exp, rexp)
    assert store.canopy_credentials(conn_id).webhook_secret == "WH-secret"

    other = Store(db_url, TokenBox(TokenBox.generate_key()))
    try:
        with pytest.raises(TokenKeyError, match="token key"):
            other.qbo_tokens(conn_id)
    finally:
        other.close()

    store.set_qbo_tokens(conn_id, None, None, None, None)  # disconnect forgets them
    assert store.qbo_tokens(conn_id).refresh_token is None


def test_a_malformed_token_key_is_refused_up_front() -> None:
    with pytest.raises(TokenKeyError, match="Fernet"):
        TokenBox("not-a-key")


# --- OAuth state -----------------------------------------------------------------------------

def test_oauth_state_is_bound_to_its_user_and_used_once(store: Store) -> None:
    store.add_oauth_state("st-1", "firm-1", "user-1", T0)
    winners: list[str] = []
    losers: list[str] = []

    def use() -> None:
        try:
            winners.append(store.use_oauth_state("st-1", T0).user_id)
        except OAuthStateError as exc:
            losers.append(exc.code)

    run_threads(use, use, use)
    assert winners == ["user-1"] and losers == ["state_reused", "state_reused"]
    with pytest.raises(OAuthStateError) as err:
        store.use_oauth_state("never-issued", T0)
    assert err.value.code == "state_mismatch"


# --- jobs ------------------------------------------------------------------------------------

def test_job_progress_then_end(store: Store, conn_id: int) -> None:
    job = store.start_job(conn_id, "contacts_review", T0, step="reading QBO customers")
    store.job_progress(job.id, done=1200, total=10000)
    seen = store.get_job(job.id)
    assert seen is not None and (seen.state, seen.done, seen.total, seen.step) == (
        "running", 1200, 10000, "reading QBO customers")

    done = store.finish_job(job.id, T0 + timedelta(seconds=9), result={"matches": 8})
    assert (done.state, done.result, done.finished_at) == ("done", {"matches": 8}, T0 + timedelta(seconds=9))
    store.job_progress(job.id, done=5)  # a straggling progress report does not reopen it
    store.fail_job(job.id, T0, "late")
    after = store.get_job(job.id)
    assert after is not None and (after.state, after.done, after.error) == ("done", 1200, None)

    second = store.start_job(conn_id, "items_review", T0)
    assert store.latest_job(conn_id).id == second.id  # type: ignore[union-attr]
    assert store.latest_job(conn_id, "contacts_review").id == job.id  # type: ignore[union-attr]
    assert store.fail_running_jobs(T0) == 1
    restarted = store.get_job(second.id)
    assert restarted is not None and restarted.state == "failed" and "restarted" in (restarted.error or "")


# --- review ----------------------------------------------------------------------------------

def test_review_of_50000_rows_is_stored_fast_and_paged(store: Store, conn_id: int) -> None:
    job = store.start_job(conn_id, "contacts_review", T0)
    other = store.start_job(conn_id, "contacts_review", T0)
    sizes = {Section.MATCHES: 20_000, Section.NEW_CONTACTS: 15_000, Section.UNMATCHED: 14_000,
             Section.DUPLICATES: 1_000}
    rows = (ReviewRow(sec, f"{sec.value} {i:05d}", canopy_id=f"c{i}", qbo_id=f"q{i}",
                      detail={"i": i} if sec is Section.DUPLICATES else None)
            for sec, n in sizes.items() for i in range(n))
    started = time.monotonic()
    assert store.add_review(job.id, rows) == 50_000
    assert time.monotonic() - started < 10
    store.add_review(other.id, [ReviewRow("matches", "elsewhere")])

    assert store.review_counts(job.id) == {s.value: n for s, n in sizes.items()}
    first = store.review_page(job.id, Section.MATCHES, 0, 300)
    assert [r.name for r in first[:2]] == ["matches 00000", "matches 00001"] and len(first) == 300
    deep = store.review_page(job.id, "matches", 19_800, 300)
    assert [r.position for r in deep] == list(range(19_800, 20_000))
    assert deep[-1].name == "matches 19999" and (deep[-1].canopy_id, deep[-1].qbo_id) == ("c19999", "q19999")
    assert store.review_page(job.id, "matches", 20_000, 300) == []
    assert store.review_page(job.id, Section.DUPLICATES, 999, 300)[0].detail == {"i": 999}

    store.add_review(job.id, [ReviewRow(Section.DUPLICATES, "appended")])  # a later call appends
    assert store.review_page(job.id, Section.DUPLICATES, 1000, 5)[0].name == "appended"
    assert store.delete_review(job.id) == 50_001
    assert store.review_counts(job.id) == {} and store.review_counts(other.id) == {"matches": 1}


# --- links -----------------------------------------------------------------------------------

def test_links_are_one_to_one_and_adding_them_again_changes_nothing(store: Store, conn_id: int) -> None:
    pairs = [LinkPair(f"c{i}", f"q{i}", canopy_hash=f"h{i}") for i in range(1200)]
    assert store.add_links(conn_id, "contact", pairs, T0) == 1200
    assert store.add_links(conn_id, "contact", pairs[:700] + [LinkPair("c-new", "q-new")], T0) == 1
    assert len(store.links(conn_id, "contact")) == 1201

    link = store.link_by_qbo(conn_id, "contact", "q5")
    assert link is not None and (link.canopy_id, link.canopy_hash) == ("c5", "h5")
    assert store.link_by_canopy(conn_id, "contact", "c5").qbo_id == "q5"  # type: ignore[union-attr]

    for bad in ([LinkPair("c1", "q-other")], [LinkPair("c-other", "q1")]):
        with pytest.raises(LinkConflict) as err:  # a batch with one conflict stores none of it
            store.add_links(conn_id, "contact", [LinkPair("c-fine", "q-fine"), *bad], T0)
        assert err.value.existing == ("c1", "q1")
    with pytest.raises(LinkConflict):
        store.add_links(conn_id, "contact", [LinkPair("x", "y"), LinkPair("x", "z")], T0)
    assert store.link_by_canopy(conn_id, "contact", "c-fine") is None
    assert store.link_by_canopy(conn_id, "contact", "x") is None

    # the same ids under another kind or firm are separate links
    assert store.add_links(conn_id, "item", [LinkPair("c1", "q-other")], T0) == 1
    other = store.ensure_connection("firm-2", T0).id
    assert store.add_links(other, "contact", [LinkPair("c1", "q-other")], T0) == 1

    later = T0 + timedelta(hours=1)
    store.add_links(conn_id, "contact", [LinkPair("c2", "q2", qbo_hash="qh2")], later)
    rehashed = store.link_by_canopy(conn_id, "contact", "c2")
    assert rehashed is not None and (rehashed.canopy_hash, rehashed.qbo_hash, rehashed.updated_at) == (
        "h2", "qh2", later)

    assert store.delete_link(conn_id, "contact", qbo_id="q1") is True
    assert store.link_by_canopy(conn_id, "contact", "c1") is None
    assert store.add_links(conn_id, "contact", [LinkPair("c1", "q-other")], T0) == 1  # free again


# --- sync log --------------------------------------------------------------------------------

def test_sync_log_reads_newest_first_in_pages(store: Store, conn_id: int) -> None:
    entries = [LogEntry("contact", "created", "canopy_to_qbo", canopy_id=f"c{i}", rule="R11", detail={"i": i},
                        at=T0 + timedelta(seconds=i)) for i in range(25)]
    store.append_log(conn_id, entries, T0)
    store.append_log(store.ensure_connection("firm-2", T0).id, [LogEntry("item", "info")], T0)

    pages: list[list[str | None]] = []
    before = None
    while page := store.read_log(conn_id, limit=10, before=before):
        pages.append([e.canopy_id for e in page])
        before = page[-1].id
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [c for p in pages for c in p] == [f"c{i}" for i in reversed(range(25))]
    newest = store.read_log(conn_id, limit=1)[0]
    assert (newest.at, newest.rule, newest.direction, newest.detail) == (
        T0 + timedelta(seconds=24), "R11", "canopy_to_qbo", {"i": 24})


# --- the connection lock ---------------------------------------------------------------------

def test_a_second_token_refresh_waits_for_the_first_and_sees_its_tokens(store: Store, conn_id: int) -> None:
    store.set_qbo_tokens(conn_id, "access-0", "refresh-0", T0, T0 + timedelta(days=100))
    first_holds_lock = threading.Event()
    seen: dict[str, Any] = {}

    def first() -> None:
        with store.locked(conn_id) as (s, _row):
            first_holds_lock.set()
            assert store.qbo_tokens(conn_id, session=s).refresh_token == "refresh-0"
            time.sleep(0.4)  # the refresh call to QBO
            store.set_qbo_tokens(conn_id, "access-1", "refresh-1", T0 + timedelta(hours=1),
                                 T0 + timedelta(days=100), session=s)

    def second() -> None:
        assert first_holds_lock.wait(10)
        started = time.monotonic()
        with store.locked(conn_id) as (s, row):
            seen["waited"] = time.monotonic() - started
            seen["refresh"] = store.qbo_tokens(conn_id, session=s).refresh_token
            seen["row_version"] = row.version

    run_threads(first, second)
    assert seen["refresh"] == "refresh-1"
    assert seen["waited"] >= 0.25
    assert seen["row_version"] == store.get_connection(conn_id).version  # type: ignore[union-attr]


# --- inbox -----------------------------------------------------------------------------------

def _events(*specs: tuple[str, int]) -> list[IncomingEvent]:
    return [IncomingEvent("qbo", "customer", rid, {"n": n}) for rid, n in specs]


def syncing(store: Store, conn_id: int) -> int:
    """Only a connected connection's events are handed out (the others wait: R22a)."""
    store.update_connection(conn_id, T0, state="connected")
    return conn_id


def test_inbox_hands_out_one_event_per_record_in_order(store: Store, conn_id: int) -> None:
    syncing(store, conn_id)
    store.add_inbox(conn_id, _events(("A", 0), ("B", 0), ("A", 1)), T0)

    w1 = store.claim_inbox("w1", 10, T0)
    assert [(e.record_id, e.payload["n"], e.claimed_by) for e in w1] == [("A", 0, "w1"), ("B", 0, "w1")]
    assert store.claim_inbox("w2", 10, T0) == []  # A's next event waits for A's first

    a0, b0 = w1
    assert store.inbox_done("w1", [a0.id], T0) == {a0.id}
    w2 = store.claim_inbox("w2", 10, T0 + timedelta(minutes=3))
    assert [(e.record_id, e.payload["n"]) for e in w2] == [("A", 1)]

    # w1 went quiet on B: after the lease it is handed out again, and w1's late answer is ignored
    late = T0 + timedelta(minutes=6)
    assert [e.id for e in store.claim_inbox("w3", 10, late)] == [b0.id]
    assert store.inbox_done("w1", [b0.id], late) == set()

    # a failure releases the event; it comes back first, with the attempt counted
    assert store.inbox_failed("w3", b0.id, "QBO 503", late) is True
    again = store.claim_inbox("w3", 10, late)
    assert [(e.id, e.attempts, e.error) for e in again] == [(b0.id, 1, "QBO 503")]
    store.inbox_done("w3", [b0.id], late)
    store.inbox_done("w2", [w2[0].id], late)
    assert store.inbox_pending(conn_id) == 0 and store.claim_inbox("w1", 10, late) == []


def test_a_claim_renewed_in_time_is_not_taken_for_abandoned(store: Store, conn_id: int) -> None:
    syncing(store, conn_id)
    store.add_inbox(conn_id, _events(("A", 0), ("B", 0)), T0)
    a0, b0 = store.claim_inbox("w1", 10, T0)
    assert store.renew_claims("w1", [a0.id], T0 + timedelta(minutes=4)) == {a0.id}
    later = T0 + timedelta(minutes=6)  # B's lease ran out; A's was renewed at 4 minutes
    assert [e.id for e in store.claim_inbox("w2", 10, later)] == [b0.id]
    assert store.renew_claims("w1", [a0.id, b0.id], later) == {a0.id}  # w2 holds B now


def test_log_lines_of_an_event_another_worker_took_are_left_to_it(store: Store, conn_id: int) -> None:
    """A worker whose lease ran out marks nothing and logs nothing for that event: the worker that
    took it over logs its own apply, so no line appears twice."""
    from engine.sync.worker import _finish

    syncing(store, conn_id)
    store.add_inbox(conn_id, _events(("A", 0), ("B", 0)), T0)
    a0, b0 = store.claim_inbox("w1", 10, T0)
    late = T0 + timedelta(minutes=6)
    assert [e.id for e in store.claim_inbox("w2", 10, late)] == [a0.id, b0.id]
    store.renew_claims("w2", [a0.id], late)
    store.release_claims("w2", [a0.id])
    store.claim_inbox("w1", 10, late)  # w1 claims A again; w2 still holds B
    lines = {ev.id: [LogEntry(kind="contact", action="skipped", qbo_id=ev.record_id)] for ev in (a0, b0)}
    _finish(store, "w1", conn_id, [a0.id, b0.id], lines, late)
    assert [line.qbo_id for line in store.read_log(conn_id)] == ["A"]
    assert store.inbox_pending(conn_id) == 1  # B: w2's to finish


def test_concurrent_claimers_never_share_an_event_and_keep_record_order(store: Store, conn_id: int) -> None:
    records, per_record = 12, 8
    syncing(store, conn_id)
    store.add_inbox(conn_id, _events(*[(f"r{r}", n) for n in range(per_record) for r in range(records)]), T0)
    applied: list[tuple[str, int]] = []
    claimed: dict[str, list[int]] = defaultdict(list)
    mutex = threading.Lock()

    def worker(name: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            batch = store.claim_inbox(name, 5, T0)
            if not batch:
                if store.inbox_pending(conn_id) == 0:
                    return
                time.sleep(0.002)
                continue
            with mutex:
                claimed[name].extend(e.id for e in batch)
                applied.extend((e.record_id, e.payload["n"]) for e in batch)
            assert store.inbox_done(name, [e.id for e in batch], T0) == {e.id for e in batch}
        raise AssertionError("the inbox did not drain")

    run_threads(lambda: worker("w1"), lambda: worker("w2"))
    every = claimed["w1"] + claimed["w2"]
    assert len(every) == len(set(every)) == records * per_record
    by_record: dict[str, list[int]] = defaultdict(list)
    for rid, n in applied:
        by_record[rid].append(n)
    assert all(ns == list(range(per_record)) for ns in by_record.values()) and len(by_record) == records


def test_a_claim_in_progress_is_skipped_not_waited_for(pg_store: Store) -> None:
    """PostgreSQL only: SQLite has no row locks; its claimers queue for the one write lock."""
    store = pg_store
    conn_id = syncing(store, store.ensure_connection("firm-1", T0).id)
    store.add_inbox(conn_id, _events(("A", 0), ("B", 0), ("A", 1)), T0)
    with store.session() as s:  # another worker, half-way through claiming A's first event
        a0 = s.query(InboxEvent).filter_by(record_id="A").order_by(InboxEvent.id).with_for_update().first()
        assert a0 is not None
        got: list[InboxEvent] = []
        run_threads(lambda: got.extend(store.claim_inbox("w2", 10, T0)), timeout=3)  # hangs if it waits
        assert [(e.record_id, e.payload["n"]) for e in got] == [("B", 0)]


# --- cursors ---------------------------------------------------------------------------------

def test_cursors_remember_where_each_source_stopped(store: Store, conn_id: int) -> None:
    assert store.cursor(conn_id, "qbo_cdc") is None
    store.set_cursor(conn_id, "qbo_cdc", "2025-03-01T12:00:00Z", T0)
    store.set_cursor(conn_id, "qbo_cdc", "2025-03-01T12:05:00Z", T0 + timedelta(minutes=5))
    store.set_cursor(conn_id, "canopy_feed", "evt-42", T0)
    assert store.cursor(conn_id, "qbo_cdc") == "2025-03-01T12:05:00Z"
    assert store.cursor(conn_id, "canopy_feed") == "evt-42"
    assert store.cursor(store.ensure_connection("firm-2", T0).id, "qbo_cdc") is None


def test_events_of_a_connection_that_is_not_syncing_wait_and_failures_wait_for_their_time(
        store: Store, conn_id: int) -> None:
    store.add_inbox(conn_id, _events(("A", 0)), T0)
    store.update_connection(conn_id, T0, state="needs_reauthorization")
    assert store.claim_inbox("w1", 10, T0) == []
    syncing(store, conn_id)
    (event,) = store.claim_inbox("w1", 10, T0)
    assert store.inbox_failed("w1", event.id, "QBO answered 500", T0, retry_at=T0 + timedelta(seconds=30))
    assert store.claim_inbox("w1", 10, T0 + timedelta(seconds=29)) == []
    (again,) = store.claim_inbox("w1", 10, T0 + timedelta(seconds=30))
    assert (again.id, again.attempts, again.error) == (event.id, 1, "QBO answered 500")


def test_held_records_say_what_changed_and_are_released(store: Store, conn_id: int) -> None:
    assert store.hold(conn_id, "invoice", "900", ["client_unlinked"], T0)
    assert not store.hold(conn_id, "invoice", "900", ["client_unlinked"], T0)  # nothing new to report
    assert store.hold(conn_id, "invoice", "900", ["item_unlinked:5"], T0)
    assert [(h.canopy_id, h.reasons) for h in store.held(conn_id, "invoice")] == [("900", ["item_unlinked:5"])]
    assert store.release(conn_id, "invoice", "900") and store.held(conn_id) == []
