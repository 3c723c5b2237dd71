"""Contacts: D-2 names, R5 filter, R6-R9 sections, R7/D-3 duplicates, R8/D-4/D-5 new clients, D-15."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.matching import (
    ContactLink,
    kept_links,
    match_contacts,
    new_client,
    person_names,
    normalise_name,
    strip_deleted_suffix,
    takes_part,
)
from engine.models import Contact, Customer, ImportChoice, NameHolder

ALL, ACTIVE, INACTIVE = ImportChoice.ALL, ImportChoice.ACTIVE, ImportChoice.INACTIVE


def cust(id: str, name: str, active: bool = True, **kw: object) -> Customer:
    return Customer(id=id, display_name=name, active=active, **kw)  # type: ignore[arg-type]



# --- D-2 ---------------------------------------------------------------------------------

def test_case_and_whitespace_only_differences_normalise_equal() -> None:
    assert normalise_name("  Acme   Corp\t") == normalise_name("ACME corp") == "acme corp"
    assert normalise_name("Straße") == normalise_name("STRASSE")  # case folding, not lower()


def test_deleted_suffix_dropped_once_then_trimmed() -> None:
    assert normalise_name("Acme (deleted)") == "acme"
    assert normalise_name("  Acme   (deleted)  ") == "acme"
    assert normalise_name("Acme (deleted) (deleted)") == "acme"
    assert strip_deleted_suffix(" Bob  Smith (deleted) ") == "Bob  Smith"


def test_punctuation_accents_and_word_order_kept() -> None:
    assert normalise_name("Acme, Inc.") != normalise_name("Acme Inc")
    assert normalise_name("Café") != normalise_name("Cafe")
    assert normalise_name("Smith John") != normalise_name("John Smith")


def test_suffix_only_in_exact_form() -> None:
    assert normalise_name("Acme(deleted)") == "acme(deleted)"
    assert normalise_name("Acme (DELETED)") == "acme"


@given(st.text())
def test_normalise_is_idempotent(name: str) -> None:
    once = normalise_name(name)
    assert normalise_name(once) == once


# --- R5 ----------------------------------------------------------------------------------

def test_import_filter() -> None:
    on, off = cust("1", "A"), cust("2", "B", active=False)
    assert takes_part(on, ALL) and takes_part(off, ALL)
    assert takes_part(on, ACTIVE) and not takes_part(off, ACTIVE)
    assert not takes_part(on, INACTIVE) and takes_part(off, INACTIVE)


def test_sub_customers_take_part_like_any() -> None:
    job = cust("3", "Acme:Job 1", job=True)
    plan = match_contacts([], [job], [], ACTIVE)
    assert [n.customer.id for n in plan.new] == ["3"]
    assert match_contacts([], [job], [], INACTIVE) == match_contacts([], [], [], INACTIVE)


def test_non_participating_customers_appear_nowhere_and_do_not_duplicate() -> None:
    contacts = [Contact("c1", "Acme")]
    customers = [cust("1", "Acme"), cust("2", "Acme (deleted)", active=False)]
    plan = match_contacts(contacts, customers, [], ACTIVE)
    assert [(m.contact.id, m.customer.id) for m in plan.matched] == [("c1", "1")]
    assert not plan.duplicates and not plan.new
    # with All, both take part and the name is a duplicate
    plan = match_contacts(contacts, customers, [], ALL)
    assert {(d.side, d.id) for d in plan.duplicates} == {("canopy", "c1"), ("qbo", "1"), ("qbo", "2")}


def test_contact_whose_only_customer_is_filtered_out_is_unmatched() -> None:
    plan = match_contacts([Contact("c1", "Acme")], [cust("1", "Acme (deleted)", active=False)], [], ACTIVE)
    assert [u.contact.id for u in plan.unmatched] == ["c1"]


# --- R6 / R8 / R9 ------------------------------------------------------------------------

def test_case_whitespace_and_deleted_suffix_match() -> None:
    contacts = [Contact("c1", "acme  corp"), Contact("c2", "Bob Smith")]
    customers = [cust("1", " ACME Corp "), cust("2", "Bob Smith (deleted)", active=False)]
    plan = match_contacts(contacts, customers, [], ALL)
    assert [(m.contact.id, m.customer.id) for m in plan.matched] == [("c1", "1"), ("c2", "2")]


def test_only_the_name_matches() -> None:
    plan = match_contacts([Contact("c1", "Acme")], [cust("1", "Acme Ltd")], [], ALL)
    assert [u.contact.id for u in plan.unmatched] == ["c1"]
    assert [n.customer.id for n in plan.new] == ["1"]
    assert plan.unmatched[0].reason == "no_qbo_customer"


def test_new_contacts_per_choice_carry_active_state() -> None:
    customers = [cust("1", "On"), cust("2", "Off (deleted)", active=False)]
    assert [(n.customer.id, n.client.is_archived) for n in match_contacts([], customers, [], ALL).new] == [
        ("2", True), ("1", False)]
    assert [n.customer.id for n in match_contacts([], customers, [], ACTIVE).new] == ["1"]
    assert [n.customer.id for n in match_contacts([], customers, [], INACTIVE).new] == ["2"]


def test_business_when_company_name_equals_display_name() -> None:
    c = new_client(cust("1", "Acme LLC", company_name="ACME  llc"))
    assert (c.is_business, c.business_name, c.first_name, c.last_name) == (True, "ACME  llc", None, None)


def test_individual_when_company_differs_or_missing() -> None:
    c = new_client(cust("1", "Jane Doe", company_name="Acme LLC", given_name="Jane", family_name="Doe"))
    assert (c.is_business, c.business_name, c.first_name, c.last_name) == (False, None, "Jane", "Doe")
    assert not new_client(cust("2", "Jane", company_name="   ")).is_business
    assert not new_client(cust("3", "Jane")).is_business


def test_an_individual_without_first_or_last_name_is_named_by_its_display_name() -> None:
    """D-55: Canopy refuses an individual with neither name; QBO needs neither."""
    c = new_client(cust("1", "  Mary  Ann Smith (deleted) ", active=False))
    assert (c.is_business, c.first_name, c.last_name) == (False, "Mary Ann", "Smith")
    assert (new_client(cust("2", "Cher")).first_name, new_client(cust("2", "Cher")).last_name) == (None, "Cher")
    assert person_names(None, "Doe", "Jane Q Doe") == (None, "Doe")  # a name QBO has is kept as it is
    assert person_names(" ", "", "") == (None, None)


def test_inactive_business_compares_without_suffix_and_drops_it() -> None:
    c = new_client(cust("1", "Acme LLC (deleted)", active=False, company_name="Acme LLC"))
    assert c.is_business and c.display_name == "Acme LLC" and c.is_archived


# --- R7 / D-3 ----------------------------------------------------------------------------

def test_duplicate_canopy_contacts() -> None:
    plan = match_contacts([Contact("c1", "Acme"), Contact("c2", "ACME ")], [cust("1", "acme")], [], ALL)
    assert not plan.matched
    assert [(d.side, d.id) for d in plan.duplicates] == [("canopy", "c1"), ("canopy", "c2"), ("qbo", "1")]
    assert all(d.reasons == ("several_canopy_contacts",) for d in plan.duplicates)


def test_duplicate_qbo_customers_without_any_contact() -> None:
    plan = match_contacts([], [cust("1", "Acme"), cust("2", "Acme (deleted)", active=False)], [], ALL)
    assert not plan.new
    assert [(d.id, d.reasons) for d in plan.duplicates] == [("1", ("several_qbo_customers",)),
                                                            ("2", ("several_qbo_customers",))]


def test_active_vendor_or_employee_name_blocks_the_contact() -> None:
    holders = [NameHolder("v1", "vendor", "Acme"), NameHolder("e1", "employee", "Bob")]
    plan = match_contacts([Contact("c1", "acme"), Contact("c2", "Bob")], [], holders, ALL)
    assert [(d.id, d.reasons) for d in plan.duplicates] == [("c1", ("qbo_vendor",)), ("c2", ("qbo_employee",))]
    assert not plan.unmatched


def test_vendor_name_without_a_canopy_contact_blocks_nothing() -> None:
    plan = match_contacts([], [cust("1", "Acme (deleted)", active=False)], [NameHolder("v1", "vendor", "Acme")],
                          ALL)
    assert [n.customer.id for n in plan.new] == ["1"]


def test_inactive_vendor_or_employee_does_not_block() -> None:
    holders = [NameHolder("v1", "vendor", "Acme (deleted)", active=False),
               NameHolder("e1", "employee", "Bob", active=False)]
    plan = match_contacts([Contact("c1", "Acme"), Contact("c2", "Bob")], [cust("1", "Acme")], holders, ALL)
    assert [m.contact.id for m in plan.matched] == ["c1"]
    assert [u.contact.id for u in plan.unmatched] == ["c2"]
    assert not plan.duplicates


def test_several_reasons_are_all_given() -> None:
    plan = match_contacts([Contact("c1", "Acme"), Contact("c2", "Acme")], [cust("1", "Acme"), cust("2", "acme")],
                          [NameHolder("v", "vendor", "ACME")], ALL)
    assert {d.reasons for d in plan.duplicates} == {("several_canopy_contacts", "several_qbo_customers",
                                                     "qbo_vendor")}


# --- D-15 --------------------------------------------------------------------------------

def test_restart_keeps_links_that_still_hold() -> None:
    contacts = [Contact("c1", "Acme"), Contact("c2", "Bob"), Contact("c3", "Carol")]
    customers = [cust("1", "ACME"), cust("2", "Robert")]
    links = [ContactLink("c1", "1"), ContactLink("c2", "2"), ContactLink("c3", "9"), ContactLink("c1", "1")]
    assert kept_links(links, contacts, customers) == (ContactLink("c1", "1"),)


# --- properties --------------------------------------------------------------------------

NAMES = ["Acme", " acme ", "ACME (deleted)", "Bob  Smith", "bob smith", "Zed", "Café", "cafe", ""]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Contact], list[Customer], list[NameHolder], ImportChoice]:
    names = st.sampled_from(NAMES)
    contacts = [Contact(f"c{i}", n) for i, n in enumerate(draw(st.lists(names, max_size=8)))]
    customers = [Customer(str(i), n, active=a)
                 for i, (n, a) in enumerate(draw(st.lists(st.tuples(names, st.booleans()), max_size=8)))]
    holders = [NameHolder(f"h{i}", k, n, a) for i, (k, n, a) in enumerate(draw(st.lists(
        st.tuples(st.sampled_from(["vendor", "employee"]), names, st.booleans()), max_size=3)))]
    return contacts, customers, holders, draw(st.sampled_from(list(ImportChoice)))


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_every_record_lands_in_exactly_one_section(world: tuple) -> None:  # type: ignore[type-arg]
    contacts, customers, holders, choice = world
    plan = match_contacts(contacts, customers, holders, choice)
    seen_c = [m.contact.id for m in plan.matched] + [u.contact.id for u in plan.unmatched] + [
        d.id for d in plan.duplicates if d.side == "canopy"]
    seen_q = [m.customer.id for m in plan.matched] + [n.customer.id for n in plan.new] + [
        d.id for d in plan.duplicates if d.side == "qbo"]
    assert sorted(seen_c) == sorted(c.id for c in contacts)
    assert sorted(seen_q) == sorted(q.id for q in customers if takes_part(q, choice))


@settings(max_examples=200, deadline=None)
@given(worlds(), st.randoms(use_true_random=False))
def test_result_independent_of_input_order(world: tuple, rnd: random.Random) -> None:  # type: ignore[type-arg]
    contacts, customers, holders, choice = world
    shuffled = [list(x) for x in (contacts, customers, holders)]
    for x in shuffled:
        rnd.shuffle(x)
    assert match_contacts(*shuffled, choice) == match_contacts(contacts, customers, holders, choice)


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_no_duplicate_name_is_ever_matched_or_created(world: tuple) -> None:  # type: ignore[type-arg]
    plan = match_contacts(*world)
    dup_names = {d.name for d in plan.duplicates}
    assert not dup_names & {m.name for m in plan.matched}
    assert not dup_names & {n.name for n in plan.new}
    assert not dup_names & {u.name for u in plan.unmatched}


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_matched_pairs_have_equal_normalised_names(world: tuple) -> None:  # type: ignore[type-arg]
    for m in match_contacts(*world).matched:
        assert normalise_name(m.contact.display_name) == normalise_name(m.customer.display_name) == m.name
