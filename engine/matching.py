"""Contact and item matching for setup: pure functions over plain records.

Rules implemented here, one function each:

- `normalise_name`: D-2 (R6, R7, R12, R15, D-15).
- `takes_part`: the R5 import filter.
- `duplicate_reasons`: R7 / D-3, what makes a normalised name a duplicate.
- `new_client`: R8 / D-4 / D-5, the Canopy client created for a QBO customer.
- `match_contacts`: R6-R9, every record into exactly one review section (R10).
- `match_items`: R15 / D-9 / D-10 / D-11, keeping earlier links (R16).
- `default_income_account`: R17 / D-12.
- `kept_links`: D-15, which links survive a restart.

Every output is sorted by (normalised name, id), so it does not depend on input order.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from engine.models import (
    Account,
    Contact,
    Customer,
    ImportChoice,
    ItemLink,
    NameHolder,
    QboItem,
    ServiceItem,
)

DELETED_SUFFIX = " (deleted)"
_DELETED_AT_END = re.compile(r"\s+\(deleted\)\s*$", re.IGNORECASE)


# --- names (D-2) ---------------------------------------------------------------------------

def strip_deleted_suffix(name: str) -> str:
    """Steps 1-2 of D-2: trim, then drop every trailing " (deleted)" QBO adds to inactive
    names (D-17), in any case and spacing, trimming again each time."""
    name = name.strip()
    while found := _DELETED_AT_END.search(name):
        name = name[: found.start()].strip()
    return name


def normalise_name(name: str) -> str:
    """D-2: trim, drop the " (deleted)" suffix, collapse inner white space, case-fold.

    Idempotent: normalising a normalised name changes nothing.
    """
    return " ".join(strip_deleted_suffix(name).split()).casefold()


# --- contacts (R5-R9) ----------------------------------------------------------------------

def takes_part(customer: Customer, choice: ImportChoice) -> bool:
    """R5: a customer takes part when `Active` agrees with the choice; `Job` plays no role."""
    if choice is ImportChoice.ALL:
        return True
    return customer.active is (choice is ImportChoice.ACTIVE)


DuplicateReason = Literal["several_canopy_contacts", "several_qbo_customers", "qbo_vendor", "qbo_employee"]


def duplicate_reasons(canopy_count: int, qbo_count: int,
                      holders: Iterable[NameHolder]) -> tuple[DuplicateReason, ...]:
    """R7 / D-3: why a normalised name is a duplicate (empty when it is not).

    `qbo_count` counts participating customers only; `holders` are the vendors and employees
    with that name. Only ACTIVE holders block, and only a name some Canopy contact carries.
    """
    reasons: list[DuplicateReason] = []
    if canopy_count > 1:
        reasons.append("several_canopy_contacts")
    if qbo_count > 1:
        reasons.append("several_qbo_customers")
    if canopy_count >= 1:
        kinds = {h.kind for h in holders if h.active}
        if "vendor" in kinds:
            reasons.append("qbo_vendor")
        if "employee" in kinds:
            reasons.append("qbo_employee")
    return tuple(reasons)


@dataclass(frozen=True)
class NewClient:
    """The Canopy client to create for a QBO customer (R8): the kind is fixed at creation (D-5)."""

    customer_id: str
    display_name: str
    is_business: bool
    business_name: str | None
    first_name: str | None
    last_name: str | None
    is_archived: bool
    """An inactive customer becomes an archived client: its active state is carried over (R8, D-7)."""


def person_names(given: str | None, family: str | None, display: str | None) -> tuple[str | None, str | None]:
    """D-55: an individual's first and last name. QBO needs only a display name, Canopy an
    individual's first or last name: a customer with neither `GivenName` nor `FamilyName` is
    named by its display name, the last word the last name and the words before it the first."""
    given, family = (given or "").strip() or None, (family or "").strip() or None
    if given or family:
        return given, family
    words = strip_deleted_suffix(display or "").split()
    if not words:
        return None, None
    return (" ".join(words[:-1]) or None), words[-1]


def new_client(customer: Customer) -> NewClient:
    """D-5: business when `CompanyName` is set and equals `DisplayName` (both normalised)."""
    company = (customer.company_name or "").strip()
    business = bool(company) and normalise_name(company) == normalise_name(customer.display_name)
    first, last = (None, None) if business else person_names(customer.given_name, customer.family_name,
                                                              customer.display_name)
    return NewClient(customer_id=customer.id, display_name=strip_deleted_suffix(customer.display_name),
                     is_business=business, business_name=company if business else None,
                     first_name=first, last_name=last, is_archived=not customer.active)


@dataclass(frozen=True)
class ContactMatch:
    """A Canopy contact and the one QBO customer with the same normalised name (R6)."""

    name: str
    contact: Contact
    customer: Customer


@dataclass(frozen=True)
class NewContact:
    """A participating customer that matches no contact and is no duplicate (R8, D-4)."""

    name: str
    customer: Customer
    client: NewClient


@dataclass(frozen=True)
class UnmatchedContact:
    """A Canopy contact with no participating customer of its name (R9)."""

    name: str
    contact: Contact
    reason: str = "no_qbo_customer"


@dataclass(frozen=True)
class DuplicateRecord:
    """A contact or customer whose normalised name is a duplicate (R7): never linked or created."""

    name: str
    side: Literal["canopy", "qbo"]
    id: str
    display_name: str
    reasons: tuple[DuplicateReason, ...]


@dataclass(frozen=True)
class MatchPlan:
    """The four review sections of R10; each record is in exactly one of them."""

    matched: tuple[ContactMatch, ...]
    new: tuple[NewContact, ...]
    unmatched: tuple[UnmatchedContact, ...]
    duplicates: tuple[DuplicateRecord, ...]


def match_contacts(canopy: Sequence[Contact], qbo_customers: Sequence[Customer],
                   name_holders: Sequence[NameHolder], choice: ImportChoice) -> MatchPlan:
    """R5-R9: sort every contact and every participating customer into one section.

    Non-participating customers (R5) appear nowhere and do not count for duplicates or matches.
    """
    contacts_by: dict[str, list[Contact]] = defaultdict(list)
    for c in canopy:
        contacts_by[normalise_name(c.display_name)].append(c)
    customers_by: dict[str, list[Customer]] = defaultdict(list)
    for q in qbo_customers:
        if takes_part(q, choice):
            customers_by[normalise_name(q.display_name)].append(q)
    holders_by: dict[str, list[NameHolder]] = defaultdict(list)
    for h in name_holders:
        holders_by[normalise_name(h.display_name)].append(h)

    matched: list[ContactMatch] = []
    new: list[NewContact] = []
    unmatched: list[UnmatchedContact] = []
    duplicates: list[DuplicateRecord] = []
    for name in sorted(contacts_by.keys() | customers_by.keys()):
        cs = sorted(contacts_by.get(name, ()), key=lambda c: c.id)
        qs = sorted(customers_by.get(name, ()), key=lambda q: q.id)
        reasons = duplicate_reasons(len(cs), len(qs), holders_by.get(name, ()))
        if reasons:
            duplicates += [DuplicateRecord(name, "canopy", c.id, c.display_name, reasons) for c in cs]
            duplicates += [DuplicateRecord(name, "qbo", q.id, q.display_name, reasons) for q in qs]
        elif cs and qs:
            matched.append(ContactMatch(name, cs[0], qs[0]))
        elif cs:
            unmatched.append(UnmatchedContact(name, cs[0]))
        else:
            new.append(NewContact(name, qs[0], new_client(qs[0])))
    return MatchPlan(tuple(matched), tuple(new), tuple(unmatched), tuple(duplicates))


@dataclass(frozen=True)
class ContactLink:
    """An existing link between a Canopy client and a QBO customer."""

    contact_id: str
    customer_id: str


def kept_links(links: Iterable[ContactLink], canopy: Sequence[Contact],
               qbo_customers: Sequence[Customer]) -> tuple[ContactLink, ...]:
    """D-15: on restart a link survives when both records exist and their names still match."""
    contacts = {c.id: c for c in canopy}
    customers = {q.id: q for q in qbo_customers}
    out = [link for link in links
           if link.contact_id in contacts and link.customer_id in customers
           and normalise_name(contacts[link.contact_id].display_name)
           == normalise_name(customers[link.customer_id].display_name)]
    return tuple(sorted(set(out), key=lambda k: (k.contact_id, k.customer_id)))


# --- items (R15, R16) ----------------------------------------------------------------------

Field = Literal["name", "rate", "sku"]


def normalise_sku(sku: str | None) -> str:
    """D-10: trimmed and case-folded; missing, null, empty and blank all mean "no SKU" ("")."""
    return (sku or "").strip().casefold()


def rates_equal(a: Decimal, b: Decimal) -> bool:
    """D-9: exact value compare, no tolerance: Decimal('100') == Decimal('100.00')."""
    return a == b


def differing_fields(canopy: ServiceItem, qbo: QboItem) -> tuple[Field, ...]:
    """Which of name, rate and SKU differ between two items (R15), in that order."""
    out: list[Field] = []
    if normalise_name(canopy.name) != normalise_name(qbo.name):
        out.append("name")
    if not rates_equal(canopy.rate, qbo.unit_price):
        out.append("rate")
    if normalise_sku(canopy.sku) != normalise_sku(qbo.sku):
        out.append("sku")
    return tuple(out)


@dataclass(frozen=True)
class ItemMatch:
    canopy: ServiceItem
    qbo: QboItem


@dataclass(frozen=True)
class UnmatchedItem:
    """An item that does not sync (R15): "ambiguous" (D-11) or the fields that differ.

    `differs` is against the closest candidate on the other side: among those with the same
    normalised name, the one differing in fewest fields (then lowest id); with no same-name
    candidate it is ("name",) and `candidate_ids` is empty. For "ambiguous", `candidate_ids`
    are the items it fully matches.
    """

    side: Literal["canopy", "qbo"]
    id: str
    name: str
    reason: Literal["ambiguous", "differs"]
    differs: tuple[Field, ...]
    candidate_ids: tuple[str, ...]


@dataclass(frozen=True)
class ItemPlan:
    """The items review: links kept from before (R16), new matches, and unmatched on each side."""

    kept: tuple[ItemLink, ...]
    matched: tuple[ItemMatch, ...]
    unmatched: tuple[UnmatchedItem, ...]


def _item_key(name: str, rate: Decimal, sku: str | None) -> tuple[str, Decimal, str]:
    # Decimal hashes by value, so 100 and 100.00 share a key (D-9).
    return normalise_name(name), rate, normalise_sku(sku)


def _closest(differs_by_id: dict[str, tuple[Field, ...]]) -> tuple[tuple[Field, ...], tuple[str, ...]]:
    if not differs_by_id:
        return ("name",), ()
    best = min(differs_by_id, key=lambda i: (len(differs_by_id[i]), _id_key(i)))
    return differs_by_id[best], (best,)


def _id_key(id_: str) -> tuple[int, int, str]:
    return (0, int(id_), "") if id_.isdigit() else (1, 0, id_)


def match_items(canopy_items: Sequence[ServiceItem], qbo_items: Sequence[QboItem],
                existing_links: Sequence[ItemLink] = ()) -> ItemPlan:
    """R15: link a Canopy item and a QBO Service item only when name, rate and SKU all agree.

    Full agreement is an equivalence, so items group by their key. A group with exactly one
    item on each side is a match; a group with two or more on either side and any on the
    other is ambiguous (D-11) and every item in it is unmatched. Items already linked are kept
    and take no further part, so nothing is linked twice (R16). Non-Service QBO items are ignored.
    """
    kept = tuple(sorted(set(existing_links), key=lambda k: (_id_key(k.canopy_id), _id_key(k.qbo_id))))
    linked_c = {k.canopy_id for k in kept}
    linked_q = {k.qbo_id for k in kept}
    cs = [c for c in canopy_items if c.id not in linked_c]
    qs = [q for q in qbo_items if q.type == "Service" and q.id not in linked_q]

    groups: dict[tuple[str, Decimal, str], tuple[list[ServiceItem], list[QboItem]]] = defaultdict(lambda: ([], []))
    for c in cs:
        groups[_item_key(c.name, c.rate, c.sku)][0].append(c)
    for q in qs:
        groups[_item_key(q.name, q.unit_price, q.sku)][1].append(q)
    q_by_name: dict[str, list[QboItem]] = defaultdict(list)
    for q in qs:
        q_by_name[normalise_name(q.name)].append(q)
    c_by_name: dict[str, list[ServiceItem]] = defaultdict(list)
    for c in cs:
        c_by_name[normalise_name(c.name)].append(c)

    matched: list[ItemMatch] = []
    unmatched: list[UnmatchedItem] = []
    for group_c, group_q in groups.values():
        if len(group_c) == 1 and len(group_q) == 1:
            matched.append(ItemMatch(group_c[0], group_q[0]))
        elif group_c and group_q:
            q_ids = tuple(sorted((q.id for q in group_q), key=_id_key))
            c_ids = tuple(sorted((c.id for c in group_c), key=_id_key))
            unmatched += [UnmatchedItem("canopy", c.id, c.name, "ambiguous", (), q_ids) for c in group_c]
            unmatched += [UnmatchedItem("qbo", q.id, q.name, "ambiguous", (), c_ids) for q in group_q]
        else:
            for c in group_c:
                differs, cand = _closest({q.id: differing_fields(c, q) for q in q_by_name[normalise_name(c.name)]})
                unmatched.append(UnmatchedItem("canopy", c.id, c.name, "differs", differs, cand))
            for q in group_q:
                differs, cand = _closest({c.id: differing_fields(c, q) for c in c_by_name[normalise_name(q.name)]})
                unmatched.append(UnmatchedItem("qbo", q.id, q.name, "differs", differs, cand))
    matched.sort(key=lambda m: (normalise_name(m.canopy.name), _id_key(m.canopy.id), _id_key(m.qbo.id)))
    unmatched.sort(key=lambda u: (u.side, normalise_name(u.name), _id_key(u.id)))
    return ItemPlan(kept, tuple(matched), tuple(unmatched))


def default_income_account(accounts: Sequence[Account]) -> str | None:
    """R17 / D-12: the active Income account with the lowest Id, Ids compared as numbers."""
    income = [a for a in accounts if a.active and a.account_type == "Income"]
    return min(income, key=lambda a: _id_key(a.id)).id if income else None
