"""Faker draws, once per (locale, seed): pools of name parts, companies and places.

One Faker call per record would take a minute for 100,000 names, so the
generator draws a few thousand parts here and combines them with a seeded
`random.Random`. The pool sizes are fixed, so the same seed always draws the
same parts in the same order (Faker is pinned in pyproject.toml).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

FIRST, LAST, COMPANY, STREET, CITY = 1500, 1500, 1200, 400, 200


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    companies: tuple[str, ...]
    company_suffixes: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str, str], ...]
    """(city, region, postal code)."""
    domains: tuple[str, ...]
    service_words: tuple[str, ...]


def _unique(values: list[str]) -> tuple[str, ...]:
    """Distinct values in first-drawn order (Faker repeats; order must not depend on hashing)."""
    seen: dict[str, None] = {}
    for v in values:
        v = " ".join(v.split())
        if v and ":" not in v:
            seen.setdefault(v, None)
    return tuple(seen)


@lru_cache(maxsize=8)
def draw(locale: str, seed: int) -> Pools:
    from faker import Faker  # noqa: PLC0415 (heavy import, only when generating)

    fake = Faker(locale)
    fake.seed_instance(seed)
    firsts = _unique([fake.first_name() for _ in range(FIRST)])
    lasts = _unique([fake.last_name() for _ in range(LAST)])
    companies = _unique([fake.company() for _ in range(COMPANY)])
    try:
        suffixes = _unique([fake.company_suffix() for _ in range(30)])
    except AttributeError:
        suffixes = ("Ltd", "LLC", "Inc")
    streets = _unique([fake.street_address() for _ in range(STREET)])
    cities = []
    for _ in range(CITY):
        region = fake.state_abbr() if hasattr(fake, "state_abbr") else fake.city_suffix() if hasattr(
            fake, "city_suffix") else ""
        cities.append((fake.city(), region, fake.postcode()))
    domains = _unique([fake.free_email_domain() for _ in range(20)])
    words = _unique([w.capitalize() for w in fake.words(200, unique=False)])
    return Pools(firsts, lasts, companies, suffixes or ("LLC",), streets, tuple(cities), domains, words)


def ascii_slug(text: str) -> str:
    """An e-mail-safe local part from any name."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", plain.lower()).strip(".") or "client"
