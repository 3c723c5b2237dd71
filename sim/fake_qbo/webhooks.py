"""QBO's webhooks: who hears about a change, and what the POST looks like.

Every app with a webhook URL and a live grant on the realm hears about the
entities it subscribed to (all by default), in the app's chosen format:
the classic `eventNotifications` envelope or the CloudEvents array Intuit
is moving to. Both are signed with `intuit-signature`: base64 of
HMAC-SHA256 over the raw body, keyed by the app's verifier token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import timezone
from typing import Any

from sim.core import jsonutil
from sim.core.context import SimContext
from sim.core.webhooks import Delivery

from . import oauth, tenancy

OPERATIONS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged",
              "Void": "voided", "Emailed": "emailed"}


def sign(verifier_token: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def _listeners(ctx: SimContext, realm: str, entity: str) -> list[dict[str, Any]]:
    apps: dict[str, dict[str, Any]] = {}
    for grant in ctx.server.find("Grant", key=realm):
        data = grant.data
        if data["revoked"] or oauth.ACCOUNTING not in data["scopes"] or data["client_id"] in apps:
            continue
        app = tenancy.get_app(ctx, data["client_id"])
        if app and app.get("webhook_url"):
            wanted = app.get("webhook_entities")
            if not wanted or entity in wanted:
                apps[data["client_id"]] = app
    return list(apps.values())


def notify(ctx: SimContext, realm: str, entity: str, id: str, operation: str,
           deleted_id: str | None = None) -> None:
    """Queue a change for every listening app, once the current write commits."""
    if ctx.outbox is None:
        return
    when = ctx.clock(realm).now()
    event: dict[str, Any] = {"name": entity, "id": id, "operation": operation,
                             "lastUpdated": when.astimezone(timezone.utc).isoformat(
                                 timespec="milliseconds").replace("+00:00", "Z")}
    if deleted_id is not None:
        event["deletedId"] = deleted_id
    outbox = ctx.outbox
    for app in _listeners(ctx, realm, entity):
        url, client_id = app["webhook_url"], app["client_id"]
        ctx.store.after_commit(lambda c=client_id, u=url: outbox.emit(f"app:{c}", u, realm, dict(event)))


def renderer(ctx: SimContext):
    """The outbox's `render`: body in the app's format, signed with its verifier token."""
    def render(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        client_id = delivery.subscriber.removeprefix("app:")
        app = tenancy.get_app(ctx, client_id) or {}
        entities = [e.payload for e in delivery.events]
        if app.get("webhook_format") == "cloudevents":
            body = jsonutil.dumps([_cloud_event(delivery.tenant, e, delivery.id, i)
                                   for i, e in enumerate(entities)]).encode()
            content_type = "application/cloudevents-batch+json"
        else:
            body = jsonutil.dumps({"eventNotifications": [
                {"realmId": delivery.tenant, "dataChangeEvent": {"entities": entities}}]}).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type, "User-Agent": "fake-qbo-webhooks"}
        token = app.get("verifier_token")
        if token:
            headers["intuit-signature"] = sign(token, body)
        return body, headers
    return render


def _cloud_event(realm: str, e: dict[str, Any], delivery_id: int, index: int) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{realm}/{e['name']}/{e['id']}/{e['lastUpdated']}/{delivery_id}/{index}")),
        "source": f"intuit.{hashlib.sha256(realm.encode()).hexdigest()[:16]}",
        "type": f"qbo.{e['name'].lower()}.{OPERATIONS.get(e['operation'], e['operation'].lower())}.v1",
        "datacontenttype": "application/json",
        "time": e["lastUpdated"].replace(".000Z", "Z") if e["lastUpdated"].endswith(".000Z") else e["lastUpdated"],
        "intuitentityid": e["id"], "intuitaccountid": realm, "data": {}}
    if "deletedId" in e:
        event["data"] = {"deletedid": e["deletedId"]}
    return event


