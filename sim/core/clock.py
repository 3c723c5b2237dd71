"""Clocks the tests can move.

Every time-dependent thing in the fakes (token expiry, `MetaData`, CDC
windows, throttling, webhook retries) reads a `Clock`, never the system
time directly, so a test or a scenario can freeze, set or advance it. Each
tenant may have its own clock; without one it follows the server's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any


def _wall() -> float:
    """The only place the fakes read the system time."""
    return time.time()


@dataclass
class Clock:
    """Real time plus an offset, or frozen at an instant (epoch seconds)."""

    offset: float = 0.0
    frozen_at: float | None = None

    def timestamp(self) -> float:
        return self.frozen_at if self.frozen_at is not None else _wall() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=timezone.utc)

    def freeze(self, at: float | None = None) -> None:
        self.frozen_at = self.timestamp() if at is None else at

    def unfreeze(self) -> None:
        if self.frozen_at is not None:
            self.offset = self.frozen_at - _wall()
            self.frozen_at = None

    def set(self, at: float) -> None:
        if self.frozen_at is not None:
            self.frozen_at = at
        else:
            self.offset = at - _wall()

    def advance(self, seconds: float) -> None:
        if self.frozen_at is not None:
            self.frozen_at += seconds
        else:
            self.offset += seconds

    def copy(self) -> "Clock":
        return Clock(self.offset, self.frozen_at)

    def describe(self) -> dict[str, Any]:
        return {"now": iso(self.now()), "frozen": self.frozen_at is not None, "offset_seconds": self.offset}

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "frozen_at": self.frozen_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Clock":
        return cls(float(data.get("offset", 0.0)), data.get("frozen_at"))


class Clocks:
    """The server's clock and the per-tenant clocks that override it."""

    def __init__(self, server: Clock | None = None) -> None:
        self.server = server or Clock()
        self._tenants: dict[str, Clock] = {}

    def of(self, tenant: str | None) -> Clock:
        if tenant is None:
            return self.server
        return self._tenants.get(tenant, self.server)

    def own(self, tenant: str) -> Clock:
        """The tenant's own clock, split off from the server's on first use."""
        clock = self._tenants.get(tenant)
        if clock is None:
            clock = self._tenants[tenant] = self.server.copy()
        return clock

    def has_own(self, tenant: str) -> bool:
        return tenant in self._tenants

    def fork(self, src: str, dst: str) -> None:
        if src in self._tenants:
            self._tenants[dst] = self._tenants[src].copy()

    def drop(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)

    def reset(self) -> None:
        self.server = Clock()
        self._tenants.clear()

    def to_dict(self, tenant: str | None = None) -> dict[str, Any]:
        if tenant is not None:
            own = self._tenants.get(tenant)
            return {"tenants": {tenant: own.to_dict()} if own else {}}
        return {"server": self.server.to_dict(),
                "tenants": {t: c.to_dict() for t, c in self._tenants.items()}}

    def load(self, data: dict[str, Any], tenant: str | None = None) -> None:
        if tenant is None:
            self.server = Clock.from_dict(data.get("server", {}))
            self._tenants = {}
        else:
            self._tenants.pop(tenant, None)
        for t, c in data.get("tenants", {}).items():
            self._tenants[t] = Clock.from_dict(c)


def iso(moment: datetime, offset_hours: float | None = None, millis: bool = False) -> str:
    """ISO 8601 with an explicit offset, as QBO writes `MetaData` times."""
    if offset_hours is not None:
        moment = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    text = moment.isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z") if offset_hours is None else text


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 instant; a naive one is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
