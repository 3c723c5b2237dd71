"""A firm's records for one bulk write (the admin seed): buffered inserts.

`BatchStore` is the core's plain-SQL `TenantStore`, same tables, same
semantics, for the length of one transaction:

- inserts are buffered and written with `executemany` (in order, before any
  query that could see them and at `finish`); a `get` of a record still in
  the buffer decodes it from there, so nothing this request wrote is read
  back from SQLite;
- counters (record ids, the feed sequence, invoice numbers) are read once,
  counted in memory and written back by `finish`;
- bodies are encoded by the standard library's faster encoder when they
  hold only plain JSON types (the bytes are those `jsonutil.dumps` gives).

The caller must call `finish()` inside the transaction before it commits. A
refusal raised before that rolls back what was flushed and drops the rest.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sim.core import jsonutil
from sim.core.store import COUNTER_SQL, INSERT_SQL, SERVER, Rec, Store, TenantStore, rec_of_row

from .. import firms

FLUSH_AT = 2000
"""Buffered rows written at once; bounds the buffer's memory in a large seed."""

_SET_COUNTER = ("INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value")


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for the length of a bulk write.

    A seed keeps tens of thousands of fresh containers alive at once (the
    decoded body, the records), which sets off full collections that walk
    the whole heap again and again: in a process holding a large world that
    was a third of a seed's time. What a seed creates is freed by reference
    counting; collection resumes (if it was on) when the seed ends.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(obj: Any) -> str:
    """`jsonutil.dumps(obj)`, byte for byte, by the standard library's faster encoder when the body
    holds only plain JSON types (the same text for those); anything else (a `Decimal`) goes to
    `jsonutil.dumps` itself."""
    try:
        return _plain(obj)
    except (TypeError, ValueError):
        return jsonutil.dumps(obj)


class BatchStore(TenantStore):
    """`TenantStore` for one firm and one transaction; see the module docstring."""

    def __init__(self, store: Store, tenant: str) -> None:
        super().__init__(store, tenant)
        self._pending: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._counters: dict[tuple[str, str], int] = {}

    # -- writes --------------------------------------------------------------
    def _row(self, rec: Rec) -> tuple[Any, ...]:
        num = rec.num
        if num is None and rec.id.isdigit():
            num = int(rec.id)
        return (self.tenant, rec.entity, rec.id, num, rec.version, rec.key, rec.alt, rec.active, rec.deleted,
                rec.changed_at, _dumps(rec.data))

    def insert(self, rec: Rec) -> Rec:
        k = (rec.entity, rec.id)
        if k in self._pending:  # let SQLite refuse the duplicate as it would have
            self.flush()
        self._pending[k] = self._row(rec)
        if len(self._pending) >= FLUSH_AT:
            self.flush()
        return rec

    def insert_many(self, recs: Any) -> int:
        n = 0
        for rec in recs:
            self.insert(rec)
            n += 1
        return n

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = list(self._pending.values()), {}
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

    # -- counters ------------------------------------------------------------
    def _next(self, tenant: str, name: str, start: int) -> int:
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
        return self._next(self.tenant, name, start)

    def peek_id(self, name: str) -> int | None:
        value = self._counters.get((self.tenant, name))
        return value if value is not None else super().peek_id(name)

    def new_record_id(self) -> str:
        """What `firms.new_record_id` gives, from the server-wide counter held here."""
        return str(self._next(SERVER, firms.RECORD_COUNTER, firms.RECORD_START))

    def finish(self) -> None:
        """Write out the buffer and the counters; call inside the transaction, before it commits."""
        self.flush()
        if self._counters:
            with self.store.tx():
                self._db.executemany(_SET_COUNTER, [(t, n, v) for (t, n), v in self._counters.items()])
            self._counters.clear()
