"""The shared simulator core without HTTP: store, clock, secrets, journal."""
from __future__ import annotations

from decimal import Decimal

import pytest
import simplejson
from hypothesis import given, strategies as st

from sim.core import jsonutil
from sim.core.clock import Clock, Clocks, parse_iso
from sim.core.ids import Secrets
from sim.core.journal import Journal
from sim.core.store import Rec, Store


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create_tenant("t1", "qbo", "One", 0.0)
    return s


def test_money_survives_json_as_decimal() -> None:
    text = jsonutil.dumps({"Amount": Decimal("0.10") + Decimal("0.20"), "Qty": 3})
    assert text == '{"Amount":0.30,"Qty":3}'
    assert jsonutil.loads(text)["Amount"] == Decimal("0.30")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@given(_json)
def test_the_shared_encoder_writes_what_simplejson_writes(value: object) -> None:
    """The kept encoder is an optimisation only: the bytes are simplejson's own, and they read back."""
    text = jsonutil.dumps(value)
    assert text == simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    assert jsonutil.loads(text) == simplejson.loads(text, use_decimal=True)


def test_the_shared_encoder_still_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        jsonutil.dumps({"when": object()})
    with pytest.raises(ValueError):
        jsonutil.dumps({"x": float("nan")})


def test_failed_unit_of_work_leaves_nothing(store: Store) -> None:
    t = store.tenant("t1")
    with pytest.raises(RuntimeError):
        with store.tx():
            t.insert(Rec("Customer", "1", {"DisplayName": "A"}))
            t.next_id("name")
            raise RuntimeError("boom")
    assert t.get("Customer", "1") is None
    assert t.peek_id("name") is None


def test_nested_units_join_the_outer_one(store: Store) -> None:
    t = store.tenant("t1")
    with pytest.raises(RuntimeError):
        with store.tx():
            with store.tx():
                t.insert(Rec("Customer", "1", {}))
            raise RuntimeError
    assert t.get("Customer", "1") is None


def test_version_checked_replace(store: Store) -> None:
    t = store.tenant("t1")
    t.insert(Rec("Customer", "1", {"n": 1}))
    assert t.replace(Rec("Customer", "1", {"n": 2}, version=1), expect_version=0)
    assert not t.replace(Rec("Customer", "1", {"n": 3}, version=1), expect_version=0)
    assert t.get("Customer", "1").data == {"n": 2}


def test_tenants_never_see_each_other(store: Store) -> None:
    store.create_tenant("t2", "qbo", "Two", 0.0)
    store.tenant("t1").insert(Rec("Customer", "1", {"DisplayName": "Mine"}, key="mine"))
    assert store.tenant("t2").get("Customer", "1") is None
    assert store.tenant("t2").find("Customer", key="mine") == []


def test_fork_copies_rows_and_counters_then_diverges(store: Store) -> None:
    t1 = store.tenant("t1")
    t1.insert_many(Rec("Customer", str(i), {"i": i}, key=f"c{i}") for i in range(1, 501))
    t1.next_id("name")
    store.fork_tenant("t1", "t9")
    t9 = store.tenant("t9")
    assert t9.count("Customer") == 500 and t9.next_id("name") == 2
    t9.remove("Customer", "1")
    assert t1.get("Customer", "1") is not None


def test_export_import_round_trip(store: Store) -> None:
    t = store.tenant("t1")
    t.insert(Rec("Customer", "1", {"a": Decimal("1.50")}))
    dump = store.export("t1")
    t.insert(Rec("Customer", "2", {}))
    store.import_(dump, "t1")
    assert [r.id for r in t.find("Customer")] == ["1"]
    assert t.get("Customer", "1").data["a"] == Decimal("1.50")


def test_file_store_survives_a_restart(tmp_path) -> None:
    path = str(tmp_path / "state.sqlite")
    s = Store(path)
    s.create_tenant("t1", "qbo", "One", 0.0)
    s.tenant("t1").insert(Rec("Customer", "7", {"DisplayName": "Kept"}))
    s.close()
    again = Store(path)
    assert again.tenant("t1").get("Customer", "7").data == {"DisplayName": "Kept"}


def test_find_orders_numerically_and_filters_on_indexed_columns(store: Store) -> None:
    t = store.tenant("t1")
    t.insert_many([Rec("Item", "10", {}, alt="sku-a"), Rec("Item", "9", {}, active=False),
                   Rec("Item", "2", {}, alt="sku-a")])
    assert [r.id for r in t.find("Item")] == ["2", "9", "10"]
    assert [r.id for r in t.find("Item", alt="sku-a")] == ["2", "10"]
    assert [r.id for r in t.find("Item", active=False)] == ["9"]


def test_frozen_clock_moves_only_when_told() -> None:
    clock = Clock()
    clock.freeze(1_000_000.0)
    assert clock.timestamp() == 1_000_000.0
    clock.advance(60)
    assert clock.now().isoformat() == "1970-01-12T13:47:40+00:00"
    clock.set(parse_iso("2025-01-01T00:00:00Z").timestamp())
    assert clock.now().year == 2025


def test_tenant_clock_splits_from_the_server_clock() -> None:
    clocks = Clocks()
    clocks.server.freeze(100.0)
    clocks.own("a").advance(50)
    assert clocks.of("a").timestamp() == 150.0
    assert clocks.of("b").timestamp() == 100.0
    clocks.fork("a", "c")
    assert clocks.of("c").timestamp() == 150.0


def test_unfrozen_offset_clock_keeps_running() -> None:
    clock = Clock()
    clock.advance(3600)
    assert clock.timestamp() - Clock().timestamp() == pytest.approx(3600, abs=1)


def test_seeded_secrets_repeat_and_unseeded_do_not() -> None:
    assert Secrets(7).token("code", 1) == Secrets(7).token("code", 1)
    assert Secrets(7).token("code", 1) != Secrets(7).token("code", 2)
    assert Secrets(7).token("code", 1) != Secrets(8).token("code", 1)
    assert Secrets(None).token("code", 1) != Secrets(None).token("code", 1)
    assert len(Secrets(7).digits("realm", 1, 12)) == 12


def test_journal_is_bounded_and_filterable() -> None:
    journal = Journal(per_tenant=3)
    for i in range(5):
        journal.record(time="t", tenant="r1", method="GET", path=f"/v3/company/r1/x/{i}", query="",
                       status=200 if i % 2 else 400, request_digest="", response_digest="", duration_ms=0)
    journal.record(time="t", tenant="r2", method="POST", path="/v3/company/r2/x", query="", status=200,
                   request_digest="", response_digest="", duration_ms=0)
    assert len(journal.query(tenant="r1")) == 3
    assert [e.status for e in journal.query(tenant="r1", status=400)] == [400, 400]
    assert [e.tenant for e in journal.query(method="post")] == ["r2"]
    assert journal.query(path_prefix="/v3/company/r2")[0].method == "POST"
