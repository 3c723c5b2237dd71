"""CanopyClient over real HTTP against the fake Canopy: pages, Idempotency-Key, errors, retries."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.clients import (
    CANOPY_MAX_LIMIT,
    AuthRefused,
    CanopyClient,
    Conflict,
    Duplicate,
    Forbidden,
    NotFound,
    ServerError,
    StaleObject,
    Throttled,
    ValidationFailed,
)
from tests.engine_clients.conftest import Canopy, Sleeps


def person(first: str, last: str = "Lee") -> dict:
    return {"is_business": False, "first_name": first, "last_name": last}


async def test_me_says_who_the_token_is(canopy: Canopy) -> None:
    me = await canopy.client.me()
    assert me["type"] == "user" and me["firm"]["id"] == canopy.firm_id and "manage_integrations" in me["permissions"]


async def test_list_all_uses_the_largest_page(canopy: Canopy) -> None:
    canopy.seed(clients=[person(f"Paged{i:04d}") for i in range(1200)])
    seen: list[int] = []
    rows = await canopy.client.list_all("clients", on_page=seen.append)
    assert CANOPY_MAX_LIMIT == 500 and len(rows) == 1200 and len({r["id"] for r in rows}) == 1200
    assert seen == [500, 1000, 1200] and canopy.client.stats["list"] == 3 and canopy.client.stats["calls"] == 3


async def test_create_get_patch_delete_and_decimal_rates(canopy: Canopy) -> None:
    item = await canopy.client.create("service_items", {"name": "Bookkeeping", "rate": Decimal("100.10")}, "item-1")
    assert item["rate"] == "100.10" and Decimal(item["rate"]) == Decimal("100.10")
    read, etag = await canopy.client.get_versioned("service_items", item["id"])
    assert read == item and etag
    patched = await canopy.client.patch("service_items", item["id"], {"rate": Decimal("0.30")}, "item-1-p1",
                                        if_match=etag)
    assert patched["rate"] == "0.30"
    with pytest.raises(StaleObject) as stale:
        await canopy.client.patch("service_items", item["id"], {"rate": "1.00"}, "item-1-p2", if_match=etag)
    assert (stale.value.service, stale.value.status, stale.value.code) == ("canopy", 409, "etag_mismatch")
    assert await canopy.client.delete("service_items", item["id"]) is True
    assert (await canopy.client.get("service_items", item["id"]))["is_deleted"] is True
    assert await canopy.client.delete("service_items", item["id"]) is False
    assert canopy.client.stats["writes"] == 5 and canopy.client.stats["reads"] == 2


async def test_idempotency_key_makes_a_retried_create_happen_once(canopy: Canopy, sleeps: Sleeps) -> None:
    canopy.fault(method="POST", entity="clients", action={"type": "drop_after"}, times=1)
    made = await canopy.client.create("clients", person("Once"), "client-once")
    assert canopy.client.stats["create"] == 2 and canopy.client.stats["retries"] == 1 and len(sleeps.waits) == 1
    rows = await canopy.client.list_all("clients")
    assert [r["id"] for r in rows if r["first_name"] == "Once"] == [made["id"]]
    again = await canopy.client.create("clients", person("Once"), "client-once")
    assert again["id"] == made["id"]
    with pytest.raises(ValidationFailed) as reused:
        await canopy.client.create("clients", person("Other"), "client-once")
    assert reused.value.status == 422 and reused.value.code == "idempotency_key_reused"


async def test_idempotent_patch_and_delete_survive_lost_answers(canopy: Canopy) -> None:
    c = await canopy.client.create("clients", person("Patchy"), "patchy")
    canopy.fault(method="PATCH", entity="clients", action={"type": "drop_after"}, times=1)
    patched = await canopy.client.patch("clients", c["id"], {"last_name": "Changed"}, "patchy-1")
    assert patched["last_name"] == "Changed"
    events = (await canopy.client.changes()).events
    assert [e["type"] for e in events if e["resource_id"] == c["id"]] == ["created", "updated"]
    canopy.fault(method="DELETE", entity="clients", action={"type": "drop_after"}, times=1)
    await canopy.client.delete("clients", c["id"])  # a repeat's 404 means the first one worked
    assert (await canopy.client.get("clients", c["id"]))["is_deleted"] is True


@pytest.mark.parametrize("action", [{"type": "error", "error": "throttle"}, {"type": "error", "error": "server_error"},
                                    {"type": "error", "error": "unavailable"}, {"type": "truncate"},
                                    {"type": "drop_before"}])
async def test_transient_failures_are_retried(canopy: Canopy, sleeps: Sleeps, action: dict) -> None:
    canopy.fault(method="POST", entity="clients", action=action, times=2)
    made = await canopy.client.create("clients", person("Flaky"), "flaky-1")
    assert made["first_name"] == "Flaky"
    assert canopy.client.stats["create"] == 3 and canopy.client.stats["retries"] == 2
    assert len(sleeps.waits) == 2 and all(w <= 0.004 for w in sleeps.waits)


async def test_retry_after_is_honoured_up_to_the_cap(canopy: Canopy, sleeps: Sleeps) -> None:
    canopy.fault(method="GET", entity="me", action={"type": "error", "error": "throttle"}, times=10)
    with pytest.raises(Throttled) as err:
        await canopy.client.me()
    assert err.value.retry_after == 5 and err.value.code == "rate_limited"
    assert sleeps.waits == [0.004, 0.004, 0.004]  # Retry-After 5s, capped by the policy


async def test_retries_exhausted_raise_server_error(canopy: Canopy) -> None:
    canopy.fault(method="GET", entity="clients", action={"type": "error", "error": "server_error"}, times=10)
    with pytest.raises(ServerError) as err:
        await canopy.client.list_all("clients")
    assert err.value.status == 500 and err.value.code == "internal_error" and canopy.client.stats["calls"] == 4


async def test_auth_forbidden_validation_and_duplicates(canopy: Canopy) -> None:
    stranger = canopy.client.with_token("cnp_not_a_real_token")
    with pytest.raises(AuthRefused) as unknown:
        await stranger.me()
    assert (unknown.value.status, unknown.value.code, unknown.value.reason) == (401, "invalid_token", "token_revoked")
    staff = canopy.client.with_token(canopy.member_token(permission_set="staff_all_contacts",
                                                         licenses=["time_and_billing"]))
    with pytest.raises(Forbidden) as forbidden:
        await staff.create_integration("QBO")
    assert forbidden.value.code == "missing_permission" and forbidden.value.status == 403
    with pytest.raises(ValidationFailed) as bad:
        await canopy.client.create("service_items", {"name": "x", "rate": "1.23456"}, "bad-rate")
    assert bad.value.status == 400 and bad.value.code == "validation_error" and bad.value.field == "rate"
    c = await canopy.client.create("clients", person("Billed"), "billed")
    item = await canopy.client.create("service_items", {"name": "Tax prep", "rate": "250.00"}, "taxprep")
    inv = {"client_id": c["id"], "number": "INV-1", "lines": [{"service_item_id": item["id"]}]}
    made = await canopy.client.create("invoices", inv, "inv-1")
    assert made["total"] == "250.00"
    with pytest.raises(Duplicate) as dup:
        await canopy.client.create("invoices", inv, "inv-1-again")
    assert dup.value.code == "duplicate_number" and dup.value.field == "number"
    voided = await canopy.client.patch("invoices", made["id"], {"status": "void"}, "inv-1-void")
    assert voided["status"] == "void"
    with pytest.raises(Conflict) as conflict:
        await canopy.client.patch("invoices", made["id"], {"memo": "late"}, "inv-1-memo")
    assert conflict.value.code == "invoice_void"
    with pytest.raises(NotFound):
        await canopy.client.get("clients", "999999999")


async def test_integration_webhook_and_change_feed(canopy: Canopy) -> None:
    integration, token = await canopy.client.create_integration("QuickBooks Online")
    assert integration["is_active"] is True and token
    as_integration = canopy.client.with_token(token)
    assert (await as_integration.me())["type"] == "integration"
    hook = await as_integration.create_webhook("http://127.0.0.1:9/hook", "s" * 24, ["client.*"])
    assert hook["event_types"] == ["client.*"] and hook["secret"] == "s" * 24
    first = await as_integration.changes()
    await as_integration.create("clients", person("Fed"), "fed-1")
    after = await as_integration.changes(first.next_cursor)
    assert next((e["type"], e["resource_type"]) for e in after.events) == ("created", "client")
    assert after.has_more is False and after.next_cursor
    assert await as_integration.delete_webhook(hook["id"]) is True
    assert await canopy.client.delete_integration(integration["id"]) is True
    with pytest.raises(AuthRefused):
        await as_integration.me()
    assert canopy.client.stats is as_integration.stats


async def test_unknown_kind_is_a_programming_error(canopy: Canopy) -> None:
    with pytest.raises(ValueError):
        await canopy.client.list_all("widgets")
    assert isinstance(canopy.client, CanopyClient) and canopy.client.stats["calls"] == 0
