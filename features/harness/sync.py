"""The ongoing sync as a scenario watches it (R12-R22a): the fakes' webhook outboxes, the
engine's inbox (`GET /integration` `sync`), its sync log, reconciliation, and the clocks.

The fakes batch webhooks for 20 ms and retry on their own schedule (D-38); a scenario does not
wait for that: `Watch.wait_until` flushes both fakes' outboxes (`POST /_sim/webhooks/flush`)
and polls until the check passes (and, by default, until the engine's inbox is empty and
neither fake holds a webhook for the tenant), or fails after `WAIT_S` with the check's last
complaint, the engine's status and the tail of its sync log.

Pausing webhooks and moving the engine's clock outlive a scenario unless undone: `Watch.close`
(the `watch` fixture's teardown) resumes what a scenario paused and puts the engine's clock back
in step with the fakes' server clock. The fakes' clocks are moved per tenant only (`tenant=`),
never server-wide.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from .engine import Engine
from .http import Http, ok_json
from .servers import Servers
from .tenants import Tenant

Side = Literal["qbo", "canopy"]
WAIT_S = 15.0
POLL_S = 0.1
LOG_TAIL = 30


def log_line(e: dict[str, Any]) -> str:
    """One sync log entry on one line, as a failure message shows it."""
    parts = [e.get("at", "")[11:23], e["kind"], e["action"], e.get("direction") or "",
             f"canopy={e['canopy_id']}" if e.get("canopy_id") else "", f"qbo={e['qbo_id']}" if e.get("qbo_id") else "",
             e.get("rule") or "", e.get("reason") or "", str(e["detail"]) if e.get("detail") else ""]
    return " ".join(p for p in parts if p)


class Watch:
    """One worker's fakes and engine, seen from the outside; one per scenario (the `watch` fixture)."""

    def __init__(self, engine: Engine, servers: Servers) -> None:
        self.engine = engine
        self.servers = servers
        self.admin: dict[Side, Http] = {"qbo": Http(servers.qbo_url + "/_sim"),
                                        "canopy": Http(servers.canopy_url + "/_sim")}
        self.paused: set[Side] = set()
        self.engine_clock_moved = False

    # -- webhooks ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Send what both fakes hold now and wait for the engine's answers."""
        for side in ("qbo", "canopy"):
            ok_json(self.admin[side].post("/webhooks/flush"), 200)  # type: ignore[index]

    def pause(self, side: Side) -> None:
        """Hold one fake's webhooks back (server-wide on this worker's fake; `close` resumes)."""
        ok_json(self.admin[side].post("/webhooks/pause"), 200)
        self.paused.add(side)

    def resume(self, side: Side) -> None:
        ok_json(self.admin[side].post("/webhooks/resume"), 200)
        self.paused.discard(side)

    def outbox(self, tenant: Tenant, side: Side) -> dict[str, int]:
        """The counts of one fake's webhook outbox for this tenant (its realm or its firm)."""
        ident = tenant.realm_id if side == "qbo" else tenant.firm_id
        return ok_json(self.admin[side].get("/webhooks", params={"tenant": ident, "limit": "0"}), 200)["counts"]

    # -- the engine -------------------------------------------------------------------------
    def status(self, tenant: Tenant) -> dict[str, Any]:
        return self.engine.status(tenant.admin).expect(200).body

    def pending(self, tenant: Tenant) -> int:
        return int((self.status(tenant).get("sync") or {}).get("pending") or 0)

    def log(self, tenant: Tenant) -> list[dict[str, Any]]:
        """The whole sync log (`GET /integration/log`), oldest first."""
        out: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"before": before} if before else {})}
            body = self.engine.get(tenant.admin, "/integration/log", **params).expect(200).body
            out += body["entries"]
            before = body.get("next_before")
            if not before:
                return list(reversed(out))

    def reconcile(self, tenant: Tenant) -> dict[str, Any]:
        """`POST /integration/reconcile`: QBO CDC and Canopy's change feed into the inbox now."""
        return self.engine.post(tenant.admin, "/integration/reconcile").expect(200).body

    # -- waiting ----------------------------------------------------------------------------
    def idle(self, tenant: Tenant) -> str | None:
        """Why the sync is not at rest for this tenant (None when it is): events in the engine's
        inbox, or webhooks a fake still holds for the tenant."""
        pending = self.pending(tenant)
        if pending:
            return f"the engine's inbox holds {pending} events"
        for side in ("qbo", "canopy"):
            counts = self.outbox(tenant, side)  # type: ignore[arg-type]
            waiting = {k: counts[k] for k in ("pending_events", "queued", "retrying") if counts.get(k)}
            if waiting and side not in self.paused:
                return f"the fake {side.upper()} still holds webhooks for the tenant: {waiting}"
        return None

    def wait_until(self, tenant: Tenant, check: Callable[[], Any], what: str, *, timeout: float = WAIT_S,
                   idle: bool = True, reconcile: bool = False) -> Any:
        """Flush both fakes' webhooks (and reconcile, if asked) and poll until `check()` answers
        something truthy without raising `AssertionError` (with `idle`, only once the sync is at
        rest for the tenant). Answers what `check` answered; after `timeout` seconds, fails with
        `what`, the check's last complaint, the engine's status and its sync log."""
        started = time.monotonic()
        complaint = "not checked yet"
        while True:
            self.flush()
            if reconcile:
                self.reconcile(tenant)
            busy = self.idle(tenant) if idle else None
            if busy is None:
                try:
                    got = check()
                except AssertionError as exc:
                    complaint = str(exc) or repr(exc)
                else:
                    if got:
                        return got
                    complaint = f"the check answered {got!r}"
            else:
                complaint = busy
            if time.monotonic() - started > timeout:
                raise AssertionError(self.explain(tenant, f"{what}: still not so after {timeout:.0f} s", complaint))
            time.sleep(POLL_S)

    def settle(self, tenant: Tenant, *, timeout: float = WAIT_S, reconcile: bool = False) -> None:
        """Until the engine has applied everything both fakes had to say about the tenant."""
        self.wait_until(tenant, lambda: True, "the sync settles", timeout=timeout, reconcile=reconcile)

    def explain(self, tenant: Tenant, headline: str, complaint: str = "") -> str:
        """A failure message: what was waited for, why it is not so, and what the engine says."""
        lines = [headline]
        if complaint:
            lines.append(f"last check: {complaint}")
        try:
            status = self.status(tenant)
            lines.append(f"engine status: step={status.get('step')} connection={status.get('connection')} "
                         f"sync={status.get('sync')}")
            entries = self.log(tenant)
            lines.append(f"sync log ({len(entries)} entries; the last {min(LOG_TAIL, len(entries))}, oldest first):")
            lines += ["  " + log_line(e) for e in entries[-LOG_TAIL:]]
        except Exception as exc:  # noqa: BLE001 -- the message must come out whatever the engine does
            lines.append(f"(the engine's status and log could not be read: {exc})")
        for side in ("qbo", "canopy"):
            try:
                counts = self.outbox(tenant, side)  # type: ignore[arg-type]
                lines.append(f"fake {side.upper()} webhooks for the tenant: {counts}")
            except Exception as exc:  # noqa: BLE001
                lines.append(f"fake {side.upper()} webhooks: unreadable ({exc})")
        try:
            lines.append("clocks: " + ", ".join(f"{k} {v}" for k, v in self.clocks(tenant).items()))
        except Exception as exc:  # noqa: BLE001
            lines.append(f"clocks: unreadable ({exc})")
        return "\n".join(lines)

    def clocks(self, tenant: Tenant) -> dict[str, str]:
        """What each clock says now: the QBO company's, the Canopy firm's and the engine's."""
        def fake(side: Side, ident: str) -> str:
            return ok_json(self.admin[side].get("/clock", params={"tenant": ident}), 200)["now"]

        return {"QBO company": fake("qbo", tenant.realm_id), "Canopy firm": fake("canopy", tenant.firm_id),
                "engine": ok_json(self.engine.browser.post("/_engine/clock", {}), 200)["now"]}

    # -- clocks -----------------------------------------------------------------------------
    def advance_tenant_clocks(self, tenant: Tenant, seconds: float, canopy: bool = True) -> None:
        """Move the QBO company's clock (and the Canopy firm's) by `seconds`, each on its own
        (never the server's: other scenarios of the worker keep real time)."""
        ok_json(self.admin["qbo"].post("/clock", {"tenant": tenant.realm_id, "advance_seconds": seconds}), 200)
        if canopy:
            ok_json(self.admin["canopy"].post("/clock", {"tenant": tenant.firm_id, "advance_seconds": seconds}), 200)

    def advance_engine_clock(self, seconds: float) -> str:
        """`POST /_engine/clock` (the engine runs with `--clock-control`); `close` puts it back."""
        self.engine_clock_moved = True
        return ok_json(self.engine.browser.post("/_engine/clock", {"advance_seconds": seconds}), 200)["now"]

    def align_engine_clock(self) -> None:
        self.restore_engine_clock()

    def restore_engine_clock(self) -> None:
        """Back in step with the fakes' server clock (real time, unless a scenario of another
        domain moved every clock of the worker together: then with that)."""
        now = ok_json(self.admin["canopy"].get("/clock"), 200)["now"]
        ok_json(self.engine.browser.post("/_engine/clock", {"set": now}), 200)
        self.engine_clock_moved = False

    def close(self) -> None:
        """Undo what outlives a scenario: paused webhooks, a moved engine clock."""
        for side in sorted(self.paused):
            self.resume(side)  # type: ignore[arg-type]
        if self.engine_clock_moved:
            self.restore_engine_clock()
