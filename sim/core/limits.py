"""Sliding-window rate limits on a tenant's clock.

A real limit (500 requests a minute) would cost a test a minute of wall
time; on a frozen clock that a test advances, it costs nothing. Each fake
names its limits and the key each one counts by.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    window: float  # seconds

    def describe(self) -> str:
        return f"{self.limit} per {self.window:g} s"


class Windows:
    """Request times per (limit, key); a hit is refused once `limit` fall in the window."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def check(self, limit: Limit, key: str, now: float) -> float | None:
        """Seconds until a slot frees when over the limit, else None (and count the hit)."""
        refused = self.check_all([(limit, key)], now)
        return None if refused is None else refused[1]

    def check_all(self, checks: list[tuple[Limit, str]], now: float) -> tuple[Limit, float] | None:
        """Every limit must have room before any counts the hit: a refused request uses no quota."""
        for limit, key in checks:
            hits = self._hits.get((limit.name, key))
            if hits:
                while hits and hits[0] <= now - limit.window:
                    hits.popleft()
                if len(hits) >= limit.limit:
                    return limit, hits[0] + limit.window - now
        for limit, key in checks:
            self._hits.setdefault((limit.name, key), deque()).append(now)
        return None

    def clear(self) -> None:
        self._hits.clear()
