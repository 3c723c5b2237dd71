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
import sys
import time

from aiohttp import web
from results import Figures

from sim.core import jsonutil
from sim.core.clock import Clock
from sim.core.server import start_site
from sim.core.webhooks import Delivery, Outbox
from sim.fake_qbo.webhooks import sign

TARGET_RATE, TARGET_P99_MS = 2000, 100.0
WAIT_LIMIT_S = 60.0
"""How long to wait for every event to arrive before giving up (a lost delivery would hang)."""


async def arrived(arrivals: dict[int, float], want: int) -> bool:
    """Until `want` events have arrived (True), or WAIT_LIMIT_S has passed (False)."""
    deadline = time.perf_counter() + WAIT_LIMIT_S
    while len(arrivals) < want:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


def lost(phase: str, got: int, want: int) -> None:
    print(f"webhook {phase}: only {got:,} of {want:,} events arrived within {WAIT_LIMIT_S:.0f} s   MISSED")
    figures = Figures("qbo_webhooks.py")
    figures.add(f"webhook {phase}: events arrived within {WAIT_LIMIT_S:.0f} s", got, "events", f"all {want:,}",
                False)
    figures.emit()


def render(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    body = jsonutil.dumps({"eventNotifications": [{"realmId": delivery.tenant, "dataChangeEvent": {
        "entities": [e.payload for e in delivery.events]}}]}).encode()
    return body, {"Content-Type": "application/json", "intuit-signature": sign("verifier", body)}


async def main(burst: int, steady_seconds: float) -> int:
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
    if not await arrived(arrivals, burst):
        lost(f"burst of {burst:,}", len(arrivals), burst)
        return 1
    rate = burst / (time.perf_counter() - started)

    arrivals.clear()
    sent.clear()
    total = int(steady_seconds * 1000)
    for n in range(total):
        emit(10_000_000 + n, "realm-steady")
        await asyncio.sleep(0.001)
    if not await arrived(arrivals, total):
        lost("steady 1,000 events/s", len(arrivals), total)
        return 1
    latencies = sorted((arrivals[n] - sent[n]) * 1000 for n in sent)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]

    print(f"webhook events delivered per second (burst of {burst}): {rate:,.0f}   target >= {TARGET_RATE:,}   "
          f"{'OK' if rate >= TARGET_RATE else 'MISSED'}")
    print(f"webhook delivery latency p50: {p50:.1f} ms   p99: {p99:.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms   "
          f"{'OK' if p99 < TARGET_P99_MS else 'MISSED'}")
    figures = Figures("qbo_webhooks.py")
    figures.add(f"webhook events delivered (burst of {burst:,})", rate, "events/s", f">= {TARGET_RATE:,} events/s",
                rate >= TARGET_RATE)
    figures.add("webhook delivery latency p50", p50, "ms")
    figures.add("webhook delivery latency p99", p99, "ms", f"< {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS)
    figures.emit()

    async def shutdown() -> None:
        try:
            await lifecycle.__anext__()
        except StopAsyncIteration:
            pass
        await runner.cleanup()

    try:  # the figures are out; a stop that hangs must not hang `make bench`
        await asyncio.wait_for(shutdown(), 10)
    except TimeoutError:
        print("note: the webhook outbox did not stop within 10 s (Outbox.run's cleanup hung); the figures above stand")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.seconds = 2_000, 1.0
    sys.exit(asyncio.run(main(args.burst, args.seconds)))
