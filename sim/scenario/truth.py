"""The expected outcome of a world, computed from the generator's plan, never from matching code.

Each planted contact group is classified on its own (the generator keeps
groups apart), by rules R5-R9 applied to what was planted in it: which
clients, which customers (and whether each is active), which vendor or
employee holds the name. Items follow their pair's intent (R15, D-9, D-10),
invoices the links of their client and items (R17, R19), gates the firm and
member as declared (R1-R3, D-1, R13).
"""
from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING, Any

from .plan import ContactGroup
from .schema import PRESET_SETS, Member

if TYPE_CHECKING:
    from .generate import World

CHOICES = ("All", "Active", "Inactive")
PAGE = 300
LINKED_ITEM_KINDS = ("matched", "rate_format")
DIFFERS = {"name_differs": ["name"], "rate_differs": ["rate"], "sku_differs": ["sku"],
           "canopy_only": ["no_counterpart"], "qbo_only": ["no_counterpart"]}


def takes_part(active: bool, choice: str) -> bool:
    """R5: a customer takes part when its Active flag agrees with the import choice."""
    return choice == "All" or (choice == "Active") == active


def classify(group: ContactGroup, choice: str) -> dict[str, list[Any]]:
    """One group's records by section under one import choice (R6-R9, D-3, D-4)."""
    clients = list(group.clients)
    customers = [ref for ref, active in group.customers if takes_part(active, choice)]
    out: dict[str, list[Any]] = {"matched": [], "new": [], "unmatched": [], "dup_clients": [], "dup_customers": []}
    if len(clients) > 1 or len(customers) > 1 or (clients and group.blockers):
        out["dup_clients"], out["dup_customers"] = clients, customers
    elif clients and customers:
        out["matched"] = [[clients[0], customers[0]]]
    elif clients:
        out["unmatched"] = clients
    elif customers:
        out["new"] = customers
    return out


def contacts_truth(world: "World") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for choice in CHOICES:
        sec: dict[str, list[Any]] = {"matched": [], "new": [], "unmatched": [], "dup_clients": [], "dup_customers": []}
        for g in world.plan.groups:
            for k, v in classify(g, choice).items():
                sec[k].extend(v)
        dups = len(sec["dup_clients"]) + len(sec["dup_customers"])
        sizes = {"matches": len(sec["matched"]), "new": len(sec["new"]), "unmatched": len(sec["unmatched"]),
                 "duplicates": dups}
        out[choice] = {"matched": sec["matched"], "new": sec["new"], "unmatched": sec["unmatched"],
                       "duplicates": {"clients": sec["dup_clients"], "customers": sec["dup_customers"]},
                       "counts": sizes, "pages": {k: max(1, ceil(n / PAGE)) for k, n in sizes.items()}}
    return out


def items_truth(world: "World") -> dict[str, Any]:
    matched = [[p.canopy, p.qbo] for p in world.plan.items if p.kind in LINKED_ITEM_KINDS]
    unmatched = [{"kind": p.kind, "canopy": p.canopy, "qbo": p.qbo, "differs": DIFFERS[p.kind], "fix": p.fix}
                 for p in world.plan.items if p.kind not in LINKED_ITEM_KINDS]
    return {"matched": matched, "unmatched": unmatched,
            "after_fix": {"matched": matched + [[p.canopy, p.qbo] for p in world.plan.items if p.fix]}}


def invoices_truth(world: "World", contacts: dict[str, Any], items: dict[str, Any]) -> dict[str, Any]:
    """R17/R19: an invoice goes out when its client and every item are linked; else it is held."""
    linked_items = {c for c, _ in items["matched"]}
    out: dict[str, Any] = {}
    for choice in CHOICES:
        linked_clients = {c for c, _ in contacts[choice]["matched"]}
        sent, held = [], []
        for inv in world.plan.invoices:
            reasons = [] if inv.client in linked_clients else ["client_unlinked"]
            reasons += [f"item_unlinked:{i}" for i in inv.items if i not in linked_items]
            (held.append({"invoice": inv.ref, "reasons": reasons}) if reasons else sent.append(inv.ref))
        held_refs = {h["invoice"] for h in held}
        payments = {"sent": [p.ref for p in world.plan.payments if p.invoice not in held_refs],
                    "waiting": [p.ref for p in world.plan.payments if p.invoice in held_refs]}
        out[choice] = {"sent": sent, "held": held, "payments": payments}
    return out


def _permissions(world: "World", m: Member) -> tuple[str, ...]:
    return PRESET_SETS.get(m.permission_set) or world.scenario.canopy.permission_sets[m.permission_set]


def gate_reason(world: "World", m: Member) -> str:
    """R2 -> R3 -> R1 (the engine adds R4a): the first gate that fails, or "ok"."""
    cn = world.scenario.canopy
    if cn.plan != "paid":
        return "plan_not_eligible"
    standalone = tuple(cn.modules) == ("transcripts_and_notices",)
    licensed = "time_and_billing" in m.licenses or (standalone and "transcripts_and_notices" in m.licenses)
    if not licensed:
        return "missing_license"
    if "manage_integrations" not in _permissions(world, m):
        return "missing_permission"
    return "ok"


def gates_truth(world: "World") -> list[dict[str, Any]]:
    cn = world.scenario.canopy
    standalone = tuple(cn.modules) == ("transcripts_and_notices",)
    return [{"email": m.email, "connect": gate_reason(world, m),
             "items_step": "not_available_for_module" if standalone else "available"}
            for m in (cn.admin, *cn.team)]


def ground_truth(world: "World") -> dict[str, Any]:
    contacts = contacts_truth(world)
    items = items_truth(world)
    active_customers = sum(1 for g in world.plan.groups for _, a in g.customers if a)
    all_customers = sum(len(g.customers) for g in world.plan.groups)
    return {
        "scenario": world.scenario.name, "seed": world.seed, "scale": world.scale, "epoch": world.scenario.epoch,
        "counts": {"canopy_clients": len(world.canopy["clients"]),
                   "canopy_service_items": len(world.canopy["service_items"]),
                   "canopy_invoices": len(world.canopy["invoices"]), "canopy_payments": len(world.canopy["payments"]),
                   "qbo_customers": all_customers, "qbo_customers_active": active_customers,
                   "qbo_customers_inactive": all_customers - active_customers,
                   "qbo_vendors": len(world.qbo["Vendor"]), "qbo_employees": len(world.qbo["Employee"]),
                   "qbo_items": len(world.qbo["Item"]), "qbo_invoices": len(world.qbo["Invoice"]),
                   "qbo_accounts_added": len(world.qbo["Account"])},
        "gates": gates_truth(world),
        "contacts": contacts,
        "items": items,
        "invoices": invoices_truth(world, contacts, items),
        "qbo_invoices_stay_in_qbo": list(world.plan.qbo_invoices),
        "names": dict(world.plan.names),
    }
