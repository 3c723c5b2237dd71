"""The ground truth follows each planted group's intent under every import choice (R5-R9, D-3, D-4)."""
from __future__ import annotations

from sim.scenario import build_world, load_named
from sim.scenario.plan import ContactGroup
from sim.scenario.truth import classify


def test_group_rules() -> None:
    exact = ContactGroup("exact", "A", False, ["cl-1"], [("cu-1", True)])
    assert classify(exact, "All")["matched"] == [["cl-1", "cu-1"]]
    assert classify(exact, "Inactive")["unmatched"] == ["cl-1"]
    twin = ContactGroup("qbo_duplicates", "B", False, [], [("cu-2", True), ("cu-3", False)])
    assert classify(twin, "All")["dup_customers"] == ["cu-2", "cu-3"]
    assert classify(twin, "Active")["new"] == ["cu-2"] and classify(twin, "Inactive")["new"] == ["cu-3"]
    vendor = ContactGroup("vendor_collisions", "C", True, ["cl-4"], [], ["ve-1"])
    assert all(classify(vendor, c)["dup_clients"] == ["cl-4"] for c in ("All", "Active", "Inactive"))
    inactive = ContactGroup("inactive_match", "D", False, ["cl-5"], [("cu-5", False)])
    assert classify(inactive, "Active")["unmatched"] == ["cl-5"]
    assert classify(inactive, "Inactive")["matched"] == [["cl-5", "cu-5"]]


def test_import_filter_world_differs_by_choice() -> None:
    t = build_world(load_named("contacts_import_filter"), 1).truth["contacts"]
    assert t["All"]["counts"] != t["Active"]["counts"] != t["Inactive"]["counts"]
    assert t["Inactive"]["counts"]["new"] == 4 + 2  # new_inactive, plus the inactive twins of 2 qbo_duplicates


def test_invoices_held_for_unlinked_client_or_item() -> None:
    w = build_world(load_named("invoices_linked_and_held"), 1)
    inv = w.truth["invoices"]["All"]
    kinds = {p.ref: p.kind for p in w.plan.invoices}
    assert {kinds[r] for r in inv["sent"]} == {"ready"}
    for h in inv["held"]:
        want = "client_unlinked" if kinds[h["invoice"]] == "held_client" else "item_unlinked:"
        assert any(r.startswith(want) for r in h["reasons"])
    assert len(inv["payments"]["sent"]) + len(inv["payments"]["waiting"]) == 3
