"""How fast is the fake QBO's entity layer, and does it stay fast at 100,000 rows?

    python benchmarks/qbo_crud.py [--quick] [--requests N] [--workers W] [--rounds R] [--in-process]

Starts the fake and a bare aiohttp handler on 127.0.0.1, each in a
subprocess of its own (as the engine meets the fake: another process), seeds
customers straight into the fake's store on its loop (a benchmark-only
`/_bench/seed` route added to this script's own app), and drives both with
the same keep-alive aiohttp client sending the very same requests; the bare
handler answers each with a customer envelope of the real size and does
nothing else. The bare handler runs just before each run of the fake, so the
machine's load hits both alike; figures are the median of a few runs.

`--in-process` serves both from threads of this process instead
(`ServerThread`): client and server then share one GIL, and every SQLite
call, which releases it, costs a thread switch the bare handler never pays.

Targets: read >= 60% and create >= 40% of the bare handler's rate; create at
100k within 1.2x of create at 1k; query by DisplayName at 100k within 1.5x
of its latency at 1k; the fake's RSS with 100k customers under 400 MB.
Figures vary with the machine: this is a report, never a test.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

import aiohttp
import requests
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Call, drive
from results import Figures

from sim.core import jsonutil
from sim.core.context import SIM
from sim.core.server import ServerThread, start_site
from sim.core.store import Rec, counters
from sim.fake_qbo.app import QboConfig, create_app
from sim.fake_qbo.entities import SPECS_BY_NAME, Session, resource

SEED = 7
REDIRECT = "http://127.0.0.1:9/callback"
CUSTOMER_BODY = jsonutil.dumps({"Customer": {
    "DisplayName": "Seed Customer 0000042", "Active": True, "Job": False, "BillWithParent": False, "Taxable": True,
    "IsProject": False, "Balance": 0, "BalanceWithJobs": 0, "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
    "PreferredDeliveryMethod": "Print", "PrintOnCheckName": "Seed Customer 0000042",
    "FullyQualifiedName": "Seed Customer 0000042", "Level": 0, "domain": "QBO", "sparse": False, "Id": "42",
    "SyncToken": "0", "MetaData": {"CreateTime": "2025-03-04T10:11:12-08:00", "LastUpdatedTime": "2025-03-04T10:11:12-08:00"}},
    "time": "2025-03-04T10:11:12.345-08:00"}).encode()


# -- the two servers ---------------------------------------------------------------------
def bare_app() -> web.Application:
    """Answers every request with a customer envelope of the real size, doing nothing else."""
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=CUSTOMER_BODY, headers={"Content-Type": "application/json;charset=UTF-8"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    app.router.add_post("/{tail:.*}", handle)
    return app


def seed_customers(app: web.Application, realm: str, upto: int) -> None:
    """Bring the company to `upto` customers: one template made by the entity
    layer, copies bulk-inserted, then one counter write. Runs on the server's loop."""
    ctx = app[SIM]
    s = Session(ctx, realm)
    spec = SPECS_BY_NAME["Customer"]
    have = s.store.count("Customer")
    if have >= upto:
        return
    with ctx.store.tx():
        template = resource.create(s, spec, {"DisplayName": f"Seed template {have}"})
        first = int(template["Id"]) + 1
        rows = []
        for n in range(first, first + upto - have - 1):
            data = copy.deepcopy(template)
            name = f"Seed Customer {n:07d}"
            data.update(Id=str(n), DisplayName=name, PrintOnCheckName=name, FullyQualifiedName=name)
            rows.append(Rec("Customer", str(n), data, key=name.casefold(), changed_at=s.ts))
            if len(rows) == 5000:
                s.store.insert_many(rows)
                rows = []
        s.store.insert_many(rows)
        ctx.store.conn.execute(counters.update().where(
            (counters.c.tenant == realm) & (counters.c.name == "name")).values(value=first + upto - have - 2))


def fake_app() -> web.Application:
    """The fake, plus this benchmark's own seeding route (no such route in the product)."""
    app = create_app(QboConfig(seed=SEED))

    async def seed(request: web.Request) -> web.Response:
        body = await request.json()
        seed_customers(request.app, body["realm"], int(body["upto"]))
        return web.json_response({"seeded": body["upto"]})

    app.router.add_post("/_bench/seed", seed)
    return app


def serve(kind: str) -> None:
    """Child process: serve `kind` on a free port, print it, run until killed."""
    async def run() -> None:
        runner, port = await start_site(fake_app() if kind == "fake" else bare_app())
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()
    asyncio.run(run())


@contextmanager
def servers(in_process: bool) -> Iterator[tuple[str, str, int]]:
    """(fake URL, bare URL, the fake's pid) for the run; children are stopped by their own pid."""
    if in_process:
        with ServerThread(fake_app) as fake, ServerThread(bare_app) as bare:
            yield fake.url, bare.url, os.getpid()
        return
    children = [subprocess.Popen([sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True)
                for kind in ("fake", "bare")]
    try:
        urls = []
        for child in children:
            line_ = child.stdout.readline() if child.stdout else ""
            if not line_.startswith("PORT "):
                raise RuntimeError(f"server did not start: {line_!r}")
            urls.append(f"http://127.0.0.1:{int(line_.split()[1])}")
        yield urls[0], urls[1], children[0].pid
    finally:
        for child in children:
            child.terminate()
            child.wait(10)


# -- a company and a token over HTTP ------------------------------------------------------
def connect(base: str) -> tuple[str, str]:
    company = requests.post(base + "/_sim/companies", json={"name": "Bench Co"}, timeout=30).json()
    realm = company["realm_id"]
    # QBO's 10 requests a second would throttle a benchmark: off for this company (where the fake has limits).
    requests.post(base + "/_sim/limits", json={"tenant": realm, "enabled": False}, timeout=30)
    requests.post(base + "/_sim/apps", json={"client_id": "bench", "client_secret": "bench-secret",
                                             "redirect_uris": [REDIRECT]}, timeout=30)
    grant = requests.post(base + "/_sim/oauth/grant", json={"client_id": "bench", "redirect_uri": REDIRECT,
                                                            "realm_id": realm}, timeout=30).json()
    token = requests.post(base + "/oauth2/v1/tokens/bearer",
                          data={"grant_type": "authorization_code", "code": grant["code"],
                                "redirect_uri": REDIRECT},
                          headers={"Authorization": "Basic " + base64.b64encode(b"bench:bench-secret").decode(),
                                   "Accept": "application/json"}, timeout=30).json()
    return realm, token["access_token"]


def seed(base: str, realm: str, upto: int) -> None:
    resp = requests.post(base + "/_bench/seed", json={"realm": realm, "upto": upto}, timeout=600)
    resp.raise_for_status()


# -- driving the servers (the load generator is benchmarks/loadgen.py, shared with peers.py) --
def calls_for(base: str, realm: str, token: str, size: int, run_id: str) -> dict[str, Call]:
    """create / read / query against `base`: the fake, or the bare handler with the very same requests."""
    api = f"{base}/v3/company/{realm}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    json_headers = {**headers, "Content-Type": "application/json"}

    async def check(resp: aiohttp.ClientResponse) -> None:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {body[:300]!r}")

    async def create(http: aiohttp.ClientSession, n: int) -> None:
        body = jsonutil.dumps({"DisplayName": f"Bench {run_id} {n}", "GivenName": "Bench",
                               "SyncToken": 0, "sparse": False, "domain": "QBO", "Balance": 0})
        async with http.post(f"{api}/customer?minorversion=75", data=body, headers=json_headers) as resp:
            await check(resp)

    async def read(http: aiohttp.ClientSession, n: int) -> None:
        async with http.get(f"{api}/customer/{1 + (n * 7919) % size}?minorversion=75", headers=headers) as resp:
            await check(resp)

    async def query(http: aiohttp.ClientSession, n: int) -> None:
        name = f"Seed Customer {2 + (n * 7919) % (size - 2):07d}"
        text = f"select * from Customer where DisplayName = '{name}'"
        async with http.get(f"{api}/query", params={"query": text, "minorversion": "75"},
                            headers=headers) as resp:
            await check(resp)

    return {"create": create, "read": read, "query": query}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return float("nan")


FIGURES = Figures("qbo_crud.py")


def line(label: str, value: str, target: str, ok: bool) -> None:
    print(f"{label:<40} {value:>16}   target {target:<32} {'ok' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k instead of 100k rows, fewer requests")
    parser.add_argument("--requests", type=int, default=None, help="requests per run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs per figure")
    parser.add_argument("--in-process", action="store_true", help="serve from threads of this process")
    parser.add_argument("--serve", choices=("fake", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    big = 10_000 if args.quick else 100_000
    total = args.requests or (1000 if args.quick else 3000)
    sizes = (1_000, big)

    with servers(args.in_process) as (fake_url, bare_url, fake_pid):
        realm, token = connect(fake_url)
        runs: dict[int, dict[str, list[tuple[float, float]]]] = {}
        for size in sizes:
            started = time.perf_counter()
            seed(fake_url, realm, size)
            print(f"# {size:,} customers seeded in {time.perf_counter() - started:.1f}s")
            runs[size] = {"create": [], "read": [], "query": []}
            bares = calls_for(bare_url, realm, token, size, run_id="bare")
            for round_ in range(args.rounds):
                calls = calls_for(fake_url, realm, token, size, run_id=f"{size}-{round_}")
                for kind, call in calls.items():
                    # The bare handler runs right before, so a busy moment on the machine hits both.
                    reference = asyncio.run(drive(bares[kind], total, args.workers))
                    runs[size][kind].append((asyncio.run(drive(call, total, args.workers)), reference))
        rss = rss_mb(fake_pid)

    where = "threads of one process" if args.in_process else "one subprocess each"
    print(f"# {total} requests per run, median of {args.rounds} runs, {args.workers} workers, one keep-alive "
          f"aiohttp client; servers in {where}; bare handler measured just before each run")
    med = {size: {kind: (median(r for r, _ in pairs), median(r / b for r, b in pairs),
                         median(b for _, b in pairs))
                  for kind, pairs in kinds.items()} for size, kinds in runs.items()}
    for size in sizes:
        for kind, label, target, share_min in (("read", "read customer", ">= 60% of bare GET", 0.6),
                                               ("create", "create customer", ">= 40% of bare POST", 0.4)):
            rate, share, reference = med[size][kind]
            line(f"{label} @{size:,} (req/s)", f"{rate:.0f} ({share:.0%})",
                 f"{target} ({reference:.0f})", share >= share_min)
            FIGURES.add(f"fake QBO {label} @{size:,}", rate, "req/s")
            FIGURES.add(f"fake QBO {label} @{size:,} / bare handler", share * 100, "%", target, share >= share_min)
        rate, share, _ = med[size]["query"]
        line(f"query DisplayName= @{size:,} (req/s)", f"{rate:.0f} ({1000 / rate:.2f} ms)",
             f"ratio below ({share:.0%} of bare)", True)
        FIGURES.add(f"fake QBO query DisplayName= @{size:,}", 1000 / rate, "ms")
    small, large = sizes
    create_ratio = med[small]["create"][0] / med[large]["create"][0]
    query_ratio = med[small]["query"][0] / med[large]["query"][0]
    line(f"create time @{large:,} / @{small:,}", f"{create_ratio:.2f}x", "<= 1.2x", create_ratio <= 1.2)
    line(f"query latency @{large:,} / @{small:,}", f"{query_ratio:.2f}x", "<= 1.5x", query_ratio <= 1.5)
    label = "process" if args.in_process else "fake's"
    line(f"RSS, {label}, {large:,} customers (MB)", f"{rss:.0f}", "< 400 MB", rss < 400)
    FIGURES.add(f"fake QBO create time @{large:,} / @{small:,}", create_ratio, "x", "<= 1.2x", create_ratio <= 1.2)
    FIGURES.add(f"fake QBO query latency @{large:,} / @{small:,}", query_ratio, "x", "<= 1.5x", query_ratio <= 1.5)
    FIGURES.add(f"fake QBO RSS ({label}) with {large:,} customers", rss, "MB", "< 400 MB", rss < 400)
    FIGURES.emit(requests=total, rounds=args.rounds, workers=args.workers)


if __name__ == "__main__":
    main()
