"""Canopy's webhooks: subscriptions per firm, signed deliveries of change-feed events.

A subscription (URL, secret, event types such as `client.created` or `*`)
is created through the public API by an integration (or a member with
Manage Integrations). Every change-feed event whose type it wants is queued
on the shared outbox after the write commits. A delivery's body is
`{"events": [<feed event>, ...]}`; it is signed over the timestamp and the
body so a receiver can reject replays:

    Canopy-Timestamp: <unix seconds, firm clock>
    Canopy-Signature: t=<same>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from sim.core import jsonutil
from sim.core.context import SIM, SimContext
from sim.core.http import json_response
from sim.core.store import Rec
from sim.core.webhooks import Delivery

from . import firms, gates
from .auth import PREFIX, principal_of
from .errors import not_found, validation, invalid

ENTITY = "webhook"
RETRY_SCHEDULE = (5.0, 30.0, 120.0, 600.0, 3600.0)
"""Seconds before each retry of a failed delivery; the last repeats."""
EVENT_KINDS = ("created", "updated", "archived", "unarchived", "deleted")
RESOURCES = ("client", "contact", "service_item", "invoice", "payment")
routes = web.RouteTableDef()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def wants(types: list[str], event_type: str) -> bool:
    resource = event_type.split(".", 1)[0]
    return "*" in types or event_type in types or f"{resource}.*" in types


def subscriptions(ctx: SimContext, firm_id: str) -> list[Rec]:
    return ctx.tenant(firm_id).find(ENTITY)


def notify(ctx: SimContext, firm_id: str, event: dict[str, Any], subs: list[Rec] | None = None) -> None:
    """Queue a feed event for each subscription that wants it, once the write commits.

    `subs`: the firm's subscriptions when the caller already has them (they
    cannot change within one request's write)."""
    if ctx.outbox is None:
        return
    if subs is None:
        subs = subscriptions(ctx, firm_id)
    if not subs:
        return
    event_type = f"{event['resource_type']}.{event['type']}"
    outbox = ctx.outbox
    for sub in subs:
        if wants(sub.data["event_types"], event_type):
            ctx.store.after_commit(
                lambda s=sub.id, u=sub.data["url"]: outbox.emit(f"sub:{s}", u, firm_id, dict(event)))


def renderer(ctx: SimContext):
    def render(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        sub = ctx.tenant(delivery.tenant).get(ENTITY, delivery.subscriber.removeprefix("sub:"))
        body = jsonutil.dumps({"events": [e.payload for e in delivery.events]}).encode()
        stamp = int(ctx.clock(delivery.tenant).timestamp())
        headers = {"Content-Type": "application/json", "Canopy-Timestamp": str(stamp),
                   "Canopy-Webhook-Id": delivery.subscriber.removeprefix("sub:")}
        if sub is not None:
            headers["Canopy-Signature"] = signature(sub.data["secret"], stamp, body)
        return body, headers
    return render


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "secret"}


def _parse(ctx: SimContext, raw: dict[str, Any]) -> dict[str, Any]:
    spec = raw.get("webhook")
    problems = []
    if not isinstance(spec, dict):
        raise validation([invalid("webhook", 'must be {"url", "event_types", "secret"?}')])
    unknown = set(spec) - {"url", "event_types", "secret"}
    problems += [invalid(f"webhook.{k}", "is not a known field", "unknown_field") for k in sorted(unknown)]
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.append(invalid("webhook.url", "must be an http(s) URL"))
    types = spec.get("event_types", ["*"])
    valid = {"*", *(f"{r}.*" for r in RESOURCES), *(f"{r}.{k}" for r in RESOURCES for k in EVENT_KINDS)}
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t in valid for t in types):
        problems.append(invalid("webhook.event_types", "must be a non-empty list of event types such as "
                                "'client.created', 'invoice.*' or '*'"))
    secret = spec.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        problems.append(invalid("webhook.secret", "must be a string of at least 16 characters"))
    if problems:
        raise validation(problems)
    return {"url": url, "event_types": types, "secret": secret or "whsec_" + ctx.token("webhook-secret", 32)}


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM]


def _principal(request: web.Request):
    p = principal_of(request)
    p.check(gates.Needs(any_permission=(gates.MANAGE_INTEGRATIONS,)))
    return p


@routes.post(PREFIX + "/webhooks")
async def create(request: web.Request) -> web.Response:
    p = _principal(request)
    ctx = _ctx(request)
    try:
        raw = jsonutil.loads(await request.read() or b"{}")
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise validation([invalid("body", "must be a JSON object")])
    fields = _parse(ctx, raw)
    with ctx.store.tx():
        id_ = firms.new_record_id(ctx)
        data = {"id": id_, **fields, "created_at": firms.now_iso(ctx, p.firm_id)}
        ctx.tenant(p.firm_id).insert(Rec(ENTITY, id_, data))
    return json_response({"webhook": data}, status=201)


@routes.get(PREFIX + "/webhooks")
async def list_(request: web.Request) -> web.Response:
    p = _principal(request)
    subs = _ctx(request).tenant(p.firm_id).find(ENTITY)
    return json_response({"webhooks": [_public(s.data) for s in subs]})


@routes.get(PREFIX + "/webhooks/{id}")
async def read(request: web.Request) -> web.Response:
    p = _principal(request)
    sub = _ctx(request).tenant(p.firm_id).get(ENTITY, request.match_info["id"])
    if sub is None:
        raise not_found("webhook", request.match_info["id"])
    return json_response({"webhook": _public(sub.data)})


@routes.delete(PREFIX + "/webhooks/{id}")
async def delete(request: web.Request) -> web.Response:
    p = _principal(request)
    ctx = _ctx(request)
    with ctx.store.tx():
        if not ctx.tenant(p.firm_id).remove(ENTITY, request.match_info["id"]):
            raise not_found("webhook", request.match_info["id"])
    return web.Response(status=204)
