"""R21 (converges under faults): the canonical projection, the scripted changes, the faults, and
settling, for `features/faults/`.

**The canonical projection** (`canonical_projection`, docs/rules.md R21) reduces the state dumps of
both fakes (`GET /_sim/state?tenant=`) to what the sync is answerable for: every record, with each
reference replaced by the name of the record it points to, and without ids, `SyncToken`,
`MetaData`, versions and time stamps. Left out as kinds: the change feed (Canopy `event`), replay
stores (Canopy `idempotency`, QBO `_Request`: the fakes' memory of idempotency keys), and what
names the tenant rather than the books (QBO `CompanyInfo`; Canopy `user`, `integration`,
`webhook`). The request journal is not part of a dump. Two end states are the same when their
projections are equal; each kind is a sorted list, so a record created twice shows as two.

**A run** (`FaultRun`) is one tenant (a new QBO company and Canopy firm seeded with the
`invoices_linked_and_held` scenario) taken through setup by the engine (connect, contacts "All",
items, Finish: ongoing sync of contacts, items and invoices), then the same script of changes
(`SCRIPT`), then settled (`settle`): webhooks flushed, `POST /integration/reconcile`, the engine's
inbox empty (`sync.pending` 0), until two rounds in a row project the same.

**Faults** (`FAULTS`) are installed with the fakes' `/_sim/faults` and `/_sim/webhooks/chaos` while
the script's first changes wait behind paused webhooks, so the engine meets the fault for every
one of them, and removed before the last settle. The engine's retry waits are short
(`--backoff-base 0.05`); inbox events that failed wait `retry_at` on the engine clock, and
abandoned claims (the kill case) wait their lease: `advance_clocks` moves the engine clocks and
both fakes' clocks together (Canopy signs webhooks with its own time and the engine refuses one
more than five minutes off), so nothing waits on wall time.

Fake-side limit met here: the fake Canopy's fault rules cannot match a `tenant` (the firm is only
known after authentication, which runs after the fault middleware), so Canopy rules match paths.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from sim.demo.servers import EngineApp, EngineProcess
from sim.demo.servers import start_engine as launch

from . import flows
from .engine import Engine, job_result
from .http import Http, ok_json
from .servers import ENGINE_APP, ROOT, UNPACED, Servers
from .tenants import Tenant, seed_tenant

SCENARIO = "invoices_linked_and_held"
"""Six linked contacts, five linked items, invoices sent and held: small, with all three kinds."""

# ================================================================================================
# The canonical projection (docs/rules.md R21)
# ================================================================================================

QBO_LEFT_OUT = frozenset({"CompanyInfo"})
CANOPY_LEFT_OUT = frozenset({"event", "idempotency", "user", "integration", "webhook"})
DROPPED_KEYS = frozenset({"id", "Id", "SyncToken", "MetaData", "version", "sequence"})
QBO_REF_ENTITY = {"CustomerRef": "Customer", "VendorRef": "Vendor", "EmployeeRef": "Employee", "ItemRef": "Item",
                  "ClassRef": "Class", "DepartmentRef": "Department", "SalesTermRef": "Term",
                  "PaymentMethodRef": "PaymentMethod", "TaxCodeRef": "TaxCode"}
"""QBO reference field -> the entity it names (`...AccountRef` -> Account; `ParentRef` -> its own)."""
QBO_NAME_FIELDS = ("DisplayName", "FullyQualifiedName", "Name", "DocNumber")
CANOPY_REFS = {"client_id": ("client", "display_name"), "service_item_id": ("service_item", "name"),
               "invoice_id": ("invoice", "number"), "contact_id": ("contact", "display_name"),
               "payment_id": ("payment", "reference")}
"""Canopy reference field -> (the kind it names, that kind's name field)."""
NOT_REFERENCES = frozenset({"external_id"})
"""`*_id` fields that carry data, not a reference to a record of the fake."""


class ProjectionError(ValueError):
    """A dump holds something the projection does not know how to reduce (a new reference field)."""


def _is_time(key: str) -> bool:
    return key.endswith("_at") or key in ("CreateTime", "LastUpdatedTime", "changed_at")


def _records(dump: Mapping[str, Any]) -> Mapping[str, list[dict[str, Any]]]:
    """A tenant's `records` from `/_sim/state?tenant=` (the whole answer, the tenant's entry, or
    the records themselves)."""
    if "tenants" in dump:
        tenants = dump["tenants"]
        if len(tenants) != 1:
            raise ProjectionError(f"a dump of one tenant was expected, got {len(tenants)}")
        dump = next(iter(tenants.values()))
    return dump.get("records", dump) if isinstance(dump.get("records"), dict) else dump


def _qbo_name(entity: str, data: Mapping[str, Any]) -> str | None:
    for f in QBO_NAME_FIELDS:
        if isinstance(data.get(f), str) and data[f]:
            return data[f]
    return None


def canonical_projection(qbo_dump: Mapping[str, Any], canopy_dump: Mapping[str, Any]) -> dict[str, Any]:
    """Both fakes' end state as docs/rules.md R21 compares it (see the module docstring):
    `{"qbo": {entity: [record, ...]}, "canopy": {kind: [record, ...]}}`, each list sorted."""
    qbo, canopy = _records(qbo_dump), _records(canopy_dump)
    q_names = {(kind, str(r["id"])): _qbo_name(kind, r.get("data") or {}) for kind, rows in qbo.items()
               for r in rows}
    c_names = {(kind, str(r["id"])): (r.get("data") or {}) for kind, rows in canopy.items() for r in rows}

    def q_ref(key: str, ref: Mapping[str, Any], own: str) -> Any:
        entity = own if key == "ParentRef" else "Account" if key.endswith("AccountRef") else QBO_REF_ENTITY.get(key)
        if entity is None:  # CurrencyRef and the like: codes, not ids
            return {k: v for k, v in ref.items()}
        name = q_names.get((entity, str(ref.get("value"))))
        return name if name is not None else f"<no {entity} {ref.get('value')}>"

    def q_value(value: Any, own: str, key: str = "") -> Any:
        if isinstance(value, dict):
            if key.endswith("Ref") and "value" in value:
                return q_ref(key, value, own)
            out = {}
            for k, v in value.items():
                if k in DROPPED_KEYS or _is_time(k):
                    continue
                if k == "TxnId":
                    ttype = str(value.get("TxnType", ""))
                    out["Txn"] = q_names.get((ttype, str(v))) or f"<no {ttype} {v}>"
                    continue
                out[k] = q_value(v, own, k)
            return out
        if isinstance(value, list):
            return [q_value(v, own, key) for v in value]
        return value

    def c_ref(key: str, value: Any) -> Any:
        kind, name_field = CANOPY_REFS[key]
        data = c_names.get((kind, str(value)))
        if data is None:
            return f"<no {kind} {value}>"
        name = data.get(name_field)
        return name if name is not None else f"<{kind} without {name_field}>"

    def c_value(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k in DROPPED_KEYS or _is_time(k):
                    continue
                if k.startswith("qbo_") and k.endswith("_ref") and v is not None:  # a QBO account, by name
                    ref = v.get("value") if isinstance(v, dict) else v
                    out[k] = q_names.get(("Account", str(ref))) or f"<no Account {ref}>"
                    continue
                if k.endswith("_id") and k not in NOT_REFERENCES:
                    if k not in CANOPY_REFS:
                        raise ProjectionError(f"the projection does not know the Canopy reference field {k!r}")
                    out[k.removesuffix("_id")] = c_ref(k, v) if v is not None else None
                    continue
                out[k] = c_value(v, k)
            return out
        if isinstance(value, list):
            return [c_value(v, key) for v in value]
        return value

    def rec(data: Any, wrapper: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        if wrapper.get("deleted"):
            out["_deleted"] = True
        return out

    out_q = {kind: _sorted(rec(q_value(r.get("data") or {}, kind), r) for r in rows)
             for kind, rows in sorted(qbo.items()) if kind not in QBO_LEFT_OUT and not kind.startswith("_")}
    out_c = {kind: _sorted(rec(c_value(r.get("data") or {}), r) for r in rows)
             for kind, rows in sorted(canopy.items()) if kind not in CANOPY_LEFT_OUT and not kind.startswith("_")}
    return {"qbo": out_q, "canopy": out_c}


def _key(record: Any) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _sorted(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=_key)


def projection_difference(expected: Mapping[str, Any], got: Mapping[str, Any], limit: int = 4000) -> str:
    """What differs, per side and kind: records only in `expected` (-) and only in `got` (+)."""
    lines: list[str] = []
    for side in ("qbo", "canopy"):
        e, g = expected.get(side, {}), got.get(side, {})
        for kind in sorted(set(e) | set(g)):
            ec, gc = Counter(map(_key, e.get(kind, []))), Counter(map(_key, g.get(kind, [])))
            if ec == gc:
                continue
            lines.append(f"{side} {kind}: {sum(ec.values())} expected, {sum(gc.values())} found")
            lines += [f"  - {k}" + (f" (x{n})" if n > 1 else "") for k, n in sorted((ec - gc).items())]
            lines += [f"  + {k}" + (f" (x{n})" if n > 1 else "") for k, n in sorted((gc - ec).items())]
    text = "\n".join(lines) or "no difference"
    return text if len(text) <= limit else text[:limit] + "\n  ..."


def duplicates(projection: Mapping[str, Any]) -> list[str]:
    """Names held by two records of one kind (a record created twice), in either fake."""
    found: list[str] = []
    for side, field_of in (("qbo", {"Customer": "DisplayName", "Item": "Name", "Invoice": "DocNumber"}),
                           ("canopy", {"client": "display_name", "service_item": "name", "invoice": "number"})):
        for kind, name_field in field_of.items():
            names = Counter(r.get(name_field) for r in projection[side].get(kind, []) if not r.get("_deleted"))
            found += [f"{side} {kind} {name!r} x{n}" for name, n in names.items() if n > 1]
    return found


# ================================================================================================
# The servers' control planes
# ================================================================================================

def sim(base: str) -> Http:
    return Http(base.rstrip("/") + "/_sim")


def dumps(servers: Servers, tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    q = ok_json(sim(servers.qbo_url).get("/state", params={"tenant": tenant.realm_id}), 200)
    c = ok_json(sim(servers.canopy_url).get("/state", params={"tenant": tenant.firm_id}), 200)
    return q, c


def project(servers: Servers, tenant: Tenant) -> dict[str, Any]:
    return canonical_projection(*dumps(servers, tenant))


def advance_clocks(servers: Servers, engine_urls: Iterable[str], seconds: float) -> None:
    """Move both fakes' clocks (every tenant's) and each engine's clock by `seconds` together."""
    for base in (servers.qbo_url, servers.canopy_url):
        ok_json(sim(base).post("/clock", {"advance_seconds": seconds, "all": True}), 200)
    for url in dict.fromkeys(engine_urls):
        ok_json(Http(url).post("/_engine/clock", {"advance_seconds": seconds}), 200)


def align_clock(servers: Servers, engine_url: str) -> None:
    """Set a (new) engine's clock to the fakes' server clock, which earlier runs may have moved
    (left alone when that clock is wall time, so engine processes keep comparable clocks)."""
    view = ok_json(sim(servers.canopy_url).get("/clock"), 200)
    if view["frozen"]:
        ok_json(Http(engine_url).post("/_engine/clock", {"set": view["now"]}), 200)
    elif abs(float(view["offset_seconds"])) > 0.001:
        when = datetime.now(UTC) + timedelta(seconds=float(view["offset_seconds"]))
        ok_json(Http(engine_url).post("/_engine/clock", {"set": when.isoformat()}), 200)


def wire_qbo_webhooks(servers: Servers, app: EngineApp, engine_url: str) -> None:
    """Point the engine's QBO app's webhooks at that engine (QBO webhooks are set per app)."""
    ok_json(sim(servers.qbo_url).call("PATCH", f"/apps/{app.client_id}", json={
        "webhook_url": engine_url + "/webhooks/qbo", "verifier_token": app.verifier_token}), 200)


def webhooks(servers: Servers, action: str) -> None:
    """`pause`, `resume` or `flush` both fakes' outboxes (server-wide)."""
    for base in (servers.qbo_url, servers.canopy_url):
        ok_json(sim(base).post(f"/webhooks/{action}"), 200)


def chaos(servers: Servers, **settings: Any) -> None:
    for base in (servers.qbo_url, servers.canopy_url):
        ok_json(sim(base).post("/webhooks/chaos", settings), 200)


def add_fault(base: str, rule: dict[str, Any]) -> str:
    return str(ok_json(sim(base).post("/faults", rule), 201)["id"])


def fault_rule(base: str, rule_id: str) -> dict[str, Any]:
    rules = ok_json(sim(base).get("/faults"), 200)["faults"]
    return next(r for r in rules if r["id"] == rule_id)


def remove_faults(base: str, ids: Iterable[str]) -> None:
    for rule_id in ids:
        sim(base).call("DELETE", f"/faults/{rule_id}").expect(200, 404)


def reset_chaos(servers: Servers) -> None:
    chaos(servers, reset=True)
    webhooks(servers, "resume")


# ================================================================================================
# An engine of a run's own (the kill case)
# ================================================================================================

@dataclass
class OwnEngine:
    """`python -m engine serve` with a QBO app of its own, on a database of its own (a SQLite file
    in `workdir`, or `db_url`, e.g. PostgreSQL), and any number of `python -m engine worker`
    processes on the same database. `kill()` is SIGKILL; `start()` again reuses the database,
    the port and the token key (tokens are encrypted at rest with it)."""

    servers: Servers
    workdir: Path
    db_url: str | None = None
    app: EngineApp = field(default_factory=lambda: EngineApp(client_id=f"faults-engine-{secrets.token_hex(4)}"))
    extra: tuple[str, ...] = ()
    paced: bool = False
    """Pace QBO requests to the real limits (only where the fake QBO enforces them)."""
    token_key: str = ""
    process: EngineProcess | None = None
    port: int | None = None
    workers: list[subprocess.Popen[str]] = field(default_factory=list)

    def _flags(self) -> list[str]:
        if not self.token_key:  # a Fernet key, as `--token-key` expects (the harness never imports the engine)
            self.token_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        # `--token-key=KEY`: a key may start with "-", which argparse would take for an option
        return [f"--token-key={self.token_key}", *(["--db", self.db_url] if self.db_url else []),
                *(() if self.paced else UNPACED), *self.extra]

    def start(self) -> str:
        extra = (*self._flags(), *(("--port", str(self.port)) if self.port else ()))
        self.process = launch(self.servers.qbo_url, self.servers.canopy_url, self.workdir, self.app, extra=extra)
        url = self.process.url
        align_clock(self.servers, url)
        if self.port is None:
            self.port = int(url.rsplit(":", 1)[1])
            ok_json(sim(self.servers.qbo_url).post("/apps", {
                "client_id": self.app.client_id, "client_secret": self.app.client_secret,
                "redirect_uris": [url + "/oauth/callback"], "name": "Canopy (own engine)"}), 201)
            wire_qbo_webhooks(self.servers, self.app, url)
        return url

    def add_worker(self, timeout: float = 30.0) -> subprocess.Popen[str]:
        """One more `python -m engine worker` on the same database (its first line says it runs)."""
        cmd = [sys.executable, "-m", "engine", "worker", "--qbo", self.servers.qbo_url,
               "--canopy", self.servers.canopy_url, "--qbo-client-id", self.app.client_id,
               "--qbo-client-secret", self.app.client_secret, "--qbo-verifier-token", self.app.verifier_token,
               "--backoff-base", "0.05", *self._flags()]
        if not self.db_url:
            cmd += ["--db", f"sqlite:///{self.workdir / 'engine.db'}"]
        env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / f"worker{len(self.workers) + 1}.stderr.log", "w") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        self.workers.append(proc)
        assert proc.stdout is not None
        first = _first_line(proc, timeout)
        if not first.startswith("engine worker "):
            proc.kill()
            raise AssertionError(f"the worker did not start: {first!r}; see {self.workdir}")
        return proc

    @property
    def url(self) -> str:
        assert self.process is not None
        return self.process.url

    def kill(self) -> None:
        """SIGKILL, by this process's own handle: no cleanup runs in the engine."""
        assert self.process is not None
        self.process.proc.kill()
        self.process.proc.wait(10)

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        if self.process is not None:
            self.process.stop()
        sim(self.servers.qbo_url).call("PATCH", f"/apps/{self.app.client_id}", json={"webhook_url": None})


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line a child prints (then its output keeps being read, so it never blocks)."""
    lines: list[str] = []
    got = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not lines:
                lines.append(line.rstrip("\n"))
                got.set()
        got.set()

    threading.Thread(target=pump, daemon=True).start()
    got.wait(timeout)
    return lines[0] if lines else ""


# ================================================================================================
# A run: a tenant in ongoing sync, the script, settling
# ================================================================================================

@dataclass
class FaultRun:
    servers: Servers
    engine: Engine
    engine_url: str
    tenant: Tenant
    clocks: list[str]
    """Every engine whose clock moves with the fakes' (this run's and the session's)."""
    picks: dict[str, dict[str, str]] = field(default_factory=dict)
    """Records the script changes: role -> {"canopy": id, "qbo": id, "name": name}."""
    timings: dict[str, float] = field(default_factory=dict)
    settles: list[float] = field(default_factory=list)
    advances: int = 0
    may_advance: bool = True
    """Whether `wait_quiet` may move the clocks (not when a process it cannot move, such as an
    extra `python -m engine worker`, must keep the engine clock)."""

    @property
    def admin(self) -> Any:
        return self.tenant.admin

    def status(self) -> dict[str, Any]:
        return self.engine.status(self.admin).expect(200).body

    def log(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"before": before} if before else {})}
            body = self.engine.get(self.admin, "/integration/log", **params).expect(200).body
            out += body["entries"]
            before = body.get("next_before")
            if not before:
                return list(reversed(out))

    def project(self) -> dict[str, Any]:
        return project(self.servers, self.tenant)

    def advance(self, seconds: float) -> None:
        advance_clocks(self.servers, self.clocks, seconds)


def engine_clocks(servers: Servers, *more: str) -> list[str]:
    """The session engine's URL (when it runs) and `more`: every engine whose clock must move."""
    urls = list(more)
    if servers.engine is not None and servers.engine.alive():
        urls.append(servers.engine.url)
    return list(dict.fromkeys(urls))


def set_up(servers: Servers, engine_url: str, app: EngineApp, worker: str, scenario: str = SCENARIO,
           pick: bool = True, may_advance: bool = True) -> FaultRun:
    """A new tenant, set up through the engine's wizard to ongoing sync of everything. Without
    `may_advance`, nothing moves the clocks (tenants set up side by side must not see the fakes'
    clocks apart for a moment)."""
    started = time.perf_counter()
    wire_qbo_webhooks(servers, app, engine_url)
    engine = Engine(engine_url)
    tenant = seed_tenant(servers, scenario, worker)
    run = FaultRun(servers, engine, engine_url, tenant, engine_clocks(servers, engine_url),
                   may_advance=may_advance)
    flows.connect(engine, tenant, tenant.admin)
    flows.sync_contacts(engine, tenant, tenant.admin, "All")
    job_result(engine.post(tenant.admin, "/integration/items/start"))
    engine.post(tenant.admin, "/integration/items/sync").expect(200)
    job_result(engine.post(tenant.admin, "/integration/finish"))
    sync = run.status()["sync"]
    assert sync["contacts"] and sync["items_and_invoices"], f"ongoing sync is not on: {sync}"
    if pick:
        _pick(run)
    settle(run, converge=False)
    run.timings["set_up"] = time.perf_counter() - started
    return run


def session_run(servers: Servers, worker: str) -> FaultRun:
    """A run on the features session's engine (`servers.engine`, the harness's QBO app)."""
    return set_up(servers, servers.engine_url, ENGINE_APP, worker)


def _pick(run: FaultRun) -> None:
    """The linked contacts and item the script changes, chosen by name (the same in every run)."""
    t = run.tenant
    customers = {c["DisplayName"]: c for c in t.qbo_query("Customer")}
    clients = sorted((c for c in t.canopy_list("clients") if c["display_name"] in customers),
                     key=lambda c: c["display_name"])
    assert len(clients) >= 4, f"the scenario links too few contacts: {[c['display_name'] for c in clients]}"
    for role, c in zip(("race", "canopy_edit", "qbo_edit", "billed"), clients):
        run.picks[role] = {"canopy": str(c["id"]), "qbo": str(customers[c["display_name"]]["Id"]),
                           "name": c["display_name"]}
    items = {i["Name"]: i for i in t.qbo_query("Item") if i.get("Type") == "Service"}
    linked = sorted((i for i in t.canopy_list("service_items") if i["name"] in items), key=lambda i: i["name"])
    assert len(linked) >= 2, "the scenario links too few items"
    for role, i in zip(("billed_item", "item_edit"), linked):
        run.picks[role] = {"canopy": str(i["id"]), "qbo": str(items[i["name"]]["Id"]), "name": i["name"]}


# -- the script ------------------------------------------------------------------------------------

def _robust(send: Callable[[], Any], what: str, attempts: int = 12) -> Any:
    """The script's own calls meet the installed faults too: each carries an idempotency key and
    is sent again after a dropped connection, a 429 or a 5xx (as any careful client would)."""
    last: Any = None
    for _ in range(attempts):
        try:
            reply = send()
        except requests.RequestException as exc:
            last = exc
        else:
            if reply.status != 429 and reply.status < 500:
                return reply
            last = reply.show()
        time.sleep(0.02)
    raise AssertionError(f"{what}: still failing after {attempts} tries: {last}")


def _canopy(run: FaultRun, method: str, path: str, body: Any, status: int = 200) -> Any:
    key = "faults-" + secrets.token_hex(12)
    http = run.tenant.canopy()
    reply = _robust(lambda: http.call(method, "/public/v3" + path, json=body, headers={"Idempotency-Key": key}),
                    f"{method} {path}")
    return ok_json(reply, status)


def _qbo_create(run: FaultRun, entity: str, body: dict[str, Any]) -> Any:
    params = {"minorversion": "75", "requestid": "faults-" + secrets.token_hex(12)}
    http = run.tenant.qbo()
    return ok_json(_robust(lambda: http.post("/" + entity.lower(), body, params=params), f"create {entity}"), 200)


def _qbo_edit(run: FaultRun, entity: str, qbo_id: str, changes: dict[str, Any]) -> Any:
    """A person changing a record in QBO's own screens (`/_sim/companies/{realm}/edit`)."""
    return ok_json(sim(run.servers.qbo_url).post(f"/companies/{run.tenant.realm_id}/edit",
                                                 {"entity": entity, "id": qbo_id, "changes": changes}), 200)


def changes_on_both_sides(run: FaultRun) -> None:
    """Two new Canopy clients, one new QBO customer, a contact edit each way, an item edit in
    QBO, and a new Canopy invoice for a linked client and item."""
    p = run.picks
    _canopy(run, "POST", "/clients", {"client": {
        "is_business": False, "type": "CLIENT", "display_name": "Harper Faultline", "first_name": "Harper",
        "last_name": "Faultline", "emails": [{"email": "harper@faultline.test", "type": "WORK", "is_primary": True}]}},
        201)
    _canopy(run, "POST", "/clients", {"client": {
        "is_business": True, "type": "CLIENT", "display_name": "Faultline Partners LLC",
        "business_name": "Faultline Partners LLC",
        "phones": [{"number": "(555) 010-1001", "type": "WORK", "is_primary": True}]}}, 201)
    _qbo_create(run, "Customer", {"DisplayName": "Rowan Newbooks", "GivenName": "Rowan", "FamilyName": "Newbooks",
                                  "PrimaryEmailAddr": {"Address": "rowan@newbooks.test"}})
    _canopy(run, "PATCH", f"/clients/{p['canopy_edit']['canopy']}", {"client": {
        "phones": [{"number": "(555) 010-2002", "type": "WORK", "is_primary": True}]}})
    _qbo_edit(run, "Customer", p["qbo_edit"]["qbo"], {"PrimaryEmailAddr": {"Address": "changed@qbo-edit.test"}})
    _qbo_edit(run, "Item", p["item_edit"]["qbo"], {"UnitPrice": 321.5})
    _canopy(run, "POST", "/invoices", {"invoice": {
        "client_id": p["billed"]["canopy"], "number": "F-2001", "issue_date": "2024-02-01", "due_date": "2024-03-02",
        "lines": [{"service_item_id": p["billed_item"]["canopy"], "quantity": "3", "rate": "150.00",
                   "description": "Fault drill"}]}}, 201)


def race_canopy_edit(run: FaultRun) -> None:
    """The race's first half: a person changes the e-mail of a linked client in Canopy."""
    _canopy(run, "PATCH", f"/clients/{run.picks['race']['canopy']}", {"client": {
        "emails": [{"email": "race@canopy-edit.test", "type": "WORK", "is_primary": True}]}})


def race_qbo_edit(run: FaultRun) -> None:
    """The race's second half: a person changes the phone of the same customer in QBO."""
    _qbo_edit(run, "Customer", run.picks["race"]["qbo"], {"PrimaryPhone": {"FreeFormNumber": "(555) 010-3003"}})


# -- settling --------------------------------------------------------------------------------------

def reconcile(run: FaultRun, attempts: int = 6) -> dict[str, Any]:
    """`POST /integration/reconcile`; a 502 (a fault met upstream) is tried again."""
    reply = None
    for _ in range(attempts):
        reply = run.engine.post(run.admin, "/integration/reconcile")
        if reply.status == 200:
            return reply.body
        reply.expect(502)
        time.sleep(0.05)
    raise AssertionError(f"reconcile kept failing: {reply.show() if reply else ''}")


def wait_quiet(run: FaultRun, timeout: float = 60.0, stuck_s: float = 0.3, advance_s: float = 20.0) -> None:
    """Until the engine's inbox is empty (`sync.pending` 0). Events that failed wait `retry_at`
    on the engine clock: when the count stops moving, the clocks are moved on instead."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while True:
        pending = run.status()["sync"]["pending"]
        if pending == 0:
            return
        now = time.monotonic()
        if pending != last:
            last, since = pending, now
        elif now - since > stuck_s and run.may_advance:
            run.advances += 1
            run.advance(advance_s)
            since = now
        if now > deadline:
            raise AssertionError(f"the engine still has {pending} events pending after {timeout:.0f} s; its log "
                                 f"ends {json.dumps(run.log()[-8:])[:3000]}")
        time.sleep(0.03)


def settle(run: FaultRun, *, converge: bool = True, rounds: int = 6) -> dict[str, Any] | None:
    """Flush both outboxes, reconcile, wait for an empty inbox; with `converge`, again until two
    rounds in a row give the same projection (answered)."""
    last: dict[str, Any] | None = None
    t0 = time.perf_counter()
    for _ in range(rounds if converge else 1):
        webhooks(run.servers, "flush")
        wait_quiet(run)
        reconcile(run)
        wait_quiet(run)
        if not converge:
            run.settles.append(round(time.perf_counter() - t0, 2))
            return None
        now = run.project()
        if now == last:
            return now
        last = now
    raise AssertionError(f"the fakes did not settle in {rounds} rounds")


# ================================================================================================
# Faults
# ================================================================================================

QBO_API = "/v3/company/*"
CANOPY_RECORDS = ("/public/v3/clients*", "/public/v3/service_items*", "/public/v3/invoices*",
                  "/public/v3/changes*")
"""Canopy paths the engine's sync uses (never `/me`, which every wizard call and status reads)."""


@dataclass
class Fault:
    """One row of the R21 matrix: what is installed before the script and removed before the end."""

    key: str
    text: str
    qbo_rules: Callable[[FaultRun], list[dict[str, Any]]] = lambda run: []
    canopy_rules: Callable[[FaultRun], list[dict[str, Any]]] = lambda run: []
    chaos: dict[str, Any] = field(default_factory=dict)
    stale: bool = False
    """The race: a person edits the QBO record between the engine's read and its write."""
    kill: bool = False
    """SIGKILL the engine while it applies the script's changes, then start it again."""
    installed: list[tuple[str, str]] = field(default_factory=list)
    evidence: dict[str, int] = field(default_factory=dict)

    def install(self, run: FaultRun) -> None:
        for base, rules in ((run.servers.qbo_url, self.qbo_rules(run)), (run.servers.canopy_url,
                                                                         self.canopy_rules(run))):
            self.installed += [(base, add_fault(base, r)) for r in rules]
        if self.chaos:
            chaos(run.servers, **self.chaos)

    def remove(self, run: FaultRun) -> None:
        """Take the fault away, noting in `evidence` how often it acted."""
        for base, rule_id in self.installed:
            rule = next((r for r in ok_json(sim(base).get("/faults"), 200)["faults"] if r["id"] == rule_id), None)
            if rule is not None:
                self.evidence["rules_fired"] = self.evidence.get("rules_fired", 0) + int(rule["fired"])
            remove_faults(base, [rule_id])
        self.installed.clear()
        if self.chaos:
            for base, tenant in ((run.servers.qbo_url, run.tenant.realm_id), (run.servers.canopy_url,
                                                                              run.tenant.firm_id)):
                seen = ok_json(sim(base).get("/webhooks", params={"tenant": tenant}), 200)
                self.evidence["dropped"] = self.evidence.get("dropped", 0) + int(seen["counts"]["dropped"])
                self.evidence["duplicated"] = self.evidence.get("duplicated", 0) + sum(
                    1 for d in seen["delivered"] if d.get("duplicate_of") is not None)
                self.evidence["delivered"] = self.evidence.get("delivered", 0) + int(seen["counts"]["delivered"])
        reset_chaos(run.servers)

    def happened(self) -> str | None:
        """Why this fault did not really happen in the run (None when it did)."""
        e = self.evidence
        if self.key == "clean":
            return None
        if self.kill:
            if e.get("killed") != -9:
                return f"the engine was not killed with SIGKILL: {e}"
            return None if e.get("pending_after_restart", 0) > 0 else f"nothing was left to apply after the kill: {e}"
        if self.stale:
            return None if e.get("race") == 1 else f"the race did not take place: {e}"
        if "drop_next" in self.chaos or "drop_fraction" in self.chaos:
            return None if e.get("dropped", 0) > 0 else f"no webhook was dropped: {e}"
        if "duplicate_next" in self.chaos:
            return None if e.get("duplicated", 0) > 0 else f"no webhook was duplicated: {e}"
        if self.chaos.get("reorder"):
            return None if e.get("delivered", 0) > 1 else f"too few webhooks to reorder: {e}"
        return None if e.get("rules_fired", 0) > 0 else f"no fault rule fired: {e}"


def _qbo(run: FaultRun, action: dict[str, Any], **match: Any) -> dict[str, Any]:
    return {"tenant": run.tenant.realm_id, "path": QBO_API, "action": action, **match}


def _canopy_all(action: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [{"path": p, "action": action, **match} for p in CANOPY_RECORDS]


THROTTLE = {"type": "error", "error": "throttle"}
CANOPY_429 = {"type": "error", "status": 429, "body": {"error": {"code": "rate_limited",
                                                                  "message": "Too many requests (fault rule)"}}}
SERVER_ERROR = {"type": "error", "error": "server_error"}
TIMEOUT = {"type": "timeout", "seconds": 0.05}
DROP_AFTER = {"type": "drop_after"}

FAULTS: dict[str, Fault] = {f.text: f for f in (
    Fault("throttle", "QBO throttles requests with HTTP 429",
          qbo_rules=lambda r: [_qbo(r, THROTTLE, times=6), _qbo(r, THROTTLE, every=4)],
          canopy_rules=lambda r: _canopy_all(CANOPY_429, every=5)),
    Fault("server_error", "QBO and Canopy answer HTTP 500",
          qbo_rules=lambda r: [_qbo(r, SERVER_ERROR, times=6), _qbo(r, SERVER_ERROR, every=4)],
          canopy_rules=lambda r: _canopy_all({"type": "error", "error": "server_error"}, every=5)),
    Fault("timeout", "requests time out",
          qbo_rules=lambda r: [_qbo(r, TIMEOUT, every=5)],
          canopy_rules=lambda r: _canopy_all(TIMEOUT, every=6)),
    Fault("drop_after", "connections drop after a write was applied",
          qbo_rules=lambda r: [_qbo(r, DROP_AFTER, method="POST", every=2)],
          canopy_rules=lambda r: [rule for m in ("POST", "PATCH") for rule in _canopy_all(DROP_AFTER, method=m,
                                                                                          every=2)]),
    Fault("stale", "a person edits the QBO record between the engine's read and its write", stale=True),
    Fault("webhooks_dropped", "webhooks are dropped", chaos={"drop_next": 6, "seed": 21}),
    Fault("webhooks_duplicated", "webhooks are duplicated", chaos={"duplicate_next": 12}),
    Fault("webhooks_reordered", "webhooks are reordered", chaos={"reorder": True, "seed": 21}),
    Fault("kill", "the engine is killed with SIGKILL mid-sync and restarted", kill=True),
)}


def fault_named(text: str) -> Fault:
    if text == "no fault":
        return Fault("clean", "no fault")
    if text not in FAULTS:
        raise KeyError(f"no fault {text!r}; there are: {', '.join(FAULTS)}")
    f = FAULTS[text]
    return Fault(f.key, f.text, f.qbo_rules, f.canopy_rules, dict(f.chaos), f.stale, f.kill)


# ================================================================================================
# The script under a fault
# ================================================================================================

RACE_DELAY_S = 1.0
KILL_DELAY_S = 1.0
LEASE_S = 301.0
"""A claim older than the store's lease (5 minutes) counts as abandoned (`Store.claim_inbox`)."""


def _wait_fired(base: str, rule_id: str, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while int(fault_rule(base, rule_id)["fired"]) < 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the engine never made the request the fault waits for")
        time.sleep(0.01)


def run_script(run: FaultRun, fault: Fault, own: OwnEngine | None = None) -> None:
    """The script under `fault` (or none); the fault is gone afterwards. Settle after it."""
    started = time.perf_counter()
    qbo = run.servers.qbo_url
    webhooks(run.servers, "pause")
    try:
        changes_on_both_sides(run)
        fault.install(run)
        if fault.kill:
            assert own is not None and own.process is not None, "the kill case needs an engine of its own"
            # The engine's first QBO write of these changes hangs: it is killed while applying them.
            hang = add_fault(qbo, _qbo(run, {"type": "delay", "seconds": KILL_DELAY_S}, method="POST", times=1))
            webhooks(run.servers, "resume")
            webhooks(run.servers, "flush")
            _wait_fired(qbo, hang, "kill mid-sync")
            own.kill()
            fault.evidence["killed"] = int(own.process.proc.returncode or 0)
            time.sleep(KILL_DELAY_S + 0.2)  # the hung write lands at QBO with no one to answer
            remove_faults(qbo, [hang])
            run.engine_url = own.start()
            run.engine = Engine(run.engine_url)
            fault.evidence["pending_after_restart"] = int(run.status()["sync"]["pending"])
            run.advance(LEASE_S)  # the dead worker's claims are abandoned once their lease is over
        else:
            webhooks(run.servers, "resume")
        settle(run, converge=False)
        if fault.stale:
            race = add_fault(qbo, _qbo(run, {"type": "delay", "seconds": RACE_DELAY_S}, method="POST",
                                       entity="Customer", operation="update", times=1))
            race_canopy_edit(run)
            webhooks(run.servers, "flush")
            _wait_fired(qbo, race, "the stale SyncToken race")
            race_qbo_edit(run)  # while the engine's write, read before this edit, is on its way
            fault.evidence["race"] = int(fault_rule(qbo, race)["fired"])
            time.sleep(RACE_DELAY_S)
            remove_faults(qbo, [race])
            settle(run, converge=False)
        else:
            race_canopy_edit(run)
            settle(run, converge=False)
            race_qbo_edit(run)
            settle(run, converge=False)
    finally:
        fault.remove(run)
        webhooks(run.servers, "resume")
    run.timings["script"] = time.perf_counter() - started


def created_twice(log: list[dict[str, Any]]) -> list[str]:
    """Sync-log `created` entries that name the same record twice (a double create)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    for e in log:
        if e.get("action") == "created":
            for side in ("canopy_id", "qbo_id"):
                if e.get(side):
                    seen[(e["kind"], side, str(e[side]))] += 1
    return [f"{k} {s}={i} x{n}" for (k, s, i), n in seen.items() if n > 1]
