"""What an entity is, as data: the `EntitySpec`, and the state its hooks see.

One generic resource (`resource.py`) serves every entity from its spec;
the odd cases (invoice totals, customer levels, item types) are small hooks
named in the spec, not handlers of their own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache
from typing import Any

from sim.core.context import SimContext
from sim.core.store import Rec

from .. import tenancy
from ..query import FieldType
from .prepared import PreparedStore


class Kind(Enum):
    NAME_LIST = "name-list"      # never deleted; Active=false instead
    TRANSACTION = "transaction"  # deletable; some voidable
    SINGLETON = "singleton"      # one per company (CompanyInfo, Preferences)


COMMON_FIELDS = frozenset({"Id", "SyncToken", "sparse", "domain", "MetaData"})
"""Fields every entity carries; never taken from a request body."""


class Session:
    """One request's view of one company: its store, and the instant it runs at
    (read once, so every time stamp of a request agrees)."""

    def __init__(self, ctx: SimContext, realm: str, offset: str | None = None,
                 store: PreparedStore | None = None) -> None:
        """`offset` when the caller already knows the company's (saves a read); `store` for a
        bulk write's own (a `BulkStore`)."""
        self.ctx = ctx
        self.realm = realm
        self.store = PreparedStore(ctx.store, realm) if store is None else store
        self.offset = tenancy.company_offset(ctx, realm) if offset is None else offset
        self.ts = ctx.clock(realm).timestamp()
        self._stamp: str | None = None
        self.changes: list[tuple[str, str, str]] = []
        """(entity, id, webhook operation) of each record this request wrote."""

    @property
    def stamp(self) -> str:
        """`MetaData` times: company-local, whole seconds (formatted once)."""
        if self._stamp is None:
            self._stamp = datetime.fromtimestamp(self.ts, tz=_zone(self.offset)).isoformat(timespec="seconds")
        return self._stamp

    @property
    def today(self) -> str:
        """The company's date (default TxnDate)."""
        return self.stamp[:10]

    def time_millis(self) -> str:
        """The envelope `time`: company-local with milliseconds."""
        return datetime.fromtimestamp(self.ts, tz=_zone(self.offset)).isoformat(timespec="milliseconds")


@lru_cache(maxsize=64)
def _zone(offset: str) -> timezone:
    """"-08:00" -> a fixed-offset zone (what `tenancy.qbo_time` does, once per offset)."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


@dataclass
class Write:
    """A record being created or changed, as the hooks see it.

    `data` is the whole new body (writable fields merged, read-only ones
    carried over from `old`), which hooks complete and check in place.
    `refs` holds the records the spec's top-level refs resolved to.
    """

    s: Session
    spec: EntitySpec
    data: dict[str, Any]
    sent: dict[str, Any]
    old: Rec | None = None
    sparse: bool = False
    refs: dict[str, Rec] = field(default_factory=dict)

    @property
    def creating(self) -> bool:
        return self.old is None

    @property
    def was_active(self) -> bool:
        return self.old is None or self.old.active


def _noop(*_: Any) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """The odd cases. `prepare` checks and completes `Write.data` before the
    generic name and hierarchy rules; `after` touches other records once the
    write is stored (balances); `deleting` runs before a delete; `void`
    rewrites `Write.data` for `?operation=void`."""

    prepare: Callable[[Write], None] = _noop
    after: Callable[[Write, Rec], None] = _noop
    deleting: Callable[[Session, Rec], None] = _noop
    void: Callable[[Write], None] | None = None


@dataclass(frozen=True)
class EntitySpec:
    name: str
    segment: str
    kind: Kind
    sequence: str | None
    """Per-company id counter: "name" (Customer/Vendor/Employee), "txn", "Item", "Account"."""
    writable: frozenset[str]
    read_only: frozenset[str] = frozenset()
    """Accepted in a body and ignored (python-quickbooks sends them back)."""
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Filled in when absent after a create or update (deep-copied)."""
    numbers: frozenset[str] = frozenset()
    """Top-level numeric fields: numeric strings become Decimal."""
    refs: Mapping[str, str] = field(default_factory=dict)
    """Top-level ref field -> the entity it must name (resolved, `name` filled)."""
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    """Queryable properties and their types (for the query package)."""
    where_aliases: Mapping[str, str] = field(default_factory=dict)
    """A WHERE path QBO accepts for an object, mapped to the leaf it compares."""
    key_field: str | None = None
    """Stored casefolded in the indexed `key` column: names, DocNumber."""
    alt_field: str | None = None
    """Stored in the indexed `alt` column: Sku (casefolded) or a ref's value."""
    unique_among: tuple[str, ...] = ()
    """Entities whose active records share `key_field`'s name space (6240)."""
    name_scope: str = ""
    forbidden: str = ":\t\n"
    parent_flag: str | None = None
    """Job / SubItem / SubAccount: the flag that goes with ParentRef."""
    label_field: str | None = None
    """The field that names a record of this entity inside someone's ref."""
    extra_ops: tuple[str, ...] = ()
    hooks: Hooks = Hooks()

    @property
    def name_list(self) -> bool:
        return self.kind is Kind.NAME_LIST

    @property
    def accepted(self) -> frozenset[str]:
        return self.writable | self.read_only | COMMON_FIELDS

    @property
    def operations(self) -> frozenset[str]:
        """The `?operation=` values (and reads/creates) this entity supports."""
        base = {Kind.NAME_LIST: {"create", "read", "update", "query"},
                Kind.TRANSACTION: {"create", "read", "update", "delete", "query"},
                Kind.SINGLETON: {"read", "update", "query"}}[self.kind]
        return frozenset(base | set(self.extra_ops))

    def key_of(self, data: Mapping[str, Any]) -> str | None:
        value = data.get(self.key_field) if self.key_field else None
        return value.casefold() if isinstance(value, str) else None

    def alt_of(self, data: Mapping[str, Any]) -> str | None:
        value = data.get(self.alt_field) if self.alt_field else None
        if isinstance(value, dict):
            value = value.get("value")
            return str(value) if value is not None else None
        return value.casefold() if isinstance(value, str) else None
