"""The ongoing sync's intake: QBO and Canopy webhooks, verified, parsed and queued.

    POST /webhooks/qbo                  signed `intuit-signature` (the app's verifier token)
    POST /webhooks/canopy/{firm_id}     signed `Canopy-Signature` (the firm's subscription secret)

A receiver checks the signature, turns the body into `IncomingEvent`s and writes them in
ONE transaction (`Store.add_inbox_of_realms`, `Store.add_inbox_of_firm`: a Canopy delivery
is checked under its connection's row lock, against the secret and state of that moment),
then answers 200 `{"stored": n}`. It calls nothing upstream and applies nothing: the worker does that from
the inbox (`engine.wake()` only tells an in-process worker that there is work). A delivery
that is not authentic is 401 and stores nothing; a body that is not JSON (or not the
sender's envelope) behind a good signature is 400.

The parsing functions here are the only ones: reconciliation (`engine.sync.reconcile`) turns
QBO CDC rows and Canopy change-feed events into events through `qbo_event` and
`canopy_event` too, so an event looks the same whichever way it came:

QBO (`source="qbo"`): `record_kind` is the entity name as QBO spells it (`Customer`, `Item`,
`Invoice`, `Vendor`, ...), `record_id` its `Id`, `payload`
`{"operation": "Create|Update|Delete|Merge|Void|Emailed", "lastUpdated": "<UTC ISO, ms, Z>"}`
plus `"deletedId"` when QBO sent one (a Merge: the customer that disappeared).

Canopy (`source="canopy"`): `record_kind` is the feed's `resource_type` (`client`,
`contact`, `service_item`, `invoice`, `payment`), `record_id` its `resource_id`, `payload`
the change-feed event itself (`id`, `sequence`, `type`, `resource_type`, `resource_id`,
`occurred_at`, `data`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from engine.service import ApiError
from engine.store import IncomingEvent
from engine.web import ENGINE, reply

from .signatures import MISSING_SIGNATURE, verify_canopy, verify_qbo

log = logging.getLogger("engine.sync.receivers")

QBO = "qbo"
CANOPY = "canopy"
QBO_SIGNATURE_HEADER = "intuit-signature"
CANOPY_SIGNATURE_HEADER = "Canopy-Signature"
CANOPY_TIMESTAMP_HEADER = "Canopy-Timestamp"
CANOPY_TOLERANCE_S = 300.0
"""How far a Canopy delivery's signed time stamp may be from the engine clock, either way."""

QBO_ENTITIES = (
    "Account", "Attachable", "Bill", "BillPayment", "Budget", "Class", "CompanyCurrency", "CompanyInfo",
    "CreditCardPayment", "CreditMemo", "Currency", "Customer", "CustomerType", "Department", "Deposit",
    "Employee", "Estimate", "ExchangeRate", "Invoice", "Item", "JournalCode", "JournalEntry", "Payment",
    "PaymentMethod", "Preferences", "Purchase", "PurchaseOrder", "RecurringTransaction", "RefundReceipt",
    "SalesReceipt", "TaxAgency", "TaxCode", "TaxRate", "Term", "TimeActivity", "Transfer", "Vendor",
    "VendorCredit",
)
_ENTITY_BY_LOWER = {name.lower(): name for name in QBO_ENTITIES}
CLOUD_OPERATIONS = {"created": "Create", "updated": "Update", "deleted": "Delete", "merged": "Merge",
                    "voided": "Void", "emailed": "Emailed"}
"""CloudEvents verbs (`qbo.customer.merged.v1`) -> the classic format's `operation`."""


# -- parsing (pure; shared with reconciliation) -----------------------------------------------

def qbo_entity_name(name: str) -> str:
    """QBO's spelling of an entity name (`customer` -> `Customer`, `billpayment` -> `BillPayment`)."""
    known = _ENTITY_BY_LOWER.get(name.lower())
    return known if known is not None else name[:1].upper() + name[1:]


def utc_iso(value: Any) -> str | None:
    """A QBO time (`2025-09-08T20:52:31.657Z`, `2025-09-08T12:52:31-08:00`) as UTC with
    milliseconds and `Z`, so webhook and CDC times compare as text; None stays None and an
    unreadable value is kept as it came."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def qbo_event(entity: str, record_id: Any, operation: str, last_updated: Any,
              deleted_id: Any = None) -> IncomingEvent:
    """THE shape of a QBO change in the inbox, from a webhook or from CDC."""
    if not entity or record_id is None or str(record_id) == "":
        raise ValueError("a QBO change needs an entity name and an Id")
    payload: dict[str, Any] = {"operation": operation, "lastUpdated": utc_iso(last_updated)}
    if deleted_id is not None and str(deleted_id) != "":
        payload["deletedId"] = str(deleted_id)
    return IncomingEvent(QBO, qbo_entity_name(entity), str(record_id), payload)


def qbo_cdc_event(entity: str, row: dict[str, Any]) -> IncomingEvent:
    """A CDC row as an inbox event. CDC says what a record is now, not what happened: a
    `status: "Deleted"` stub is `Delete`, a row whose `CreateTime` equals its
    `LastUpdatedTime` is `Create`, anything else (deactivation included) `Update`."""
    meta = row.get("MetaData") if isinstance(row.get("MetaData"), dict) else {}
    last = meta.get("LastUpdatedTime")
    if str(row.get("status", "")).lower() == "deleted":
        operation = "Delete"
    elif meta.get("CreateTime") is not None and meta.get("CreateTime") == last:
        operation = "Create"
    else:
        operation = "Update"
    return qbo_event(entity, row.get("Id"), operation, last)


def _classic_entities(note: Any) -> Iterable[tuple[str, IncomingEvent]]:
    if not isinstance(note, dict) or not isinstance(note.get("realmId"), (str, int)):
        log.warning("QBO webhook: skipped a notification without a realmId")
        return
    realm = str(note["realmId"])
    change = note.get("dataChangeEvent")
    entities = change.get("entities") if isinstance(change, dict) else None
    for e in entities if isinstance(entities, list) else []:
        try:
            if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e.get("operation"):
                raise ValueError("not an entity change")
            yield realm, qbo_event(e["name"], e.get("id"), str(e["operation"]), e.get("lastUpdated"),
                                   e.get("deletedId"))
        except ValueError as exc:
            log.warning("QBO webhook: skipped an entity of realm %s (%s): %r", realm, exc, e)


def _cloud_event(e: Any) -> tuple[str, IncomingEvent] | None:
    try:
        if not isinstance(e, dict):
            raise TypeError("not an object")
        parts = str(e.get("type", "")).split(".")
        if len(parts) < 3 or parts[0] != "qbo":
            raise ValueError(f"type {e.get('type')!r} is not qbo.<entity>.<verb>[.v1]")
        realm = e.get("intuitaccountid")
        if realm is None or str(realm) == "":
            raise ValueError("no intuitaccountid")
        data = e.get("data") if isinstance(e.get("data"), dict) else {}
        deleted = data.get("deletedid", data.get("deletedId"))
        verb = parts[2]
        return str(realm), qbo_event(parts[1], e.get("intuitentityid"), CLOUD_OPERATIONS.get(verb, verb.title()),
                                     e.get("time"), deleted)
    except (TypeError, ValueError) as exc:
        log.warning("QBO webhook: skipped a CloudEvent (%s): %r", exc, e)
        return None


def qbo_webhook_events(body: Any) -> dict[str, list[IncomingEvent]]:
    """A QBO webhook body, classic (`{"eventNotifications": [...]}`) or CloudEvents (a JSON
    array), as events per realm, in the order they came. One malformed entity is skipped
    (reconciliation will find its change); a body of neither shape is a `TypeError`."""
    out: dict[str, list[IncomingEvent]] = {}
    if isinstance(body, dict) and isinstance(body.get("eventNotifications"), list):
        for note in body["eventNotifications"]:
            for realm, event in _classic_entities(note):
                out.setdefault(realm, []).append(event)
    elif isinstance(body, list):
        for e in body:
            found = _cloud_event(e)
            if found is not None:
                out.setdefault(found[0], []).append(found[1])
    else:
        raise TypeError("expected {\"eventNotifications\": [...]} or a CloudEvents array")
    return out


def _plain(value: Any) -> Any:
    """JSON-safe as the inbox stores it: Decimals (the clients read numbers as Decimal) as the
    floats `json.loads` would give, so a webhook and the feed give equal payloads."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def canopy_event(event: Any) -> IncomingEvent:
    """THE shape of a Canopy change in the inbox: a change-feed event, from a webhook or the feed."""
    if not isinstance(event, dict):
        raise TypeError("a Canopy change is an object")
    kind, rid = event.get("resource_type"), event.get("resource_id")
    if not isinstance(kind, str) or not kind or rid is None or str(rid) == "":
        raise ValueError("a Canopy change needs resource_type and resource_id")
    return IncomingEvent(CANOPY, kind, str(rid), _plain(event))


def canopy_events(events: Iterable[Any]) -> list[IncomingEvent]:
    """Feed events as inbox events; a malformed one is skipped with a warning."""
    out: list[IncomingEvent] = []
    for e in events:
        try:
            out.append(canopy_event(e))
        except (TypeError, ValueError) as exc:
            log.warning("Canopy change skipped (%s): %r", exc, e)
    return out


def canopy_webhook_events(body: Any) -> list[IncomingEvent]:
    """A Canopy webhook body `{"events": [<feed event>, ...]}`; any other shape is a `TypeError`."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise TypeError('expected {"events": [...]}')
    return canopy_events(body["events"])


# -- routes --------------------------------------------------------------------------------

def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
        raise ApiError(400, "bad_request", "the body is not JSON") from exc


def _unauthorized(reason: str, message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, reason=reason)


async def qbo_webhook(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    raw = await request.read()
    token = engine.config.qbo_verifier_token
    signature = request.headers.get(QBO_SIGNATURE_HEADER)
    if not token:
        raise _unauthorized("no_verifier_token", "the engine has no QBO verifier token configured "
                                                 "(--qbo-verifier-token), so it cannot verify QBO webhooks")
    if not verify_qbo(raw, signature, token):
        reason = MISSING_SIGNATURE if not signature else "bad_signature"
        raise _unauthorized(reason, f"the {QBO_SIGNATURE_HEADER} header does not sign this body")
    try:
        by_realm = qbo_webhook_events(_json(raw))
    except TypeError as exc:
        raise ApiError(400, "bad_request", f"not a QBO webhook body: {exc}") from exc
    stored = 0
    if by_realm:
        stored, known = await engine.store.call(engine.store.add_inbox_of_realms, by_realm, engine.clock.now())
        if stored:
            engine.wake()
        unknown = set(by_realm) - known
        if unknown:
            log.info("QBO webhook: ignored events of realms with no connection: %s", ", ".join(sorted(unknown)))
    return reply({"stored": stored})


async def canopy_webhook(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    firm_id = request.match_info["firm_id"]
    raw = await request.read()
    signature = request.headers.get(CANOPY_SIGNATURE_HEADER)
    stamp = request.headers.get(CANOPY_TIMESTAMP_HEADER)
    now = engine.clock.now()

    def accept(state: str, secret: str | None) -> list[IncomingEvent]:
        """Under the connection's lock: the delivery checked against the secret it holds now."""
        if not secret:
            raise _unauthorized("no_webhook_secret", f"firm {firm_id} has no webhook subscription secret here")
        reason = verify_canopy(raw, signature, stamp, secret, now.timestamp(), CANOPY_TOLERANCE_S)
        if reason is not None:
            raise _unauthorized(reason, f"the {CANOPY_SIGNATURE_HEADER} of this delivery is not acceptable: {reason}")
        try:
            events = canopy_webhook_events(_json(raw))
        except TypeError as exc:
            raise ApiError(400, "bad_request", f"not a Canopy webhook body: {exc}") from exc
        return [] if state == "disconnected" else events

    stored = await engine.store.call(engine.store.add_inbox_of_firm, firm_id, now, accept)
    if stored is None:
        raise ApiError(404, "not_found", f"firm {firm_id} has no connection here")
    if stored:
        engine.wake()
    return reply({"stored": stored})


def add_routes(app: web.Application, *, reconcile_every: float | None = None) -> None:
    """Mount the webhook receivers and `POST /integration/reconcile`.

    With `reconcile_every` (seconds of the engine clock), also run a `Reconciler` for the
    app's lifetime; call this after the app's engine lifecycle is in `cleanup_ctx`, so the
    engine exists when the reconciler starts and is still there when it stops.
    """
    from engine.sync import reconcile  # it imports this module's parsers

    app.router.add_post("/webhooks/qbo", qbo_webhook)
    app.router.add_post("/webhooks/canopy/{firm_id}", canopy_webhook)
    app.router.add_post("/integration/reconcile", reconcile.reconcile_route)
    if reconcile_every is not None:
        app.cleanup_ctx.append(reconcile.reconciler_ctx(reconcile_every))
