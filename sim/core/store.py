"""Tenant-keyed state on SQLAlchemy Core tables.

One generic `records` table holds every entity of every tenant; its few
typed columns (`key`, `alt`, `active`, `changed_at`, `num`) carry what must
be indexed (names, SKUs, tokens, change times) and `data` holds the JSON
body. In-memory SQLite by default, a file to survive restarts.

The fakes serve requests on one event loop and never await inside a
transaction, so one connection is enough and a request's writes are one
transaction: a failing request rolls back whole.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import (Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        create_engine, delete, insert, literal, select, update)
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from . import jsonutil

SERVER = "_server"
"""The scope of what belongs to no tenant: apps, sign-in users, tokens."""

metadata = MetaData()

tenants = Table(
    "tenants", metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("data", Text, nullable=False),
)

records = Table(
    "records", metadata,
    Column("tenant", String, primary_key=True),
    Column("entity", String, primary_key=True),
    Column("id", String, primary_key=True),
    Column("num", Integer),
    Column("version", Integer, nullable=False),
    Column("key", String),
    Column("alt", String),
    Column("active", Boolean, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("changed_at", Float),
    Column("data", Text, nullable=False),
)
# Only the rows that carry a `key` (an `alt`) are in its index: most rows (feed events, contacts,
# QBO records without a parent) carry none, and a lookup by value never wants those.
Index("ix_records_key", records.c.tenant, records.c.entity, records.c.key, sqlite_where=records.c.key.isnot(None))
Index("ix_records_alt", records.c.tenant, records.c.entity, records.c.alt, sqlite_where=records.c.alt.isnot(None))
Index("ix_records_num", records.c.tenant, records.c.entity, records.c.num)
Index("ix_records_changed", records.c.tenant, records.c.entity, records.c.changed_at)

counters = Table(
    "counters", metadata,
    Column("tenant", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", Integer, nullable=False),
)

_RECORD_COLS = ("entity", "id", "num", "version", "key", "alt", "active", "deleted", "changed_at", "data")


@dataclass
class Rec:
    """One stored record; `data` is its JSON body as a dict."""

    entity: str
    id: str
    data: dict[str, Any]
    version: int = 0
    key: str | None = None
    alt: str | None = None
    active: bool = True
    deleted: bool = False
    changed_at: float | None = None
    num: int | None = field(default=None)


def _rec(row: Any) -> Rec:
    return Rec(entity=row.entity, id=row.id, data=jsonutil.loads(row.data), version=row.version,
               key=row.key, alt=row.alt, active=row.active, deleted=row.deleted,
               changed_at=row.changed_at, num=row.num)


class StoreError(Exception):
    pass


class Store:
    def __init__(self, path: str | None = None) -> None:
        url = f"sqlite:///{path}" if path else "sqlite://"
        self.engine = create_engine(url, poolclass=StaticPool,
                                    connect_args={"check_same_thread": False})
        metadata.create_all(self.engine)
        self.conn: Connection = self.engine.connect()
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One unit of work; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.conn.begin():
                yield self.conn
        except BaseException:
            self._after_commit.clear()
            raise
        finally:
            self._depth = 0
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current unit of work commits; never if it rolls back.

        Side effects that leave the process (webhooks) hang here so that a
        failed request announces nothing.
        """
        if self._depth:
            self._after_commit.append(callback)
        else:
            callback()

    # -- tenants -------------------------------------------------------
    def create_tenant(self, tenant: str, kind: str, name: str, created_at: float,
                      data: dict[str, Any] | None = None) -> None:
        with self.tx() as c:
            if c.execute(select(tenants.c.id).where(tenants.c.id == tenant)).first():
                raise StoreError(f"tenant {tenant} exists")
            c.execute(insert(tenants).values(id=tenant, kind=kind, name=name,
                                             created_at=created_at, data=jsonutil.dumps(data or {})))

    def tenant_info(self, tenant: str) -> dict[str, Any] | None:
        with self.tx() as c:
            row = c.execute(select(tenants).where(tenants.c.id == tenant)).first()
        if row is None:
            return None
        return {"id": row.id, "kind": row.kind, "name": row.name, "created_at": row.created_at,
                "data": jsonutil.loads(row.data)}

    def set_tenant_data(self, tenant: str, data: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(update(tenants).where(tenants.c.id == tenant).values(data=jsonutil.dumps(data)))

    def tenant_ids(self, kind: str | None = None) -> list[str]:
        q = select(tenants.c.id).order_by(tenants.c.created_at, tenants.c.id)
        if kind:
            q = q.where(tenants.c.kind == kind)
        with self.tx() as c:
            return [r.id for r in c.execute(q)]

    def drop_tenant(self, tenant: str) -> None:
        with self.tx() as c:
            for table, col in ((records, records.c.tenant), (counters, counters.c.tenant),
                               (tenants, tenants.c.id)):
                c.execute(delete(table).where(col == tenant))

    def fork_tenant(self, src: str, dst: str, name: str | None = None) -> None:
        """Copy a tenant's every row under a new id, in SQL, without decoding."""
        info = self.tenant_info(src)
        if info is None:
            raise StoreError(f"no tenant {src}")
        with self.tx() as c:
            c.execute(insert(tenants).values(id=dst, kind=info["kind"], name=name or info["name"],
                                             created_at=info["created_at"],
                                             data=jsonutil.dumps(info["data"])))
            cols = [records.c[n] for n in _RECORD_COLS]
            c.execute(insert(records).from_select(
                ["tenant", *_RECORD_COLS],
                select(literal(dst), *cols).where(records.c.tenant == src)))
            c.execute(insert(counters).from_select(
                ["tenant", "name", "value"],
                select(literal(dst), counters.c.name, counters.c.value).where(counters.c.tenant == src)))

    def reset(self) -> None:
        with self.tx() as c:
            for table in (records, counters, tenants):
                c.execute(delete(table))

    # -- export / import (snapshots, state dumps) ------------------------
    def export(self, tenant: str | None = None) -> dict[str, Any]:
        """Every row of one tenant (or all), in a stable order."""
        def where(table: Table, col: Any) -> Any:
            q = select(table)
            return q.where(col == tenant) if tenant is not None else q
        with self.tx() as c:
            t_rows = [dict(r._mapping) for r in c.execute(where(tenants, tenants.c.id).order_by(tenants.c.id))]
            r_rows = [dict(r._mapping) for r in c.execute(where(records, records.c.tenant).order_by(
                records.c.tenant, records.c.entity, records.c.num, records.c.id))]
            c_rows = [dict(r._mapping) for r in c.execute(where(counters, counters.c.tenant).order_by(
                counters.c.tenant, counters.c.name))]
        return {"tenants": t_rows, "records": r_rows, "counters": c_rows}

    def import_(self, dump: dict[str, Any], tenant: str | None = None) -> None:
        """Replace one tenant (or everything) with what `export` gave."""
        with self.tx() as c:
            if tenant is None:
                self.reset()
            else:
                self.drop_tenant(tenant)
            for table, key in ((tenants, "tenants"), (records, "records"), (counters, "counters")):
                if dump[key]:
                    c.execute(insert(table), dump[key])

    # -- the tenant view ------------------------------------------------
    def tenant(self, tenant: str) -> "TenantStore":
        return TenantStore(self, tenant)


_COLS = "entity, id, num, version, key, alt, active, deleted, changed_at, data"
GET_SQL = f"SELECT {_COLS} FROM records WHERE tenant = ? AND entity = ? AND id = ?"
INSERT_SQL = ("INSERT INTO records (tenant, entity, id, num, version, key, alt, active, deleted, changed_at, data) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
REPLACE_SQL = ("UPDATE records SET num = ?, version = ?, key = ?, alt = ?, active = ?, deleted = ?, "
               "changed_at = ?, data = ? WHERE tenant = ? AND entity = ? AND id = ?")
NEXT_ID_SQL = ("INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) "
               "ON CONFLICT (tenant, name) DO UPDATE SET value = value + 1 RETURNING value")
COUNTER_SQL = "SELECT value FROM counters WHERE tenant = ? AND name = ?"


def rec_of_row(row: Sequence[Any]) -> Rec:
    entity, id_, num, version, key, alt, active, deleted, changed_at, data = row
    return Rec(entity=entity, id=id_, data=jsonutil.loads(data), version=version, key=key, alt=alt,
               active=bool(active), deleted=bool(deleted), changed_at=changed_at, num=num)


class TenantStore:
    """The store as one tenant sees it: every query carries its filter.

    The hot paths run fixed SQL text on the SQLite connection underneath
    SQLAlchemy (a few microseconds, where building an expression per call
    costs about a hundred); writes still happen inside `store.tx()`, so they
    commit or roll back with the rest of the unit of work.
    """

    def __init__(self, store: Store, tenant: str) -> None:
        self.store = store
        self.tenant = tenant

    @property
    def _db(self) -> Any:
        return self.store.conn.connection.driver_connection

    def get(self, entity: str, id: str) -> Rec | None:
        row = self._db.execute(GET_SQL, (self.tenant, entity, id)).fetchone()
        return rec_of_row(row) if row else None

    def _row(self, rec: Rec) -> tuple[Any, ...]:
        """The `records` row of `rec`, in INSERT_SQL's order (a numeric id doubles as `num`)."""
        num = rec.num
        if num is None and rec.id.isdigit():
            num = int(rec.id)
        return (self.tenant, rec.entity, rec.id, num, rec.version, rec.key, rec.alt, rec.active, rec.deleted,
                rec.changed_at, jsonutil.dumps(rec.data))

    def insert(self, rec: Rec) -> Rec:
        with self.store.tx():
            self._db.execute(INSERT_SQL, self._row(rec))
        return rec

    def insert_many(self, recs: Iterable[Rec]) -> int:
        rows = [self._row(r) for r in recs]
        if rows:
            with self.store.tx():
                self._db.executemany(INSERT_SQL, rows)
        return len(rows)

    def replace(self, rec: Rec, expect_version: int | None = None) -> bool:
        """Write `rec` over the stored one; False when `expect_version` is stale."""
        row = self._row(rec)
        params = [*row[3:], self.tenant, rec.entity, rec.id]
        sql = REPLACE_SQL
        if expect_version is not None:
            sql += " AND version = ?"
            params.append(expect_version)
        with self.store.tx():
            return self._db.execute(sql, params).rowcount == 1

    def remove(self, entity: str, id: str) -> bool:
        with self.store.tx():
            return self._db.execute("DELETE FROM records WHERE tenant = ? AND entity = ? AND id = ?",
                                    (self.tenant, entity, id)).rowcount == 1

    def find(self, entity: str, *, key: str | None = None, keys: Sequence[str] | None = None,
             alt: str | None = None, ids: Sequence[str] | None = None,
             active: bool | None = None, deleted: bool | None = False,
             changed_since: float | None = None, num_range: tuple[Any, Any] | None = None,
             order: str = "num", limit: int | None = None, offset: int = 0) -> list[Rec]:
        """Records of `entity` filtered on the indexed columns; `offset` skips rows in SQL."""
        where = ["tenant = ?", "entity = ?"]
        params: list[Any] = [self.tenant, entity]
        for clause, value in (("key = ?", key), ("alt = ?", alt), ("active = ?", active),
                              ("deleted = ?", deleted), ("changed_at >= ?", changed_since)):
            if value is not None:
                where.append(clause)
                params.append(value)
        for col, values in (("key", keys), ("id", ids)):
            if values is not None:
                values = list(values)
                where.append(f"{col} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        lo, hi = num_range if num_range is not None else (None, None)
        for clause, value in (("num >= ?", lo), ("num <= ?", hi)):
            if value is not None:
                where.append(clause)
                params.append(value)
        # With a selective filter, order on an expression so SQLite (without
        # statistics) uses that filter's index instead of walking the num index.
        selective = key is not None or keys is not None or alt is not None or ids is not None
        by = "changed_at" if order == "changed" else ("+num" if selective else "num")
        sql = f"SELECT {_COLS} FROM records WHERE {' AND '.join(where)} ORDER BY {by}, id"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params.extend((-1 if limit is None else limit, offset))
        return [rec_of_row(row) for row in self._db.execute(sql, params)]

    def count(self, entity: str, *, key: str | None = None, active: bool | None = None) -> int:
        sql = "SELECT count(*) FROM records WHERE tenant = ? AND entity = ? AND deleted = 0"
        params: list[Any] = [self.tenant, entity]
        for clause, value in ((" AND key = ?", key), (" AND active = ?", active)):
            if value is not None:
                sql += clause
                params.append(value)
        return int(self._db.execute(sql, params).fetchone()[0])

    def next_id(self, name: str, start: int = 1) -> int:
        """The next value of a per-tenant counter (`start` the first time)."""
        with self.store.tx():
            return int(self._db.execute(NEXT_ID_SQL, (self.tenant, name, start)).fetchall()[0][0])

    def peek_id(self, name: str) -> int | None:
        row = self._db.execute(COUNTER_SQL, (self.tenant, name)).fetchone()
        return None if row is None else int(row[0])


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
