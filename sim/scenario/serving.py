"""Both fakes in background threads, seeded with one scenario: for tests, benchmarks and dumps."""
from __future__ import annotations

import hashlib
import json
import urllib.request
from contextlib import contextmanager
from typing import Iterator

from aiohttp import web

from sim.core.server import ServerProcess, ServerThread

from .generate import World
from .seed import Seeded, seed_world_sync


def qbo_app(seed: int | None) -> web.Application:
    from sim.fake_qbo.app import QboConfig, create_app  # noqa: PLC0415
    return create_app(QboConfig(seed=seed))


def canopy_app(seed: int | None) -> web.Application:
    from sim.fake_canopy.app import CanopyConfig, create_app  # noqa: PLC0415
    return create_app(CanopyConfig(seed=seed))


@contextmanager
def fakes(seed: int | None) -> Iterator[tuple[ServerThread, ServerThread]]:
    """A fresh fake QBO and fake Canopy with ids, tokens and secrets drawn from `seed`."""
    with ServerThread(lambda: qbo_app(seed)) as q, ServerThread(lambda: canopy_app(seed)) as c:
        yield q, c


@contextmanager
def fake_processes(seed: int | None) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """`fakes`, each in a process of its own: a bulk seed of both then runs on two cores."""
    with ServerProcess(qbo_app, seed) as q, ServerProcess(canopy_app, seed) as c:
        yield q, c


@contextmanager
def seeded(world: World) -> Iterator[tuple[Seeded, ServerThread, ServerThread]]:
    with fakes(world.seed) as (q, c):
        yield seed_world_sync(world, q.url, c.url), q, c


def state_hash(*bases: str) -> str:
    """SHA-256 over each fake's `GET /_sim/state` bytes, in order."""
    h = hashlib.sha256()
    for base in bases:
        with urllib.request.urlopen(base + "/_sim/state", timeout=120) as resp:
            h.update(resp.read())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """`python -m sim.scenario.serving NAME SEED [SCALE]`: seed fresh fakes, print the state hash as JSON."""
    import sys  # noqa: PLC0415

    from .generate import build_world  # noqa: PLC0415
    from .library import load_named  # noqa: PLC0415

    args = sys.argv[1:] if argv is None else argv
    world = build_world(load_named(args[0]), int(args[1]), int(args[2]) if len(args) > 2 else 1)
    with seeded(world) as (s, q, c):
        print(json.dumps({"hash": state_hash(q.url, c.url), "realm_id": s.realm_id, "firm_id": s.firm_id}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
