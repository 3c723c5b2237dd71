"""One machine-readable way for every benchmark script to report its figures.

Each script keeps its own human-readable lines and ends with one line

    BENCH-JSON {"script": "qbo_crud.py", "figures": [{"name", "figure", "unit", "target", "met"}, ...]}

which `benchmarks/run_all.py` parses into one table. `figure` is a number (or a short string
when the figure is not one, e.g. section sizes); `target` is the target's text as the issue
states it, or null for a figure reported for context only; `met` is true, false, or null when
there is no target.
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

MARK = "BENCH-JSON "


class Figures:
    """Collects a script's figures; `emit()` prints the one BENCH-JSON line."""

    def __init__(self, script: str | None = None) -> None:
        self.script = script or Path(sys.argv[0]).name
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, figure: float | str, unit: str = "", target: str | None = None,
            met: bool | None = None) -> None:
        if isinstance(figure, float):
            figure = round(figure, 4)
        self.items.append({"name": name, "figure": figure, "unit": unit, "target": target,
                           "met": None if target is None else bool(met)})

    def emit(self, **extra: Any) -> None:
        print(MARK + json.dumps({"script": self.script, "figures": self.items, **extra}), flush=True)


def parse(text: str) -> list[dict[str, Any]]:
    """Every BENCH-JSON payload in a script's output, in order."""
    return [json.loads(line[len(MARK):]) for line in text.splitlines() if line.startswith(MARK)]


def machine() -> dict[str, Any]:
    """Where the figures came from: CPUs (`nproc`), the CPU model from /proc/cpuinfo, Python."""
    model = platform.processor() or platform.machine()
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                break  # the first CPU's block ends
            fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    if "model name" in fields:
        model = fields["model name"]
        if "cpu family" in fields and "model" in fields:
            model += f" (family {fields['cpu family']}, model {fields['model']})"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": cpus, "cpu_model": model, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}
