"""The engine's HTTP API (docs/engine-api.md): parse, call `engine.service.Engine`, shape.

Nothing here decides anything: refusals come from the wizard, gates and store as typed
errors, and one middleware turns them into `{"error": {...}}` replies.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from importlib import resources
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from engine.clock import Clock, SystemClock
from engine.config import EngineConfig
from engine.crypto import TokenBox
from engine.models import ImportChoice
from engine.review import Section
from engine.service import ApiError, Engine, Me, job_view
from engine.store import Store
from engine.sync import receivers
from engine.sync.worker import Worker
from engine.web import (
    CLOCK,
    ENGINE,
    body_of,
    error_reply,
    errors,
    me_of,
    reply,
    wants_wait,
)

routes = web.RouteTableDef()


async def job_reply(request: web.Request, me: Me, job_id: int | None, wait: bool) -> web.Response:
    """202 with the job, or with `?wait=true` 200 once it ended (a failed job answers 502).

    Callers read `wait` before starting anything, so a bad value changes nothing."""
    engine = request.app[ENGINE]
    if job_id is not None and wait:
        await engine.jobs.wait(job_id)
    job = job_view(engine.store.get_job(job_id)) if job_id is not None else None
    status = 202 if job is not None and job["state"] == "running" else 200
    if job is not None and job["state"] == "failed":
        return error_reply(502, "job_failed", job["error"] or "the job failed", job=job)
    return reply({"job": job, "integration": engine.status(me)}, status)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return reply({"ok": True})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    text = resources.files("engine").joinpath("openapi.yaml").read_text()
    spec = yaml.safe_load(text)
    spec["servers"] = [{"url": f"{request.scheme}://{request.host}"}]
    return reply(spec)


@routes.get("/integration")
async def status(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(request.app[ENGINE].status(me))


@routes.post("/integration/connect")
async def connect(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].connect(me))


@routes.get("/oauth/callback")
async def callback(request: web.Request) -> web.Response:
    return reply(await request.app[ENGINE].callback(dict(request.query)))


@routes.post("/integration/reauthorize")
async def reauthorize(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].reauthorize(me))


@routes.post("/integration/agreement")
async def agreement(request: web.Request) -> web.Response:
    me = await me_of(request)
    body = await body_of(request)
    if not isinstance(body.get("accept"), bool):
        raise ApiError(400, "bad_request", "'accept' must be true or false")
    return reply(await request.app[ENGINE].agreement(me, body["accept"]))


@routes.post("/integration/contacts/filter")
async def contacts_filter(request: web.Request) -> web.Response:
    me = await me_of(request)
    wait = wants_wait(request)
    body = await body_of(request)
    try:
        choice = ImportChoice(body.get("choice"))
    except ValueError as exc:
        raise ApiError(400, "bad_request", "'choice' must be one of all, active, inactive") from exc
    return await job_reply(request, me, await request.app[ENGINE].choose_filter(me, choice), wait)


@routes.get("/integration/contacts/review")
async def contacts_review(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(request.app[ENGINE].review(me))


@routes.post("/integration/contacts/review/next")
async def contacts_next(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].review_page(me, None, 1))


@routes.get("/integration/contacts/review/{section}")
async def contacts_section(request: web.Request) -> web.Response:
    me = await me_of(request)
    try:
        section = Section(request.match_info["section"])
    except ValueError as exc:
        raise ApiError(404, "not_found", "sections are matches, new_contacts, unmatched, duplicates") from exc
    raw = request.query.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "bad_request", "'page' must be a whole number from 1")
    return reply(await request.app[ENGINE].review_page(me, section, int(raw)))


@routes.post("/integration/contacts/sync")
async def contacts_sync(request: web.Request) -> web.Response:
    me = await me_of(request)
    wait = wants_wait(request)
    result, job_id = await request.app[ENGINE].sync_contacts(me)
    if result is not None:
        return reply({"result": result, "job": None, "integration": request.app[ENGINE].status(me)})
    return await job_reply(request, me, job_id, wait)


@routes.post("/integration/items/start")
async def items_start(request: web.Request) -> web.Response:
    me = await me_of(request)
    wait = wants_wait(request)
    return await job_reply(request, me, await request.app[ENGINE].start_items(me), wait)


@routes.post("/integration/items/repeat")
async def items_repeat(request: web.Request) -> web.Response:
    me = await me_of(request)
    wait = wants_wait(request)
    return await job_reply(request, me, await request.app[ENGINE].start_items(me, repeat=True), wait)


@routes.post("/integration/items/skip")
async def items_skip(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].skip_items(me))


@routes.put("/integration/items/income-account")
async def items_income(request: web.Request) -> web.Response:
    me = await me_of(request)
    body = await body_of(request)
    account = body.get("account_id")
    if not isinstance(account, str) or not account.strip():
        raise ApiError(400, "bad_request", "'account_id' must be a QBO account id")
    return reply(await request.app[ENGINE].income_account(me, account.strip()))


@routes.get("/integration/items/review")
async def items_review(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(request.app[ENGINE].items_review(me))


@routes.post("/integration/items/sync")
async def items_sync(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].sync_items(me))


@routes.post("/integration/finish")
async def finish(request: web.Request) -> web.Response:
    me = await me_of(request)
    wait = wants_wait(request)
    return await job_reply(request, me, await request.app[ENGINE].finish(me), wait)


@routes.post("/integration/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].disconnect(me))


@routes.post("/integration/restart")
async def restart(request: web.Request) -> web.Response:
    me = await me_of(request)
    return reply(await request.app[ENGINE].restart(me))


@routes.get("/integration/log")
async def sync_log(request: web.Request) -> web.Response:
    me = await me_of(request)
    limit_raw, before_raw = request.query.get("limit", "100"), request.query.get("before")
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 1000:
        raise ApiError(400, "bad_request", "'limit' must be a whole number from 1 to 1000")
    if before_raw is not None and not before_raw.isdigit():
        raise ApiError(400, "bad_request", "'before' must be a log entry id")
    return reply(request.app[ENGINE].sync_log(me, int(limit_raw), int(before_raw) if before_raw else None))


async def clock_control(request: web.Request) -> web.Response:
    """Test harnesses move the engine's clock with the fakes' clocks (only with --clock-control)."""
    clock = request.app[CLOCK]
    body = await body_of(request)
    if not isinstance(clock, SystemClock):
        raise ApiError(409, "bad_request", "this clock cannot be moved")
    if "advance_seconds" in body:
        seconds = body["advance_seconds"]
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ApiError(400, "bad_request", "'advance_seconds' must be a number of seconds, not negative")
        now = clock.advance(float(seconds))
    elif "set" in body:
        try:
            when = datetime.fromisoformat(str(body["set"]))
        except ValueError as exc:
            raise ApiError(400, "bad_request", "'set' must be an ISO 8601 time with an offset") from exc
        if when.tzinfo is None:
            raise ApiError(400, "bad_request", "'set' must carry an offset")
        now = clock.set(when, freeze=bool(body.get("freeze", False)))
    else:
        now = clock.now()
    return reply({"now": now.isoformat()})


def create_app(config: EngineConfig, store: Store | None = None, clock: Clock | None = None,
               worker: bool = True) -> web.Application:
    """The engine as an aiohttp app; its HTTP session, jobs, store and (unless `worker` is
    False) one worker applying the inbox live with the app."""
    app = web.Application(middlewares=[errors], client_max_size=8 * 1024 * 1024)
    app.add_routes(routes)
    the_clock = clock or SystemClock()
    app[CLOCK] = the_clock
    if config.clock_control:
        app.router.add_post("/_engine/clock", clock_control)

    async def lifecycle(app: web.Application) -> Any:
        the_store = store or Store(config.db_url, TokenBox(config.token_key))
        the_store.migrate()
        timeout = aiohttp.ClientTimeout(total=config.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            engine = Engine(config, the_store, the_clock, http)
            app[ENGINE] = engine
            engine.resume()
            task = None
            if worker:
                engine.worker = Worker(engine)
                task = asyncio.create_task(engine.worker.run(), name="engine-worker")
            yield
            if task is not None:
                await engine.worker.shutdown(task)  # before the store closes under its lanes
            await engine.jobs.stop()
        the_store.close()

    app.cleanup_ctx.append(lifecycle)
    receivers.add_routes(app, reconcile_every=config.reconcile_every)
    return app
