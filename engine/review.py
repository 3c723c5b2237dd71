"""The contacts review (R10): four sections, pages of 300, and which sections were opened.

*Sync contacts* is allowed only once every section, empty ones included, was opened,
directly or through *Next*; opening any page of a section counts.
"""
from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from engine.matching import MatchPlan

PAGE_SIZE = 300
T = TypeVar("T")


class Section(enum.Enum):
    """The review sections, in the order *Next* walks them (R10)."""

    MATCHES = "matches"
    NEW_CONTACTS = "new_contacts"
    UNMATCHED = "unmatched"
    DUPLICATES = "duplicates"


SECTION_ORDER: tuple[Section, ...] = tuple(Section)


class PageError(ValueError):
    """A page number outside 1..page_count."""


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """Pages of a section; an empty section still has one (empty) page, so it can be opened."""
    if size < 1:
        raise ValueError("page size must be at least 1")
    return max(1, math.ceil(total / size))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    page_no: int
    page_count: int
    total: int


def page(section_items: Sequence[T], page_no: int, size: int = PAGE_SIZE) -> Page[T]:
    """R10: page `page_no` (from 1) of a section, at most `size` records."""
    pages = page_count(len(section_items), size)
    if not 1 <= page_no <= pages:
        raise PageError(f"page {page_no} is not in 1..{pages}")
    start = (page_no - 1) * size
    return Page(tuple(section_items[start:start + size]), page_no, pages, len(section_items))


@dataclass(frozen=True)
class SectionSizes:
    """How many records each section holds; enough for the wizard to check page numbers."""

    matches: int = 0
    new_contacts: int = 0
    unmatched: int = 0
    duplicates: int = 0

    def of(self, section: Section) -> int:
        return int(getattr(self, section.value))

    @classmethod
    def of_plan(cls, plan: MatchPlan) -> SectionSizes:
        return cls(len(plan.matched), len(plan.new), len(plan.unmatched), len(plan.duplicates))


def section_items(plan: MatchPlan, section: Section) -> Sequence[object]:
    """The records a section shows, in the plan's stable order."""
    return {Section.MATCHES: plan.matched, Section.NEW_CONTACTS: plan.new,
            Section.UNMATCHED: plan.unmatched, Section.DUPLICATES: plan.duplicates}[section]


@dataclass(frozen=True)
class Opened:
    """Which sections the user has opened, and the one on screen (where *Next* starts from)."""

    sections: frozenset[Section] = field(default_factory=frozenset)
    current: Section | None = None

    def open(self, section: Section) -> Opened:
        """Opening a section (any of its pages) counts as opened."""
        return replace(self, sections=self.sections | {section}, current=section)

    def next_section(self) -> Section | None:
        """The section *Next* goes to: the first one before any is open, None after the last."""
        if self.current is None:
            return SECTION_ORDER[0]
        i = SECTION_ORDER.index(self.current) + 1
        return SECTION_ORDER[i] if i < len(SECTION_ORDER) else None


def can_sync_contacts(opened: Opened) -> bool:
    """R10: only when all four sections, empty ones included, have been opened."""
    return opened.sections >= set(SECTION_ORDER)
