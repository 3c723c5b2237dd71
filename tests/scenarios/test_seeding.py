"""Seeding over HTTP: every small built-in seeds, counts planted equal counts found through the
fakes' public APIs, and no coincidence happens that the plan did not put there."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests

from sim.scenario import names
from sim.scenario.names import normal_form
from sim.scenario.seed import qbo_tokens
from sim.scenario.serving import fakes

from .conftest import Worlds, canopy_list_all, qbo_query_all

SMALL = [n for n in names() if n not in ("large", "huge", "contacts_over_300", "default")]


@pytest.mark.parametrize("name", SMALL)
def test_builtin_seeds(worlds: Worlds, name: str) -> None:
    world, seeded = worlds.seed(name, seed=2)
    assert len(seeded.ids["canopy"]) == sum(len(v) for v in world.canopy.values())
    assert len(seeded.ids["qbo"]) == sum(len(v) for v in world.qbo.values())


def _token(seeded: Any) -> str:
    import asyncio
    return asyncio.run(qbo_tokens(seeded))["access_token"]


@pytest.mark.parametrize("name", ["default", "contacts_over_300"])
def test_ground_truth_agrees_with_the_fakes(worlds: Worlds, name: str) -> None:
    world, seeded = worlds.seed(name, seed=4)
    truth, token = world.truth, _token(seeded)
    everything = "WHERE Active IN (true, false)"
    customers = qbo_query_all(seeded, token, "Customer", everything)
    vendors = qbo_query_all(seeded, token, "Vendor", everything)
    employees = qbo_query_all(seeded, token, "Employee", everything)
    items = qbo_query_all(seeded, token, "Item", "WHERE Type = 'Service'")
    invoices = qbo_query_all(seeded, token, "Invoice")
    clients = canopy_list_all(seeded, "clients")
    c = truth["counts"]
    assert len(customers) == c["qbo_customers"]
    assert sum(1 for x in customers if x["Active"]) == c["qbo_customers_active"]
    assert len(vendors) == c["qbo_vendors"] and len(employees) == c["qbo_employees"]
    assert len(items) == c["qbo_items"] and len(invoices) == c["qbo_invoices"]
    assert len(clients) == c["canopy_clients"]
    assert len(canopy_list_all(seeded, "service_items")) == c["canopy_service_items"]
    assert len(canopy_list_all(seeded, "invoices")) == c["canopy_invoices"]
    assert len(canopy_list_all(seeded, "payments")) == c["canopy_payments"]

    # Names as the fakes hold them, by ref.
    by_id_c = {x["id"]: x["display_name"] for x in clients}
    by_id_q = {x["Id"]: x["DisplayName"] for x in customers}
    client_name = {ref: by_id_c[i] for ref, i in seeded.ids["canopy"].items() if ref.startswith("cl-")}
    cust_name = {ref: by_id_q[i] for ref, i in seeded.ids["qbo"].items() if ref.startswith("cu-")}
    blocker_names = {normal_form(x["DisplayName"]) for x in vendors + employees if x["Active"]}

    # Every pair the truth says matches under All has equal names after D-2 ...
    all_ = truth["contacts"]["All"]
    for cl, cu in all_["matched"]:
        assert normal_form(client_name[cl]) == normal_form(cust_name[cu])
    # ... and no name is shared beyond what the truth lists: count normal forms across both sides.
    keys = Counter(normal_form(n) for n in client_name.values()) + Counter(normal_form(n) for n in cust_name.values())
    planted_dups = set(all_["duplicates"]["clients"]) | set(all_["duplicates"]["customers"])
    for ref, n in {**client_name, **cust_name}.items():
        k = normal_form(n)
        if ref in planted_dups:
            continue
        expected = 2 if any(ref in pair for pair in all_["matched"]) else 1
        assert keys[k] == expected, (ref, n)
        assert k not in blocker_names, (ref, n)
    # Section sizes add up: each client and each customer in exactly one section (R10).
    for choice, sec in truth["contacts"].items():
        n_clients = len(sec["matched"]) + len(sec["unmatched"]) + len(sec["duplicates"]["clients"])
        assert n_clients == c["canopy_clients"], choice
    assert truth["contacts"]["All"]["counts"]["new"] + len(truth["contacts"]["All"]["matched"]) \
        + len(truth["contacts"]["All"]["duplicates"]["customers"]) == c["qbo_customers"]
    if name == "contacts_over_300":
        assert truth["contacts"]["All"]["pages"]["matches"] == 2


def test_items_truth_matches_stored_fields(worlds: Worlds) -> None:
    world, seeded = worlds.seed("items_mismatch", seed=3)
    token = _token(seeded)
    q = {x["Id"]: x for x in qbo_query_all(seeded, token, "Item", "WHERE Type = 'Service'")}
    cn = {x["id"]: x for x in canopy_list_all(seeded, "service_items")}
    from decimal import Decimal
    for c_ref, q_ref in world.truth["items"]["matched"]:
        a, b = cn[seeded.canopy_id(c_ref)], q[seeded.qbo_id(q_ref)]
        assert normal_form(a["name"]) == normal_form(b["Name"])
        assert Decimal(a["rate"]) == Decimal(str(b["UnitPrice"]))
        assert (a["sku"] or "").strip().casefold() == (b.get("Sku") or "").strip().casefold()
    fmt = [p for p in world.truth["items"]["unmatched"]]
    assert {u["kind"] for u in fmt} == {"name_differs", "rate_differs", "sku_differs", "canopy_only", "qbo_only"}


def test_qbo_seed_refuses_a_bad_body_whole() -> None:
    with fakes(None) as (q, _c):
        admin = q.url + "/_sim"
        realm = requests.post(admin + "/companies", json={"name": "Seed Co"}, timeout=10).json()["realm_id"]
        bad = {"Customer": [{"$id": "a", "DisplayName": "Alpha"}, {"$id": "b", "DisplayName": "ALPHA"}]}
        resp = requests.post(f"{admin}/companies/{realm}/seed", json=bad, timeout=10)
        assert resp.status_code == 400
        msg = resp.json()["error"]["message"]
        assert "Customer[1]" in msg and "$id b" in msg and "6240" in msg
        resp = requests.post(f"{admin}/companies/{realm}/seed",
                             json={"Invoice": [{"CustomerRef": {"$ref": "nobody"}, "Line": []}]}, timeout=10)
        assert resp.status_code == 400 and "nobody" in resp.json()["error"]["message"]
        ok = requests.post(f"{admin}/companies/{realm}/seed", json={"Customer": [{"$id": "a", "DisplayName": "Alpha"}]},
                           timeout=10)
        assert ok.status_code == 201, ok.text  # the refused seed left nothing behind
        # Names are one space across customers, vendors and employees: within one seed (still
        # buffered) and against what an earlier seed stored.
        for bad in ({"Customer": [{"DisplayName": "Beta"}], "Vendor": [{"DisplayName": " beta "}]},
                    {"Employee": [{"DisplayName": "ALPHA", "GivenName": "A"}]}):
            resp = requests.post(f"{admin}/companies/{realm}/seed", json=bad, timeout=10)
            assert resp.status_code == 400 and "6240" in resp.json()["error"]["message"], resp.text
        more = requests.post(f"{admin}/companies/{realm}/seed",
                             json={"Customer": [{"$id": "c", "DisplayName": "Gamma"}, {"$id": "d", "DisplayName": "Delta"}]},
                             timeout=10).json()["ids"]
        first = int(ok.json()["ids"]["a"])
        assert [int(more["c"]), int(more["d"])] == [first + 1, first + 2]  # ids run on from the last seed
        assert requests.post(f"{admin}/companies/{realm}/seed", json={"Bill": []}, timeout=10).status_code == 400


def test_a_refusal_seeding_both_at_once_is_the_fakes_own_error() -> None:
    """Seeding both fakes at once, one's refusal stops the other and is raised as it came."""
    from sim.scenario import build_world, load_named
    from sim.scenario.seed import SeedError, seed_world_sync

    world = build_world(load_named("default"), 3)
    world.qbo["Customer"][0]["NoSuchField"] = 1  # QBO refuses an unknown property (2010)
    with fakes(3) as (q, c):
        with pytest.raises(SeedError, match="Customer\\[0\\]"):
            seed_world_sync(world, q.url, c.url, together=True)
