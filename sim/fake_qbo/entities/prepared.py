"""The tenant store on its SQLite connection directly: the entity layer's hot path.

`TenantStore` builds a SQLAlchemy expression per call (about 120 us a
lookup, most of a request's time); these methods run fixed SQL text on the
same DB-API connection (a few us), same tables, same semantics. Writes still
happen inside `store.tx()`, so SQLAlchemy's transaction commits or rolls
them back with everything else. They also choose the selective index:
SQLite, without statistics, would otherwise walk `ix_records_num` to honour
`ORDER BY num` and scan a whole entity to find one name.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sim.core import jsonutil
from sim.core.store import Rec, TenantStore

_COLS = "entity, id, num, version, key, alt, active, deleted, changed_at, data"
_GET = f"SELECT {_COLS} FROM records WHERE tenant = ? AND entity = ? AND id = ?"
_GET_TEXT = "SELECT data, deleted FROM records WHERE tenant = ? AND entity = ? AND id = ?"
_INSERT = ("INSERT INTO records (tenant, entity, id, num, version, key, alt, active, deleted, changed_at, data) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_REPLACE = ("UPDATE records SET num = ?, version = ?, key = ?, alt = ?, active = ?, deleted = ?, "
            "changed_at = ?, data = ? WHERE tenant = ? AND entity = ? AND id = ?")
_NEXT_ID = ("INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (tenant, name) DO UPDATE SET value = value + 1 RETURNING value")


def _to_rec(row: tuple[Any, ...]) -> Rec:
    entity, id_, num, version, key, alt, active, deleted, changed_at, data = row
    return Rec(entity=entity, id=id_, data=jsonutil.loads(data), version=version, key=key, alt=alt,
               active=bool(active), deleted=bool(deleted), changed_at=changed_at, num=num)


class PreparedStore(TenantStore):
    """`TenantStore` for one tenant, in plain SQL on the underlying sqlite3 connection.

    `written` keeps the JSON text of each record this instance stored, so a
    response can reuse the bytes just written instead of encoding again.
    """

    def __init__(self, store: Any, tenant: str) -> None:
        super().__init__(store, tenant)
        self.written: dict[tuple[str, str], str] = {}

    @property
    def _db(self) -> sqlite3.Connection:
        return self.store.conn.connection.driver_connection  # type: ignore[return-value]

    def get(self, entity: str, id: str) -> Rec | None:
        row = self._db.execute(_GET, (self.tenant, entity, id)).fetchone()
        return _to_rec(row) if row else None

    def get_text(self, entity: str, id: str) -> str | None:
        """The stored JSON of a live record, undecoded (for pass-through reads)."""
        row = self._db.execute(_GET_TEXT, (self.tenant, entity, id)).fetchone()
        return None if row is None or row[1] else row[0]

    def insert(self, rec: Rec) -> Rec:
        r = rec.row(self.tenant)
        self.written[(rec.entity, rec.id)] = r["data"]
        with self.store.tx():
            self._db.execute(_INSERT, (r["tenant"], r["entity"], r["id"], r["num"], r["version"], r["key"],
                                       r["alt"], r["active"], r["deleted"], r["changed_at"], r["data"]))
        return rec

    def replace(self, rec: Rec, expect_version: int | None = None) -> bool:
        r = rec.row(self.tenant)
        self.written[(rec.entity, rec.id)] = r["data"]
        params = [r["num"], r["version"], r["key"], r["alt"], r["active"], r["deleted"], r["changed_at"],
                  r["data"], self.tenant, rec.entity, rec.id]
        sql = _REPLACE
        if expect_version is not None:
            sql += " AND version = ?"
            params.append(expect_version)
        with self.store.tx():
            return self._db.execute(sql, params).rowcount == 1

    def find(self, entity: str, *, key: str | None = None, keys: Sequence[str] | None = None,
             alt: str | None = None, ids: Sequence[str] | None = None,
             active: bool | None = None, deleted: bool | None = False,
             changed_since: float | None = None, num_range: tuple[Any, Any] | None = None,
             order: str = "num", limit: int | None = None) -> list[Rec]:
        where = ["tenant = ?", "entity = ?"]
        params: list[Any] = [self.tenant, entity]

        def add(clause: str, *values: Any) -> None:
            where.append(clause)
            params.extend(values)

        if key is not None:
            add("key = ?", key)
        if keys is not None:
            add(f"key IN ({', '.join('?' * len(keys))})", *keys)
        if alt is not None:
            add("alt = ?", alt)
        if ids is not None:
            add(f"id IN ({', '.join('?' * len(ids))})", *ids)
        if active is not None:
            add("active = ?", active)
        if deleted is not None:
            add("deleted = ?", deleted)
        if changed_since is not None:
            add("changed_at >= ?", changed_since)
        lo, hi = num_range if num_range is not None else (None, None)
        if lo is not None:
            add("num >= ?", lo)
        if hi is not None:
            add("num <= ?", hi)
        # With a selective filter, order on an expression so the planner uses
        # that filter's index rather than walking the num index in order.
        selective = key is not None or keys is not None or alt is not None or ids is not None
        by = "changed_at" if order == "changed" else ("+num" if selective else "num")
        sql = f"SELECT {_COLS} FROM records WHERE {' AND '.join(where)} ORDER BY {by}, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_to_rec(row) for row in self._db.execute(sql, params)]

    def holders(self, entities: Sequence[str], key: str) -> list[tuple[str, str]]:
        """(entity, id) of the active records of `entities` whose `key` is `key`:
        one indexed lookup for a name space shared by several entities."""
        sql = (f"SELECT entity, id FROM records WHERE tenant = ? AND entity IN ({', '.join('?' * len(entities))}) "
               "AND key = ? AND active = 1 AND deleted = 0")
        return [(e, i) for e, i in self._db.execute(sql, (self.tenant, *entities, key))]

    def count(self, entity: str, *, key: str | None = None, active: bool | None = None) -> int:
        sql = "SELECT count(*) FROM records WHERE tenant = ? AND entity = ? AND deleted = 0"
        params: list[Any] = [self.tenant, entity]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        if active is not None:
            sql += " AND active = ?"
            params.append(active)
        return int(self._db.execute(sql, params).fetchone()[0])

    def next_id(self, name: str, start: int = 1) -> int:
        with self.store.tx():
            return int(self._db.execute(_NEXT_ID, (self.tenant, name, start)).fetchall()[0][0])
