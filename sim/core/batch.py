"""A tenant's records for one bulk write (an admin seed): buffered inserts.

`BatchStore` is the core's plain-SQL `TenantStore`, same tables, same
semantics, for the length of one transaction:

- inserts are buffered and written with `executemany` (in order, before any
  query that could see them and at `finish`); a `get` of a record still in
  the buffer decodes it from there, so nothing this request wrote is read
  back from SQLite; `pending_keys` answers "which buffered rows carry this
  key" for a fake's own name look-ups, so those need not flush;
- counters are read once, counted in memory and written back by `finish`.

The caller must call `finish()` inside the transaction before it commits. A
refusal raised before that rolls back what was flushed and drops the rest.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .store import COUNTER_SQL, INSERT_SQL, Rec, Store, TenantStore, rec_of_row

FLUSH_AT = 2000
"""Buffered rows written at once; bounds the buffer's memory in a large seed."""

_SET_COUNTER = ("INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value")


class BatchStore(TenantStore):
    """`TenantStore` for one tenant and one transaction; see the module docstring."""

    def __init__(self, store: Store, tenant: str) -> None:
        super().__init__(store, tenant)
        self._pending: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._keys: dict[tuple[str, str], list[str]] = {}
        self._counters: dict[tuple[str, str], int] = {}

    # -- writes --------------------------------------------------------------
    def insert(self, rec: Rec) -> Rec:
        k = (rec.entity, rec.id)
        if k in self._pending:  # let SQLite refuse the duplicate as it would have
            self.flush()
        self._pending[k] = self._row(rec)
        if rec.key is not None and rec.active and not rec.deleted:
            self._keys.setdefault((rec.entity, rec.key), []).append(rec.id)
        if len(self._pending) >= FLUSH_AT:
            self.flush()
        return rec

    def insert_many(self, recs: Iterable[Rec]) -> int:
        n = 0
        for rec in recs:
            self.insert(rec)
            n += 1
        return n

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = list(self._pending.values()), {}
            self._keys.clear()
            with self.store.tx():
                self._db.executemany(INSERT_SQL, rows)

    def replace(self, rec: Rec, expect_version: int | None = None) -> bool:
        self.flush()
        return super().replace(rec, expect_version)

    def remove(self, entity: str, id: str) -> bool:
        self.flush()
        return super().remove(entity, id)

    # -- reads ---------------------------------------------------------------
    def get(self, entity: str, id: str) -> Rec | None:
        row = self._pending.get((entity, id))
        return rec_of_row(row[1:]) if row is not None else super().get(entity, id)

    def find(self, entity: str, **filters: Any) -> list[Rec]:
        self.flush()
        return super().find(entity, **filters)

    def count(self, entity: str, *, key: str | None = None, active: bool | None = None) -> int:
        self.flush()
        return super().count(entity, key=key, active=active)

    def pending_keys(self, entities: Sequence[str], key: str) -> list[tuple[str, str]]:
        """(entity, id) of the buffered active rows of `entities` whose `key` is `key`; what
        SQLite holds already is the caller's own query."""
        return [(e, i) for e in entities for i in self._keys.get((e, key), ())]

    # -- counters ------------------------------------------------------------
    def next_counter(self, tenant: str, name: str, start: int) -> int:
        """The next value of any tenant's counter (a fake's server-wide ones included)."""
        k = (tenant, name)
        current = self._counters.get(k)
        if current is None:
            row = self._db.execute(COUNTER_SQL, k).fetchone()
            value = start if row is None else row[0] + 1
        else:
            value = current + 1
        self._counters[k] = value
        return value

    def next_id(self, name: str, start: int = 1) -> int:
        return self.next_counter(self.tenant, name, start)

    def peek_id(self, name: str) -> int | None:
        value = self._counters.get((self.tenant, name))
        return value if value is not None else super().peek_id(name)

    def finish(self) -> None:
        """Write out the buffer and the counters; call inside the transaction, before it commits."""
        self.flush()
        if self._counters:
            with self.store.tx():
                self._db.executemany(_SET_COUNTER, [(t, n, v) for (t, n), v in self._counters.items()])
            self._counters.clear()
