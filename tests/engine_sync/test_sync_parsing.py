"""One parser per source (pure): webhook bodies, CDC rows and feed events give the same event shapes."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.store import IncomingEvent
from engine.sync.receivers import (
    canopy_event,
    canopy_events,
    canopy_webhook_events,
    qbo_cdc_event,
    qbo_entity_name,
    qbo_webhook_events,
    utc_iso,
)
from sim.fake_qbo.webhooks import _cloud_event

STAMP = "2025-09-08T20:52:31.657Z"


def test_classic_body_one_event_per_entity_change_grouped_by_realm() -> None:
    body = {"eventNotifications": [
        {"realmId": "310687", "dataChangeEvent": {"entities": [
            {"name": "Customer", "id": "58", "operation": "Merge", "lastUpdated": STAMP, "deletedId": "27"},
            {"name": "Invoice", "id": "146", "operation": "Update", "lastUpdated": STAMP}]}},
        {"realmId": "999", "dataChangeEvent": {"entities": [
            {"name": "Item", "id": "3", "operation": "Create", "lastUpdated": STAMP}]}}]}
    assert qbo_webhook_events(body) == {
        "310687": [IncomingEvent("qbo", "Customer", "58", {"operation": "Merge", "lastUpdated": STAMP,
                                                           "deletedId": "27"}),
                   IncomingEvent("qbo", "Invoice", "146", {"operation": "Update", "lastUpdated": STAMP})],
        "999": [IncomingEvent("qbo", "Item", "3", {"operation": "Create", "lastUpdated": STAMP})]}


def test_cloudevents_body_as_the_fake_renders_it_gives_the_classic_events() -> None:
    classic = [{"name": "Customer", "id": "58", "operation": "Merge", "lastUpdated": STAMP, "deletedId": "27"},
               {"name": "BillPayment", "id": "7", "operation": "Delete", "lastUpdated": "2025-09-08T20:52:31.000Z"},
               {"name": "Invoice", "id": "146", "operation": "Void", "lastUpdated": STAMP}]
    cloud = [_cloud_event("310687", e, 1, i) for i, e in enumerate(classic)]
    assert cloud[1]["time"] == "2025-09-08T20:52:31Z" and cloud[0]["type"] == "qbo.customer.merged.v1"
    from_classic = qbo_webhook_events({"eventNotifications": [
        {"realmId": "310687", "dataChangeEvent": {"entities": classic}}]})
    assert qbo_webhook_events(cloud) == from_classic
    assert [e.record_kind for e in from_classic["310687"]] == ["Customer", "BillPayment", "Invoice"]


def test_a_cloudevents_array_may_mix_realms_and_skips_what_it_cannot_read() -> None:
    body = [{"type": "qbo.customer.created.v1", "intuitentityid": "1", "intuitaccountid": "A", "time": STAMP},
            {"type": "qbo.item.updated.v1", "intuitentityid": "2", "intuitaccountid": "B", "time": STAMP,
             "data": {}},
            {"type": "something.else", "intuitentityid": "3", "intuitaccountid": "A"},
            {"type": "qbo.customer.created.v1", "intuitaccountid": "A"},
            {"type": "qbo.customer.created.v1", "intuitentityid": "4"},
            "not an object"]
    out = qbo_webhook_events(body)
    assert {realm: [(e.record_kind, e.record_id, e.payload["operation"]) for e in events]
            for realm, events in out.items()} == {"A": [("Customer", "1", "Create")], "B": [("Item", "2", "Update")]}


def test_malformed_classic_entities_are_skipped_and_other_shapes_refused() -> None:
    body = {"eventNotifications": [
        {"realmId": "1", "dataChangeEvent": {"entities": [{"name": "Customer"}, {"id": "2", "operation": "Create"},
                                                          {"name": "Customer", "id": "3", "operation": "Update"}]}},
        {"dataChangeEvent": {"entities": [{"name": "Customer", "id": "4", "operation": "Create"}]}}]}
    out = qbo_webhook_events(body)
    assert [(e.record_id, e.payload) for e in out["1"]] == [("3", {"operation": "Update", "lastUpdated": None})]
    for bad in ({}, {"eventNotifications": "x"}, "text", 3, None):
        with pytest.raises(TypeError):
            qbo_webhook_events(bad)


def test_cdc_rows_become_the_same_shape() -> None:
    created = {"Id": "58", "SyncToken": "0", "DisplayName": "Acme",
               "MetaData": {"CreateTime": "2025-09-08T13:52:31-07:00", "LastUpdatedTime": "2025-09-08T13:52:31-07:00"}}
    updated = {**created, "SyncToken": "2", "Active": False,
               "MetaData": {"CreateTime": "2025-09-08T13:52:31-07:00", "LastUpdatedTime": "2025-09-09T08:00:00-07:00"}}
    deleted = {"domain": "QBO", "status": "Deleted", "Id": "147",
               "MetaData": {"LastUpdatedTime": "2025-09-08T13:52:31-07:00"}}
    assert qbo_cdc_event("Customer", created) == IncomingEvent(
        "qbo", "Customer", "58", {"operation": "Create", "lastUpdated": "2025-09-08T20:52:31.000Z"})
    assert qbo_cdc_event("Customer", updated).payload == {"operation": "Update",
                                                          "lastUpdated": "2025-09-09T15:00:00.000Z"}
    assert qbo_cdc_event("Invoice", deleted) == IncomingEvent(
        "qbo", "Invoice", "147", {"operation": "Delete", "lastUpdated": "2025-09-08T20:52:31.000Z"})
    with pytest.raises(ValueError):
        qbo_cdc_event("Customer", {"DisplayName": "no id"})


def test_names_and_times() -> None:
    assert [qbo_entity_name(n) for n in ("customer", "billpayment", "Invoice", "SomethingNew", "newThing")] == [
        "Customer", "BillPayment", "Invoice", "SomethingNew", "NewThing"]
    assert utc_iso("2025-09-08T20:52:31Z") == "2025-09-08T20:52:31.000Z"
    assert utc_iso("2025-09-08T20:52:31") == "2025-09-08T20:52:31.000Z"  # no offset: taken as UTC
    assert utc_iso("yesterday") == "yesterday" and utc_iso(None) is None


FEED_EVENT = {"id": "12", "sequence": 12, "type": "created", "resource_type": "service_item", "resource_id": "9001",
              "occurred_at": "2025-01-15T17:00:00Z", "data": {"id": "9001", "name": "Tax prep", "rate": "100.00"}}


def test_canopy_feed_event_and_webhook_body_give_the_same_event() -> None:
    event = canopy_event(FEED_EVENT)
    assert event == IncomingEvent("canopy", "service_item", "9001", FEED_EVENT)
    assert canopy_webhook_events({"events": [FEED_EVENT]}) == [event]
    # The API client reads numbers as Decimal; the inbox stores what json.loads would have given.
    with_decimal = {**FEED_EVENT, "data": {**FEED_EVENT["data"], "hours": Decimal("1.5")}}
    assert canopy_event(with_decimal).payload["data"]["hours"] == 1.5


def test_canopy_malformed_events_are_skipped_and_other_bodies_refused() -> None:
    assert canopy_events([{"resource_type": "client"}, "x", {"resource_id": "1"}, FEED_EVENT]) == [
        canopy_event(FEED_EVENT)]
    for bad in ({}, {"events": {}}, [], "x"):
        with pytest.raises(TypeError):
            canopy_webhook_events(bad)
