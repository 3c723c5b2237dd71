"""Webhook delivery: events per second to a local receiver, and delivery
latency p50/p99 with no chaos (targets: >= 2,000 events/s, p99 < 100 ms).

Drives the shared outbox with the fake QBO's signed classic payloads
against a real receiver on 127.0.0.1: a burst for throughput, then a
steady 1,000 events/s for latency (emit to receipt).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aiohttp import web

from sim.core import jsonutil
from sim.core.clock import Clock
from sim.core.server import start_site
from sim.core.webhooks import Delivery, Outbox
from sim.fake_qbo.webhooks import sign

TARGET_RATE, TARGET_P99_MS = 2000, 100.0


def render(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    body = jsonutil.dumps({"eventNotifications": [{"realmId": delivery.tenant, "dataChangeEvent": {
        "entities": [e.payload for e in delivery.events]}}]}).encode()
    return body, {"Content-Type": "application/json", "intuit-signature": sign("verifier", body)}


async def main(burst: int, steady_seconds: float) -> None:
    arrivals: dict[int, float] = {}

    async def receive(request: web.Request) -> web.Response:
        now = time.perf_counter()
        for note in (await request.json())["eventNotifications"]:
            for e in note["dataChangeEvent"]["entities"]:
                arrivals[int(e["id"])] = now
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner, port = await start_site(app)
    url = f"http://127.0.0.1:{port}/hook"
    outbox = Outbox(lambda tenant: Clock(), render)
    lifecycle = outbox.run(None)
    await lifecycle.__anext__()
    sent: dict[int, float] = {}

    def emit(n: int, realm: str) -> None:
        sent[n] = time.perf_counter()
        outbox.emit("app:bench", url, realm, {"name": "Customer", "id": str(n), "operation": "Update",
                                                "lastUpdated": "2025-01-01T00:00:00.000Z"})

    started = time.perf_counter()
    for n in range(burst):
        emit(n, f"realm-{n % 20}")
    while len(arrivals) < burst:
        await asyncio.sleep(0.001)
    rate = burst / (time.perf_counter() - started)

    arrivals.clear()
    sent.clear()
    total = int(steady_seconds * 1000)
    for n in range(total):
        emit(10_000_000 + n, "realm-steady")
        await asyncio.sleep(0.001)
    while len(arrivals) < total:
        await asyncio.sleep(0.001)
    latencies = sorted((arrivals[n] - sent[n]) * 1000 for n in sent)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]

    try:
        await lifecycle.__anext__()
    except StopAsyncIteration:
        pass
    await runner.cleanup()
    print(f"webhook events delivered per second (burst of {burst}): {rate:,.0f}   target >= {TARGET_RATE:,}   "
          f"{'OK' if rate >= TARGET_RATE else 'MISSED'}")
    print(f"webhook delivery latency p50: {p50:.1f} ms   p99: {p99:.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms   "
          f"{'OK' if p99 < TARGET_P99_MS else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.seconds = 2_000, 1.0
    asyncio.run(main(args.burst, args.seconds))
