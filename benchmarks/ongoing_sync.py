"""The ongoing sync under load: events applied per second, and latency from a change in one fake
to its appearance in the other; one worker against two, clean and with faults, and under QBO's
real throttles.

    python benchmarks/ongoing_sync.py [--quick] [--firms N] [--per-side K] [--rate R] [--only WORD ...]

Each fake runs in a process of its own (QBO's throttles off, `QboConfig(limits=False)`); the
engine is `python -m engine serve` (the API and one worker; reconciliation off), plus
`python -m engine worker` processes for more workers. Every configuration sets up its own firms
(a QBO company and a Canopy firm each, seeded with the `contacts_matching` scenario and taken
through the wizard to ongoing sync: `features/harness/faults.py`) and runs the same script on
each firm:

1. **Backlog** (throughput): with both fakes' webhooks paused, K new Canopy clients and K new
   QBO customers per firm; then webhooks resume. *Changes/s* = changes / the time until the
   last new record is on the other side (the fakes' clocks); *inbox events/s* = the engine's
   inbox events of the backlog (the changes, Canopy's primary-contact events, the echoes of the
   engine's own writes) / the time from the first received to the last applied.
2. **Flow** (latency): each new record edited once on its own side (Canopy: a phone; QBO: an
   e-mail, as a person in QBO's screens), paced at R edits a second over all firms. Latency =
   the time the engine's write committed in the other fake minus the time the change committed
   in its own, both from the fakes (Canopy `updated_at`; QBO's webhook `lastUpdated`, heard by a
   listener app of the harness), in milliseconds.

Configurations: 1 worker (PostgreSQL when it answers, else SQLite); 2 workers on PostgreSQL;
1 worker with 10% of the API requests to both fakes faulted (5xx, 429 without `Retry-After`,
the connection dropped after the write); 1 worker on firms seeded with `invoices_linked_and_held`
(6 held invoices each: context); one firm under QBO's real throttles (500 a minute per realm, 10
a second per realm and app) with every clock moved forward together (4x wall time, or
`BENCH_WARP`), against the least time those limits allow for the QBO calls the engine made.
Only that run's engine paces its QBO requests to the limits (D-58); the others, against a QBO
without throttles, run with `--no-qbo-pacing`. `BENCH_PACE_FLAGS` adds engine flags to every
run (`--no-qbo-pacing` shows the throttle run learning the limits from 429s instead).
End states are compared as R21's canonical projection: all firms of one world must end the same.

Targets: >= 200 events/s with one worker; p99 < 500 ms without faults; 2 workers lose nothing,
apply nothing twice and are no slower than one (within 10%: these machines have 2 cores shared
by both fakes, PostgreSQL and the engine); with 10% faulted, the same end state in under 3x the
time; under the real throttles, within 1.2x of the least time.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from results import Figures, machine

FIGURES = Figures("ongoing_sync.py")
EVENTS_TARGET, P99_TARGET_MS, FAULT_FACTOR, THROTTLE_FACTOR, WORKERS_SLACK = 200.0, 500.0, 3.0, 1.2, 1.10
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PACE_FLAGS = tuple(os.environ.get("BENCH_PACE_FLAGS", "").split())
WARP = float(os.environ.get("BENCH_WARP", "4"))
"""How fast every clock runs under the real throttles (the moved clock), against wall time."""


# --------------------------------------------------------------------------------------------
# The fakes, each in a process of its own
# --------------------------------------------------------------------------------------------

def serve_fake(kind: str) -> None:
    """Child mode: one fake on an ephemeral port; print its URL; serve until stdin closes."""
    from sim.core.server import ServerThread

    if kind == "qbo":
        from sim.fake_qbo.app import QboConfig, create_app
        factory = lambda: create_app(QboConfig(limits=False))
    else:
        from sim.fake_canopy.app import CanopyConfig
        from sim.fake_canopy.app import create_app as canopy_app
        factory = lambda: canopy_app(CanopyConfig())
    with ServerThread(factory) as server:
        print(server.url, flush=True)
        sys.stdin.read()


class Fakes:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.logs = Path(tempfile.mkdtemp(prefix="bench-ongoing-fakes-"))
        self.procs = []
        for kind in ("qbo", "canopy"):
            with open(self.logs / f"{kind}.stderr.log", "w") as err:  # injected faults log tracebacks there
                self.procs.append(subprocess.Popen([sys.executable, __file__, "--serve-fake", kind],
                                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                                   text=True, env=env, cwd=str(ROOT)))
        urls = []
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if not line.startswith("http"):
                raise SystemExit("a fake did not start")
            urls.append(line)
        self.qbo_url, self.canopy_url = urls

    def close(self) -> None:
        for p in self.procs:
            if p.stdin:
                p.stdin.close()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.logs, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# PostgreSQL: a schema of its own per configuration
# --------------------------------------------------------------------------------------------

def pg_base() -> str | None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = os.environ.get("ENGINE_TEST_DATABASE_URL") or PG_DEFAULT_URL
    try:
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                             connect_timeout=1):
            return url
    except psycopg.Error:
        return None


class PgSchema:
    def __init__(self, base: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        self.base = base
        self.info = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
        self.name = f"bench_ongoing_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(self.info, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{self.name}"')
        url = make_url(base)
        options = " ".join(filter(None, [str(url.query.get("options", "")), f"-csearch_path={self.name}"]))
        self.url = url.update_query_dict({"options": options}).render_as_string(hide_password=False)

    def drop(self) -> None:
        import psycopg
        with psycopg.connect(self.info, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


# --------------------------------------------------------------------------------------------
# QBO's webhooks, heard by the harness's own app (the "checker" app every tenant grants)
# --------------------------------------------------------------------------------------------

@dataclass
class Heard:
    events: list[tuple[str, str, str, datetime, float]] = field(default_factory=list)
    """(realm, entity id, operation, lastUpdated, wall time received)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_listener() -> tuple[Any, Heard]:
    from aiohttp import web

    from sim.core.server import ServerThread

    heard = Heard()

    def app() -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            now = time.time()
            rows = []
            for note in body.get("eventNotifications", []):
                for e in note.get("dataChangeEvent", {}).get("entities", []):
                    if e.get("name") == "Customer":
                        rows.append((str(note["realmId"]), str(e["id"]), e["operation"],
                                     datetime.fromisoformat(e["lastUpdated"]), now))
            with heard.lock:
                heard.events += rows
            return web.Response(status=200)
        a = web.Application()
        a.router.add_post("/qbo", hook)
        return a

    server = ServerThread(app).start()
    return server, heard


# --------------------------------------------------------------------------------------------
# One configuration
# --------------------------------------------------------------------------------------------

@dataclass
class Config:
    name: str
    workers: int
    db: str  # "sqlite" | "postgresql"
    faults: bool = False
    throttled: bool = False
    firms: int = 10
    scenario: str = "contacts_matching"


@dataclass
class Outcome:
    config: Config
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    changes: int = 0
    backlog_s: float = 0.0
    inbox_events: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    projections: list[dict[str, Any]] = field(default_factory=list)
    applied_by: dict[str, int] = field(default_factory=dict)
    composition: dict[str, int] = field(default_factory=dict)
    qbo_calls: int = 0
    throttled_calls: int = 0
    throttle_span_s: float = 0.0
    least_s: float = 0.0
    fired: int = 0
    engine_cpu_s: float = 0.0
    """CPU time the engine's processes spent from the backlog's release until it was applied."""

    @property
    def cpu_ms_per_event(self) -> float:
        return 1000 * self.engine_cpu_s / self.inbox_events if self.inbox_events else 0.0

    @property
    def changes_per_s(self) -> float:
        return self.changes / self.backlog_s if self.backlog_s else 0.0

    inbox_window_s: float = 0.0
    """From the first backlog event received to the last one applied (the engine's clock)."""
    delivery_s: float = 0.0
    """From the first backlog event received to the last one received."""

    @property
    def events_per_s(self) -> float:
        return self.inbox_events / self.inbox_window_s if self.inbox_window_s else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


class Bench:
    def __init__(self, fakes: Fakes, listener_url: str, heard: Heard, per_side: int, rate: float) -> None:
        from features.harness import faults as fh
        from features.harness.http import ok_json
        from features.harness.servers import Servers, register_checker_app

        qbo, canopy = SimpleNamespace(url=fakes.qbo_url), SimpleNamespace(url=fakes.canopy_url)
        self.servers = Servers(qbo, canopy)  # type: ignore[arg-type]  # only `.url` is read
        register_checker_app(fakes.qbo_url)

        ok_json(fh.sim(fakes.qbo_url).call("PATCH", "/apps/features-checker", json={"webhook_url": listener_url}),
                200)
        self.heard, self.per_side, self.rate = heard, per_side, rate
        self.status_calls = 0
        self.pg = pg_base()
        self.numbers = itertools.count(1)

    # -- the engine --------------------------------------------------------------------------
    def run(self, config: Config) -> Outcome:
        from features.harness import faults as fh

        out = Outcome(config)
        schema = PgSchema(self.pg) if config.db == "postgresql" and self.pg else None
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-ongoing-{config.name}-"))
        own = fh.OwnEngine(self.servers, workdir, db_url=schema.url if schema else None,
                           paced=config.throttled, extra=("--reconcile-every", "0", *PACE_FLAGS))
        try:
            url = own.start()
            for _ in range(config.workers - 1):
                own.add_worker()
            db_url = schema.url if schema else f"sqlite:///{workdir / 'engine.db'}"
            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                runs = list(pool.map(lambda i: fh.set_up(self.servers, url, own.app, f"b{next(self.numbers)}",
                                                       config.scenario, pick=False, may_advance=False),
                                     range(config.firms)))
            for r in runs:
                r.tenant.qbo_token()  # the listener app hears this realm
            print(f"  {config.name}: {config.firms} firms set up in {time.perf_counter() - started:.1f} s",
                  flush=True)
            self.engine_pids = [own.process.proc.pid, *(w.pid for w in own.workers)]
            self._script(config, runs, db_url, out)
            for r in runs:
                fh.settle(r, converge=False)
            out.projections = [r.project() for r in runs]
            out.applied_by = _applied_by(db_url)
            for r in runs:
                twice = fh.created_twice(r.log())
                if twice:
                    out.problems.append(f"{r.tenant.firm_id}: created twice in the log: {twice}")
                dups = fh.duplicates(out.projections[runs.index(r)])
                if dups:
                    out.problems.append(f"{r.tenant.firm_id}: duplicates: {dups}")
            pending = _pending(db_url)
            if pending:
                out.problems.append(f"{pending} inbox events never applied")
            if not own.process or not own.process.alive() or any(w.poll() is not None for w in own.workers):
                out.problems.append("an engine process exited")
        finally:
            own.stop()
            if schema:
                schema.drop()
            if not out.problems:
                shutil.rmtree(workdir, ignore_errors=True)
        out.ok = not out.problems
        return out

    # -- the script ----------------------------------------------------------------------------
    def _script(self, config: Config, runs: list[Any], db_url: str, out: Outcome) -> None:
        from features.harness import faults as fh
        from features.harness.http import ok_json

        servers, k = self.servers, self.per_side
        qadmin = fh.sim(servers.qbo_url)
        self.first_id = _scalar(db_url, "SELECT coalesce(max(id), 0) FROM inbox")
        self.db_url = db_url

        # 1. the backlog: new records on both sides behind paused webhooks
        fh.webhooks(servers, "pause")
        made: list[dict[str, Any]] = []
        for r in runs:
            made.append(self._creates(r, k))
        out.changes = 2 * k * len(runs)
        rules: list[tuple[str, str]] = _install_faults(servers) if config.faults else []
        warp = None
        if config.throttled:
            for r in runs:
                ok_json(qadmin.post("/limits", {"tenant": r.tenant.realm_id, "reset": True}), 200)
            warp = Warp(servers, runs[0].clocks)
            warp.start()
        t0 = _fake_now(servers)
        cpu0 = _cpu_s(self.engine_pids)
        fh.webhooks(servers, "resume")
        self._wait_idle(runs, db_url)
        out.engine_cpu_s = _cpu_s(self.engine_pids) - cpu0
        if warp:
            warp.stop()
            out.qbo_calls, out.throttled_calls, out.throttle_span_s = _engine_qbo_calls(servers, runs[0], t0)
            out.least_s = least_time(out.qbo_calls)
            for r in runs:
                ok_json(qadmin.post("/limits", {"tenant": r.tenant.realm_id, "enabled": False}), 200)
        if rules:
            out.fired += _remove_faults(servers, rules)
        # the backlog's end: the last new record's arrival on the other side (fake clocks)
        ends = [self._arrivals(r, m) for r, m in zip(runs, made)]
        last = max(t for e in ends for t in e)
        out.backlog_s = (last - t0).total_seconds()
        out.inbox_events, out.inbox_window_s, out.delivery_s = _window(db_url, self.first_id)
        out.composition = _composition(db_url, self.first_id)

        # 2. the flow: each new record edited once on its own side, paced
        self._flow(config, runs, made, out)
        self._wait_idle(runs, db_url)

    def _creates(self, r: Any, k: int) -> dict[str, Any]:
        from features.harness import faults as fh

        got: dict[str, Any] = {"canopy": [], "qbo": []}
        for i in range(1, k + 1):
            c = fh._canopy(r, "POST", "/clients", {"client": {
                "is_business": False, "type": "CLIENT", "display_name": f"Bench Canopy{i:03d}",
                "first_name": "Bench", "last_name": f"Canopy{i:03d}"}}, 201)
            got["canopy"].append(c["client"])
            q = fh._qbo_create(r, "Customer", {"DisplayName": f"Bench Qbo{i:03d}", "GivenName": "Bench",
                                               "FamilyName": f"Qbo{i:03d}"})
            got["qbo"].append(q["Customer"])
        return got

    def _arrivals(self, r: Any, made: dict[str, Any]) -> list[datetime]:
        """When each new record of the backlog arrived on the other side (that fake's clock)."""
        canopy_names = {c["display_name"] for c in made["canopy"]}
        clients = {c["display_name"]: c for c in r.tenant.canopy_list("clients")}
        out = [_t(clients[q["DisplayName"]]["created_at"]) for q in made["qbo"] if q["DisplayName"] in clients]
        customers = {c["DisplayName"]: str(c["Id"]) for c in r.tenant.qbo_query("Customer")}
        ids = {customers[n] for n in canopy_names if n in customers}
        with self.heard.lock:
            created = {i: t for realm, i, op, t, _ in self.heard.events
                       if realm == r.tenant.realm_id and op == "Create" and i in ids}
        out += list(created.values())
        missing = (len(made["qbo"]) + len(made["canopy"])) - len(out)
        if missing:
            raise SystemExit(f"firm {r.tenant.firm_id}: {missing} new records never reached the other side")
        return out

    def _flow(self, config: Config, runs: list[Any], made: list[dict[str, Any]], out: Outcome) -> None:
        """Edit each new record once, paced at `rate` a second over all firms; then latencies.
        The values depend on the record only, so every firm ends the same."""
        from features.harness import faults as fh
        from features.harness.http import ok_json

        qadmin = fh.sim(self.servers.qbo_url)
        jobs = []
        for r, m in zip(runs, made):
            customers = {c["DisplayName"]: str(c["Id"]) for c in r.tenant.qbo_query("Customer")}
            for i, c in enumerate(m["canopy"]):
                jobs.append((i, "canopy", r, c, customers[c["display_name"]]))
            for i, q in enumerate(m["qbo"]):
                jobs.append((i, "qbo", r, q, str(q["Id"])))
        jobs.sort(key=lambda j: (j[0], j[1], j[2].tenant.firm_id))
        rules = _install_faults(self.servers) if config.faults else []
        pending: list[tuple[str, Any, str, str, Any]] = []
        gap = 1.0 / self.rate
        next_at = time.perf_counter()
        try:
            for i, side, r, rec, qbo_id in jobs:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += gap
                if side == "canopy":
                    body = fh._canopy(r, "PATCH", f"/clients/{rec['id']}", {"client": {
                        "phones": [{"number": f"(555) 400-{i:04d}", "type": "WORK", "is_primary": True}]}})
                    pending.append(("canopy", r, str(rec["id"]), qbo_id, _t(body["client"]["updated_at"])))
                else:
                    sent = time.time()
                    ok_json(qadmin.post(f"/companies/{r.tenant.realm_id}/edit", {
                        "entity": "Customer", "id": qbo_id,
                        "changes": {"PrimaryEmailAddr": {"Address": f"flow{i}@bench.test"}}}), 200)
                    pending.append(("qbo", r, rec["DisplayName"], qbo_id, sent))
            self._wait_idle(runs, self.db_url)
        finally:
            if rules:
                out.fired += _remove_faults(self.servers, rules)
        clients_by_firm = {r.tenant.firm_id: {c["display_name"]: c for c in r.tenant.canopy_list("clients")}
                           for r in runs}
        with self.heard.lock:
            events = list(self.heard.events)
        for side, r, key, qbo_id, when in pending:
            realm = r.tenant.realm_id
            if side == "canopy":  # Canopy -> QBO: the engine's update of the customer
                seen = [t for rl, i, op, t, _ in events if rl == realm and i == qbo_id and op == "Update"
                        and t >= when]
                if not seen:
                    out.problems.append(f"the edit of Canopy client {key} never reached QBO")
                    continue
                out.latencies_ms.append((min(seen) - when).total_seconds() * 1000)
            else:  # QBO -> Canopy: the person's edit (heard), then the client's update in Canopy
                src = [t for rl, i, op, t, recv in events if rl == realm and i == qbo_id and op == "Update"
                       and recv >= when - 0.001]
                client = clients_by_firm[r.tenant.firm_id].get(key)
                if not src or client is None:
                    out.problems.append(f"the edit of QBO customer {key} was not heard or never reached Canopy")
                    continue
                out.latencies_ms.append((_t(client["updated_at"]) - min(src)).total_seconds() * 1000)

    def _wait_idle(self, runs: list[Any], db_url: str | None, timeout: float = 300.0) -> None:
        """Until both outboxes are empty and every firm's inbox is applied, twice in a row."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise SystemExit("the engine did not become idle in time")
            busy = _outbox_busy(self.servers) or any(r.status()["sync"]["pending"] for r in runs) \
                if db_url is None else (_outbox_busy(self.servers) or _pending(db_url) > 0)
            quiet = 0 if busy else quiet + 1
            time.sleep(0.02 if busy else 0.1)


class Warp:
    """Every clock (both fakes', the engine's) runs WARP times as fast as wall time."""

    def __init__(self, servers: Any, engine_urls: list[str], tick: float = 0.025) -> None:
        self.servers, self.engine_urls, self.tick = servers, engine_urls, tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        from features.harness import faults as fh
        while not self._stop.wait(self.tick):
            fh.advance_clocks(self.servers, self.engine_urls, self.tick * (WARP - 1))


def least_time(calls: int) -> float:
    """The least span (s) in which `calls` QBO requests fit QBO's limits: 10 a second per realm
    and app, 500 a minute per realm (counted in sliding windows)."""
    if calls <= 1:
        return 0.0
    return max((calls - 1) // 10, 60 * ((calls - 1) // 500)) * 1.0


# --------------------------------------------------------------------------------------------
# Small readers
# --------------------------------------------------------------------------------------------

def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _fake_now(servers: Any) -> datetime:
    """The fakes' server clock to the microsecond (`GET /_sim/clock` shows whole seconds)."""
    from datetime import UTC, timedelta

    from features.harness import faults as fh
    from features.harness.http import ok_json
    view = ok_json(fh.sim(servers.canopy_url).get("/clock"), 200)
    if view["frozen"]:
        return _t(view["now"])
    return datetime.now(UTC) + timedelta(seconds=float(view["offset_seconds"]))


def _db(url: str) -> Any:
    from sqlalchemy import create_engine
    return create_engine(url)


def _scalar(url: str, sql: str) -> int:
    from sqlalchemy import text
    db = _db(url)
    try:
        with db.connect() as c:
            return int(c.execute(text(sql)).scalar() or 0)
    finally:
        db.dispose()


def _pending(url: str) -> int:
    return _scalar(url, "SELECT count(*) FROM inbox WHERE applied_at IS NULL")


def _applied(url: str) -> int:
    return _scalar(url, "SELECT count(*) FROM inbox WHERE applied_at IS NOT NULL")


def _applied_by(url: str) -> dict[str, int]:
    from sqlalchemy import text
    db = _db(url)
    try:
        with db.connect() as c:
            return {str(w): int(n) for w, n in c.execute(text(
                "SELECT claimed_by, count(*) FROM inbox WHERE applied_at IS NOT NULL GROUP BY claimed_by"))}
    finally:
        db.dispose()


def _window(url: str, after: int) -> tuple[int, float, float]:
    """Inbox events after id `after`: how many, the seconds from the first received to the
    last applied, and from the first received to the last received (how long the fakes took to
    deliver them: the window can be no shorter)."""
    from sqlalchemy import text
    db = _db(url)
    try:
        with db.connect() as c:
            n, first, last, last_in = c.execute(text(
                "SELECT count(*), min(received_at), max(applied_at), max(received_at) FROM inbox WHERE id > :a"),
                {"a": after}).one()
    finally:
        db.dispose()
    if not n:
        return 0, 0.0, 0.0
    first, last, last_in = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in (first, last, last_in))
    return int(n), max(1e-6, (last - first).total_seconds()), (last_in - first).total_seconds()


def _composition(url: str, after: int) -> dict[str, int]:
    """Inbox events after id `after` by where they came from: QBO or Canopy, and the held
    invoices the engine looks at again whenever a contact or item is linked or changed."""
    from sqlalchemy import text
    db = _db(url)
    try:
        with db.connect() as c:
            rows = c.execute(text("SELECT source, record_kind, payload FROM inbox WHERE id > :a"), {"a": after}).all()
    finally:
        db.dispose()
    out: Counter[str] = Counter()
    for source, kind, payload in rows:
        data = json.loads(payload) if isinstance(payload, str) else payload
        held = isinstance(data, dict) and data.get("reason") == "reference_linked"
        out["held invoice looked at again" if held else f"{source} {kind}"] += 1
    return dict(out.most_common())


def _outbox_busy(servers: Any) -> bool:
    from features.harness import faults as fh
    from features.harness.http import ok_json
    for base in (servers.qbo_url, servers.canopy_url):
        counts = ok_json(fh.sim(base).get("/webhooks", params={"limit": "0"}), 200)["counts"]
        if counts["pending_events"] or counts["queued"] or counts["retrying"]:
            return True
    return False


def _install_faults(servers: Any) -> list[tuple[str, str]]:
    """About 10% of the public API requests to each fake fail: 5% a 5xx, ~3% a 429 (no
    Retry-After), ~2% the connection dropped after the work was done."""
    from features.harness import faults as fh
    rules = []
    for base, paths in ((servers.qbo_url, ("/v3/company/*",)), (servers.canopy_url, fh.CANOPY_RECORDS)):
        for path in paths:
            for seed, (action, p) in enumerate(((fh.SERVER_ERROR, 0.05),
                                                (fh.THROTTLE if base == servers.qbo_url else fh.CANOPY_429, 0.03),
                                                (fh.DROP_AFTER, 0.02))):
                rules.append((base, fh.add_fault(base, {"path": path, "action": action, "probability": p,
                                                        "seed": 7 + seed})))
    return rules


def _remove_faults(servers: Any, rules: list[tuple[str, str]]) -> int:
    from features.harness import faults as fh
    from features.harness.http import ok_json
    fired = 0
    for base, rule_id in rules:
        rule = next((r for r in ok_json(fh.sim(base).get("/faults"), 200)["faults"] if r["id"] == rule_id), None)
        fired += int(rule["fired"]) if rule else 0
        fh.remove_faults(base, [rule_id])
    return fired


def _engine_qbo_calls(servers: Any, run: Any, since: datetime) -> tuple[int, int, float]:
    """The engine's QBO calls for one realm after `since` (nothing else calls it then): answered,
    throttled (429), and the span from the first to the last answered one (the realm's clock)."""
    from features.harness import faults as fh
    from features.harness.http import ok_json
    entries = ok_json(fh.sim(servers.qbo_url).get("/journal", params={"tenant": run.tenant.realm_id, "limit": 0}),
                      200)["entries"]
    mine = [e for e in entries if _t(e["time"]) >= since]
    ok = [e for e in mine if e["status"] != 429]
    if not ok:
        return 0, 0, 0.0
    span = (_t(ok[-1]["time"]) - _t(ok[0]["time"])).total_seconds()
    times = [_t(e["time"]).timestamp() for e in ok]
    densest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    print(f"  QBO calls after the backlog resumed: {len(ok)} answered, {len(mine) - len(ok)} throttled; at most "
          f"{densest} answered in one second of the realm's clock; span {span:.1f} s", flush=True)
    return len(ok), len(mine) - len(ok), span


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def line(name: str, figure: str, target: str, met: bool | None) -> None:
    mark = "-" if met is None else ("met" if met else "MISSED")
    print(f"  {name:<52} {figure:>16}   target {target:<34} {mark}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 firms, 4 new records a side each")
    p.add_argument("--firms", type=int)
    p.add_argument("--per-side", type=int, help="new records per side and firm")
    p.add_argument("--rate", type=float, default=10.0, help="edits a second (over all firms) in the flow phase")
    p.add_argument("--only", nargs="+", metavar="WORD", help="only the configurations named so, else those whose name has one of these")
    p.add_argument("--serve-fake", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake)
        return 0
    firms = args.firms or (3 if args.quick else 10)
    per_side = args.per_side or (4 if args.quick else 12)
    info = machine()
    print(f"ongoing sync: {firms} firms, {per_side} new records a side each, edits paced at {args.rate:g}/s; "
          f"{info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)

    fakes = Fakes()
    listener, heard = start_listener()
    outcomes: dict[str, Outcome] = {}
    try:
        bench = Bench(fakes, listener.url + "/qbo", heard, per_side, args.rate)
        one_db = "postgresql" if bench.pg else "sqlite"
        configs = [Config("1 worker", 1, one_db, firms=firms)]
        if bench.pg:
            configs.append(Config("2 workers", 2, "postgresql", firms=firms))
        else:
            print("  PostgreSQL not available: the 2-worker configuration does not run", flush=True)
        configs += [Config("1 worker, 10% faulted", 1, one_db, faults=True, firms=firms),
                    Config("1 worker, firms with held invoices", 1, one_db, firms=firms,
                           scenario="invoices_linked_and_held"),
                    Config("1 firm, real QBO throttles", 1, one_db, throttled=True, firms=1)]
        if args.only:  # a word that is a whole name picks that one alone ("1 worker")
            words = {w.lower() for w in args.only}
            configs = ([c for c in configs if c.name.lower() in words]
                       or [c for c in configs if any(w in c.name.lower() for w in words)])
        for config in configs:
            print(f"-- {config.name} ({config.db})", flush=True)
            outcomes[config.name] = o = bench.run(config)
            print(f"  {o.changes} changes in {o.backlog_s:.2f} s: {o.changes_per_s:.1f} changes/s; "
                  f"{o.inbox_events} inbox events in {o.inbox_window_s:.2f} s ({o.events_per_s:.1f}/s; the last received "
                  f"after {o.delivery_s:.2f} s); "
                  f"applied by {o.applied_by}"
                  + (f"; {o.fired} requests faulted" if config.faults else ""), flush=True)
            print(f"  inbox events of the run by origin: {o.composition}; engine CPU {o.engine_cpu_s:.2f} s over the "
                  f"backlog ({o.cpu_ms_per_event:.2f} ms an event)", flush=True)
            if o.latencies_ms:
                print(f"  flow latency over {len(o.latencies_ms)} edits: p50 {o.pct(50):.0f} ms, "
                      f"p99 {o.pct(99):.0f} ms, max {max(o.latencies_ms):.0f} ms", flush=True)
            for problem in o.problems:
                print(f"  PROBLEM: {problem}", flush=True)
    finally:
        listener.stop() if hasattr(listener, "stop") else None
        fakes.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)", flush=True)
    return report(outcomes, args.quick)


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux `/proc`; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def report(outcomes: dict[str, Outcome], quick: bool) -> int:
    from features.harness import faults as fh

    print("\nfigures (" + ("--quick" if quick else "full") + ")", flush=True)
    one = outcomes.get("1 worker")
    references: dict[str, dict[str, Any]] = {}
    for o in outcomes.values():
        if o.projections:
            references.setdefault(o.config.scenario, o.projections[0])

    def same_end(o: Outcome) -> tuple[bool, str]:
        reference = references.get(o.config.scenario)
        bad = [i for i, pr in enumerate(o.projections) if pr != reference]
        if not bad:
            return True, "every firm the same"
        return False, f"{len(bad)} firm(s) differ:\n" + fh.projection_difference(reference or {},
                                                                                o.projections[bad[0]], 1500)

    if one is not None:
        ok_one, why_one = same_end(one)
        FIGURES.add("1 worker: inbox events applied per second", one.events_per_s, "events/s",
                    f">= {EVENTS_TARGET:.0f} events/s", one.events_per_s >= EVENTS_TARGET)
        line("1 worker: inbox events applied per second", f"{one.events_per_s:.0f}/s", f">= {EVENTS_TARGET:.0f}/s",
             one.events_per_s >= EVENTS_TARGET)
        FIGURES.add("1 worker: changes carried over per second", one.changes_per_s, "changes/s")
        line("1 worker: changes carried over per second", f"{one.changes_per_s:.1f}/s", "(context)", None)
        FIGURES.add("1 worker: engine CPU per inbox event", one.cpu_ms_per_event, "ms")
        line("1 worker: engine CPU per inbox event", f"{one.cpu_ms_per_event:.2f} ms", "(context)", None)
        for pct in (50, 99):
            v = one.pct(pct)
            target = f"< {P99_TARGET_MS:.0f} ms" if pct == 99 else None
            FIGURES.add(f"1 worker: latency p{pct}", v, "ms", target, v < P99_TARGET_MS if target else None)
            line(f"1 worker: latency p{pct} (change -> other fake)", f"{v:.0f} ms", target or "(context)",
                 v < P99_TARGET_MS if target else None)
        FIGURES.add("1 worker: every firm ends the same", "yes" if ok_one else "no", "", "same end state", ok_one)
        line("1 worker: every firm ends the same", "yes" if ok_one else "no", "same end state", ok_one)
        if not ok_one:
            print(why_one)

    two = outcomes.get("2 workers")
    if two is not None and one is not None:
        ok_two, why = same_end(two)
        lost_twice = ok_two and not two.problems
        FIGURES.add("2 workers: nothing lost, nothing applied twice", "yes" if lost_twice else "no", "",
                    "nothing lost or twice", lost_twice)
        line("2 workers: nothing lost, nothing applied twice", "yes" if lost_twice else "no",
             "nothing lost or twice", lost_twice)
        if not ok_two:
            print(why)
        ratio = two.changes_per_s / one.changes_per_s if one.changes_per_s else 0.0
        FIGURES.add("2 workers: throughput / 1 worker's", ratio, "x", f">= {1 / WORKERS_SLACK:.2f}x (no slower)",
                    ratio >= 1 / WORKERS_SLACK)
        line("2 workers: throughput / 1 worker's", f"{ratio:.2f}x ({two.events_per_s:.0f} ev/s)",
             f">= {1 / WORKERS_SLACK:.2f}x (no slower, 10% noise)", ratio >= 1 / WORKERS_SLACK)
        v = two.pct(99)
        FIGURES.add("2 workers: latency p99", v, "ms", f"< {P99_TARGET_MS:.0f} ms", v < P99_TARGET_MS)
        line("2 workers: latency p99", f"{v:.0f} ms", f"< {P99_TARGET_MS:.0f} ms", v < P99_TARGET_MS)
        line("2 workers: events applied by each worker", json.dumps(list(two.applied_by.values())), "(context)",
             None)

    faulted = outcomes.get("1 worker, 10% faulted")
    if faulted is not None and one is not None:
        _report_faulted(faulted, one, same_end)
    held = outcomes.get("1 worker, firms with held invoices")
    if held is not None:
        share = held.composition.get("held invoice looked at again", 0) / max(1, held.inbox_events)
        FIGURES.add("firms with 6 held invoices: changes carried over per second", held.changes_per_s, "changes/s")
        line("firms with 6 held invoices: changes/s (1 worker)", f"{held.changes_per_s:.1f}/s",
             f"(context; {share:.0%} of events re-check held invoices)", None)
        ok_h, why = same_end(held)
        ok_h = ok_h and not held.problems
        FIGURES.add("firms with held invoices: every firm ends the same", "yes" if ok_h else "no", "",
                    "same end state", ok_h)
        line("firms with held invoices: every firm ends the same", "yes" if ok_h else "no", "same end state", ok_h)

    thr = outcomes.get("1 firm, real QBO throttles")
    if thr is not None:
        _report_throttled(thr, same_end)
    FIGURES.emit(machine=machine(), quick=quick)
    return 0


def _report_faulted(faulted: Outcome, one: Outcome, same_end: Any) -> None:
    ok_f, why = same_end(faulted)
    ok_f = ok_f and not faulted.problems
    FIGURES.add("10% faulted: same end state", "yes" if ok_f else "no", "", "same end state", ok_f)
    line("10% faulted: same end state", "yes" if ok_f else "no", "same end state", ok_f)
    if why and not ok_f:
        print(why)
    ratio = faulted.backlog_s / one.backlog_s if one.backlog_s else float("inf")
    FIGURES.add("10% faulted: time / clean time", ratio, "x", f"< {FAULT_FACTOR:.0f}x", ratio < FAULT_FACTOR)
    line("10% faulted: time / clean time", f"{ratio:.2f}x ({faulted.fired} faulted)", f"< {FAULT_FACTOR:.0f}x",
         ratio < FAULT_FACTOR)


def _report_throttled(thr: Outcome, same_end: Any) -> None:
    ratio = thr.throttle_span_s / thr.least_s if thr.least_s else float("inf")
    FIGURES.add("real throttles: time / least time the limits allow", ratio, "x", f"<= {THROTTLE_FACTOR}x",
                ratio <= THROTTLE_FACTOR)
    line("real throttles: time / least time the limits allow",
         f"{ratio:.2f}x", f"<= {THROTTLE_FACTOR}x", ratio <= THROTTLE_FACTOR)
    line("real throttles: QBO calls, 429s, span, least", f"{thr.qbo_calls}, {thr.throttled_calls}, "
         f"{thr.throttle_span_s:.1f} s, {thr.least_s:.0f} s", "(context, moved clock)", None)
    ok_t, why = same_end(thr)
    ok_t = ok_t and not thr.problems
    FIGURES.add("real throttles: same end state", "yes" if ok_t else "no", "", "same end state", ok_t)
    line("real throttles: same end state", "yes" if ok_t else "no", "same end state", ok_t)
    if why and not ok_t:
        print(why)


if __name__ == "__main__":
    sys.exit(main())
