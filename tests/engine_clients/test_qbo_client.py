"""QboClient over real HTTP against the fake QBO: paging, batches, idempotent retries, errors."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from engine.clients import (
    BatchOp,
    Duplicate,
    NotFound,
    RetryPolicy,
    ServerError,
    StaleObject,
    Throttled,
    Unreachable,
    ValidationFailed,
)
from tests.engine_clients.conftest import Qbo, Sleeps


async def count(qbo: Qbo, entity: str, where: str | None = None) -> int:
    return await qbo.client.count(entity, where)


async def income_account(qbo: Qbo) -> str:
    rows = await qbo.client.query("SELECT * FROM Account WHERE AccountType = 'Income'")
    return rows[0]["Id"]


# -- reads and paging ------------------------------------------------------------------------------
async def test_query_all_pages_2500_customers_in_three_calls(qbo: Qbo) -> None:
    qbo.seed(Customer=[{"DisplayName": f"Paged Customer {i:05d}"} for i in range(2500)])
    seen: list[int] = []
    rows = await qbo.client.query_all("Customer", on_page=seen.append)
    assert len(rows) == 2500 and len({r["Id"] for r in rows}) == 2500
    assert qbo.client.stats["query"] == 3 and qbo.client.stats["calls"] == 3
    assert seen == [1000, 2000, 2500]


async def test_query_all_with_where_small_pages_and_async_callback(qbo: Qbo) -> None:
    qbo.seed(Customer=[{"DisplayName": f"Small {i}", "Active": i % 2 == 0} for i in range(10)])
    seen: list[int] = []

    async def on_page(n: int) -> None:
        seen.append(n)

    rows = await qbo.client.query_all("Customer", where="Active = false", page_size=2, on_page=on_page)
    assert len(rows) == 5 and all(r["Active"] is False for r in rows)
    assert seen == [2, 4, 5] and qbo.client.stats["query"] == 3
    assert await count(qbo, "Customer", "Active IN (true, false)") == 10


async def test_get_company_info_preferences_and_cdc(qbo: Qbo) -> None:
    info = await qbo.client.company_info()
    assert info["CompanyName"].startswith("Test Co")
    assert (await qbo.client.preferences())["Id"] == "1"
    made = await qbo.client.create("Customer", {"DisplayName": "Cdc Person"}, "cdc-person-1")
    assert (await qbo.client.get("Customer", made["Id"]))["DisplayName"] == "Cdc Person"
    clock = qbo.admin.get("/clock", tenant=qbo.tenant.realm_id)
    since = datetime.fromisoformat(clock["now"]) - timedelta(hours=1)
    changes = await qbo.client.cdc(["Customer", "Invoice"], since)
    assert [c["Id"] for c in changes["Customer"]] == [made["Id"]] and changes["Invoice"] == []
    assert qbo.client.stats["reads"] == 4 and qbo.client.stats["writes"] == 1


# -- writes --------------------------------------------------------------------------------------------
async def test_update_sparse_and_stale_sync_token(qbo: Qbo) -> None:
    c = await qbo.client.create("Customer", {"DisplayName": "Sparse Sam"}, "sparse-sam")
    after = await qbo.client.update("Customer", {"Id": c["Id"], "SyncToken": c["SyncToken"], "CompanyName": "SamCo"},
                                    "sparse-sam-u1", sparse=True)
    assert after["CompanyName"] == "SamCo" and after["DisplayName"] == "Sparse Sam" and after["SyncToken"] == "1"
    with pytest.raises(StaleObject) as err:
        await qbo.client.update("Customer", {"Id": c["Id"], "SyncToken": c["SyncToken"], "Notes": "x"},
                                "sparse-sam-u2", sparse=True)
    assert (err.value.service, err.value.status, err.value.code) == ("qbo", 400, "5010")


async def test_not_found_duplicate_and_validation(qbo: Qbo) -> None:
    with pytest.raises(NotFound) as nf:
        await qbo.client.get("Customer", "987654")
    assert nf.value.code == "610"
    await qbo.client.create("Customer", {"DisplayName": "Twin"}, "twin-1")
    with pytest.raises(Duplicate) as dup:
        await qbo.client.create("Customer", {"DisplayName": "Twin"}, "twin-2")
    assert dup.value.code == "6240" and "already" in dup.value.detail
    c = await qbo.client.create("Customer", {"DisplayName": "No Lines"}, "nolines-c")
    with pytest.raises(ValidationFailed) as bad:
        await qbo.client.create("Invoice", {"CustomerRef": {"value": c["Id"]}}, "nolines-i")
    assert bad.value.code == "2020" and bad.value.field
    assert qbo.client.stats["retries"] == 0


async def test_decimal_rates_round_trip_exactly(qbo: Qbo) -> None:
    account = await income_account(qbo)
    item = await qbo.client.create("Item", {"Name": "Consulting hour", "Type": "Service",
                                            "UnitPrice": Decimal("100.10"), "IncomeAccountRef": {"value": account}},
                                   "item-consulting")
    read = await qbo.client.get("Item", item["Id"])
    assert isinstance(read["UnitPrice"], Decimal) and str(read["UnitPrice"]) == "100.10", read["UnitPrice"]
    c = await qbo.client.create("Customer", {"DisplayName": "Decimal Dora"}, "dora")
    lines = [{"Amount": Decimal("0.10"), "DetailType": "SalesItemLineDetail",
              "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}},
             {"Amount": Decimal("0.20"), "DetailType": "SalesItemLineDetail",
              "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]
    inv = await qbo.client.create("Invoice", {"CustomerRef": {"value": c["Id"]}, "Line": lines}, "dora-inv")
    assert inv["TotalAmt"] == Decimal("0.30") and str(inv["TotalAmt"]) in ("0.3", "0.30")


async def test_invoice_void_and_delete(qbo: Qbo) -> None:
    account = await income_account(qbo)
    item = await qbo.client.create("Item", {"Name": "Svc", "Type": "Service", "IncomeAccountRef": {"value": account}},
                                   "svc")
    c = await qbo.client.create("Customer", {"DisplayName": "Voidy"}, "voidy")
    body = {"CustomerRef": {"value": c["Id"]}, "Line": [{"Amount": Decimal("50.00"), "DetailType": "SalesItemLineDetail",
                                                         "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}
    one = await qbo.client.create("Invoice", body, "inv-1")
    two = await qbo.client.create("Invoice", body, "inv-2")
    voided = await qbo.client.void("Invoice", one["Id"], one["SyncToken"], "inv-1-void")
    assert voided["TotalAmt"] == 0 and voided["SyncToken"] == "1"
    stub = await qbo.client.delete("Invoice", two["Id"], two["SyncToken"], "inv-2-delete")
    assert stub["status"] == "Deleted" and stub["Id"] == two["Id"]
    with pytest.raises(NotFound):
        await qbo.client.get("Invoice", two["Id"])


async def test_batch_of_70_creates_takes_3_calls(qbo: Qbo) -> None:
    ops = [BatchOp("Customer", "create", {"DisplayName": f"Batch Person {i:03d}"}) for i in range(70)]
    results = await qbo.client.batch(ops, "batch-70")
    assert qbo.client.stats["batch"] == 3 and qbo.client.stats["calls"] == 3
    assert len(results) == 70 and all(r.ok for r in results)
    assert [r.entity["DisplayName"] for r in results] == [op.body["DisplayName"] for op in ops]
    assert await count(qbo, "Customer", "DisplayName LIKE 'Batch Person%'") == 70


async def test_batch_item_faults_are_results(qbo: Qbo) -> None:
    await qbo.client.create("Customer", {"DisplayName": "Taken"}, "taken")
    ops = [BatchOp("Customer", "create", {"DisplayName": "Fresh"}, bid="a"),
           BatchOp("Customer", "create", {"DisplayName": "Taken"}, bid="b"),
           BatchOp("Customer", "update", {"Id": "99999", "SyncToken": "0", "sparse": True, "Notes": "x"}, bid="c")]
    results = await qbo.client.batch(ops, "batch-faults")
    assert [r.bid for r in results] == ["a", "b", "c"]
    assert results[0].ok and results[0].entity["DisplayName"] == "Fresh"
    assert isinstance(results[1].error, Duplicate) and results[1].error.code == "6240"
    assert not results[2].ok and results[2].error.code in ("610", "5010")


# -- idempotency under retries ---------------------------------------------------------------------------
async def test_requestid_makes_a_retried_create_happen_once(qbo: Qbo, sleeps: Sleeps) -> None:
    qbo.fault(method="POST", entity="Customer", action={"type": "drop_after"}, times=1)
    made = await qbo.client.create("Customer", {"DisplayName": "Only Once"}, "only-once-v1")
    assert qbo.client.stats["create"] == 2 and qbo.client.stats["retries"] == 1 and len(sleeps.waits) == 1
    assert await count(qbo, "Customer", "DisplayName = 'Only Once'") == 1
    again = await qbo.client.create("Customer", {"DisplayName": "Only Once"}, "only-once-v1")
    assert again["Id"] == made["Id"]


async def test_batch_retried_after_a_lost_answer_writes_once(qbo: Qbo) -> None:
    qbo.fault(method="POST", path="*/batch", action={"type": "drop_after"}, times=1)
    ops = [BatchOp("Customer", "create", {"DisplayName": f"Lost Answer {i}"}) for i in range(40)]
    results = await qbo.client.batch(ops, "lost-answer")
    assert all(r.ok for r in results) and qbo.client.stats["batch"] == 3
    assert await count(qbo, "Customer", "DisplayName LIKE 'Lost Answer%'") == 40


@pytest.mark.parametrize("action", [
    {"type": "error", "error": "throttle"},
    {"type": "error", "error": "server_error"},
    {"type": "error", "error": "unavailable"},
    {"type": "timeout", "seconds": 0.05},
    {"type": "reset"},
    {"type": "malformed"},
    {"type": "truncate"},
    {"type": "empty"},
])
async def test_transient_failures_are_retried_then_succeed(qbo: Qbo, sleeps: Sleeps, action: dict) -> None:
    # A query is a POST, which aiohttp never re-sends on its own, so every try is counted here.
    qbo.fault(operation="query", action=action, times=2)
    rows = await qbo.client.query("SELECT * FROM Account WHERE Name = 'Services'")
    assert [r["Name"] for r in rows] == ["Services"]
    assert qbo.client.stats["query"] == 3 and qbo.client.stats["retries"] == 2
    assert sleeps.waits == [0.001, 0.002]


async def test_a_dropped_get_is_retried(qbo: Qbo) -> None:
    rule = qbo.fault(method="GET", entity="CompanyInfo", action={"type": "reset"}, times=2)
    assert (await qbo.client.company_info())["Id"] == "1"
    fired = next(r for r in qbo.admin.get("/faults")["faults"] if r["id"] == rule["id"])["fired"]
    # aiohttp itself re-sends an idempotent request once when a pooled connection drops.
    assert fired == 2 and qbo.client.stats["company_info"] in (2, 3)


@pytest.mark.parametrize("action,error,status", [
    ({"type": "error", "error": "throttle"}, Throttled, 429),
    ({"type": "error", "error": "server_error"}, ServerError, 500),
    ({"type": "drop_before"}, Unreachable, None),
    ({"type": "malformed"}, Unreachable, 200),
])
async def test_retries_exhausted_raise_the_last_errors_type(qbo: Qbo, sleeps: Sleeps, action: dict,
                                                            error: type, status: int | None) -> None:
    qbo.fault(operation="query", action=action, times=10)
    with pytest.raises(error) as err:
        await qbo.client.query("SELECT * FROM Account")
    assert err.value.status == status and err.value.service == "qbo"
    assert qbo.client.stats["calls"] == 4 and sleeps.waits == [0.001, 0.002, 0.004]


async def test_client_side_timeout_is_unreachable_and_retried(qbo: Qbo) -> None:
    qbo.fault(method="GET", entity="CompanyInfo", action={"type": "delay", "seconds": 1.0}, times=1)
    client = qbo.client_for(qbo.tenant.realm_id, timeout=0.2)
    assert (await client.company_info())["Id"] == "1"
    assert client.stats["retries"] == 1
    qbo.fault(method="GET", entity="CompanyInfo", action={"type": "delay", "seconds": 1.0}, times=1)
    once = qbo.client_for(qbo.tenant.realm_id, timeout=0.2, policy=RetryPolicy(attempts=1))
    with pytest.raises(Unreachable) as err:
        await once.company_info()
    assert err.value.code == "timeout"


async def test_real_throttle_waits_on_the_fakes_clock(qbo: Qbo) -> None:
    """QBO's 10 requests a second with the realm clock frozen: the policy's sleep moves that clock."""
    realm = qbo.tenant.realm_id
    qbo.admin.post("/limits", {"tenant": realm, "reset": True}, expect=200)
    qbo.clock(freeze=True)
    advanced: list[float] = []

    async def sleep(seconds: float) -> None:
        advanced.append(seconds)
        qbo.clock(advance_seconds=seconds)

    client = qbo.client_for(realm, policy=RetryPolicy(base=0.5, cap=2, attempts=5, sleep=sleep))
    for _ in range(12):
        await client.company_info()
    assert client.stats["company_info"] > 12 and client.stats["retries"] >= 1 and sum(advanced) >= 1
