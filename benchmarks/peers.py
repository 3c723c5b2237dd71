"""The fake QBO beside the peers a user would otherwise pick, in the same run, by the same load generator.

    python benchmarks/peers.py [--quick] [--requests N] [--seconds S] [--workers W] [--rounds R] [--fresh]

Servers, each a process of its own pinned to the first core, the load generator (this process)
pinned to the others (`os.sched_setaffinity`; nothing is pinned on a one-core machine):

- the fake QBO (`qbo_crud.py --serve fake`): create and read Customers;
- `localstripe`, a stateful aiohttp fake of Stripe: create and read customers;
- `moto` in server mode (`moto_server`): DynamoDB `PutItem` and `GetItem`;
- a bare aiohttp handler that answers a customer envelope and does nothing else: the ceiling.

Each store is brought to 1,000 and then 10,000 records (each server started afresh per size and
seeded the fastest way it has: the fake through its benchmark seeding route, localstripe in its own
process before it serves, moto with `BatchWriteItem`), then driven with `drive` from
`benchmarks/loadgen.py` (as `qbo_crud.py` is), the bare handler right before each figure so a busy
moment of the machine hits both alike; each figure is the median of `--rounds` such pairs, and a
share of the bare handler is the median of the pairs' shares. A slow server gets at most
`--seconds` per run. The slow-down from 1,000 to 10,000 compares the two sizes' shares of the
bare handler, so a change in the machine's load between them cancels out.

The peers are installed by this script into throw-away virtualenvs under
/tmp/qbo-harness-peers/ (kept between runs; `--fresh` rebuilds them) with pip. A peer that cannot
be installed or started is reported as such and skipped; the fake's own targets still count.

Targets (issue 10): the fake QBO's reads and creates at 10,000 records >= 60% and >= 40% of the
bare handler in the same run, and no slow-down from 1,000 to 10,000 (<= 1.2x).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import qbo_crud
from loadgen import (
    Call,
    drive,
    free_port,
    pin_self,
    spawn,
    split_cores,
    stop,
    wait_http,
)
from results import Figures

VENVS = Path(tempfile.gettempdir()) / "qbo-harness-peers"
PEERS = {"localstripe": ["localstripe==1.15.10"], "moto": ["moto[server,dynamodb]==5.2.5"]}
SIZES = (1_000, 10_000)
READ_SHARE, CREATE_SHARE, SLOWDOWN = 0.60, 0.40, 1.2
STRIPE_KEY = "sk_test_bench"
DYNAMO_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/aws4_request, "
               "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00")
LOCALSTRIPE_PICKLE = Path("/tmp/localstripe.pickle")  # localstripe writes its whole store here on every write


# -- the peers' virtualenvs --------------------------------------------------------------------------
def venv_for(name: str, fresh: bool) -> tuple[Path | None, str]:
    """The peer's virtualenv (installed now if missing) and a line on what happened."""
    where = VENVS / name
    stamp = where / ".installed"
    wanted = " ".join(PEERS[name])
    if fresh and where.exists():
        shutil.rmtree(where)
    if stamp.exists() and stamp.read_text() == wanted:
        return where, f"{name}: {wanted} (virtualenv {where}, kept from an earlier run)"
    shutil.rmtree(where, ignore_errors=True)
    started = time.perf_counter()
    steps = [[sys.executable, "-m", "venv", str(where)],
             [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *PEERS[name]]]
    for cmd in steps:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{name}: could not be installed ({' '.join(cmd[:3])}…: {exc})"
        if out.returncode:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            return None, f"{name}: could not be installed (exit {out.returncode}): {' | '.join(tail)}"
    stamp.write_text(wanted)
    return where, f"{name}: {wanted} installed into {where} in {time.perf_counter() - started:.0f} s"


# -- the servers ----------------------------------------------------------------------------------------
@dataclass
class Server:
    """One running server and the two calls driven against it (`calls(run)`: creates make names
    of their own per run, so rounds never collide on a unique name)."""

    label: str
    proc: subprocess.Popen[str]
    calls: Callable[[str], dict[str, Call]]
    notes: list[str] = field(default_factory=list)


def start_fake(size: int, cpus: set[int] | None) -> Server:
    proc = spawn([sys.executable, qbo_crud.__file__, "--serve", "fake"], cpus, stdout=subprocess.PIPE)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        stop(proc)
        raise RuntimeError(f"the fake QBO did not start: {line!r}")
    base = f"http://127.0.0.1:{int(line.split()[1])}"
    realm, token = qbo_crud.connect(base)
    qbo_crud.seed(base, realm, size)
    return Server("fake QBO", proc, lambda run: qbo_crud.calls_for(base, realm, token, size, run_id=run))


def start_bare(cpus: set[int] | None) -> tuple[subprocess.Popen[str], dict[str, Call]]:
    """The ceiling; it gets the fake QBO's very requests (as in qbo_crud.py)."""
    proc = spawn([sys.executable, qbo_crud.__file__, "--serve", "bare"], cpus, stdout=subprocess.PIPE)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        stop(proc)
        raise RuntimeError(f"the bare handler did not start: {line!r}")
    calls = qbo_crud.calls_for(f"http://127.0.0.1:{int(line.split()[1])}", "9999", "bare-token", SIZES[-1],
                               run_id="bare")
    return proc, {"read": calls["read"], "create": calls["create"]}


LOCALSTRIPE_MAIN = """
import sys
from localstripe import resources, server
size, port, ids = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dump = resources.Store.dump_to_disk
resources.Store.dump_to_disk = lambda self: None  # seeding: not one pickle of the store per customer
made = [resources.Customer(name=f"Seed Customer {n:07d}", email=f"seed{n}@example.com",
                           description="seeded by benchmarks/peers.py").id for n in range(size)]
resources.Store.dump_to_disk = dump
resources.store.dump_to_disk()
open(ids, "w").write("\\n".join(made))
sys.argv = ["localstripe", "--port", port, "--from-scratch"]
server.start()
"""


def start_localstripe(venv: Path, size: int, cpus: set[int] | None) -> Server:
    port = free_port()
    with tempfile.NamedTemporaryFile("r", suffix=".ids", delete=False) as f:
        ids_path = Path(f.name)
    proc = spawn([str(venv / "bin" / "python"), "-c", LOCALSTRIPE_MAIN, str(size), str(port), str(ids_path)], cpus)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/v1/customers?limit=1", proc, timeout=120)
        ids = ids_path.read_text().split()
    finally:
        ids_path.unlink(missing_ok=True)
    auth = {"Authorization": f"Bearer {STRIPE_KEY}"}

    async def check(resp: aiohttp.ClientResponse) -> None:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"localstripe {resp.status}: {body[:300]!r}")

    def calls(run: str) -> dict[str, Call]:
        async def read(http: aiohttp.ClientSession, n: int) -> None:
            async with http.get(f"{base}/v1/customers/{ids[(n * 7919) % len(ids)]}", headers=auth) as resp:
                await check(resp)

        async def create(http: aiohttp.ClientSession, n: int) -> None:
            form = {"name": f"Bench {run} {n}", "email": f"bench{n}@example.com", "description": "benchmark"}
            async with http.post(f"{base}/v1/customers", data=form, headers=auth) as resp:
                await check(resp)
        return {"read": read, "create": create}

    return Server("localstripe", proc, calls, [f"{size:,} customers made in its own process before it served"])


def dynamo_item(n: int | str) -> dict[str, Any]:
    """About the size of a QBO customer's fields, as DynamoDB attributes."""
    name = f"Seed Customer {n}"
    return {"id": {"S": f"cust-{n}"}, "DisplayName": {"S": name}, "GivenName": {"S": "Seed"},
            "FamilyName": {"S": f"Customer {n}"}, "PrimaryEmailAddr": {"S": f"seed{n}@example.com"},
            "Active": {"BOOL": True}, "Balance": {"N": "0"}, "CurrencyRef": {"S": "USD"},
            "PrintOnCheckName": {"S": name}, "SyncToken": {"S": "0"},
            "CreateTime": {"S": "2025-03-04T10:11:12-08:00"}, "LastUpdatedTime": {"S": "2025-03-04T10:11:12-08:00"}}


def dynamo(base: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = requests.post(base + "/", data=json.dumps(body), timeout=120, headers={
        "Authorization": DYNAMO_AUTH, "X-Amz-Target": f"DynamoDB_20120810.{target}",
        "Content-Type": "application/x-amz-json-1.0"})
    if resp.status_code != 200:
        raise RuntimeError(f"moto {target}: {resp.status_code} {resp.text[:300]}")
    return resp.json()


def start_moto(venv: Path, size: int, cpus: set[int] | None) -> Server:
    port = free_port()
    proc = spawn([str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], cpus)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/moto-api/", proc, timeout=120)
    dynamo(base, "CreateTable", {"TableName": "customers", "BillingMode": "PAY_PER_REQUEST",
                                 "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                 "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
    for first in range(0, size, 25):
        dynamo(base, "BatchWriteItem", {"RequestItems": {"customers": [
            {"PutRequest": {"Item": dynamo_item(n)}} for n in range(first, min(size, first + 25))]}})
    headers = {"Authorization": DYNAMO_AUTH, "Content-Type": "application/x-amz-json-1.0"}
    get_headers = {**headers, "X-Amz-Target": "DynamoDB_20120810.GetItem"}
    put_headers = {**headers, "X-Amz-Target": "DynamoDB_20120810.PutItem"}

    async def check(resp: aiohttp.ClientResponse, want_item: bool) -> None:
        body = await resp.read()
        if resp.status != 200 or (want_item and b'"Item"' not in body):
            raise RuntimeError(f"moto {resp.status}: {body[:300]!r}")

    def calls(run: str) -> dict[str, Call]:
        async def read(http: aiohttp.ClientSession, n: int) -> None:
            body = json.dumps({"TableName": "customers", "Key": {"id": {"S": f"cust-{(n * 7919) % size}"}}})
            async with http.post(base + "/", data=body, headers=get_headers) as resp:
                await check(resp, True)

        async def create(http: aiohttp.ClientSession, n: int) -> None:
            body = json.dumps({"TableName": "customers", "Item": dynamo_item(f"bench-{run}-{n}")})
            async with http.post(base + "/", data=body, headers=put_headers) as resp:
                await check(resp, False)
        return {"read": read, "create": create}

    return Server("moto (DynamoDB)", proc, calls, [f"{size:,} items written with BatchWriteItem"])


# -- the run ----------------------------------------------------------------------------------------------
@contextmanager
def localstripe_pickle() -> Iterator[None]:
    """localstripe writes /tmp/localstripe.pickle; put back whatever was there before."""
    before = LOCALSTRIPE_PICKLE.read_bytes() if LOCALSTRIPE_PICKLE.exists() else None
    try:
        yield
    finally:
        if before is None:
            LOCALSTRIPE_PICKLE.unlink(missing_ok=True)
        else:
            LOCALSTRIPE_PICKLE.write_bytes(before)


def measure(server: Server, bare: dict[str, Call], total: int, workers: int, seconds: float,
            rounds: int) -> dict[str, tuple[float, float, float]]:
    """kind -> (median rate, median share of the bare handler, median bare rate) over `rounds`
    pairs; in each pair the bare handler runs right before the server, so the share is of one
    moment of the machine (the median of the pairs' shares, as in qbo_crud.py)."""
    pairs: dict[str, list[tuple[float, float]]] = {"read": [], "create": []}
    for round_ in range(rounds):
        calls = server.calls(f"r{round_}")
        for kind, got in pairs.items():
            reference = asyncio.run(drive(bare[kind], total, workers, seconds))
            got.append((asyncio.run(drive(calls[kind], total, workers, seconds)), reference))
    return {kind: (median(r for r, _ in got), median(r / b for r, b in got), median(b for _, b in got))
            for kind, got in pairs.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer requests and seconds per figure, one round")
    p.add_argument("--requests", type=int, help="requests per run (default 2000; 600 with --quick)")
    p.add_argument("--seconds", type=float, help="at most this long per run (default 4; 1.5 with --quick)")
    p.add_argument("--workers", type=int, default=2,
                   help="concurrent keep-alive connections (default 2, as qbo_crud.py)")
    p.add_argument("--rounds", type=int, help="median of this many runs per figure (default 5; 3 with --quick)")
    p.add_argument("--fresh", action="store_true", help="rebuild the peers' virtualenvs")
    args = p.parse_args()
    total = args.requests or (600 if args.quick else 2000)
    seconds = args.seconds or (1.5 if args.quick else 4.0)
    rounds = args.rounds or (3 if args.quick else 5)
    server_cpus, load_cpus = split_cores()

    venvs: dict[str, Path] = {}
    for name in PEERS:
        where, said = venv_for(name, args.fresh)
        print(said, flush=True)
        if where is not None:
            venvs[name] = where
    pin_self(load_cpus)
    pinned = (f"servers on core {sorted(server_cpus)}, load generator on cores {sorted(load_cpus)}"
              if server_cpus else "one core: nothing pinned")
    print(f"# {total} requests or {seconds:g} s per figure, median of {rounds}, {args.workers} keep-alive "
          f"connections, one aiohttp client; {pinned}; the bare handler measured right before each figure",
          flush=True)

    starters: list[tuple[str, Any]] = [("fake QBO", lambda size: start_fake(size, server_cpus))]
    if "localstripe" in venvs:
        starters.append(("localstripe", lambda size: start_localstripe(venvs["localstripe"], size, server_cpus)))
    if "moto" in venvs:
        starters.append(("moto (DynamoDB)", lambda size: start_moto(venvs["moto"], size, server_cpus)))
    skipped = [name for name in PEERS if name not in venvs]

    results: dict[str, dict[int, dict[str, tuple[float, float, float]]]] = {}
    bare_proc, bare = start_bare(server_cpus)
    try:
        with localstripe_pickle():
            for size in SIZES:
                for label, start in starters:
                    t = time.perf_counter()
                    try:
                        server = start(size)
                    except Exception as exc:
                        print(f"{label} @{size:,}: could not be started or seeded: {exc}", flush=True)
                        if label == "fake QBO":
                            raise
                        continue
                    try:
                        ready = time.perf_counter() - t
                        got = measure(server, bare, total, args.workers, seconds, rounds)
                    except Exception as exc:
                        print(f"{label} @{size:,}: failed while measured: {exc}", flush=True)
                        if label == "fake QBO":
                            raise
                        continue
                    finally:
                        stop(server.proc)
                    results.setdefault(label, {})[size] = got
                    print(f"{label} @{size:,} records (ready in {ready:.1f} s): "
                          + ", ".join(f"{kind} {rate:,.0f}/s ({share:.0%} of bare {ref:,.0f}/s)"
                                      for kind, (rate, share, ref) in got.items()), flush=True)
    finally:
        stop(bare_proc)
    return report(results, skipped)


def report(results: dict[str, dict[int, dict[str, tuple[float, float, float]]]], skipped: list[str]) -> int:
    figures = Figures("peers.py")
    small, large = SIZES
    print()
    print(f"{'server':<18} {'records':>8} {'reads/s':>9} {'of bare':>8} {'creates/s':>10} {'of bare':>8}")
    bare_seen: dict[str, list[float]] = {"read": [], "create": []}
    for label, by_size in results.items():
        for size, got in sorted(by_size.items()):
            (r, rs, rb), (c, cs, cb) = got["read"], got["create"]
            bare_seen["read"].append(rb)
            bare_seen["create"].append(cb)
            print(f"{label:<18} {size:>8,} {r:>9,.0f} {rs:>8.0%} {c:>10,.1f} {cs:>8.0%}")
            if label != "fake QBO":
                figures.add(f"{label} reads @{size:,}", r, "req/s")
                figures.add(f"{label} reads @{size:,} / bare handler", 100 * rs, "%")
                figures.add(f"{label} creates @{size:,}", c, "req/s")
                figures.add(f"{label} creates @{size:,} / bare handler", 100 * cs, "%")
    if bare_seen["read"]:
        print(f"{'bare handler':<18} {'':>8} {median(bare_seen['read']):>9,.0f} {'':>8} "
              f"{median(bare_seen['create']):>10,.1f}   (the median of its runs)")
        for kind in ("read", "create"):
            figures.add(f"bare handler {kind}s (median of its runs)", median(bare_seen[kind]), "req/s")
    for name in skipped:
        print(f"{name}: not measured (it could not be installed)")
        figures.add(f"{name}: not measured (could not be installed)", "-")

    # The slow-down compares each size's share of the bare handler, so the machine's load at the
    # two moments cancels out; the raw rates are reported beside it.
    fake = results.get("fake QBO", {})
    ok = True
    print()
    for kind, share_min in (("read", READ_SHARE), ("create", CREATE_SHARE)):
        if large not in fake or small not in fake:
            continue
        rate, share, _ = fake[large][kind]
        slow = fake[small][kind][1] / share
        plural = kind + "s"
        figures.add(f"fake QBO {plural} @{small:,}", fake[small][kind][0], "req/s")
        figures.add(f"fake QBO {plural} @{large:,}", rate, "req/s")
        figures.add(f"fake QBO {plural} @{small:,} / bare handler", 100 * fake[small][kind][1], "%")
        figures.add(f"fake QBO {plural} @{large:,} / bare handler", 100 * share, "%",
                    f">= {share_min:.0%} of bare", share >= share_min)
        figures.add(f"fake QBO {plural}: slow-down @{small:,} -> @{large:,} (of bare)", slow, "x",
                    f"<= {SLOWDOWN}x", slow <= SLOWDOWN)
        ok &= share >= share_min and slow <= SLOWDOWN
        print(f"fake QBO {plural} @{large:,}: {share:.0%} of the bare handler (target >= {share_min:.0%}) "
              f"{'ok' if share >= share_min else 'MISSED'}; slow-down @{small:,} -> @{large:,} {slow:.2f}x "
              f"(target <= {SLOWDOWN}x) {'ok' if slow <= SLOWDOWN else 'MISSED'}")
    for label, by_size in results.items():
        if label == "fake QBO" or small not in by_size or large not in by_size:
            continue
        for kind in ("read", "create"):
            slow = by_size[small][kind][1] / by_size[large][kind][1]
            print(f"{label} {kind}s: slow-down @{small:,} -> @{large:,} {slow:.2f}x")
            figures.add(f"{label} {kind}s: slow-down @{small:,} -> @{large:,} (of bare)", slow, "x")
    figures.emit(sizes=list(SIZES))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
