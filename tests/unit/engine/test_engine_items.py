"""Items: R15 with D-9 (rates), D-10 (SKUs), D-11 (ambiguity), R16 (kept links), R17/D-12 (income account)."""
from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.matching import default_income_account, match_items
from engine.models import Account, ItemLink, QboItem, ServiceItem, to_decimal

D = Decimal


def c(id: str, name: str, rate: str = "100", sku: str | None = None) -> ServiceItem:
    return ServiceItem(id, name, D(rate), sku)


def q(id: str, name: str, price: str = "100", sku: str | None = None, type: str = "Service") -> QboItem:
    return QboItem(id, name, type, D(price), sku)


def pairs(plan) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(m.canopy.id, m.qbo.id) for m in plan.matched]


def why(plan, side: str, id: str):  # type: ignore[no-untyped-def]
    [u] = [u for u in plan.unmatched if u.side == side and u.id == id]
    return u.reason, u.differs, u.candidate_ids


def test_name_rate_and_sku_all_agree() -> None:
    plan = match_items([c("a", " Tax  Prep ", "100", " TP-1 ")], [q("1", "tax prep", "100.00", "tp-1")])
    assert pairs(plan) == [("a", "1")] and not plan.unmatched


def test_rates_compare_exactly() -> None:
    assert pairs(match_items([c("a", "X", "100")], [q("1", "X", "100.00")])) == [("a", "1")]
    plan = match_items([c("a", "X", "100")], [q("1", "X", "100.001")])
    assert why(plan, "canopy", "a") == ("differs", ("rate",), ("1",))


def test_rates_from_json_numbers_are_exact() -> None:
    assert to_decimal(0.1) + to_decimal(0.2) == D("0.3")
    assert to_decimal("100.00") == to_decimal(100)
    assert QboItem.from_qbo({"Id": "1", "Name": "X", "Type": "Service"}).unit_price == 0


def test_sku_empty_missing_and_blank_are_the_same() -> None:
    plan = match_items([c("a", "X", sku=None), c("b", "Y", sku="  ")], [q("1", "X", sku=""), q("2", "Y", sku=None)])
    assert pairs(plan) == [("a", "1"), ("b", "2")]
    plan = match_items([c("a", "X", sku="S1")], [q("1", "X", sku=None)])
    assert why(plan, "canopy", "a") == ("differs", ("sku",), ("1",))


def test_only_service_items_take_part() -> None:
    plan = match_items([c("a", "X")], [q("1", "X", type="NonInventory")])
    assert not plan.matched and why(plan, "canopy", "a") == ("differs", ("name",), ())
    assert [u.side for u in plan.unmatched] == ["canopy"]


def test_ambiguous_on_either_side_links_nothing() -> None:
    plan = match_items([c("a", "X")], [q("1", "X"), q("2", " x ")])
    assert not plan.matched
    assert why(plan, "canopy", "a") == ("ambiguous", (), ("1", "2"))
    assert why(plan, "qbo", "1") == ("ambiguous", (), ("a",)) == why(plan, "qbo", "2")
    plan = match_items([c("a", "X"), c("b", "X")], [q("1", "X")])
    assert not plan.matched and {u.reason for u in plan.unmatched} == {"ambiguous"} and len(plan.unmatched) == 3


def test_two_equal_canopy_items_with_no_partner_are_not_ambiguous() -> None:
    plan = match_items([c("a", "X"), c("b", "X")], [])
    assert {u.reason for u in plan.unmatched} == {"differs"}


def test_which_field_differs_against_the_closest_candidate() -> None:
    plan = match_items([c("a", "X", "100", "S"), c("b", "Nothing like it")],
                       [q("1", "X", "200", "T"), q("2", "x", "100", "T"), q("3", "Y", "100", "S")])
    assert why(plan, "canopy", "a") == ("differs", ("sku",), ("2",))
    assert why(plan, "canopy", "b") == ("differs", ("name",), ())
    assert why(plan, "qbo", "1") == ("differs", ("rate", "sku"), ("a",))
    assert why(plan, "qbo", "3") == ("differs", ("name",), ())


def test_existing_links_are_kept_and_never_relinked() -> None:
    links = [ItemLink("a", "1")]
    plan = match_items([c("a", "X"), c("b", "X")], [q("1", "X"), q("2", "X")], links)
    assert plan.kept == (ItemLink("a", "1"),)
    assert pairs(plan) == [("b", "2")]  # a and 1 are taken, so b and 2 are no longer ambiguous


def test_repeat_after_fixing_links_new_matches_and_keeps_old() -> None:
    before = match_items([c("a", "X"), c("b", "Y", "50")], [q("1", "X"), q("2", "Y", "60")])
    assert pairs(before) == [("a", "1")]
    links = [ItemLink(m.canopy.id, m.qbo.id) for m in before.matched]
    after = match_items([c("a", "X"), c("b", "Y", "60")], [q("1", "X"), q("2", "Y", "60")], links)
    assert after.kept == (ItemLink("a", "1"),) and pairs(after) == [("b", "2")] and not after.unmatched


def test_default_income_account() -> None:
    accounts = [Account("10", "Income"), Account("9", "Income"), Account("2", "Expense"),
                Account("1", "Income", active=False)]
    assert default_income_account(accounts) == "9"
    assert default_income_account([Account("1", "Expense")]) is None
    assert Account.from_qbo({"Id": "5", "AccountType": "Income", "Name": "Sales"}).active


ITEM = st.tuples(st.sampled_from(["X", " x", "Y", "X (deleted)"]), st.sampled_from(["1", "1.00", "2"]),
                 st.sampled_from([None, "", "s", " S ", "t"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(ITEM, max_size=6), st.lists(ITEM, max_size=6), st.randoms(use_true_random=False))
def test_items_each_once_and_order_independent(cs: list, qs: list, rnd: random.Random) -> None:  # type: ignore[type-arg]
    canopy = [c(f"c{i}", *t) for i, t in enumerate(cs)]
    qbo = [q(str(i), *t) for i, t in enumerate(qs)]
    plan = match_items(canopy, qbo)
    seen = [("canopy", m.canopy.id) for m in plan.matched] + [("qbo", m.qbo.id) for m in plan.matched] + [
        (u.side, u.id) for u in plan.unmatched]
    assert sorted(seen) == sorted([("canopy", x.id) for x in canopy] + [("qbo", x.id) for x in qbo])
    for m in plan.matched:
        assert m.canopy.rate == m.qbo.unit_price
    rnd.shuffle(canopy)
    rnd.shuffle(qbo)
    assert match_items(canopy, qbo) == plan
