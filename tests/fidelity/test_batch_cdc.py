"""Batch and change data capture through python-quickbooks' own helpers."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from quickbooks.batch import batch_create, batch_delete, batch_update
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from .entities import customer, invoice, sales_line, service_item


def test_batch_create_reports_each_item_on_its_own(qb, uniq):
    good = [customer(f"{uniq} batch {i}") for i in range(3)]
    clash = customer(f"{uniq} batch 1")  # the same name as an item created in this batch
    result = batch_create([*good, clash], qb=qb)
    assert sorted(c.DisplayName for c in result.successes) == sorted(c.DisplayName for c in good)
    assert all(c.Id and c.SyncToken == "0" for c in result.successes)
    assert len(result.faults) == 1
    assert result.faults[0].Error[0].code == "6240"
    assert result.faults[0].original_object is clash


def test_batch_update_and_a_stale_item(qb, uniq):
    made = [customer(f"{uniq} up {i}").save(qb=qb) for i in range(2)]
    for c in made:
        c.CompanyName = "Changed Inc"
    made[1].SyncToken = "7"
    result = batch_update(made, qb=qb)
    assert [c.CompanyName for c in result.successes] == ["Changed Inc"]
    assert result.successes[0].SyncToken == "1"
    assert [f.Error[0].code for f in result.faults] == ["5010"]


def test_batch_delete_of_invoices(qb, uniq):
    buyer = customer(uniq + " buyer").save(qb=qb)
    item = service_item(qb, uniq + " svc").save(qb=qb)
    invoices = [invoice(buyer, sales_line(item, 50, qty=1, price=50)).save(qb=qb) for _ in range(2)]
    result = batch_delete(invoices, qb=qb)
    assert not result.faults
    assert Invoice.count("Id IN ('%s', '%s')" % (invoices[0].Id, invoices[1].Id), qb=qb) == 0


@pytest.mark.fake_only
def test_more_than_30_items_is_refused_whole(qb, uniq):
    body = {"BatchItemRequest": [{"bId": str(i), "operation": "create", "Customer": {"DisplayName": f"{uniq} {i}"}}
                                 for i in range(31)]}
    with pytest.raises(QuickbooksException) as err:
        qb.batch_operation(__import__("json").dumps(body))
    assert err.value.error_code == 6000
    assert Customer.count(f"DisplayName LIKE '{uniq}%'", qb=qb) == 0


@pytest.mark.fake_only
def test_batch_queries_and_mixed_items(qb, uniq):
    made = customer(uniq + " mixed").save(qb=qb)
    body = {"BatchItemRequest": [
        {"bId": "q", "Query": f"select * from Customer where DisplayName = '{uniq} mixed'"},
        {"bId": "c", "operation": "create", "Customer": {"DisplayName": uniq + " second"}},
        {"bId": "bad", "operation": "create", "Customer": {}}]}
    out = {r["bId"]: r for r in qb.batch_operation(__import__("json").dumps(body))["BatchItemResponse"]}
    assert out["q"]["QueryResponse"]["Customer"][0]["Id"] == made.Id
    assert out["c"]["Customer"]["DisplayName"] == uniq + " second"
    assert out["bad"]["Fault"]["Error"][0]["code"] == "2020"


@pytest.mark.fake_only
def test_cdc_sees_creates_updates_deactivations_and_deletes(qb, uniq, clock):
    clock(freeze=True)
    start = datetime.fromisoformat(clock()["now"].replace("Z", "+00:00"))
    buyer = customer(uniq + " cdc").save(qb=qb)
    item = service_item(qb, uniq + " cdc item").save(qb=qb)
    inv = invoice(buyer, sales_line(item, 10, qty=1, price=10)).save(qb=qb)
    clock(advance_seconds=60)
    buyer.CompanyName = "Updated"
    buyer.save(qb=qb)
    item.Active = False
    item.save(qb=qb)
    inv.delete(qb=qb)
    since = (start - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S%z")
    since = since[:-2] + ":" + since[-2:]
    result = change_data_capture([Customer, Item, Invoice], since, qb=qb)
    customers = {c.Id: c for c in result.Customer}
    assert customers[buyer.Id].CompanyName == "Updated"
    items = {i.Id: i for i in result.Item}
    assert items[item.Id].Active is False
    invoices = {i.Id: i for i in result.Invoice}
    assert invoices[inv.Id].status == "Deleted"


@pytest.mark.fake_only
def test_cdc_since_now_is_empty_and_30_days_back_is_refused(qb, uniq, clock):
    clock(freeze=True)
    customer(uniq + " old").save(qb=qb)
    clock(advance_seconds=10)
    now = clock()["now"].replace("Z", "+00:00")
    result = change_data_capture([Customer], now, qb=qb)
    assert getattr(result, "Customer", []) == []
    too_old = (datetime.fromisoformat(now) - timedelta(days=31)).isoformat()
    with pytest.raises(QuickbooksException) as err:
        change_data_capture([Customer], too_old, qb=qb)
    assert "older than fixed days" in err.value.detail


@pytest.mark.fake_only
def test_cdc_answers_the_oldest_1000_so_the_caller_can_advance(qb, conn, uniq, clock, qbo_tenant):
    clock(freeze=True)
    start = clock()["now"]
    qbo_tenant.admin.post(f"/companies/{conn.realm}/seed",
                          {"Customer": [{"DisplayName": f"{uniq} early {i}"} for i in range(600)]}, expect=201)
    clock(advance_seconds=5)
    qbo_tenant.admin.post(f"/companies/{conn.realm}/seed",
                          {"Customer": [{"DisplayName": f"{uniq} late {i}"} for i in range(600)]}, expect=201)
    first = change_data_capture([Customer], start.replace("Z", "+00:00"), qb=qb).Customer
    assert len(first) == 1000
    assert sum(c.DisplayName.startswith(f"{uniq} early") for c in first) == 600, "the oldest changes come first"
    last_seen = max(c.MetaData["LastUpdatedTime"] for c in first)
    rest = change_data_capture([Customer], last_seen, qb=qb).Customer
    assert {c.DisplayName for c in rest} == {f"{uniq} late {i}" for i in range(600)}
