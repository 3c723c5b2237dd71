"""Same file + seed -> the same records, ids and bytes in both fakes, across processes."""
from __future__ import annotations

import json
import subprocess
import sys

from sim.scenario import build_world, load_named
from sim.core import jsonutil


def _run(name: str, seed: int) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "sim.scenario.serving", name, str(seed)], capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_processes_same_state_bytes() -> None:
    first, second = _run("default", 11), _run("default", 11)
    assert first == second


def test_another_seed_gives_another_world() -> None:
    a = build_world(load_named("default"), 11)
    b = build_world(load_named("default"), 12)
    assert jsonutil.dumps(a.canopy) != jsonutil.dumps(b.canopy)


def test_generation_is_pure() -> None:
    a = build_world(load_named("contacts_over_300"), 5)
    b = build_world(load_named("contacts_over_300"), 5)
    assert jsonutil.dumps([a.canopy, a.qbo, a.truth]) == jsonutil.dumps([b.canopy, b.qbo, b.truth])


def test_fakes_in_processes_seeded_together_hold_the_same_bytes() -> None:
    """The benchmark's way (each fake a process of its own, both seeded at once) makes the very
    world the one-process way makes."""
    from sim.scenario.seed import seed_world_sync
    from sim.scenario.serving import fake_processes, state_hash

    world = build_world(load_named("default"), 11)
    with fake_processes(11) as (q, c):
        seeded = seed_world_sync(world, q.url, c.url, together=True)
        assert q.pid != c.pid and (q.peak_rss_mb() or 1) > 0
        together = {"hash": state_hash(q.url, c.url), "realm_id": seeded.realm_id, "firm_id": seeded.firm_id}
    assert together == _run("default", 11)
