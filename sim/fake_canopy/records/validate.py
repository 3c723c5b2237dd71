"""Reading request bodies field by field, collecting every problem at once.

A `Body` wraps the JSON object a client sent; each `take_*` returns the
parsed value (or `MISSING`) and records a `details` entry when the value is
wrong, so one 400 names every bad field and why.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable

from .. import money
from ..errors import invalid, validation

MISSING: Any = object()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Body:
    def __init__(self, data: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
        self.data, self.prefix = data, prefix
        self.details: list[dict[str, Any]] = []
        for key in sorted(set(data) - set(allowed)):
            self.fail(key, "is not a writable field", "unknown_field")

    def fail(self, key: str, reason: str, code: str = "invalid") -> None:
        self.details.append(invalid(self.prefix + key, reason, code))

    def done(self) -> None:
        if self.details:
            raise validation(self.details)

    def _take(self, key: str, ok: Callable[[Any], Any], reason: str, *, required: bool, nullable: bool) -> Any:
        if key not in self.data:
            if required:
                self.fail(key, "is required", "required")
            return MISSING
        value = self.data[key]
        if value is None and nullable:
            return None
        out = ok(value)
        if out is MISSING:
            self.fail(key, reason)
        return out

    def str(self, key: str, *, required: bool = False, nullable: bool = False, nonempty: bool = False,
            max_len: int = 500, choices: Iterable[str] | None = None) -> Any:
        opts = tuple(choices) if choices else None

        def ok(v: Any) -> Any:
            if not isinstance(v, str) or len(v) > max_len or (nonempty and not v.strip()):
                return MISSING
            if opts and v not in opts:
                return MISSING
            return v
        reason = f"must be one of {', '.join(opts)}" if opts else (
            "must be a non-empty string" if nonempty else f"must be a string of at most {max_len} characters")
        return self._take(key, ok, reason, required=required, nullable=nullable)

    def bool(self, key: str, *, required: bool = False) -> Any:
        return self._take(key, lambda v: v if isinstance(v, bool) else MISSING, "must be true or false",
                          required=required, nullable=False)

    def date(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        def ok(v: Any) -> Any:
            if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                return MISSING
            try:
                date.fromisoformat(v)
            except ValueError:
                return MISSING
            return v
        return self._take(key, ok, "must be a date (YYYY-MM-DD)", required=required, nullable=nullable)

    def money(self, key: str, *, required: bool = False, places: int = 2, positive: bool = False,
              minimum: Decimal = Decimal(0)) -> Any:
        def ok(v: Any) -> Any:
            d = money.parse(v, places=places)
            if d is None or d < minimum or (positive and d <= 0):
                return MISSING
            return d
        sign = "greater than 0" if positive else f"at least {minimum}"
        return self._take(key, ok, f"must be a decimal string (at most {places} decimals), {sign}",
                          required=required, nullable=False)

    def list(self, key: str, item: Callable[["Body", str, Any], Any], *, required: bool = False,
             max_items: int = 100) -> Any:
        if key not in self.data:
            if required:
                self.fail(key, "is required", "required")
            return MISSING
        value = self.data[key]
        if not isinstance(value, list) or len(value) > max_items:
            self.fail(key, f"must be a list of at most {max_items} items")
            return MISSING
        return [item(self, f"{key}[{i}]", v) for i, v in enumerate(value)]


def put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not MISSING:
        out[key] = value


def one_primary(body: Body, key: str, items: Any) -> None:
    if isinstance(items, list) and sum(1 for i in items if isinstance(i, dict) and i.get("is_primary")) > 1:
        body.fail(key, "at most one item may be primary")


def email_ok(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 254 and bool(EMAIL.match(v))
