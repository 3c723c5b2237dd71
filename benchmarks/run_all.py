"""Run every benchmark script in this folder, then print one table of every figure beside its target.

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--strict] [--timeout S]
    python benchmarks/run_all.py --show benchmarks/results/latest.json     # the table again

Each script prints its own lines (shown as they come) and ends with one `BENCH-JSON {...}` line
(`benchmarks/results.py`); the table is built from those. The same, with the machine it ran on,
is written to `benchmarks/results/bench-<UTC time>.json` and `benchmarks/results/latest.json`.
A script is a `*.py` here with a `__main__` block (not this one); `--quick` is passed through.

Exit status: 1 when a script failed or reported no figures; missed targets are a report, not a
failure, unless `--strict`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from results import MARK, machine, parse

RESULTS = HERE / "results"


def scripts() -> list[Path]:
    return [p for p in sorted(HERE.glob("*.py"))
            if p.name != Path(__file__).name and "__main__" in p.read_text()]


def run(script: Path, args: list[str], timeout: float) -> dict[str, Any]:
    """Run one script, echoing its output (not the BENCH-JSON line), and collect its figures."""
    print(f"== {script.name} {' '.join(args)}".rstrip(), flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
    timed_out = threading.Event()

    def watchdog() -> None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out.set()
            proc.kill()

    threading.Thread(target=watchdog, daemon=True).start()
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if not line.startswith(MARK):
            print(line, end="", flush=True)
    code = proc.wait()
    payloads = parse("".join(lines))
    figures = [f for p in payloads for f in p.get("figures", [])]
    extra = {k: v for p in payloads for k, v in p.items() if k not in ("script", "figures")}
    error = None
    if timed_out.is_set():
        error = f"timed out after {timeout:.0f} s"
    elif not payloads:
        error = f"exited with {code} and reported no figures"
    return {"script": script.name, "args": args, "exit": code, "seconds": round(time.perf_counter() - started, 1),
            "error": error, "figures": figures, **({"details": extra} if extra else {})}


def show(value: Any, unit: str) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        size = abs(value)
        text = f"{value:,.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def table(runs: list[dict[str, Any]], info: dict[str, Any], quick: bool) -> Table:
    title = (f"Benchmarks{' (--quick)' if quick else ''} on {info['nproc']} CPUs, {info['cpu_model']}, "
             f"Python {info['python']}")
    t = Table(title=title, title_justify="left", show_lines=False)
    t.add_column("script", style="dim", no_wrap=True)
    t.add_column("figure", ratio=3)
    t.add_column("value", justify="right", max_width=26, overflow="fold")
    t.add_column("target", ratio=1)
    t.add_column("meets", justify="center", no_wrap=True)
    for r in runs:
        if r["error"]:
            t.add_row(r["script"], "(the script failed)", "", r["error"], "[red]FAILED[/red]")
        for f in r["figures"]:
            met = {True: "[green]yes[/green]", False: "[red]MISSED[/red]", None: "-"}[f.get("met")]
            t.add_row(r["script"], f["name"], show(f["figure"], f.get("unit", "")), f.get("target") or "-", met)
    return t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="passed to every script: smaller, faster runs")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these scripts (file names, .py optional)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed too")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per script (default 3600)")
    p.add_argument("--show", metavar="JSON", type=Path, help="print the table of an earlier run's JSON; run nothing")
    args = p.parse_args()
    console = Console(width=max(Console().width, 160))
    if args.show:
        report = json.loads(args.show.read_text())
        console.print(table(report["runs"], report["machine"], report["quick"]))
        return 0
    chosen = scripts()
    if args.only:
        wanted = {n if n.endswith(".py") else n + ".py" for n in args.only}
        unknown = wanted - {s.name for s in chosen}
        if unknown:
            p.error(f"no such benchmark: {', '.join(sorted(unknown))}; there are {', '.join(s.name for s in chosen)}")
        chosen = [s for s in chosen if s.name in wanted]
    passthrough = ["--quick"] if args.quick else []
    info = machine()
    started = datetime.now(UTC)
    runs = [run(script, passthrough, args.timeout) for script in chosen]

    console.print()
    console.print(table(runs, info, args.quick))
    RESULTS.mkdir(exist_ok=True)
    report = {"started": started.isoformat(timespec="seconds"), "quick": args.quick, "machine": info, "runs": runs}
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2) + "\n"
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    console.print(f"written to {(RESULTS / f'bench-{stamp}.json').relative_to(ROOT)} and "
                  f"{(RESULTS / 'latest.json').relative_to(ROOT)}")
    failed = [r["script"] for r in runs if r["error"]]
    missed = [f["name"] for r in runs for f in r["figures"] if f.get("met") is False]
    if failed:
        console.print(f"[red]failed:[/red] {', '.join(failed)}")
    if missed:
        console.print(f"missed targets: {len(missed)}")
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
