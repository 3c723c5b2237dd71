"""What the demo saw beside what it expected, and how it is shown: one rich table per step,
then the verdict."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

OK, BAD = "[green]✓[/]", "[red]✗[/]"
ROWS_SHOWN = 25
"""At most this many records per table; the rest is counted, never printed as a wall."""


def make_console() -> Console:
    """Wide enough for the tables when the output goes to a pipe or a file (tests, CI logs)."""
    interactive = sys.stdout.isatty()
    width = None if interactive else int(os.environ.get("COLUMNS", "140"))
    return Console(width=width, highlight=False, soft_wrap=False)


def mark(ok: bool) -> str:
    return OK if ok else BAD


def table(title: str, *columns: str | tuple[str, dict[str, Any]], caption: str | None = None) -> Table:
    """A table whose columns are names, or (name, rich column options) such as `{"ratio": 2}`."""
    t = Table(title=f"[bold]{title}[/]", caption=caption, title_justify="left", caption_justify="left")
    for col in columns:
        name, options = (col, {}) if isinstance(col, str) else col
        t.add_column(name, **{"overflow": "fold", **options})
    return t


def more_rows(t: Table, shown: int, total: int) -> None:
    if total > shown:
        t.add_row(f"[dim]… and {total - shown} more[/]", *[""] * (len(t.columns) - 1))


def plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(plain(v) for v in value) or "-"
    return str(value)


@dataclass
class Check:
    step: str
    what: str
    expected: Any
    got: Any
    ok: bool

    def line(self) -> str:
        return f"{self.step}: {self.what}: expected {plain(self.expected)}, got {plain(self.got)}"


@dataclass
class Ledger:
    """Every comparison the demo made, in order, by step."""

    checks: list[Check] = field(default_factory=list)
    stopped: str | None = None
    """Why the story could not go on (a surprise), when it could not."""

    def check(self, step: str, what: str, expected: Any, got: Any, ok: bool | None = None) -> bool:
        passed = expected == got if ok is None else ok
        self.checks.append(Check(step, what, expected, got, passed))
        return passed

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return self.stopped is None and not self.failed()

    def steps(self) -> list[str]:
        seen: list[str] = []
        for c in self.checks:
            if c.step not in seen:
                seen.append(c.step)
        return seen

    def of(self, step: str) -> Iterable[Check]:
        return (c for c in self.checks if c.step == step)
