"""The three-way merge and the projections of engine/sync/canonical.py (R12, R18, R20, D-48)."""
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from engine.sync.canonical import (
    canopy_client_patch, canopy_contact, canopy_item, content_hash, merge, qbo_contact, qbo_customer_body, qbo_item,
    with_both_names,
)

T0 = datetime(2024, 1, 15, 17, 0, tzinfo=UTC)
BASE = {"name": "Ada Lovelace", "first": "Ada", "last": "Lovelace", "email": "ada@x.test", "phone": None,
        "address": None, "active": True}


def test_projections_agree_on_the_same_person_and_ignore_what_the_other_side_cannot_carry() -> None:
    client = {"display_name": " Ada  Lovelace ", "is_business": False, "first_name": "Ada", "last_name": "Lovelace",
              "emails": [{"email": "old@x.test"}, {"email": "ada@x.test", "is_primary": True}], "is_archived": False}
    customer = {"DisplayName": "Ada Lovelace", "GivenName": "Ada", "FamilyName": "Lovelace", "CompanyName": "Acme",
                "PrimaryEmailAddr": {"Address": "ada@x.test"}, "Active": True}
    assert canopy_contact(client) == qbo_contact(customer, is_business=False) == BASE
    inactive = {**customer, "DisplayName": "Ada Lovelace (deleted)", "Active": False}
    assert qbo_contact(inactive, False)["name"] == "Ada Lovelace" and not qbo_contact(inactive, False)["active"]


def test_the_primary_address_maps_to_bill_addr_both_ways() -> None:
    client = {"display_name": "Acme", "is_business": True, "business_name": "Acme",
              "addresses": [{"address_1": "1 Main St", "locality": "Springfield", "region": "IL", "type": "HOME"},
                            {"address_1": "9 Side Rd", "postal_code": "62701", "is_primary": True}]}
    customer = {"DisplayName": "Acme", "CompanyName": "Acme", "BillAddr": {"Line1": "9 Side Rd", "PostalCode": "62701"}}
    assert canopy_contact(client)["address"] == qbo_contact(customer, True)["address"] == {
        "line1": "9 Side Rd", "postal": "62701"}
    moved = {"line1": "12 Harbor Way", "city": "Sausalito", "region": "CA", "postal": "94965"}
    assert qbo_customer_body({"address": moved})["BillAddr"] == {
        "Line1": "12 Harbor Way", "Line2": "", "City": "Sausalito", "CountrySubDivisionCode": "CA",
        "PostalCode": "94965", "Country": ""}
    assert canopy_client_patch({"address": moved}, client)["addresses"] == [
        {"address_1": "12 Harbor Way", "locality": "Sausalito", "region": "CA",
         "postal_code": "94965", "type": "WORK", "is_primary": True},
        {"address_1": "1 Main St", "locality": "Springfield", "region": "IL", "type": "HOME"}]


def test_an_inactive_item_s_deleted_suffix_is_not_part_of_its_name() -> None:
    assert qbo_item({"Name": "Great Planning (deleted)", "UnitPrice": 5, "Active": False})["name"] == "Great Planning"


def test_items_compare_rates_as_decimals() -> None:
    assert canopy_item({"name": "Audit", "rate": "100.00", "sku": " ", "is_active": True}) == \
        qbo_item({"Name": "Audit", "UnitPrice": 100, "Active": True}) == \
        {"name": "Audit", "rate": "100", "sku": None, "description": None, "active": True}


def test_a_change_on_one_side_goes_to_the_other_and_nowhere_else() -> None:
    canopy = {**BASE, "phone": "555-0100"}
    m = merge(BASE, canopy, BASE, T0, T0 - timedelta(days=1))
    assert m.to_qbo == {"phone": "555-0100"} and m.to_canopy == {} and m.conflicts == ()


def test_both_sides_changing_one_field_the_later_wins_and_other_fields_merge() -> None:
    canopy = {**BASE, "email": "canopy@x.test", "phone": "555-0100"}
    qbo = {**BASE, "email": "qbo@x.test", "last": "King"}
    m = merge(BASE, canopy, qbo, canopy_changed_at=T0, qbo_changed_at=T0 + timedelta(seconds=1))
    assert m.merged == {**BASE, "email": "qbo@x.test", "phone": "555-0100", "last": "King"}
    assert m.conflicts == ("email",)
    assert m.to_canopy == {"email": "qbo@x.test", "last": "King"} and m.to_qbo == {"phone": "555-0100"}


def test_the_engine_s_own_write_coming_back_writes_nothing() -> None:
    """R20: after a sync both sides equal the base; an echo of either side changes nothing."""
    m = merge(BASE, BASE, BASE, T0, T0)
    assert (m.to_canopy, m.to_qbo) == ({}, {})


def test_write_bodies_name_each_api_s_fields() -> None:
    assert qbo_customer_body({"email": "a@b.test", "active": False, "name": "X"}) == {
        "PrimaryEmailAddr": {"Address": "a@b.test"}, "Active": False, "DisplayName": "X"}
    client = {"emails": [{"email": "home@x.test", "type": "PERSONAL"}, {"email": "ada@x.test", "is_primary": True}]}
    assert canopy_client_patch({"email": "new@x.test", "active": False}, client) == {
        "emails": [{"email": "new@x.test", "type": "WORK", "is_primary": True},
                   {"email": "home@x.test", "type": "PERSONAL"}], "is_archived": True}


texts = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
records = st.fixed_dictionaries({"name": texts, "email": texts, "active": st.booleans()})


@given(records, records, records, st.booleans())
def test_merging_twice_writes_nothing_the_second_time(base: dict, canopy: dict, qbo: dict, canopy_later: bool) -> None:
    t_c, t_q = (T0 + timedelta(seconds=1), T0) if canopy_later else (T0, T0 + timedelta(seconds=1))
    first = merge(base, canopy, qbo, t_c, t_q)
    after_c = {**canopy, **first.to_canopy}
    after_q = {**qbo, **first.to_qbo}
    assert after_c == after_q == first.merged
    second = merge(first.merged, after_c, after_q, t_c, t_q)
    assert (second.to_canopy, second.to_qbo) == ({}, {})
    assert content_hash(after_c) == content_hash(dict(reversed(list(after_q.items()))))


def test_a_customer_named_only_by_display_name_reads_as_the_client_made_from_it() -> None:
    """D-55: no echo and no spurious change for a customer that has neither GivenName nor FamilyName."""
    view = qbo_contact({"DisplayName": "Sloane Reed", "Active": True}, False)
    assert (view["first"], view["last"]) == ("Sloane", "Reed")
    client = {"display_name": "Sloane Reed", "first_name": "Sloane", "last_name": "Reed", "is_business": False}
    assert {k: canopy_contact(client)[k] for k in ("name", "first", "last")} == {
        k: view[k] for k in ("name", "first", "last")}
    # A new last name in Canopy goes to QBO with the first name beside it, which QBO never had.
    body = qbo_customer_body(with_both_names({"last": "Reid"}, {**view, "last": "Reid"}))
    assert body == {"GivenName": "Sloane", "FamilyName": "Reid"}
    assert with_both_names({"phone": "1"}, view) == {"phone": "1"}
