"""The contacts setup at size: review and sync times, and the API calls beside their bounds.

For 10,000 (`large`) and 100,000 (`huge`) contacts on each side: both fakes seeded in one
process, the engine in another (real HTTP, SQLite in a temporary folder), then the wizard
as a user drives it: connect, import filter All, open every section, sync contacts.

Targets (issue "The sync engine, part 1"): review of 10,000 on each side in under 5 s;
calls to each service within 1.2x of its lower bound (QBO reads paged at 1,000; Canopy
reads paged at its maximum page size, 500; one Canopy create per new contact; no QBO
writes). `--quick` runs the 10,000 case only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import Figures

FIGURES = Figures("setup_contacts.py")

REVIEW_TARGET_S = 5.0
CALLS_FACTOR = 1.2
QBO_PAGE, CANOPY_PAGE = 1000, 500
CASES = [("large", "10,000 contacts each side"), ("huge", "100,000 contacts each side")]


def call(method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 900) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def must(result: tuple[int, Any], what: str) -> Any:
    status, body = result
    if status >= 300:
        raise SystemExit(f"{what}: HTTP {status} {json.dumps(body)[:800]}")
    return body


def serve_fakes(name: str, seed: int) -> None:
    """Child mode: both fakes seeded with the world; print what the driver needs; wait for stdin."""
    from sim.scenario import build_world, load_named  # noqa: PLC0415
    from sim.scenario.seed import seed_world_sync  # noqa: PLC0415
    from sim.scenario.serving import fakes  # noqa: PLC0415

    world = build_world(load_named(name), seed, 1)
    counts = world.truth["counts"]
    with fakes(seed) as (q, c):
        seeded = seed_world_sync(world, q.url, c.url, release=True, unfreeze=True)
        print(json.dumps({"qbo": q.url, "canopy": c.url, "realm": seeded.realm_id,
                          "qbo_user": seeded.qbo_user["email"], "token": seeded.canopy_users[0]["token"],
                          "counts": counts, "sections": world.truth["contacts"]["All"]["counts"]}), flush=True)
        sys.stdin.read()


def run_case(name: str, seed: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fakes = subprocess.Popen([sys.executable, __file__, "--serve", name, "--seed", str(seed)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    tmp = tempfile.mkdtemp(prefix="setup-bench-")
    engine = None
    try:
        assert fakes.stdout is not None
        line = fakes.stdout.readline()
        if not line:
            raise SystemExit(f"{name}: the fakes did not start")
        world = json.loads(line)
        engine = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--qbo", world["qbo"], "--canopy",
                                   world["canopy"], "--db", f"sqlite:///{tmp}/engine.db", "--port", "0"],
                                  stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        assert engine.stdout is not None
        base = engine.stdout.readline().split()[-1]
        token = world["token"]
        must(call("POST", world["qbo"] + "/_sim/apps", body={
            "client_id": "engine-client", "client_secret": "engine-secret",
            "redirect_uris": [base + "/oauth/callback"]}), "register the engine's QBO app")
        state = must(call("POST", base + "/integration/connect", token), "connect")["state"]
        grant = must(call("POST", world["qbo"] + "/_sim/oauth/grant", body={
            "client_id": "engine-client", "redirect_uri": base + "/oauth/callback", "realm_id": world["realm"],
            "user_email": world["qbo_user"], "state": state}), "consent")
        must(call("GET", grant["redirect_url"]), "callback")
        must(call("POST", base + "/integration/agreement", token, {"accept": True}), "agreement")

        t = time.perf_counter()
        review = must(call("POST", base + "/integration/contacts/filter?wait=true", token, {"choice": "all"}),
                      "review")["job"]
        review_s = time.perf_counter() - t
        for _ in range(4):
            must(call("POST", base + "/integration/contacts/review/next", token), "next section")
        t = time.perf_counter()
        sync = must(call("POST", base + "/integration/contacts/sync?wait=true", token), "sync contacts")["job"]
        sync_s = time.perf_counter() - t
    finally:
        if engine is not None:
            engine.terminate()
            engine.wait(10)
        if fakes.stdin:
            fakes.stdin.close()
        fakes.wait(30)
    counts, sizes = world["counts"], review["result"]["sizes"]
    qbo_reads = review["result"]["calls"]["qbo"]["reads"]
    canopy_reads = review["result"]["calls"]["canopy"]["reads"]
    sync_calls = sync["result"].get("calls", {})
    return {
        "name": name, "clients": counts["canopy_clients"], "customers": counts["qbo_customers"],
        "review_s": review_s, "sync_s": sync_s, "sizes": sizes, "truth": world["sections"],
        "qbo_reads": qbo_reads,
        "qbo_reads_bound": sum(max(1, math.ceil(n / QBO_PAGE)) for n in
                               (counts["qbo_customers"], counts["qbo_vendors"], counts["qbo_employees"])),
        "canopy_reads": canopy_reads, "canopy_reads_bound": max(1, math.ceil(counts["canopy_clients"] / CANOPY_PAGE)),
        "canopy_writes": sync_calls.get("canopy", {}).get("writes", 0), "canopy_writes_bound": sizes["new_contacts"],
        "qbo_writes": sync_calls.get("qbo", {}).get("writes", 0),
        "review_steps": review["result"].get("timings_s"), "sync_steps": sync["result"].get("timings_s"),
    }


def report(r: dict[str, Any]) -> bool:
    def within(n: int, bound: int) -> bool:
        return n <= math.ceil(bound * CALLS_FACTOR) if bound else n == 0

    review_ok = r["review_s"] < REVIEW_TARGET_S or r["name"] != "large"
    rows = [
        ("review time", f"{r['review_s']:.2f} s", f"< {REVIEW_TARGET_S:.0f} s" if r["name"] == "large" else "-",
         review_ok),
        ("sync time", f"{r['sync_s']:.2f} s", "-", True),
        ("QBO reads", str(r["qbo_reads"]), f"bound {r['qbo_reads_bound']}, <= {CALLS_FACTOR}x",
         within(r["qbo_reads"], r["qbo_reads_bound"])),
        ("QBO writes", str(r["qbo_writes"]), "bound 0", r["qbo_writes"] == 0),
        ("Canopy reads", str(r["canopy_reads"]), f"bound {r['canopy_reads_bound']}, <= {CALLS_FACTOR}x",
         within(r["canopy_reads"], r["canopy_reads_bound"])),
        ("Canopy writes", str(r["canopy_writes"]), f"bound {r['canopy_writes_bound']}, <= {CALLS_FACTOR}x",
         within(r["canopy_writes"], r["canopy_writes_bound"])),
        ("sections = ground truth", json.dumps(r["sizes"]), json.dumps(r["truth"]),
         list(r["sizes"].values()) == list(r["truth"].values())),
    ]
    print(f"{r['name']}: {r['clients']} Canopy clients, {r['customers']} QBO customers")
    for what, figure, target, ok in rows:
        print(f"  {what:<24} {figure:>14}   target {target:<28} {'ok' if ok else 'MISSED'}")
    values = {"review time": (r["review_s"], "s"), "sync time": (r["sync_s"], "s"),
              "QBO reads": (r["qbo_reads"], "calls"), "QBO writes": (r["qbo_writes"], "calls"),
              "Canopy reads": (r["canopy_reads"], "calls"), "Canopy writes": (r["canopy_writes"], "calls")}
    for what, figure, target, ok in rows:
        value, unit = values.get(what, (figure, ""))
        FIGURES.add(f"contacts setup {r['name']}: {what}", value, unit, None if target == "-" else target, ok)
    print(f"  review steps (s): {json.dumps(r['review_steps'])}")
    print(f"  sync steps (s): {json.dumps(r['sync_steps'])}")
    return all(ok for *_, ok in rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the 10,000 case only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    args, _ = p.parse_known_args()
    if args.serve:
        serve_fakes(args.serve, args.seed)
        return 0
    ok = True
    for name, label in CASES[:1] if args.quick else CASES:
        print(f"-- {label}", flush=True)
        ok &= report(run_case(name, args.seed))
    FIGURES.emit()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
