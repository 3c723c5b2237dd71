"""`python -m engine serve | status | log`: the engine's command line.

`serve` binds its socket first, so with `--port 0` the public URL (and the OAuth redirect
URI built from it) names the real port; its first line of output says where it listens.
`status` and `log` read the database directly, so they work whether or not a server runs.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys

from aiohttp import web
from rich.console import Console
from rich.table import Table

from engine import config as cfg
from engine.crypto import TokenBox
from engine.service import job_view, log_view
from engine.store import Store


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine", description="The QBO <-> Canopy sync engine.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the wizard API (and, later, a worker)")
    cfg.add_arguments(serve)
    worker = sub.add_parser("worker", help="one more worker applying the inbox, on the same database")
    cfg.add_arguments(worker)
    for name, text in (("status", "connections and the progress of their jobs"), ("log", "the sync log")):
        sp = sub.add_parser(name, help=text)
        cfg.add_arguments(sp, server=False)
        sp.add_argument("--firm", help="only this Canopy firm")
        if name == "log":
            sp.add_argument("--limit", type=int, default=50)
    return p


async def _serve(config: cfg.EngineConfig) -> None:
    from engine.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    host, port = sock.getsockname()[:2]
    config = config.with_public_url(f"http://{host}:{port}")
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(f"engine listening on http://{host}:{port}", flush=True)
    print(f"  OAuth redirect URI: {config.redirect_uri}", flush=True)
    print(f"  database: {config.db_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _work(config: cfg.EngineConfig) -> None:
    """A worker without the API: several of these may share one PostgreSQL database."""
    import aiohttp

    from engine.clock import SystemClock
    from engine.service import Engine
    from engine.sync.worker import Worker

    store = Store(config.db_url, TokenBox(config.token_key))
    store.migrate()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.request_timeout)) as http:
        engine = Engine(config, store, SystemClock(), http)
        worker = Worker(engine)
        stop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            stop.add_signal_handler(sig, worker.stop)
        print(f"engine worker {worker.id} on {config.db_url}", flush=True)
        task = asyncio.create_task(worker.run(), name="engine-worker")
        signalled = asyncio.ensure_future(worker.stopped())
        await asyncio.wait({task, signalled}, return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        await worker.shutdown(task)
        if not task.cancelled():
            task.result()  # a worker that died says why
    store.close()


def _status(store: Store, firm: str | None) -> None:
    table = Table(title="Connections")
    for col in ("firm", "realm", "state", "step", "job", "progress", "syncing", "waiting", "held", "reason"):
        table.add_column(col)
    for conn in store.connections():
        if firm and conn.firm_id != firm:
            continue
        job = job_view(store.latest_job(conn.id))
        progress = f"{job['done']}/{job['total']} {job['step']}" if job else ""
        step = conn.get_wizard().step.value
        syncing = "+".join(name for name, on in (("contacts", conn.ongoing_contacts),
                                                  ("items, invoices", conn.ongoing_items)) if on) or "-"
        table.add_row(conn.firm_id, conn.realm_id or "", conn.state, step,
                      f"{job['kind']} {job['state']}" if job else "", progress, syncing,
                      str(store.inbox_pending(conn.id)), str(len(store.held(conn.id))),
                      conn.reason or (job["error"] if job and job["error"] else "") or "")
    Console().print(table)


def _log(store: Store, firm: str | None, limit: int) -> None:
    table = Table(title="Sync log (newest first)")
    for col in ("at", "firm", "kind", "action", "canopy", "qbo", "rule", "reason"):
        table.add_column(col)
    for conn in store.connections():
        if firm and conn.firm_id != firm:
            continue
        for row in store.read_log(conn.id, limit=limit, before=None):
            v = log_view(row)
            table.add_row(v["at"], conn.firm_id, v["kind"], v["action"], v["canopy_id"] or "", v["qbo_id"] or "",
                          v["rule"] or "", v["reason"] or "")
    Console().print(table)


SWITCH_INTERVAL_S = 0.0005
"""How long a thread waiting for the GIL waits before asking for it (Python's default: 5 ms).
Store calls run in threads while the event loop runs Python: each of their database round
trips gives the GIL up and must get it back, and at 5 ms a wait they queued behind the loop
(a 1 ms query took 20-60 ms under load)."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.command in ("worker", "serve"):
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    if args.command == "worker":
        config = cfg.from_args(args)
        asyncio.run(_work(config.with_public_url(f"http://{config.host}:{config.port}")))
        return 0
    if args.command == "serve":
        config = cfg.from_args(args)
        try:
            asyncio.run(_serve(config))
        except OSError as exc:
            print(f"engine: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
            return 1
        return 0
    store = Store(cfg.db_url(args), TokenBox(cfg.env_or(args, "token_key")))
    store.migrate()
    if args.command == "status":
        _status(store, args.firm)
    else:
        _log(store, args.firm, args.limit)
    return 0

