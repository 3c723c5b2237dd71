"""Scenario fixtures: a fresh pair of fakes per test (a seed freezes server-wide clocks)."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
import requests

from sim.scenario import World, build_world, load_named
from sim.scenario.seed import Seeded, seed_world_sync
from sim.scenario.serving import fakes


class Worlds:
    """Seeds a built-in scenario into fresh fakes and reads them back over their public APIs."""

    def __init__(self) -> None:
        self._stack: list[Any] = []

    def seed(self, name: str, seed: int = 1, scale: int = 1) -> tuple[World, Seeded]:
        world = build_world(load_named(name), seed, scale)
        ctx = fakes(seed)
        q, c = ctx.__enter__()
        self._stack.append(ctx)
        return world, seed_world_sync(world, q.url, c.url)

    def close(self) -> None:
        while self._stack:
            self._stack.pop().__exit__(None, None, None)


@pytest.fixture
def worlds() -> Iterator[Worlds]:
    w = Worlds()
    yield w
    w.close()


def qbo_query_all(seeded: Seeded, token: str, entity: str, where: str = "") -> list[dict[str, Any]]:
    """Every row of `entity` (active and inactive), page by page, through /query."""
    out: list[dict[str, Any]] = []
    start = 1
    http = requests.Session()
    while True:
        q = f"SELECT * FROM {entity} {where} STARTPOSITION {start} MAXRESULTS 1000"
        resp = http.get(f"{seeded.qbo_url}/v3/company/{seeded.realm_id}/query", params={"query": q},
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=60)
        assert resp.status_code == 200, resp.text
        rows = resp.json()["QueryResponse"].get(entity, [])
        out += rows
        if len(rows) < 1000:
            return out
        start += 1000


def canopy_list_all(seeded: Seeded, plural: str) -> list[dict[str, Any]]:
    token = seeded.canopy_users[0]["token"]
    out: list[dict[str, Any]] = []
    cursor = None
    http = requests.Session()
    while True:
        params = {"limit": 500, **({"next_cursor": cursor} if cursor else {})}
        resp = http.get(f"{seeded.canopy_url}/public/v3/{plural}", params=params,
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out += body[plural]
        cursor = body.get("next_cursor")
        if not cursor:
            return out


QueryAll = Callable[..., list[dict[str, Any]]]
