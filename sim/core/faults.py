"""Fault injection: rules that make a fake misbehave on purpose.

A rule matches requests (method, path glob, tenant, entity, operation) and
acts: a service-shaped error (each fake names its own presets), a delay, a
time-out, a reset or dropped connection (before or after the write is
applied), an empty, malformed or truncated body. It fires for the next N
matches, every Nth, or with a seeded probability. Firings are recorded in
the journal. Rules are server state for people and tests, not tenant data:
they are not part of state dumps.
"""
from __future__ import annotations

import asyncio
import fnmatch
import math
import random
import socket
import struct
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from .http import AdminError

FAULT_ID: web.RequestKey[str] = web.RequestKey("fault_id", str)
FAULT_ACTION: web.RequestKey[str] = web.RequestKey("fault_action", str)
ACTIONS = {"error", "delay", "timeout", "reset", "drop_before", "drop_after", "empty", "malformed",
           "truncate"}

Classify = Callable[[web.Request], tuple[str | None, str | None]]
"""(entity, operation) of a request, as the fake understands it."""
ErrorPreset = Callable[[web.Request, dict[str, Any]], web.Response]


@dataclass
class FaultRule:
    id: str
    action: dict[str, Any]
    method: str | None = None
    path: str | None = None
    tenant: str | None = None
    entity: str | None = None
    operation: str | None = None
    times: int | None = None
    every: int | None = None
    probability: float | None = None
    seed: int = 0
    seen: int = 0
    fired: int = 0
    _rng: random.Random = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def matches(self, method: str, path: str, tenant: str | None, entity: str | None,
                operation: str | None) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or fnmatch.fnmatchcase(path, self.path))
                and (self.tenant is None or self.tenant == tenant)
                and (self.entity is None or (entity or "").lower() == self.entity.lower())
                and (self.operation is None or (operation or "").lower() == self.operation.lower()))

    def should_fire(self) -> bool:
        """Count a match and decide whether this one fires."""
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.every is not None and self.seen % self.every:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_rng")
        return {k: v for k, v in out.items() if v is not None}


def parse_rule(rule_id: str, body: dict[str, Any], presets: dict[str, ErrorPreset]) -> FaultRule:
    """Validate an admin request into a rule, with errors that say what is wrong."""
    action = body.get("action")
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        raise AdminError(400, "bad_request", f"'action.type' must be one of {sorted(ACTIONS)}")
    if action["type"] == "error":
        if action.get("error") not in presets and not isinstance(action.get("status"), int):
            raise AdminError(400, "bad_request",
                             f"'action.error' must be one of {sorted(presets)} (or give 'status' and 'body')")
    if action["type"] in ("delay", "timeout"):
        seconds, lognormal = action.get("seconds"), action.get("lognormal")
        if not (_number(seconds) or (isinstance(lognormal, dict) and _number(lognormal.get("mu"))
                                     and _number(lognormal.get("sigma")))):
            raise AdminError(400, "bad_request", "'action.seconds' (or 'action.lognormal': {mu, sigma}) is required")
    fire = {k: body.get(k) for k in ("times", "every", "probability")}
    if fire["times"] is not None and (not isinstance(fire["times"], int) or fire["times"] < 1):
        raise AdminError(400, "bad_request", "'times' must be a positive integer")
    if fire["every"] is not None and (not isinstance(fire["every"], int) or fire["every"] < 1):
        raise AdminError(400, "bad_request", "'every' must be a positive integer")
    if fire["probability"] is not None and not (_number(fire["probability"]) and 0 <= fire["probability"] <= 1):
        raise AdminError(400, "bad_request", "'probability' must be between 0 and 1")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AdminError(400, "bad_request", "'seed' must be an integer")
    for key in ("method", "path", "tenant", "entity", "operation"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise AdminError(400, "bad_request", f"'{key}' must be a string")
    return FaultRule(id=rule_id, action=action, method=body.get("method"), path=body.get("path"),
                     tenant=body.get("tenant"), entity=body.get("entity"), operation=body.get("operation"),
                     times=fire["times"], every=fire["every"],
                     probability=float(fire["probability"]) if fire["probability"] is not None else None,
                     seed=seed)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "as_tuple")


class Faults:
    """The rule list of one server, consulted by its middleware."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._next = 1

    def add(self, body: dict[str, Any], presets: dict[str, ErrorPreset]) -> FaultRule:
        rule = parse_rule(f"fault-{self._next}", body, presets)
        self._next += 1
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, method: str, path: str, tenant: str | None, entity: str | None,
             operation: str | None) -> FaultRule | None:
        for rule in self.rules:
            if not rule.spent and rule.matches(method, path, tenant, entity, operation) and rule.should_fire():
                return rule
        return None


def _seconds(action: dict[str, Any], rng: random.Random) -> float:
    if "lognormal" in action:
        return float(rng.lognormvariate(float(action["lognormal"]["mu"]), float(action["lognormal"]["sigma"])))
    return float(action["seconds"])


def _abort(request: web.Request) -> None:
    """Close the socket with a TCP reset, as a crashed peer or proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class ConnectionDropped(Exception):
    """Raised after a fault closed the connection: nothing more is sent."""


async def apply(rule: FaultRule, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                presets: dict[str, ErrorPreset]) -> web.StreamResponse:
    action = rule.action
    kind = action["type"]
    request[FAULT_ID] = rule.id
    if kind == "error":
        preset = presets.get(action.get("error", ""))
        if preset:
            return preset(request, action)
        return web.json_response(action.get("body", {}), status=int(action["status"]))
    if kind == "delay":
        await asyncio.sleep(_seconds(action, rule._rng))
        return await handler(request)
    if kind == "timeout":
        await asyncio.sleep(_seconds(action, rule._rng))
        _abort(request)
        raise ConnectionDropped(rule.id)
    if kind in ("reset", "drop_before"):
        _abort(request)
        raise ConnectionDropped(rule.id)
    if kind == "empty":
        return web.Response(status=int(action.get("status", 200)), body=b"",
                            content_type="application/json")
    response = await handler(request)
    if kind == "drop_after":
        _abort(request)
        raise ConnectionDropped(rule.id)
    body = getattr(response, "body", None)
    raw = bytes(body) if isinstance(body, (bytes, bytearray)) else b"{}"
    if kind == "truncate":
        cut = raw[: max(1, math.floor(len(raw) / 2))]
    else:  # malformed
        cut = b'{"Fault": <not json>' if raw.startswith(b'{"Fault"') else raw[:-1] + b",}"
    return web.Response(status=response.status, body=cut, content_type=response.content_type or "application/json")
