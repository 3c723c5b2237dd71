"""The tenant store as the entity layer uses it: the core's plain-SQL
`TenantStore`, plus what a request needs on top: the JSON text it just
wrote (so a response can reuse those bytes instead of encoding again),
undecoded reads for pass-through responses, and one lookup across a name
space shared by several entities.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.core.batch import BatchStore
from sim.core.store import Rec, TenantStore

_GET_TEXT = "SELECT data, deleted FROM records WHERE tenant = ? AND entity = ? AND id = ?"


class PreparedStore(TenantStore):
    """`TenantStore` for one tenant and one request; `written` keeps each stored record's JSON."""

    def __init__(self, store: Any, tenant: str) -> None:
        super().__init__(store, tenant)
        self.written: dict[tuple[str, str], str] = {}

    def _row(self, rec: Rec) -> tuple[Any, ...]:
        row = super()._row(rec)
        self.written[(rec.entity, rec.id)] = row[-1]
        return row

    def get_text(self, entity: str, id: str) -> str | None:
        """The stored JSON of a live record, undecoded (for pass-through reads)."""
        row = self._db.execute(_GET_TEXT, (self.tenant, entity, id)).fetchone()
        return None if row is None or row[1] else row[0]

    def holders(self, entities: Sequence[str], key: str) -> list[tuple[str, str]]:
        """(entity, id) of the active records of `entities` whose `key` is `key`:
        one indexed lookup for a name space shared by several entities."""
        sql = (f"SELECT entity, id FROM records WHERE tenant = ? AND entity IN ({', '.join('?' * len(entities))}) "
               "AND key = ? AND active = 1 AND deleted = 0")
        return [(e, i) for e, i in self._db.execute(sql, (self.tenant, *entities, key))]


class BulkStore(BatchStore, PreparedStore):
    """`PreparedStore` for one bulk seed, its inserts buffered (the core's `BatchStore`); name
    look-ups see the buffer too, so a seed of thousands of names never has to flush."""

    def holders(self, entities: Sequence[str], key: str) -> list[tuple[str, str]]:
        return [*super().holders(entities, key), *self.pending_keys(entities, key)]

    def get_text(self, entity: str, id: str) -> str | None:
        self.flush()
        return super().get_text(entity, id)
