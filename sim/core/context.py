"""Everything a fake needs at run time, hung on the app under one AppKey."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from .clock import Clock, Clocks
from .faults import Classify, ErrorPreset, Faults
from .ids import Secrets
from .webhooks import Outbox
from .journal import Journal
from .store import SERVER, Store, TenantStore


@dataclass
class Hooks:
    """What differs between the fakes in the shared admin routes."""

    new_tenant_id: Callable[["SimContext"], str]
    bootstrap: Callable[["SimContext"], None] = lambda ctx: None
    on_fork: Callable[["SimContext", str, str], dict[str, Any]] = lambda ctx, src, dst: {}
    classify: Classify = lambda request: (None, None)
    """(entity, operation) of a request, for fault rules that match on them."""
    error_presets: dict[str, ErrorPreset] = field(default_factory=dict)
    """Named service-shaped errors that fault rules can answer with."""


@dataclass
class SimContext:
    kind: str
    store: Store
    hooks: Hooks
    seed: int | None = None
    clocks: Clocks = field(default_factory=Clocks)
    journal: Journal = field(default_factory=Journal)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    outbox: Outbox | None = None
    """Outbound webhooks, when the fake sends any."""
    secrets: Secrets = field(init=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.secrets = Secrets(self.seed)

    def clock(self, tenant: str | None = None) -> Clock:
        return self.clocks.of(tenant)

    def tenant(self, tenant: str) -> TenantStore:
        return self.store.tenant(tenant)

    @property
    def server(self) -> TenantStore:
        return self.store.tenant(SERVER)

    def token(self, purpose: str, length: int = 32) -> str:
        """A secret drawn from the seed (random without one)."""
        return self.secrets.token(purpose, self.server.next_id(f"secret:{purpose}"), length)


SIM: web.AppKey[SimContext] = web.AppKey("sim", SimContext)
