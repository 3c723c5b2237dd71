"""The canonical projection of R21 (features/harness/faults.py `canonical_projection`), on
hand-made dumps: what it keeps, what it leaves out, how references become names."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from features.harness.faults import (
    ProjectionError,
    canonical_projection,
    duplicates,
    projection_difference,
)


def rec(id: str, data: dict[str, Any], *, version: int = 0, deleted: bool = False) -> dict[str, Any]:
    return {"id": id, "version": version, "active": True, "deleted": deleted, "changed_at": 1795642132.5 + version,
            "data": data}


def qbo_dump(customer_id: str = "7", item_id: str = "3", account_id: str = "1", sync: str = "0",
             when: str = "2026-11-25T13:28:52-08:00", customer_name: str = "Emily Hart") -> dict[str, Any]:
    meta = {"CreateTime": when, "LastUpdatedTime": when}
    return {"kind": "qbo", "tenants": {"9130": {"kind": "qbo", "name": "Books [t1]", "created_at": 1.0, "data": {},
                                                "counters": {"name": 9}, "records": {
        "CompanyInfo": [rec("1", {"CompanyName": "Books [t1]", "Email": {"Address": "a+123@example.com"}})],
        "Account": [rec(account_id, {"Id": account_id, "Name": "Services", "AccountType": "Income",
                                     "SyncToken": sync, "MetaData": meta})],
        "Customer": [rec(customer_id, {"Id": customer_id, "DisplayName": customer_name, "SyncToken": sync,
                                       "PrimaryEmailAddr": {"Address": "emily@example.com"}, "MetaData": meta})],
        "Item": [rec(item_id, {"Id": item_id, "Name": "Great Planning", "UnitPrice": 1875.0, "Type": "Service",
                               "IncomeAccountRef": {"value": account_id, "name": "Services"}, "SyncToken": sync,
                               "MetaData": meta})],
        "Invoice": [rec("11", {"Id": "11", "DocNumber": "F-2001", "TxnDate": "2024-02-01",
                               "CustomerRef": {"value": customer_id, "name": "stale copy of a name"},
                               "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                               "Line": [{"Id": "1", "LineNum": 1, "Amount": 450.0, "DetailType": "SalesItemLineDetail",
                                         "SalesItemLineDetail": {"ItemRef": {"value": item_id, "name": "x"},
                                                                 "Qty": 3, "UnitPrice": 150.0}}],
                               "LinkedTxn": [{"TxnId": "12", "TxnType": "Payment"}],
                               "SyncToken": sync, "MetaData": meta})],
        "Payment": [rec("12", {"Id": "12", "DocNumber": "P-1", "TotalAmt": 450.0})],
        "_Request": [rec("e3f0", {"status": 200, "text": "{}"})],
    }}}}


def canopy_dump(client_id: str = "100002", item_id: str = "100019", invoice_id: str = "100026",
                at: str = "2026-11-25T21:28:52.568Z", version: int = 1, qbo_account: str = "1") -> dict[str, Any]:
    return {"kind": "canopy", "tenants": {"100001": {"records": {
        "client": [rec(client_id, {"id": client_id, "display_name": "Emily Hart", "is_business": False,
                                   "primary_contact": {"id": "100003", "display_name": "Emily Hart"},
                                   "external_id": None, "archived_at": None, "created_at": at, "updated_at": at},
                       version=version)],
        "contact": [rec("100003", {"id": "100003", "client_id": client_id, "display_name": "Emily Hart",
                                   "created_at": at, "updated_at": at}, version=version)],
        "service_item": [rec(item_id, {"id": item_id, "name": "Great Planning", "rate": "1875.00",
                                       "qbo_income_account_ref": qbo_account, "qbo_category_ref": None,
                                       "updated_at": at}, version=version)],
        "invoice": [rec(invoice_id, {"id": invoice_id, "client_id": client_id, "number": "F-2001",
                                     "issue_date": "2024-02-01",
                                     "lines": [{"id": "1", "service_item_id": item_id, "quantity": "3"}],
                                     "created_at": at, "updated_at": at}, version=version)],
        "payment": [rec("100038", {"id": "100038", "client_id": client_id, "amount": "450.00",
                                   "applications": [{"invoice_id": invoice_id, "amount": "450.00"}]})],
        "event": [rec("1", {"id": "1", "sequence": 1, "resource_id": client_id})],
        "idempotency": [rec("k1", {"status": 201})],
        "user": [rec("100001", {"email": "admin+t1@x.test", "permission_set_id": "admin"})],
        "integration": [rec("5", {"name": "QuickBooks Online"})],
        "webhook": [rec("6", {"url": "http://127.0.0.1:5555/webhooks/canopy/100001", "secret": "s"})],
    }}}}


def test_references_become_names_and_ids_times_versions_are_left_out() -> None:
    p = canonical_projection(qbo_dump(), canopy_dump())
    invoice = p["qbo"]["Invoice"][0]
    assert invoice["CustomerRef"] == "Emily Hart"  # the record's name, not the ref's stale copy
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"] == "Great Planning"
    assert invoice["LinkedTxn"] == [{"Txn": "P-1", "TxnType": "Payment"}]
    assert invoice["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}  # a code, kept
    assert p["qbo"]["Item"][0]["IncomeAccountRef"] == "Services"
    for kind in p["qbo"].values():
        for r in kind:
            assert not {"Id", "SyncToken", "MetaData"} & set(r), r
    c_inv = p["canopy"]["invoice"][0]
    assert c_inv["client"] == "Emily Hart" and c_inv["lines"] == [{"service_item": "Great Planning", "quantity": "3"}]
    assert p["canopy"]["payment"][0]["applications"] == [{"invoice": "F-2001", "amount": "450.00"}]
    assert p["canopy"]["contact"][0] == {"client": "Emily Hart", "display_name": "Emily Hart"}
    client = p["canopy"]["client"][0]
    assert client["primary_contact"] == {"display_name": "Emily Hart"}
    assert "external_id" in client and not {"id", "created_at", "updated_at", "archived_at"} & set(client)
    item = p["canopy"]["service_item"][0]
    assert item["qbo_income_account_ref"] == "Services" and item["qbo_category_ref"] is None  # QBO refs by name


def test_feed_journal_replay_stores_and_tenant_identity_are_left_out() -> None:
    p = canonical_projection(qbo_dump(), canopy_dump())
    assert set(p["qbo"]) == {"Account", "Customer", "Item", "Invoice", "Payment"}
    assert set(p["canopy"]) == {"client", "contact", "service_item", "invoice", "payment"}


def test_other_ids_sync_tokens_versions_and_times_give_the_same_projection() -> None:
    a = canonical_projection(qbo_dump(), canopy_dump())
    b = canonical_projection(
        qbo_dump(customer_id="42", item_id="9", account_id="5", sync="7", when="2027-01-01T00:00:00-08:00"),
        canopy_dump(client_id="200002", item_id="200019", invoice_id="200026", at="2027-01-01T08:00:00.000Z",
                    version=9, qbo_account="5"))
    assert a == b


def test_a_changed_value_or_a_record_created_twice_shows() -> None:
    base = canonical_projection(qbo_dump(), canopy_dump())
    renamed = canonical_projection(qbo_dump(customer_name="Emily Hart-Jones"), canopy_dump())
    assert renamed != base
    assert renamed["qbo"]["Invoice"][0]["CustomerRef"] == "Emily Hart-Jones"  # the reference follows the name

    twice = canopy_dump()
    records = twice["tenants"]["100001"]["records"]
    extra = copy.deepcopy(records["client"][0])
    extra["id"] = extra["data"]["id"] = "100099"
    records["client"].append(extra)
    p = canonical_projection(qbo_dump(), twice)
    assert p != base
    assert duplicates(p) == ["canopy client 'Emily Hart' x2"]
    assert "canopy client: 1 expected, 2 found" in projection_difference(base, p)
    assert projection_difference(base, base) == "no difference"


def test_order_of_records_does_not_matter() -> None:
    one, two = qbo_dump(), qbo_dump()
    recs = two["tenants"]["9130"]["records"]
    recs["Customer"].append(rec("8", {"Id": "8", "DisplayName": "Zed"}))
    recs["Customer"].reverse()
    one["tenants"]["9130"]["records"]["Customer"].append(rec("8", {"Id": "8", "DisplayName": "Zed"}))
    assert canonical_projection(one, canopy_dump()) == canonical_projection(two, canopy_dump())


def test_a_deleted_record_is_kept_and_marked() -> None:
    dump = qbo_dump()
    dump["tenants"]["9130"]["records"]["Invoice"][0]["deleted"] = True
    assert canonical_projection(dump, canopy_dump())["qbo"]["Invoice"][0]["_deleted"] is True


def test_a_dangling_reference_names_what_is_missing() -> None:
    dump = qbo_dump()
    dump["tenants"]["9130"]["records"]["Invoice"][0]["data"]["CustomerRef"] = {"value": "999"}
    assert canonical_projection(dump, canopy_dump())["qbo"]["Invoice"][0]["CustomerRef"] == "<no Customer 999>"


def test_an_unknown_canopy_reference_field_is_refused() -> None:
    dump = canopy_dump()
    dump["tenants"]["100001"]["records"]["client"][0]["data"]["owner_id"] = "100001"
    with pytest.raises(ProjectionError, match="owner_id"):
        canonical_projection(qbo_dump(), dump)
