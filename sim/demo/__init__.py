"""`python -m sim demo` (`make demo`): the main job end to end, as Canopy's help article tells it.

Fresh fakes of QBO and Canopy (threads of this process) are seeded with a scenario; the real
sync engine runs as its own process (`python -m engine serve`) and is driven only over HTTP:

1. the connect gates of each team member (`GET /integration` as each), beside the ground truth;
2. the Admin connects: QBO's sign-in pages, the engine's OAuth callback, the agreement;
3. the contacts review with import All: its four sections, why each record not synced is not,
   every section opened, Sync contacts;
4. the service items review (which of name, rate and SKU differs), Sync service items, Finish:
   the invoices sent and held;
5. live changes on both sides after setup, with webhooks flushed, until each arrived on the
   other side or the sync log says why not;
6. the verdict: exit 0 when everything matches the ground truth and the expected live
   outcomes, 1 otherwise.

Each step states what it expects; a call that answers something else stops the story (exit 1).
"""
from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from rich.console import Console

from sim.scenario import build_world, load_named
from sim.scenario.seed import qbo_tokens, seed_world
from sim.scenario.serving import fakes

from .http import TIMEOUT, Http, Surprise
from .live import live_changes
from .report import Ledger, make_console, mark, table
from .servers import EngineApp, EngineStartError, start_engine
from .story import LIVE, Story

__all__ = ["DemoOptions", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    scenario: str = "default"
    seed: int = 0
    scale: int = 1
    keep_running: bool = False
    tamper: bool = False


async def run_demo(opts: DemoOptions | None = None) -> int:
    opts = opts or DemoOptions()
    console = make_console()
    task = asyncio.current_task()
    if task is not None:  # SIGTERM (a test's time-out, `kill`) unwinds like Ctrl+C: the engine process stops too
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _run(opts, console)
    except asyncio.CancelledError:
        console.print("[red]Stopped before the end: no verdict.[/]")
        return 1
    except (Surprise, aiohttp.ClientError) as exc:  # the servers could not be set up as the story needs
        console.print(f"[red bold]VERDICT: FAIL[/] — the demo could not set up its servers: {exc}", soft_wrap=True)
        return 1


async def _run(opts: DemoOptions, console: Console) -> int:
    started = time.perf_counter()
    ledger = Ledger()
    world = build_world(load_named(opts.scenario), opts.seed, opts.scale)
    counts = world.truth["counts"]
    console.rule(f"[bold]QBO ↔ Canopy demo · scenario {world.scenario.name} · seed {opts.seed} · scale {opts.scale}")
    console.print(f"{world.scenario.description}  ({counts['canopy_clients']} Canopy clients, "
                  f"{counts['qbo_customers']} QBO customers, {counts['canopy_service_items']} Canopy and "
                  f"{counts['qbo_items']} QBO service items, {counts['canopy_invoices']} Canopy invoices)",
                  soft_wrap=True)
    workdir = Path(tempfile.mkdtemp(prefix="qbo-demo-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        q, c = stack.enter_context(fakes(opts.seed))
        seeded = await seed_world(world, q.url, c.url, unfreeze=True)
        app = EngineApp()
        try:
            engine = await asyncio.to_thread(start_engine, q.url, c.url, workdir, app)
        except EngineStartError as exc:
            console.print(f"[red bold]VERDICT: FAIL[/] — the engine did not start: {exc}", soft_wrap=True)
            return 1
        stack.callback(engine.stop)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            qbo, canopy, eng = Http(session, q.url), Http(session, c.url), Http(session, engine.url)
            await qbo.post("/_sim/apps", {
                "client_id": app.client_id, "client_secret": app.client_secret, "name": "Canopy sync engine (demo)",
                "redirect_uris": [engine.url + "/oauth/callback"], "webhook_url": engine.url + "/webhooks/qbo",
                "verifier_token": app.verifier_token}, expect=(201,))
            fakes_now = (await canopy.get("/_sim/clock"))["now"]
            await eng.post("/_engine/clock", {"set": fakes_now})
            t = table("The servers", "server", "where", "what")
            t.add_row("fake QBO", q.url, f"company {seeded.realm_id}; the engine's app {app.client_id} with "
                      f"webhooks to {engine.url}/webhooks/qbo")
            t.add_row("fake Canopy", c.url, f"firm {seeded.firm_id}, {len(seeded.canopy_users)} team members")
            t.add_row("sync engine", engine.url, f"process {engine.proc.pid}, SQLite in {workdir}; clock set to "
                      f"the fakes' ({fakes_now})")
            console.print(t)
            console.print(f"Seeded both fakes in {seeded.timings['total_s']:.2f} s.")
            story = Story(console, world, seeded, eng, qbo, canopy, ledger, tamper=opts.tamper)
            story.qbo_token = (await qbo_tokens(seeded, session))["access_token"]
            await _tell(story, engine)
            ok = _verdict(story, time.perf_counter() - started)
            if opts.keep_running:
                _keep_running_banner(story, q.url, c.url, engine.url)
                await _until_stopped()
                console.print("Stopping the engine and both fakes.")
    console.print(f"Servers stopped; {time.perf_counter() - started:.1f} s in all, exit {0 if ok else 1}.")
    return 0 if ok else 1


async def _until_stopped() -> None:
    """Wait for Ctrl+C (SIGINT) or SIGTERM; the caller then stops the three servers."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _tell(story: Story, engine: object) -> None:
    try:
        await story.gates()
        if story.admin is None:
            return
        await story.connect()
        if story.tamper:
            await story.do_tamper()
        await story.contacts()
        await story.items()
        await live_changes(story)
    except (Surprise, aiohttp.ClientError, TimeoutError, KeyError, TypeError) as exc:
        step = story.ledger.checks[-1].step if story.ledger.checks else "setup"
        story.ledger.stopped = f"{type(exc).__name__}: {exc}"
        story.console.print(f"[red bold]The story stopped (after step {step}):[/] {exc}", soft_wrap=True, markup=True)
        if not isinstance(exc, Surprise):  # an answer of an unexpected shape: show where it was read
            story.console.print_exception(max_frames=4)
        tail = getattr(engine, "stderr_tail", lambda: "")()
        if tail.strip():
            story.console.print("[dim]The engine's stderr (last lines):[/]")
            story.console.print(tail, markup=False, highlight=False)


def _verdict(story: Story, elapsed: float) -> bool:
    console, ledger = story.console, story.ledger
    console.rule("[bold cyan]Step 6 · The verdict")
    t = table("Checks by step", "step", "checks", "differ", "")
    for step in ledger.steps():
        checks = list(ledger.of(step))
        bad = [c for c in checks if not c.ok]
        t.add_row(step, str(len(checks)), str(len(bad)), mark(not bad))
    if ledger.stopped:
        t.add_row("[red]stopped[/]", "-", "-", mark(False))
    console.print(t)
    failed = ledger.failed()
    for c in failed:
        console.print(f"  [red]✗[/] {c.line()}", soft_wrap=True, markup=True)
    total = len(ledger.checks)
    if ledger.ok:
        told = ("and every live change arrived as expected" if LIVE in ledger.steps()
                else "as far as the story goes for this firm (nobody may connect)" if story.admin is None
                else "in every step told")
        console.print(f"[bold green]VERDICT: PASS[/] — the engine's outcome matches the ground truth of scenario "
                      f"{story.world.scenario.name!r} {told} ({total} checks, {elapsed:.1f} s).", soft_wrap=True)
        return True
    what = "; ".join(c.line() for c in failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
    if ledger.stopped:
        what = f"the story stopped: {ledger.stopped}" + (f"; {what}" if what else "")
    console.print(f"[bold red]VERDICT: FAIL[/] — {len(failed)} of {total} checks differ from the ground truth or "
                  f"the expected live outcomes: {what} ({elapsed:.1f} s).", soft_wrap=True)
    return False


def _keep_running_banner(story: Story, qbo_url: str, canopy_url: str, engine_url: str) -> None:
    console = story.console
    admin = story.admin or story.members[0]
    t = table("Left running (Ctrl+C stops all three)", "server", "URL", "credentials")
    t.add_row("fake QBO", qbo_url, f"sign-in {story.seeded.qbo_user['email']} / {story.seeded.qbo_user['password']}, "
              f"realm {story.seeded.realm_id}; admin API {qbo_url}/_sim")
    t.add_row("fake Canopy", canopy_url, f"Admin {admin.email}, token {admin.token}; admin API {canopy_url}/_sim")
    t.add_row("sync engine", engine_url, f"GET {engine_url}/integration with the Admin's token as bearer")
    console.print(t)
