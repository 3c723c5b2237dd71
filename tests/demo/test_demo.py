"""`python -m sim demo` end to end, as `make demo` runs it: fakes, the engine process, the story,
the verdict. The demo must pass on the default scenario and must fail, saying what differed,
when its hidden `--tamper` flag renames a matching Canopy client behind the ground truth's back.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.scenario import build_world, load_named

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    # wide enough that no table cell wraps a phrase the tests look for
    env.update(OAUTHLIB_INSECURE_TRANSPORT="1", NO_COLOR="1", PYTHONPATH=str(ROOT), COLUMNS="220")
    return subprocess.run([sys.executable, "-m", "sim", "demo", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False)


def verdict_line(out: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.startswith("VERDICT:")]
    assert len(lines) == 1, f"expected one verdict line, got {lines!r}:\n{out[-3000:]}"
    return lines[0]


@pytest.fixture(scope="module")
def default_run() -> subprocess.CompletedProcess[str]:
    return run_demo()


@pytest.fixture(scope="module")
def truth() -> dict:
    return build_world(load_named("default"), 0, 1).truth


def test_default_scenario_passes(default_run: subprocess.CompletedProcess[str]) -> None:
    out = default_run.stdout + default_run.stderr
    assert default_run.returncode == 0, out[-6000:]
    assert verdict_line(out).startswith("VERDICT: PASS"), out[-3000:]
    assert re.search(r"\(\d+ checks, \d+\.\d s\)", verdict_line(out)), "the verdict states the elapsed time"


def test_names_every_step(default_run: subprocess.CompletedProcess[str], truth: dict) -> None:
    out = default_run.stdout
    for step in ("Step 1 · Who may connect QBO", "Step 2 · The Admin connects QBO", "Step 3 · Contacts",
                 "Step 4 · Service items and invoices", "Step 5 · Live changes", "Step 6 · The verdict"):
        assert step in out
    for gate in truth["gates"]:  # each team member, with the reason when they may not connect
        assert gate["email"] in out
        if gate["connect"] != "ok":
            assert f"disabled: {gate['connect']}" in out
    assert "accept the data-sharing agreement" in out


def test_names_the_four_sections_with_their_counts(default_run: subprocess.CompletedProcess[str],
                                                   truth: dict) -> None:
    out = default_run.stdout
    counts = truth["contacts"]["All"]["counts"]
    for title, key in (("Matches", "matches"), ("New Contacts", "new"), ("Unmatched", "unmatched"),
                       ("Duplicates", "duplicates")):
        assert re.search(rf"│ {title}\s+│ {counts[key]}\s+│ {counts[key]}\s+│", out), f"{title} row"
    for why in ("no_qbo_customer", "several_canopy_contacts", "several_qbo_customers", "qbo_vendor", "qbo_employee"):
        assert why in out, f"the reason {why} of a record not synced"


def test_names_the_item_differences_and_invoices(default_run: subprocess.CompletedProcess[str],
                                                 truth: dict) -> None:
    out = default_run.stdout
    for what in ("name differs", "rate differs", "sku differs", "no item of that name on the other side"):
        assert what in out
    held = truth["invoices"]["All"]["held"]
    assert out.count("held: client_unlinked") >= 2 * sum(h["reasons"] == ["client_unlinked"] for h in held)
    assert "sent → QBO invoice" in out
    assert f"Finish: {len(truth['invoices']['All']['sent'])} sent, {len(held)} held" in out


def test_names_the_live_changes(default_run: subprocess.CompletedProcess[str]) -> None:
    out = default_run.stdout
    for change, logged in (("new client in Canopy", "contact created canopy_to_qbo"),
                           ("new customer in QBO", "contact created qbo_to_canopy"),
                           ("new service item in QBO", "item created qbo_to_canopy"),
                           ("new invoice in Canopy", "invoice created canopy_to_qbo"),
                           ("with the unlinked item", "invoice held canopy_to_qbo")):
        assert change in out
        assert logged in out, f"the sync log line for the {change}"


def test_tamper_makes_the_verdict_fail_and_say_what_differed(truth: dict) -> None:
    run = run_demo("--tamper")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-6000:]
    line = verdict_line(out)
    matches = truth["contacts"]["All"]["counts"]["matches"]
    assert line.startswith("VERDICT: FAIL"), line
    assert f"Matches count: expected {matches}, got {matches - 1}" in line, line
    assert "--tamper: renamed Canopy client" in out


def test_tamper_is_hidden_from_the_help() -> None:
    run = subprocess.run([sys.executable, "-m", "sim", "demo", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0
    for flag in ("--scenario", "--seed", "--scale", "--keep-running"):
        assert flag in run.stdout
    assert "--tamper" not in run.stdout
