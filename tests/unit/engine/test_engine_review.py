"""Review (R10): sections, pages of 300, opened flags, Next."""
from __future__ import annotations

import pytest

from engine.matching import match_contacts
from engine.models import Contact, Customer, ImportChoice
from engine.review import (
    SECTION_ORDER,
    Opened,
    PageError,
    Section,
    SectionSizes,
    can_sync_contacts,
    page,
    page_count,
    section_items,
)


@pytest.mark.parametrize("n, pages, last", [(0, 1, 0), (1, 1, 1), (300, 1, 300), (301, 2, 1), (600, 2, 300),
                                            (601, 3, 1)])
def test_pages_of_300(n: int, pages: int, last: int) -> None:
    items = list(range(n))
    assert page_count(n) == pages
    p = page(items, pages)
    assert (p.page_count, p.total, len(p.items)) == (pages, n, last)
    assert list(page(items, 1).items) == items[:300]


def test_page_out_of_range() -> None:
    for bad in (0, 2, -1):
        with pytest.raises(PageError):
            page(list(range(300)), bad)


def test_pages_cover_the_section_once() -> None:
    items = list(range(301))
    assert list(page(items, 1).items) + list(page(items, 2).items) == items


def test_sections_in_order_from_a_plan() -> None:
    assert SECTION_ORDER == (Section.MATCHES, Section.NEW_CONTACTS, Section.UNMATCHED, Section.DUPLICATES)
    plan = match_contacts([Contact("c1", "A"), Contact("c2", "B")], [Customer("1", "A"), Customer("2", "C")], [],
                          ImportChoice.ALL)
    assert SectionSizes.of_plan(plan) == SectionSizes(1, 1, 1, 0)
    assert [len(section_items(plan, s)) for s in SECTION_ORDER] == [1, 1, 1, 0]


def test_all_four_sections_must_be_opened_including_empty() -> None:
    o = Opened()
    for s in SECTION_ORDER[:-1]:
        o = o.open(s)
        assert not can_sync_contacts(o)
    assert can_sync_contacts(o.open(Section.DUPLICATES))


def test_next_walks_the_sections_in_order() -> None:
    o = Opened()
    walked = []
    while (s := o.next_section()) is not None:
        o = o.open(s)
        walked.append(s)
    assert walked == list(SECTION_ORDER) and can_sync_contacts(o)


def test_next_continues_from_a_directly_opened_section() -> None:
    o = Opened().open(Section.UNMATCHED)
    assert o.next_section() is Section.DUPLICATES
    assert o.open(Section.DUPLICATES).next_section() is None
