"""Seed both fakes with a `World` over their admin APIs, in bulk.

Order: freeze both clocks at the scenario epoch (so every time stamp, token
expiry and id is the same on every run), register the QBO app, create the
company and the firm with its team, then send the records in chunks through
`POST /_sim/companies/{realm}/seed` and `POST /_sim/firms/{id}/seed`. Refs to
records of an earlier chunk are filled in here; refs inside a chunk are the
fake's to resolve. Chunks keep each body well under the fakes' 32 MB limit.
"""
from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Iterator
from urllib.parse import parse_qs, urlparse

import aiohttp

from sim.core import jsonutil

from .generate import World

CHUNK = 5000
QBO_ORDER = ("Account", "Customer", "Vendor", "Employee", "Item", "Invoice")
CANOPY_ORDER = ("clients", "service_items", "invoices", "payments")


class SeedError(RuntimeError):
    """A fake refused part of the seed: the call, the status and the fake's own message."""


@dataclass
class Seeded:
    qbo_url: str
    canopy_url: str
    realm_id: str
    firm_id: str
    app: dict[str, Any]
    qbo_user: dict[str, str]
    canopy_users: list[dict[str, Any]]
    """The admin first, then the team: email, password, user_id, token."""
    ids: dict[str, dict[str, str]] = field(default_factory=lambda: {"qbo": {}, "canopy": {}})
    timings: dict[str, float] = field(default_factory=dict)

    def qbo_id(self, ref: str) -> str:
        return self.ids["qbo"][ref]

    def canopy_id(self, ref: str) -> str:
        return self.ids["canopy"][ref]


class _Http:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, url: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        data = jsonutil.dumps(body).encode() if body is not None else None
        async with self.session.request(method, url, data=data,
                                        headers={"Content-Type": "application/json"} if data else None) as resp:
            text = await resp.text()
            if resp.status not in ok:
                raise SeedError(f"{method} {url} -> {resp.status}: {text[:2000]}")
            return jsonutil.loads(text) if text else None


def fill_qbo_refs(value: Any, known: dict[str, str]) -> Any:
    """`{"$ref": name}` of a record created earlier (or the company's `income` account) becomes
    `{"value": Id}`; refs to records of the same seed body are left for the fake to resolve."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref in known:
            return {"value": known[ref]}
        return {k: fill_qbo_refs(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_qbo_refs(v, known) for v in value]
    return value


def _fill_canopy(value: Any, known: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: (known.get(v[1:], v) if k.endswith("_id") and isinstance(v, str) and v.startswith("$")
                    else _fill_canopy(v, known)) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_canopy(v, known) for v in value]
    return value


def _parts(records: dict[str, list[Any]], name: str, size: int, release: bool) -> Iterator[list[Any]]:
    """One list of the world in chunks. With `release` the world lets go of each chunk once it
    is taken, so a huge world never sits in memory beside both fakes' copies of it."""
    items = records.get(name, [])
    if release:
        records[name] = []
    for start in range(0, len(items), size):
        part = items[start:start + size]
        if release:
            items[start:start + size] = [None] * len(part)
        yield part


async def _qbo(h: _Http, world: World, base: str, out: dict[str, Any], chunk: int, release: bool) -> None:
    admin = base + "/_sim"
    app = world.app
    try:
        await h.call("POST", admin + "/apps", app)
    except SeedError:  # already registered (a second world on the same server): make it match
        await h.call("PATCH", f"{admin}/apps/{app['client_id']}",
                     {k: v for k, v in app.items() if k != "client_id"})
    company = await h.call("POST", admin + "/companies", world.company)
    realm = company["realm_id"]
    income = [a for a in company["accounts"] if a.get("AccountType") == "Income"]
    services = next((a for a in income if a["Name"] == "Services"), income[0])
    known = {"income": services["Id"]}
    for name in QBO_ORDER:
        for part in _parts(world.qbo, name, chunk, release):
            if name in ("Item", "Invoice"):
                part = fill_qbo_refs(part, known)
            got = await h.call("POST", f"{admin}/companies/{realm}/seed", {name: part})
            known.update(got["ids"])
    known.pop("income")
    out.update(realm=realm, user=company["user"], ids=known)


async def _canopy(h: _Http, world: World, base: str, out: dict[str, Any], chunk: int, release: bool) -> None:
    admin = base + "/_sim"
    firm = await h.call("POST", admin + "/firms", world.firm)
    firm_id = firm["firm"]["id"]
    users = [{"email": firm["admin"]["email"], "password": firm["password"], "user_id": firm["admin"]["id"],
              "token": firm["token"], "permission_set": world.firm["admin"]["permission_set"]}]
    set_ids: dict[str, str] = {}
    for pset in world.permission_sets:
        made = await h.call("POST", f"{admin}/firms/{firm_id}/permission_sets", pset)
        set_ids[pset["name"]] = made["permission_set"]["id"]
    for member in world.team:
        body = {**member, "permission_set": set_ids.get(member["permission_set"], member["permission_set"])}
        made = await h.call("POST", f"{admin}/firms/{firm_id}/users", body)
        users.append({"email": made["user"]["email"], "password": made["password"], "user_id": made["user"]["id"],
                      "token": made["token"], "permission_set": member["permission_set"]})
    known: dict[str, str] = {}
    for name in CANOPY_ORDER:
        for part in _parts(world.canopy, name, chunk, release):
            if name in ("invoices", "payments"):
                part = _fill_canopy(part, known)
            got = await h.call("POST", f"{admin}/firms/{firm_id}/seed", {name: part})
            known.update(got["refs"])
    out.update(firm_id=firm_id, users=users, ids=known)


async def _timed(work: Awaitable[None]) -> float:
    t = time.perf_counter()
    await work
    return time.perf_counter() - t


async def _both(qbo: Awaitable[float], canopy: Awaitable[float]) -> tuple[float, float]:
    """Both seeds at once; a refusal by one cancels the other, and that refusal is what is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            q, c = group.create_task(qbo), group.create_task(canopy)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return q.result(), c.result()


async def seed_world(world: World, qbo_url: str, canopy_url: str, *, chunk: int = CHUNK,
                     unfreeze: bool = False, release: bool = False, together: bool = False) -> Seeded:
    """Seed both fakes (fresh ones: the clocks are server-wide) and say what was created where.

    The clocks stay frozen at the epoch unless `unfreeze`, in which case they run on from it.
    With `release` the world's record lists are emptied as they are sent (its ground truth
    stays): for callers that need only the truth afterwards, such as `serve` and benchmarks.
    `together` seeds both fakes at once: for fakes in processes of their own (in threads of one
    process it is slower than one after the other, as the two then take turns at one GIL). Each
    fake's records go in the same order either way, so the worlds are the same.
    """
    timeout = aiohttp.ClientTimeout(total=600)
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout) as session:
        h = _Http(session)
        for base in (qbo_url, canopy_url):
            await h.call("POST", base + "/_sim/clock", {"freeze": True, "set": world.scenario.epoch})
        q: dict[str, Any] = {}
        c: dict[str, Any] = {}
        seeds = (_timed(_qbo(h, world, qbo_url, q, chunk, release)),
                 _timed(_canopy(h, world, canopy_url, c, chunk, release)))
        if together:
            t_qbo, t_canopy = await _both(*seeds)
        else:
            t_qbo, t_canopy = [await one for one in seeds]
        if unfreeze:
            for base in (qbo_url, canopy_url):
                await h.call("POST", base + "/_sim/clock", {"freeze": False})
    return Seeded(qbo_url, canopy_url, q["realm"], c["firm_id"], dict(world.app),
                  {"email": q["user"]["email"], "password": q["user"]["password"]}, c["users"],
                  {"qbo": q["ids"], "canopy": c["ids"]},
                  {"qbo_s": t_qbo, "canopy_s": t_canopy, "total_s": time.perf_counter() - started})


def seed_world_sync(world: World, qbo_url: str, canopy_url: str, **kw: Any) -> Seeded:
    """For callers without a loop (tests, benchmarks), with the fakes served from other threads."""
    return asyncio.run(seed_world(world, qbo_url, canopy_url, **kw))


async def qbo_tokens(seeded: Seeded, session: aiohttp.ClientSession | None = None) -> dict[str, Any]:
    """Consent as the company's user without the pages, then exchange the code: a ready token pair."""
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        h = _Http(session)
        redirect = seeded.app["redirect_uris"][0]
        grant = await h.call("POST", seeded.qbo_url + "/_sim/oauth/grant",
                             {"client_id": seeded.app["client_id"], "redirect_uri": redirect,
                              "realm_id": seeded.realm_id, "user_email": seeded.qbo_user["email"]})
        code = parse_qs(urlparse(grant["redirect_url"]).query)["code"][0]
        basic = base64.b64encode(f"{seeded.app['client_id']}:{seeded.app['client_secret']}".encode()).decode()
        async with session.post(seeded.qbo_url + "/oauth2/v1/tokens/bearer",
                                headers={"Authorization": f"Basic {basic}"},
                                data={"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": redirect}) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise SeedError(f"token exchange -> {resp.status}: {body}")
            return body
    finally:
        if own:
            await session.close()
