"""The engine's state: one database (SQLite or PostgreSQL), typed ORM tables and a `Store`.

What lives here and why:
- `connections`: one row per Canopy firm, with the wizard and the (encrypted) tokens;
- `oauth_states`: binds an OAuth `state` to the user who started connect, used once;
- `jobs` and `review_entries`: long work and its output (a review can hold 200,000 rows,
  so it is paged from the database, not kept in memory);
- `links`, `sync_log`, `inbox`, `cursors`: what the sync knows, did, must still do, and
  where it stopped reading.

Times are never read from a clock here: callers pass `now` (the engine's clock is
injectable). Datetimes go in and come out timezone-aware UTC on both dialects. Secrets go
through a `TokenBox`, so the raw columns only ever hold ciphertext.

Concurrency: `Store.locked(conn_id)` is the one way to read-modify-write a connection
(`SELECT ... FOR UPDATE` on PostgreSQL, a `BEGIN IMMEDIATE` write transaction on SQLite);
a worker that refreshes QBO tokens under it sees tokens another worker refreshed first.
`Store.session()` transactions on SQLite begin IMMEDIATE too, so a read-then-write can
never fail half-way with "database is locked"; `session(write=False)` is for plain reads.
"""
from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, Row, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from engine.crypto import TokenBox
from engine.setup import Wizard
from engine.wizard_codec import dump_wizard, load_wizard

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 30.0
_T = TypeVar("_T")
STORE_THREADS = 8
"""Threads that run store calls for the event loop (`Store.call`): enough for a worker's lanes
and the receivers to wait on the database side by side, few enough that they do not spend
their time queueing for the GIL."""
POOL_SIZE = 20
"""PostgreSQL connections kept: the store's threads, each worker lane's advisory-lock
connection (`engine.sync.worker.MAX_LANES`) and the token refresh's."""
LEASE = timedelta(minutes=5)
"""A claim older than this (by the engine clock) counts as abandoned: another worker may take it."""
_CHUNK = 5_000      # rows per executemany batch
_IN_CHUNK = 500     # ids per IN (...) list

CONNECTION_STATES = ("setup", "connected", "needs_reauthorization", "disconnected")
JOB_KINDS = ("contacts_review", "contacts_sync", "items_review", "invoices_send")
JOB_STATES = ("running", "done", "failed")
LINK_KINDS = ("contact", "item", "invoice")
LOG_KINDS = ("contact", "item", "invoice", "connection")
LOG_ACTIONS = ("applied", "created", "linked", "skipped", "held", "failed", "info")
DIRECTIONS = ("canopy_to_qbo", "qbo_to_canopy")
SOURCES = ("qbo", "canopy")


# --- column types ----------------------------------------------------------------------------

class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out. SQLite keeps no zone, so the value is stored as naive UTC and
    the zone put back on reading; a naive datetime is refused rather than guessed at."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonValue = JSON(none_as_null=True)  # Python None is SQL NULL, not the JSON text 'null'


def _check(column: str, values: Sequence[str], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


def _key(value: str | enum.Enum) -> str:
    """Sections and kinds may be given as enums (e.g. `review.Section`) or their values."""
    return str(value.value) if isinstance(value, enum.Enum) else value


# --- tables ----------------------------------------------------------------------------------

class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), str: String()}


def _conn_fk() -> Any:
    return mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))


class Connection(Base):
    """One Canopy firm's integration (R4a: one per firm), created the first time it calls.

    `version` rises on every update; the ORM checks it on flush, and `update_connection`
    takes an `expected_version` for optimistic writes from the API.
    """

    __tablename__ = "connections"
    __table_args__ = (_check("state", CONNECTION_STATES, "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[str] = mapped_column(unique=True)
    realm_id: Mapped[str | None]
    state: Mapped[str] = mapped_column(default="setup")
    reason: Mapped[str | None] = mapped_column(Text)
    connected_by: Mapped[str | None]
    wizard: Mapped[dict[str, Any]] = mapped_column(JSON)
    qbo_access_token: Mapped[str | None] = mapped_column(Text)
    qbo_refresh_token: Mapped[str | None] = mapped_column(Text)
    qbo_access_expires_at: Mapped[datetime | None]
    qbo_refresh_expires_at: Mapped[datetime | None]
    canopy_integration_id: Mapped[str | None]
    canopy_token: Mapped[str | None] = mapped_column(Text)
    canopy_webhook_id: Mapped[str | None]
    canopy_webhook_secret: Mapped[str | None] = mapped_column(Text)
    income_account_id: Mapped[str | None]
    items_skipped: Mapped[bool] = mapped_column(default=False)
    ongoing_contacts: Mapped[bool] = mapped_column(default=False)
    ongoing_items: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column()

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    def get_wizard(self) -> Wizard:
        return load_wizard(self.wizard)

    def set_wizard(self, wizard: Wizard) -> None:
        self.wizard = dump_wizard(wizard)


class OAuthState(Base):
    """An OAuth `state` handed out by connect: whose it is, and whether it was used."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(primary_key=True)
    firm_id: Mapped[str]
    user_id: Mapped[str]
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (_check("state", JOB_STATES, "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str]
    state: Mapped[str] = mapped_column(default="running")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    step: Mapped[str] = mapped_column(default="")
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ReviewEntry(Base):
    """One row of a review job's output; `position` is its 0-based place in its section."""

    __tablename__ = "review_entries"
    __table_args__ = (Index(None, "job_id", "section", "position", unique=True),
                      Index("ix_review_entries_canopy", "job_id", "canopy_id"),
                      Index("ix_review_entries_qbo", "job_id", "qbo_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    section: Mapped[str]
    position: Mapped[int]
    canopy_id: Mapped[str | None]
    qbo_id: Mapped[str | None]
    name: Mapped[str] = mapped_column(Text)
    detail: Mapped[Any] = mapped_column(JsonValue, nullable=True)


class Link(Base):
    """A Canopy record and a QBO record that are the same thing; one-to-one per kind."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("connection_id", "kind", "canopy_id"),
        UniqueConstraint("connection_id", "kind", "qbo_id"),
        _check("kind", LINK_KINDS, "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = _conn_fk()
    kind: Mapped[str]
    canopy_id: Mapped[str]
    qbo_id: Mapped[str]
    canopy_hash: Mapped[str | None]
    qbo_hash: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    synced: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    """The canonical content both sides agreed on at the last sync (the merge base, R12/R20)."""


class SyncLogEntry(Base):
    __tablename__ = "sync_log"
    __table_args__ = (
        Index(None, "connection_id", "id"),
        _check("action", LOG_ACTIONS, "action"),
        _check("direction", DIRECTIONS, "direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = _conn_fk()
    at: Mapped[datetime]
    kind: Mapped[str]
    action: Mapped[str]
    direction: Mapped[str | None]
    canopy_id: Mapped[str | None]
    qbo_id: Mapped[str | None]
    rule: Mapped[str | None]
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[Any] = mapped_column(JsonValue, nullable=True)


class InboxEvent(Base):
    """A change one side told us about (webhook or CDC), waiting to be applied in order."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_pending", "applied_at", "connection_id", "source", "record_kind", "record_id"),
        _check("source", SOURCES, "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = _conn_fk()
    source: Mapped[str]
    record_kind: Mapped[str]
    record_id: Mapped[str]
    payload: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    received_at: Mapped[datetime]
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime | None]
    """After a failure, the event is not claimed again before this time."""


class Held(Base):
    """A Canopy record waiting for a reference to be linked (R19), with every reason."""

    __tablename__ = "held"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)
    canopy_id: Mapped[str] = mapped_column(primary_key=True)
    reasons: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    since: Mapped[datetime]
    updated_at: Mapped[datetime]


class Cursor(Base):
    """Where reading a source stopped (e.g. the last CDC time), per connection."""

    __tablename__ = "cursors"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    source: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


# --- prebuilt statements ---------------------------------------------------------------------
# The ongoing sync's per-event statements, built once (Core, bind parameters): building a
# statement and its cache key cost more than PostgreSQL's answer to it (D-57). Single reads run
# through `Store._read_row`, outside a transaction.

_CONN = Connection.__table__
_LINK = Link.__table__
_INBOX = InboxEvent.__table__
_HELD = Held.__table__


def _link_by(column: Any) -> Any:
    return select(_LINK).where(_LINK.c.connection_id == bindparam("conn"), _LINK.c.kind == bindparam("kind"),
                               column == bindparam("rid")).limit(1)


LinkRow = Row[Any]
"""A `links` row as a prebuilt read returns it: `Link`'s attributes, read-only."""
_LINK_BY_CANOPY = _link_by(_LINK.c.canopy_id)
_LINK_BY_QBO = _link_by(_LINK.c.qbo_id)


def _review_section_by(column: Any) -> Any:
    t = ReviewEntry.__table__
    return select(t.c.section).where(t.c.job_id == bindparam("job"), column == bindparam("rid")).limit(1)


_SECTION_BY_CANOPY = _review_section_by(ReviewEntry.__table__.c.canopy_id)
_SECTION_BY_QBO = _review_section_by(ReviewEntry.__table__.c.qbo_id)


def _done_job(kind: str) -> Any:
    """The id of the connection's latest job of `kind`, when that job is done (else NULL)."""
    t = Job.__table__
    latest = select(func.max(t.c.id)).where(t.c.connection_id == bindparam("conn"), t.c.kind == kind)
    job = t.alias(kind)
    return select(job.c.id).where(job.c.id == latest.scalar_subquery(), job.c.state == "done") \
        .scalar_subquery().label(kind)


_SYNC_VIEW = select(*(_CONN.c[name] for name in (
    "id", "firm_id", "realm_id", "state", "reason", "version", "items_skipped", "ongoing_contacts", "ongoing_items",
    "income_account_id")), _done_job("contacts_review"), _done_job("items_review")) \
    .where(_CONN.c.id == bindparam("conn"))


@functools.cache
def _claim_statement(dialect: str, only: bool) -> Any:
    """`Store.claim_inbox`'s one statement, built once per dialect and shape (it is the worker's
    most frequent; building it took longer than running it)."""
    t = _INBOX
    j = t.alias("earlier")
    earlier = select(j.c.id).where(j.c.applied_at.is_(None), j.c.connection_id == t.c.connection_id,
                                   j.c.source == t.c.source, j.c.record_kind == t.c.record_kind,
                                   j.c.record_id == t.c.record_id, j.c.id < t.c.id).exists()
    syncing = select(_CONN.c.id).where(_CONN.c.state == "connected")
    pick = (select(t.c.id).where(t.c.applied_at.is_(None), t.c.connection_id.in_(syncing.scalar_subquery()),
                                 or_(t.c.available_at.is_(None), t.c.available_at <= bindparam("now")),
                                 or_(t.c.claimed_by.is_(None), t.c.claimed_at < bindparam("abandoned")), ~earlier,
                                 t.c.connection_id.not_in(bindparam("skip", expanding=True)))
            .order_by(t.c.id).limit(bindparam("limit")))
    if only:
        pick = pick.where(t.c.connection_id.in_(bindparam("only", expanding=True)))
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=t)
    return (update(t).where(t.c.id.in_(pick.scalar_subquery()))
            .values(claimed_by=bindparam("worker"), claimed_at=bindparam("now")).returning(*t.c))


_STILL_HELD = and_(_INBOX.c.id.in_(bindparam("ids", expanding=True)), _INBOX.c.claimed_by == bindparam("worker"),
                   _INBOX.c.applied_at.is_(None))
"""The inbox rows among `ids` that `worker` still holds and nobody applied."""
_INBOX_DONE = update(_INBOX).where(_STILL_HELD).values(applied_at=bindparam("now"), error=None) \
    .returning(_INBOX.c.id)
_RENEW_CLAIMS = update(_INBOX).where(_STILL_HELD).values(claimed_at=bindparam("now")).returning(_INBOX.c.id)
_RELEASE_CLAIMS = update(_INBOX).where(_STILL_HELD).values(claimed_by=None, claimed_at=None)


_CONNECTION_ID = select(_CONN.c.id).where(_CONN.c.id == bindparam("conn"))
_CONNECTION_ID_LOCKED = _CONNECTION_ID.with_for_update()


_LINKS_HOLDING = select(_LINK.c.id, _LINK.c.canopy_id, _LINK.c.qbo_id).where(
    _LINK.c.connection_id == bindparam("conn"), _LINK.c.kind == bindparam("kind"),
    or_(_LINK.c.canopy_id.in_(bindparam("cids", expanding=True)), _LINK.c.qbo_id.in_(bindparam("qids", expanding=True))))
"""The links holding any of these Canopy or QBO records (`Store.add_links`' check)."""
_HELD_ALL = select(_HELD).where(_HELD.c.connection_id == bindparam("conn")).order_by(_HELD.c.kind, _HELD.c.canopy_id)
_HELD_OF_KIND = _HELD_ALL.where(_HELD.c.kind == bindparam("kind"))
_REALM_CONNECTIONS = select(_CONN.c.id, _CONN.c.realm_id, _CONN.c.state) \
    .where(_CONN.c.realm_id.in_(bindparam("realms", expanding=True))).order_by(_CONN.c.id)
_FIRM_INTAKE = select(_CONN.c.id, _CONN.c.state, _CONN.c.canopy_webhook_secret).where(_CONN.c.firm_id == bindparam("firm"))

_REALM_CONNECTIONS_LOCKED = _REALM_CONNECTIONS.with_for_update()
_FIRM_INTAKE_LOCKED = _FIRM_INTAKE.with_for_update()


def _insert(s: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows: one as one statement (an executemany of one costs a pipeline), more in chunks."""
    if len(rows) == 1:
        s.execute(insert(table), rows[0])
    else:
        for i in range(0, len(rows), _CHUNK):
            s.execute(insert(table), rows[i:i + _CHUNK])
    return len(rows)


# --- errors and plain records ----------------------------------------------------------------

class StoreError(Exception):
    pass


class NotFound(StoreError, LookupError):
    pass


class StaleVersion(StoreError):
    """An optimistic write lost: the row changed since the caller read it."""


class OAuthStateError(StoreError):
    """`code` is the API's: `state_mismatch` (never issued) or `state_reused`."""

    def __init__(self, code: str, state: str) -> None:
        super().__init__(f"{code}: OAuth state {state!r}")
        self.code = code


class LinkConflict(StoreError):
    """A link would pair a record that is already linked to a different one."""

    def __init__(self, kind: str, canopy_id: str, qbo_id: str, existing: tuple[str, str]) -> None:
        super().__init__(f"{kind} link canopy {canopy_id!r} <-> qbo {qbo_id!r} conflicts with "
                         f"canopy {existing[0]!r} <-> qbo {existing[1]!r}")
        self.kind, self.canopy_id, self.qbo_id, self.existing = kind, canopy_id, qbo_id, existing


@dataclass(frozen=True)
class QboTokens:
    access_token: str | None
    refresh_token: str | None
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None


@dataclass(frozen=True)
class CanopyCredentials:
    integration_id: str | None
    token: str | None
    webhook_id: str | None
    webhook_secret: str | None


@dataclass(frozen=True)
class OAuthBinding:
    firm_id: str
    user_id: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewRow:
    """One review row to store; its position is the order it is given in, per section."""

    section: str | enum.Enum
    name: str
    canopy_id: str | None = None
    qbo_id: str | None = None
    detail: Any = None


@dataclass(frozen=True)
class ReviewItem:
    section: str
    position: int
    name: str
    canopy_id: str | None
    qbo_id: str | None
    detail: Any


@dataclass(frozen=True)
class LinkPair:
    canopy_id: str
    qbo_id: str
    canopy_hash: str | None = None
    qbo_hash: str | None = None
    synced: Any = None
    """The content both records agree on, when known at linking time (the merge base)."""


@dataclass(frozen=True)
class LogEntry:
    """One sync log line; `at` defaults to the `now` of `append_log`."""

    kind: str
    action: str
    direction: str | None = None
    canopy_id: str | None = None
    qbo_id: str | None = None
    rule: str | None = None
    reason: str | None = None
    detail: Any = None
    at: datetime | None = None


@dataclass(frozen=True)
class IncomingEvent:
    source: str
    record_kind: str
    record_id: str
    payload: Any = None


# --- engine setup ----------------------------------------------------------------------------

def _sqlite_engine(url: URL) -> Engine:
    """WAL (readers never wait for the writer), a busy timeout (writers queue instead of
    failing), foreign keys on, and our own BEGIN so a transaction can be IMMEDIATE."""
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every checkout is a new empty db
    eng = create_engine(url, **kwargs)

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own; _on_begin does
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(eng, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return eng


def _upsert(session: Session) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing/update` on both."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def lock_connection(session: Session, conn_id: int) -> Connection:
    """Lock a connection row for the rest of `session`'s transaction and read it fresh.

    PostgreSQL: `SELECT ... FOR UPDATE`. SQLite locks the whole database instead, which a
    `Store.session()` (BEGIN IMMEDIATE) transaction already holds; a read-only session
    cannot lock and is refused, so a missing lock is a loud bug, not a silent race.
    """
    row = session.execute(_for_update(session, select(Connection).where(Connection.id == conn_id)
                                      .execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"connection {conn_id}")
    return row


def lock_connection_id(session: Session, conn_id: int) -> None:
    """`lock_connection` for a caller that needs the lock, not the row: the id alone is read,
    so a busy path (every inbox write, every new link) does not load and decode the whole row."""
    if session.execute(_for_update(session, _CONNECTION_ID, _CONNECTION_ID_LOCKED), {"conn": conn_id}).first() is None:
        raise NotFound(f"connection {conn_id}")


def _for_update(session: Session, stmt: Any, locking: Any = None) -> Any:
    """`stmt` locking the rows it reads (see `lock_connection`); `locking`: that statement prebuilt."""
    if session.connection().dialect.name == "sqlite":
        if session.connection().get_execution_options().get("sqlite_begin") != "IMMEDIATE":
            raise RuntimeError("locking a connection needs a write session (Store.session()) on SQLite")
        return stmt
    return locking if locking is not None else stmt.with_for_update()


_SECRET_FIELDS = frozenset({"qbo_access_token", "qbo_refresh_token", "canopy_token", "canopy_webhook_secret"})
_PLAIN_FIELDS = frozenset({"realm_id", "state", "reason", "connected_by", "wizard", "qbo_access_expires_at",
                           "qbo_refresh_expires_at", "canopy_integration_id", "canopy_webhook_id",
                           "income_account_id", "items_skipped", "ongoing_contacts", "ongoing_items"})


class Store:
    """All reads and writes of the engine's state. Returned rows are detached snapshots: ORM
    objects, or read-only Core rows with the table's attributes where a hot path reads them."""

    def __init__(self, url: str, box: TokenBox) -> None:
        self.box = box
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(parsed)
        else:
            # No pre-ping: it costs a round trip per transaction (13% of a worker's time); a
            # connection the server dropped fails that one call, the pool discards it, and the
            # worker's retry gets a fresh one.
            self.engine = create_engine(parsed, pool_size=POOL_SIZE, max_overflow=10)
        self._reader = self.engine if parsed.get_backend_name() == "sqlite" else create_engine(
            parsed, isolation_level="AUTOCOMMIT", pool_size=STORE_THREADS, max_overflow=10)
        """Single-statement reads (`_read_row`). PostgreSQL: autocommit, no BEGIN/COMMIT round
        trips; under READ COMMITTED a statement sees one committed state either way."""
        self.inline = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
        """One shared connection (in-memory SQLite): calls must not run in threads side by side."""
        self._threads = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="store")
        self._write = sessionmaker(self.engine.execution_options(sqlite_begin="IMMEDIATE"),
                                   expire_on_commit=False)
        self._read = sessionmaker(self.engine, expire_on_commit=False)

    async def call(self, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        """Run a store call off the event loop, so a database round trip (or a commit's fsync)
        stalls only its caller, not every firm the process is serving."""
        if self.inline:
            return fn(*args, **kw)
        return await asyncio.get_running_loop().run_in_executor(self._threads, functools.partial(fn, *args, **kw))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()
        self._reader.dispose()

    def _read_row(self, stmt: Any, **params: Any) -> Any:
        """The first row of a prebuilt read (a Core `Row`: attributes as the ORM row's), or None."""
        with self._reader.connect() as c:
            return c.execute(stmt, params).first()

    @staticmethod
    def alembic_config() -> Any:
        """Alembic's configuration, built in code: the engine ships no alembic.ini."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        return cfg

    def migrate(self) -> None:
        """Alembic `upgrade head`, in one transaction; concurrent starters wait for each other."""
        from alembic import command

        cfg = self.alembic_config()
        with self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('engine.store.migrate'))")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextlib.contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A transaction: commit on success, rollback on error."""
        with (self._write if write else self._read).begin() as s:
            yield s

    @contextlib.contextmanager
    def locked(self, conn_id: int) -> Iterator[tuple[Session, Connection]]:
        """A write transaction holding the connection's lock, with the row read fresh."""
        with self.session() as s:
            yield s, lock_connection(s, conn_id)

    @contextlib.contextmanager
    def _use(self, session: Session | None, write: bool = True) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.session(write=write) as s:
                yield s

    # --- connections -------------------------------------------------------------------------

    def ensure_connection(self, firm_id: str, now: datetime) -> Connection:
        """The firm's connection, created in state `setup` on first use (safe under races)."""
        found = self.connection_for_firm(firm_id)
        if found is not None:
            return found
        with self.session() as s:
            s.execute(_upsert(s)(Connection.__table__).values(
                firm_id=firm_id, state="setup", wizard=dump_wizard(Wizard()), items_skipped=False,
                ongoing_contacts=False, ongoing_items=False, created_at=now, updated_at=now, version=1,
            ).on_conflict_do_nothing(index_elements=["firm_id"]))
            return s.scalars(select(Connection).where(Connection.firm_id == firm_id)).one()

    def get_connection(self, conn_id: int, *, session: Session | None = None) -> Connection | None:
        with self._use(session, write=False) as s:
            return s.get(Connection, conn_id)

    def connection_for_firm(self, firm_id: str) -> Connection | None:
        with self.session(write=False) as s:
            return s.scalars(select(Connection).where(Connection.firm_id == firm_id)).one_or_none()

    def connections(self, *, state: str | None = None) -> list[Connection]:
        stmt = select(Connection).order_by(Connection.id)
        if state is not None:
            stmt = stmt.where(Connection.state == state)
        with self.session(write=False) as s:
            return list(s.scalars(stmt))

    def update_connection(self, conn_id: int, now: datetime, *, expected_version: int | None = None,
                          **fields: Any) -> Connection:
        """Set plain fields (a `wizard` may be a `Wizard`); secrets go through their helpers.

        With `expected_version`, the write only happens if nobody wrote since (`StaleVersion`).
        """
        unknown = set(fields) - _PLAIN_FIELDS
        if unknown:
            hint = " (secrets: use set_qbo_tokens / set_canopy_credentials)" if unknown & _SECRET_FIELDS else ""
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}{hint}")
        if isinstance(fields.get("wizard"), Wizard):
            fields["wizard"] = dump_wizard(fields["wizard"])
        t = Connection.__table__
        stmt = update(t).where(t.c.id == conn_id).values(**fields, updated_at=now, version=t.c.version + 1)
        if expected_version is not None:
            stmt = stmt.where(t.c.version == expected_version)
        with self.session() as s:
            if s.execute(stmt).rowcount == 0:
                if s.get(Connection, conn_id) is None:
                    raise NotFound(f"connection {conn_id}")
                raise StaleVersion(f"connection {conn_id} changed since version {expected_version}")
            return s.get_one(Connection, conn_id, populate_existing=True)

    def save_wizard(self, conn_id: int, wizard: Wizard, now: datetime, *,
                    expected_version: int | None = None) -> Connection:
        return self.update_connection(conn_id, now, expected_version=expected_version, wizard=wizard)

    def delete_connection(self, conn_id: int) -> bool:
        """Forget a firm entirely (its jobs, links, log, inbox and cursors go with it)."""
        with self.session() as s:
            return s.execute(delete(Connection.__table__).where(Connection.__table__.c.id == conn_id)).rowcount > 0

    # --- secrets -----------------------------------------------------------------------------

    def _row_for_write(self, s: Session, conn_id: int, own: bool) -> Connection:
        """In our own session, lock; in the caller's, they hold the lock (see `locked`)."""
        if own:
            return lock_connection(s, conn_id)
        row = s.get(Connection, conn_id)
        if row is None:
            raise NotFound(f"connection {conn_id}")
        return row

    def set_qbo_tokens(self, conn_id: int, access: str | None, refresh: str | None,
                       access_expires_at: datetime | None, refresh_expires_at: datetime | None, *,
                       session: Session | None = None, now: datetime | None = None) -> None:
        """Store QBO tokens encrypted (all None clears them). Inside `locked`, pass its session."""
        with self._use(session) as s:
            row = self._row_for_write(s, conn_id, own=session is None)
            row.qbo_access_token = self.box.seal(access)
            row.qbo_refresh_token = self.box.seal(refresh)
            row.qbo_access_expires_at = access_expires_at
            row.qbo_refresh_expires_at = refresh_expires_at
            if now is not None:
                row.updated_at = now
            s.flush()

    def qbo_tokens(self, conn_id: int, *, session: Session | None = None) -> QboTokens:
        with self._use(session, write=False) as s:
            row = s.get(Connection, conn_id)
            if row is None:
                raise NotFound(f"connection {conn_id}")
            return QboTokens(self.box.open(row.qbo_access_token), self.box.open(row.qbo_refresh_token),
                             row.qbo_access_expires_at, row.qbo_refresh_expires_at)

    def set_canopy_credentials(self, conn_id: int, *, integration_id: str | None, token: str | None,
                               webhook_id: str | None, webhook_secret: str | None,
                               session: Session | None = None, now: datetime | None = None) -> None:
        with self._use(session) as s:
            row = self._row_for_write(s, conn_id, own=session is None)
            row.canopy_integration_id = integration_id
            row.canopy_token = self.box.seal(token)
            row.canopy_webhook_id = webhook_id
            row.canopy_webhook_secret = self.box.seal(webhook_secret)
            if now is not None:
                row.updated_at = now
            s.flush()

    def canopy_credentials(self, conn_id: int, *, session: Session | None = None) -> CanopyCredentials:
        with self._use(session, write=False) as s:
            row = s.get(Connection, conn_id)
            if row is None:
                raise NotFound(f"connection {conn_id}")
            return CanopyCredentials(row.canopy_integration_id, self.box.open(row.canopy_token),
                                     row.canopy_webhook_id, self.box.open(row.canopy_webhook_secret))

    # --- OAuth state -------------------------------------------------------------------------

    def add_oauth_state(self, state: str, firm_id: str, user_id: str, now: datetime) -> None:
        with self.session() as s:
            s.add(OAuthState(state=state, firm_id=firm_id, user_id=user_id, created_at=now))

    def use_oauth_state(self, state: str, now: datetime) -> OAuthBinding:
        """Spend a state once: who started connect. Unknown -> `state_mismatch`, again -> `state_reused`."""
        t = OAuthState.__table__
        with self.session() as s:
            spent = s.execute(update(t).where(t.c.state == state, t.c.used_at.is_(None)).values(used_at=now))
            row = s.get(OAuthState, state)
            if row is None:
                raise OAuthStateError("state_mismatch", state)
            if spent.rowcount == 0:
                raise OAuthStateError("state_reused", state)
            return OAuthBinding(row.firm_id, row.user_id, row.created_at)

    def prune_oauth_states(self, created_before: datetime) -> int:
        with self.session() as s:
            t = OAuthState.__table__
            return s.execute(delete(t).where(t.c.created_at < created_before)).rowcount

    # --- jobs --------------------------------------------------------------------------------

    def start_job(self, conn_id: int, kind: str, now: datetime, *, total: int = 0, step: str = "") -> Job:
        with self.session() as s:
            job = Job(connection_id=conn_id, kind=kind, state="running", done=0, total=total, step=step,
                      started_at=now)
            s.add(job)
            s.flush()
            return job

    def job_progress(self, job_id: int, *, done: int, total: int | None = None, step: str | None = None) -> None:
        """Progress of a running job; a job that has ended keeps its final numbers."""
        values: dict[str, Any] = {"done": done}
        if total is not None:
            values["total"] = total
        if step is not None:
            values["step"] = step
        t = Job.__table__
        with self.session() as s:
            s.execute(update(t).where(t.c.id == job_id, t.c.state == "running").values(**values))

    def finish_job(self, job_id: int, now: datetime, result: Any = None) -> Job:
        return self._end_job(job_id, now, state="done", result=result, error=None)

    def fail_job(self, job_id: int, now: datetime, error: str) -> Job:
        return self._end_job(job_id, now, state="failed", result=None, error=error)

    def _end_job(self, job_id: int, now: datetime, **values: Any) -> Job:
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"job {job_id}")
            if job.state == "running":
                for k, v in values.items():
                    setattr(job, k, v)
                job.finished_at = now
            return job

    def get_job(self, job_id: int) -> Job | None:
        with self.session(write=False) as s:
            return s.get(Job, job_id)

    def latest_job(self, conn_id: int, kind: str | None = None, *, session: Session | None = None) -> Job | None:
        stmt = select(Job).where(Job.connection_id == conn_id).order_by(Job.id.desc()).limit(1)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        with self._use(session, write=False) as s:
            return s.scalars(stmt).first()

    def sync_view(self, conn_id: int) -> Row[Any] | None:
        """What a worker's batch goes by, in one statement: the connection's sync settings (a
        read-only row; no secrets, no wizard) and, as `contacts_review` and `items_review`, the
        ids of its latest jobs of those kinds when they are done. None: no such connection."""
        return self._read_row(_SYNC_VIEW, conn=conn_id)

    def fail_running_jobs(self, now: datetime, error: str = "the engine restarted") -> int:
        """At start-up: jobs a previous process left running will never finish."""
        t = Job.__table__
        with self.session() as s:
            return s.execute(update(t).where(t.c.state == "running")
                             .values(state="failed", error=error, finished_at=now)).rowcount

    # --- review entries ----------------------------------------------------------------------

    def add_review(self, job_id: int, rows: Iterable[ReviewRow], *, chunk_size: int = _CHUNK) -> int:
        """Append rows to a job's review (executemany in chunks); returns how many were added."""
        t = ReviewEntry.__table__
        added = 0
        with self.session() as s:
            nxt = {sec: top + 1 for sec, top in s.execute(
                select(t.c.section, func.max(t.c.position)).where(t.c.job_id == job_id).group_by(t.c.section))}
            batch: list[dict[str, Any]] = []
            for r in rows:
                sec = _key(r.section)
                pos = nxt.get(sec, 0)
                nxt[sec] = pos + 1
                batch.append({"job_id": job_id, "section": sec, "position": pos, "canopy_id": r.canopy_id,
                              "qbo_id": r.qbo_id, "name": r.name, "detail": r.detail})
                if len(batch) >= chunk_size:
                    s.execute(insert(t), batch)
                    added += len(batch)
                    batch = []
            if batch:
                s.execute(insert(t), batch)
                added += len(batch)
        return added

    def review_page(self, job_id: int, section: str | enum.Enum, offset: int, limit: int) -> list[ReviewItem]:
        """Rows `offset .. offset+limit-1` of a section, by position (an index range, not OFFSET)."""
        t = ReviewEntry.__table__
        sec = _key(section)
        stmt = (select(t.c.position, t.c.name, t.c.canopy_id, t.c.qbo_id, t.c.detail)
                .where(t.c.job_id == job_id, t.c.section == sec, t.c.position >= offset)
                .order_by(t.c.position).limit(limit))
        with self.session(write=False) as s:
            return [ReviewItem(sec, r.position, r.name, r.canopy_id, r.qbo_id, r.detail) for r in s.execute(stmt)]

    def review_section_of(self, job_id: int, *, canopy_id: str | None = None,
                          qbo_id: str | None = None) -> str | None:
        """Which section of a review listed this record (None: the review never saw it)."""
        row = self._read_row(_SECTION_BY_CANOPY if canopy_id is not None else _SECTION_BY_QBO, job=job_id,
                             rid=canopy_id if canopy_id is not None else qbo_id)
        return None if row is None else row.section

    def review_counts(self, job_id: int) -> dict[str, int]:
        """Rows per section; a section with no rows is absent."""
        t = ReviewEntry.__table__
        stmt = select(t.c.section, func.count()).where(t.c.job_id == job_id).group_by(t.c.section)
        with self.session(write=False) as s:
            return {sec: int(n) for sec, n in s.execute(stmt)}

    def delete_review(self, job_id: int) -> int:
        t = ReviewEntry.__table__
        with self.session() as s:
            return s.execute(delete(t).where(t.c.job_id == job_id)).rowcount

    # --- links -------------------------------------------------------------------------------

    def add_links(self, conn_id: int, kind: str, pairs: Iterable[LinkPair], now: datetime, *,
                  session: Session | None = None) -> int:
        """Add links, all or none. An identical link is a no-op (given hashes are updated);
        a record already linked to another raises `LinkConflict`. Returns how many are new."""
        wanted: dict[str, LinkPair] = {}
        by_qbo: dict[str, str] = {}
        for p in pairs:
            seen = wanted.get(p.canopy_id)
            if seen is not None and seen.qbo_id != p.qbo_id:
                raise LinkConflict(kind, p.canopy_id, p.qbo_id, (seen.canopy_id, seen.qbo_id))
            if by_qbo.get(p.qbo_id, p.canopy_id) != p.canopy_id:
                raise LinkConflict(kind, p.canopy_id, p.qbo_id, (by_qbo[p.qbo_id], p.qbo_id))
            wanted[p.canopy_id] = p
            by_qbo[p.qbo_id] = p.canopy_id
        t = Link.__table__
        with self._use(session) as s:
            lock_connection_id(s, conn_id)  # one writer per connection: check-then-insert is safe
            existing: dict[tuple[str, str], tuple[str, str, int]] = {}  # (side, id) -> (canopy, qbo, link id)
            cids, qids = list(wanted), list(by_qbo)
            for i in range(0, len(cids), _IN_CHUNK):  # a pair a link: both lists have the same length
                for row in s.execute(_LINKS_HOLDING, {"conn": conn_id, "kind": kind, "cids": cids[i:i + _IN_CHUNK],
                                                      "qids": qids[i:i + _IN_CHUNK]}):
                    existing[("c", row.canopy_id)] = existing[("q", row.qbo_id)] = (row.canopy_id, row.qbo_id, row.id)
            new: list[dict[str, Any]] = []
            rehash: list[dict[str, Any]] = []
            for p in wanted.values():
                for hit in (existing.get(("c", p.canopy_id)), existing.get(("q", p.qbo_id))):
                    if hit is not None and (hit[0], hit[1]) != (p.canopy_id, p.qbo_id):
                        raise LinkConflict(kind, p.canopy_id, p.qbo_id, (hit[0], hit[1]))
                same = existing.get(("c", p.canopy_id))
                if same is None:
                    new.append({"connection_id": conn_id, "kind": kind, "canopy_id": p.canopy_id,
                                "qbo_id": p.qbo_id, "canopy_hash": p.canopy_hash, "qbo_hash": p.qbo_hash,
                                "synced": p.synced, "created_at": now, "updated_at": now})
                elif p.canopy_hash is not None or p.qbo_hash is not None:
                    rehash.append({"link_id": same[2], "ch": p.canopy_hash, "qh": p.qbo_hash})
            if new:
                _insert(s, t, new)
            if rehash:
                s.execute(update(t).where(t.c.id == bindparam("link_id")).values(
                    canopy_hash=func.coalesce(bindparam("ch"), t.c.canopy_hash),
                    qbo_hash=func.coalesce(bindparam("qh"), t.c.qbo_hash), updated_at=now), rehash)
        return len(new)

    def links(self, conn_id: int, kind: str) -> list[Link]:
        with self.session(write=False) as s:
            return list(s.scalars(select(Link).where(Link.connection_id == conn_id, Link.kind == kind)
                                  .order_by(Link.id)))

    def link_by_canopy(self, conn_id: int, kind: str, canopy_id: str) -> LinkRow | None:
        """The link holding this Canopy record, or None."""
        return self._read_row(_LINK_BY_CANOPY, conn=conn_id, kind=kind, rid=canopy_id)

    def link_by_qbo(self, conn_id: int, kind: str, qbo_id: str) -> LinkRow | None:
        return self._read_row(_LINK_BY_QBO, conn=conn_id, kind=kind, rid=qbo_id)

    def set_link_hashes(self, conn_id: int, kind: str, canopy_id: str, now: datetime, *,
                        canopy_hash: str | None, qbo_hash: str | None) -> bool:
        t = Link.__table__
        with self.session() as s:
            return s.execute(update(t).where(t.c.connection_id == conn_id, t.c.kind == kind,
                                             t.c.canopy_id == canopy_id)
                             .values(canopy_hash=canopy_hash, qbo_hash=qbo_hash, updated_at=now)).rowcount > 0

    def delete_link(self, conn_id: int, kind: str, *, canopy_id: str | None = None,
                    qbo_id: str | None = None) -> bool:
        """Delete the link holding this Canopy id or this QBO id (give exactly one)."""
        if (canopy_id is None) == (qbo_id is None):
            raise ValueError("give canopy_id or qbo_id")
        t = Link.__table__
        cond = t.c.canopy_id == canopy_id if canopy_id is not None else t.c.qbo_id == qbo_id
        with self.session() as s:
            return s.execute(delete(t).where(t.c.connection_id == conn_id, t.c.kind == kind, cond)).rowcount > 0

    # --- sync log ----------------------------------------------------------------------------

    def append_log(self, conn_id: int, entries: Iterable[LogEntry], now: datetime, *,
                   session: Session | None = None) -> int:
        rows = [{"connection_id": conn_id, "at": e.at or now, "kind": e.kind, "action": e.action,
                 "direction": e.direction, "canopy_id": e.canopy_id, "qbo_id": e.qbo_id, "rule": e.rule,
                 "reason": e.reason, "detail": e.detail} for e in entries]
        if rows:
            with self._use(session) as s:
                _insert(s, SyncLogEntry.__table__, rows)
        return len(rows)

    def read_log(self, conn_id: int, *, limit: int = 100, before: int | None = None) -> list[SyncLogEntry]:
        """Newest first; for the next page pass the last entry's id as `before`."""
        stmt = select(SyncLogEntry).where(SyncLogEntry.connection_id == conn_id)
        if before is not None:
            stmt = stmt.where(SyncLogEntry.id < before)
        with self.session(write=False) as s:
            return list(s.scalars(stmt.order_by(SyncLogEntry.id.desc()).limit(limit)))

    # --- inbox -------------------------------------------------------------------------------

    def add_inbox(self, conn_id: int, events: Iterable[IncomingEvent], now: datetime, *,
                  session: Session | None = None) -> int:
        """Queue events; under the connection's lock, so ids follow commit order per connection."""
        events = list(events)
        if not events:
            return 0
        with self._use(session) as s:
            lock_connection_id(s, conn_id)
            return self._insert_inbox(s, conn_id, events, now)

    def add_inbox_of_realms(self, by_realm: dict[str, list[IncomingEvent]], now: datetime) -> tuple[int, set[str]]:
        """A QBO delivery's events, each realm's to its connection, in one transaction (a
        disconnected connection takes none). How many were queued, and which realms are known."""
        with self.session() as s:
            rows = s.execute(_for_update(s, _REALM_CONNECTIONS, _REALM_CONNECTIONS_LOCKED), {"realms": list(by_realm)}).all()
            stored = sum(self._insert_inbox(s, row.id, by_realm[row.realm_id], now) for row in rows
                         if row.state != "disconnected")
        return stored, {row.realm_id for row in rows}

    def add_inbox_of_firm(self, firm_id: str, now: datetime,
                          accept: Callable[[str, str | None], list[IncomingEvent]]) -> int | None:
        """A Canopy delivery in one transaction: the firm's connection row locked, then
        `accept(state, webhook secret)` (which checks the delivery and raises to refuse it) says
        what to queue. None: the firm has no connection."""
        with self.session() as s:
            row = s.execute(_for_update(s, _FIRM_INTAKE, _FIRM_INTAKE_LOCKED), {"firm": firm_id}).first()
            if row is None:
                return None
            events = accept(row.state, self.box.open(row.canopy_webhook_secret))
            return self._insert_inbox(s, row.id, events, now) if events else 0

    @staticmethod
    def _insert_inbox(s: Session, conn_id: int, events: Sequence[IncomingEvent], now: datetime) -> int:
        """Insert events for a connection whose lock `s` holds."""
        rows = [{"connection_id": conn_id, "source": e.source, "record_kind": e.record_kind,
                 "record_id": e.record_id, "payload": e.payload, "received_at": now, "attempts": 0}
                for e in events]
        return _insert(s, InboxEvent.__table__, rows)

    def claim_inbox(self, worker_id: str, limit: int, now: datetime, *,
                    lease: timedelta = LEASE, skip: Collection[int] = (),
                    only: Collection[int] | None = None) -> list[InboxEvent]:
        """Claim up to `limit` events, oldest first, at most one per record: an event is only
        handed out when it is its record's oldest unapplied one and nobody holds it (a claim
        older than `lease` counts as abandoned). So one record's events apply in order.
        `skip`/`only`: connections to leave out / to keep to (a worker's busy or full lanes).
        The events are detached copies, as every row this store returns."""
        params: dict[str, Any] = {"worker": worker_id, "now": now, "abandoned": now - lease, "limit": limit,
                                  "skip": list(skip)}
        if only is not None:
            params["only"] = list(only)
        with self.session() as s:  # one statement: pick and claim (`UPDATE ... RETURNING`)
            rows = s.execute(_claim_statement(self.dialect, only is not None), params).all()
        return [InboxEvent(**row._mapping) for row in sorted(rows, key=lambda r: r.id)]

    def inbox_done(self, worker_id: str, event_ids: Sequence[int], now: datetime, *,
                   session: Session | None = None) -> set[int]:
        """Mark claimed events applied; an event this worker no longer holds is left alone. The
        ids marked."""
        with self._use(session) as s:
            return set(s.scalars(_INBOX_DONE, {"ids": list(event_ids), "worker": worker_id, "now": now}))

    def renew_claims(self, worker_id: str, event_ids: Sequence[int], now: datetime) -> set[int]:
        """Claim anew, as of `now`, events this worker still holds; the ids it still holds."""
        with self.session() as s:
            return set(s.scalars(_RENEW_CLAIMS, {"ids": list(event_ids), "worker": worker_id, "now": now}))

    def inbox_failed(self, worker_id: str, event_id: int, error: str, now: datetime, *,
                     give_up: bool = False, retry_at: datetime | None = None,
                     session: Session | None = None) -> bool:
        """Release a claim after a failure (it is retried first, keeping order, not before
        `retry_at`), or give up on it. Events of a connection that is not syncing wait."""
        t = InboxEvent.__table__
        values: dict[str, Any] = {"attempts": t.c.attempts + 1, "error": error, "claimed_by": None,
                                  "claimed_at": None, "available_at": retry_at}
        if give_up:
            values["applied_at"] = now
        with self._use(session) as s:
            return s.execute(update(t).where(_STILL_HELD).values(**values),
                             {"ids": [event_id], "worker": worker_id}).rowcount > 0

    def inbox_pending(self, conn_id: int) -> int:
        with self.session(write=False) as s:
            return int(s.scalar(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.connection_id == conn_id, InboxEvent.applied_at.is_(None))) or 0)

    def release_claims(self, worker_id: str, event_ids: Sequence[int]) -> int:
        """Hand claimed events back untouched (e.g. their connection stopped syncing meanwhile)."""
        with self.session() as s:
            return s.execute(_RELEASE_CLAIMS, {"ids": list(event_ids), "worker": worker_id}).rowcount

    def inbox_applied(self, conn_id: int) -> int:
        with self.session(write=False) as s:
            return int(s.scalar(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.connection_id == conn_id, InboxEvent.applied_at.is_not(None))) or 0)

    # --- link state and held records ---------------------------------------------------------

    def set_link_synced(self, conn_id: int, kind: str, canopy_id: str, synced: Any, content_hash: str | None,
                        now: datetime, *, session: Session | None = None) -> None:
        """What both sides now agree on (the next merge's base) and its hash, in both directions."""
        t = Link.__table__
        with self._use(session) as s:
            s.execute(update(t).where(t.c.connection_id == conn_id, t.c.kind == kind, t.c.canopy_id == canopy_id)
                      .values(synced=synced, canopy_hash=content_hash, qbo_hash=content_hash, updated_at=now))

    def hold(self, conn_id: int, kind: str, canopy_id: str, reasons: Sequence[str], now: datetime, *,
             session: Session | None = None) -> bool:
        """Record (or update) why a record waits; True when this is news (new, or other reasons)."""
        with self._use(session) as s:
            row = s.get(Held, (conn_id, kind, canopy_id))
            if row is None:
                s.add(Held(connection_id=conn_id, kind=kind, canopy_id=canopy_id, reasons=list(reasons), since=now,
                           updated_at=now))
                return True
            if list(row.reasons or []) == list(reasons):
                return False
            row.reasons, row.updated_at = list(reasons), now
            return True

    def release(self, conn_id: int, kind: str, canopy_id: str, *, session: Session | None = None) -> bool:
        with self._use(session) as s:
            row = s.get(Held, (conn_id, kind, canopy_id))
            if row is None:
                return False
            s.delete(row)
            return True

    def held(self, conn_id: int, kind: str | None = None, *, session: Session | None = None) -> list[Row[Any]]:
        """The records held (read-only rows with `Held`'s columns), by kind and id."""
        with self._use(session, write=False) as s:
            if kind is None:
                return list(s.execute(_HELD_ALL, {"conn": conn_id}))
            return list(s.execute(_HELD_OF_KIND, {"conn": conn_id, "kind": kind}))

    # --- cursors -----------------------------------------------------------------------------

    def cursor(self, conn_id: int, source: str) -> str | None:
        with self.session(write=False) as s:
            row = s.get(Cursor, (conn_id, source))
            return None if row is None else row.value

    def set_cursor(self, conn_id: int, source: str, value: str, now: datetime) -> None:
        with self.session() as s:
            stmt = _upsert(s)(Cursor.__table__).values(connection_id=conn_id, source=source, value=value,
                                                        updated_at=now)
            s.execute(stmt.on_conflict_do_update(index_elements=["connection_id", "source"],
                                                 set_={"value": value, "updated_at": now}))
