"""Fresh names that cannot collide by accident.

The generator plants every coincidence it means (a match, a duplicate, a
vendor clash) on purpose; anything else must stay apart. `NameBook` keeps the
D-2 normal form of every name handed out and redraws on a clash, so two
groups never meet after normalisation. `normal_form` mirrors D-2 for this
guard only; the ground truth never compares names (it follows the plan).
"""
from __future__ import annotations

import re

import random
import string
from dataclasses import dataclass, field

from .pools import Pools

_DELETED_AT_END = re.compile(r"\s+\(deleted\)\s*$", re.IGNORECASE)


def normal_form(name: str) -> str:
    """D-2: trim, drop the trailing " (deleted)" (repeatedly, any case), collapse inner white
    space, case-fold. The generator's own copy: `sim` never imports the engine."""
    name = name.strip()
    while found := _DELETED_AT_END.search(name):
        name = name[: found.start()].strip()
    return " ".join(name.split()).casefold()


@dataclass
class Person:
    first: str
    last: str

    @property
    def display(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class NameBook:
    pools: Pools
    rng: random.Random
    used: set[str] = field(default_factory=set)

    def _claim(self, name: str) -> bool:
        key = normal_form(name)
        if key in self.used:
            return False
        self.used.add(key)
        return True

    def person(self) -> Person:
        p = self.pools
        for attempt in range(50):
            first, last = self.rng.choice(p.first_names), self.rng.choice(p.last_names)
            if attempt >= 3:  # the plain pairs are thinning out: widen with a middle initial
                first = f"{first} {self.rng.choice(string.ascii_uppercase)}."
            if self._claim(f"{first} {last}"):
                return Person(first, last)
        raise RuntimeError("name pools exhausted; raise pools.FIRST/LAST")

    def business(self) -> str:
        p, r = self.pools, self.rng
        for attempt in range(50):
            pattern = r.randrange(4) if attempt < 10 else 4
            if pattern == 0:
                name = r.choice(p.companies)
            elif pattern == 1:
                name = f"{r.choice(p.last_names)} {r.choice(p.company_suffixes)}"
            elif pattern == 2:
                name = f"{r.choice(p.last_names)} & {r.choice(p.last_names)}"
            elif pattern == 3:
                name = f"{r.choice(p.last_names)} {r.choice(p.service_words)} {r.choice(p.company_suffixes)}"
            else:
                name = f"{r.choice(p.last_names)} & {r.choice(p.last_names)} {r.choice(p.company_suffixes)}"
            if self._claim(name):
                return name
        raise RuntimeError("business name pools exhausted")

    def item(self) -> str:
        r, p = self.rng, self.pools
        kinds = ("Consulting", "Tax Preparation", "Bookkeeping", "Payroll", "Advisory", "Audit", "Review",
                 "Filing", "Planning", "Compliance", "Research", "Training")
        for attempt in range(100):
            name = f"{r.choice(p.service_words)} {r.choice(kinds)}"
            if attempt >= 5:  # the short names are thinning out
                name = f"{r.choice(p.last_names)} {name}"
            if self._claim(name):
                return name
        raise RuntimeError("item name pools exhausted")


def case_or_space_variant(name: str, rng: random.Random) -> str:
    """The same name after D-2, spelled differently: case, inner or outer white space.

    Outer white space is not used: QBO trims DisplayName on write, so the
    variant would vanish in the store and the pair would be an exact match.
    """
    words = name.split(" ")
    choice = rng.randrange(3)
    if choice == 0:
        variant = name.upper()
    elif choice == 1:
        variant = name.lower()
    else:
        i = rng.randrange(max(1, len(words) - 1))
        variant = " ".join(words[: i + 1]) + "  " + " ".join(words[i + 1:]) if len(words) > 1 else name.swapcase()
    if variant == name:  # e.g. a name with no letters that change case
        variant = name.swapcase() if name.swapcase() != name else name.replace(" ", "  ", 1)
    return variant
