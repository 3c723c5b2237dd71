"""The request journal: what each tenant was asked and what it answered.

Kept in memory in a bounded ring per tenant; never part of a state dump or
a snapshot, so it cannot make two equal worlds look different.
"""
from __future__ import annotations

import hashlib
import itertools
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Iterable

NO_TENANT = "-"


@dataclass
class Entry:
    seq: int
    time: str
    tenant: str
    method: str
    path: str
    query: str
    status: int
    request_digest: str
    response_digest: str
    duration_ms: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def digest(body: bytes | None) -> str:
    return hashlib.sha256(body or b"").hexdigest()[:16]


class Journal:
    def __init__(self, per_tenant: int = 2000) -> None:
        self.per_tenant = per_tenant
        self._rings: dict[str, deque[Entry]] = {}
        self._seq = itertools.count(1)

    def record(self, **fields: Any) -> Entry:
        tenant = fields.pop("tenant", None) or NO_TENANT
        entry = Entry(seq=next(self._seq), tenant=tenant, **fields)
        ring = self._rings.get(tenant)
        if ring is None:
            ring = self._rings[tenant] = deque(maxlen=self.per_tenant)
        ring.append(entry)
        return entry

    def query(self, *, method: str | None = None, path_prefix: str | None = None,
              tenant: str | None = None, status: int | None = None,
              limit: int = 100) -> list[Entry]:
        """Newest last; at most `limit` entries."""
        rings: Iterable[deque[Entry]] = (
            [self._rings.get(tenant, deque())] if tenant else self._rings.values())
        found = [e for ring in rings for e in ring
                 if (method is None or e.method == method.upper())
                 and (path_prefix is None or e.path.startswith(path_prefix))
                 and (status is None or e.status == status)]
        found.sort(key=lambda e: e.seq)
        return found[-limit:] if limit else found

    def clear(self, tenant: str | None = None) -> None:
        if tenant is None:
            self._rings.clear()
        else:
            self._rings.pop(tenant, None)
