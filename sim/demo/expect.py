"""The scenario's ground truth (`world.truth`, in the generator's refs such as `cl-3` or `it-2`)
turned into the ids both fakes gave those records when they were seeded, so it can be laid
beside what the engine answers."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sim.scenario import World
from sim.scenario.seed import Seeded

ENGINE_SECTIONS = ("matches", "new_contacts", "unmatched", "duplicates")
"""The review's sections in the order *Next* walks them (R10)."""
TRUTH_COUNT = {"matches": "matches", "new_contacts": "new", "unmatched": "unmatched", "duplicates": "duplicates"}
SECTION_TITLE = {"matches": "Matches", "new_contacts": "New Contacts", "unmatched": "Unmatched",
                 "duplicates": "Duplicates"}


@dataclass
class Expected:
    world: World
    seeded: Seeded
    choice: str = "All"

    @property
    def truth(self) -> dict[str, Any]:
        return self.world.truth

    def cid(self, ref: str) -> str:
        return self.seeded.ids["canopy"][ref]

    def qid(self, ref: str) -> str:
        return self.seeded.ids["qbo"][ref]

    def name(self, ref: str | None) -> str:
        return self.truth["names"].get(ref or "", "") if ref else ""

    # -- contacts (R5-R11) -----------------------------------------------------------------------
    def contact_counts(self) -> dict[str, int]:
        counts = self.truth["contacts"][self.choice]["counts"]
        return {s: counts[TRUTH_COUNT[s]] for s in ENGINE_SECTIONS}

    def contacts(self) -> dict[str, set[Any]]:
        """Per section, the records the engine must list: pairs for matches, ids for the others."""
        c = self.truth["contacts"][self.choice]
        return {"matches": {(self.cid(a), self.qid(b)) for a, b in c["matched"]},
                "new_contacts": {self.qid(r) for r in c["new"]},
                "unmatched": {self.cid(r) for r in c["unmatched"]},
                "duplicates": {("canopy", self.cid(r)) for r in c["duplicates"]["clients"]}
                | {("qbo", self.qid(r)) for r in c["duplicates"]["customers"]}}

    def matched_clients(self) -> list[tuple[str, str, str]]:
        """(canopy id, qbo id, name) of every pair the ground truth links."""
        return [(self.cid(a), self.qid(b), self.name(a)) for a, b in self.truth["contacts"][self.choice]["matched"]]

    def billable_clients(self) -> list[tuple[str, str, str]]:
        """The linked pairs whose QBO customer is active (QBO refuses an invoice for an inactive one)."""
        active = {g.clients[0] for g in self.world.plan.groups
                  if g.clients and g.customers and all(a for _, a in g.customers)}
        pairs = self.truth["contacts"][self.choice]["matched"]
        return [(self.cid(a), self.qid(b), self.name(a)) for a, b in pairs if a in active]

    # -- items (R15) --------------------------------------------------------------------------------
    def item_pairs(self) -> list[dict[str, Any]]:
        """Every planted item pair: matched ones and, for the others, which of name, rate and SKU
        differ. An item with no counterpart at all ("no_counterpart") is one whose name no item
        on the other side has: the engine reports its `name` as what differs."""
        canopy = {b["ref"]: b for b in self.world.canopy["service_items"]}
        qbo = {b["$id"]: b for b in self.world.qbo["Item"]}
        out = []
        for c, q in self.truth["items"]["matched"]:
            out.append({"kind": "matched", "canopy": c, "qbo": q, "differs": [], "engine_differs": []})
        for u in self.truth["items"]["unmatched"]:
            engine = ["name"] if u["differs"] == ["no_counterpart"] else list(u["differs"])
            out.append({**u, "engine_differs": engine})
        for p in out:
            p["canopy_id"] = self.cid(p["canopy"]) if p["canopy"] else None
            p["qbo_id"] = self.qid(p["qbo"]) if p["qbo"] else None
            cb, qb = canopy.get(p["canopy"] or ""), qbo.get(p["qbo"] or "")
            p["canopy_item"] = (cb["name"], Decimal(cb["rate"]), cb.get("sku")) if cb else None
            p["qbo_item"] = (qb["Name"], Decimal(str(qb["UnitPrice"])), qb.get("Sku")) if qb else None
        return out

    def linked_items(self) -> list[tuple[str, str, str]]:
        """(canopy id, qbo id, name) of the items the ground truth links."""
        return [(self.cid(c), self.qid(q), self.name(c)) for c, q in self.truth["items"]["matched"]]

    def unlinked_canopy_items(self) -> list[tuple[str, str]]:
        return [(self.cid(u["canopy"]), self.name(u["canopy"])) for u in self.truth["items"]["unmatched"]
                if u["canopy"]]

    # -- invoices (R17, R19) ------------------------------------------------------------------------
    def _reason(self, reason: str) -> str:
        kind, _, ref = reason.partition(":")
        return f"{kind}:{self.cid(ref)}" if ref else reason

    def invoices(self) -> dict[str, dict[str, Any]]:
        """Canopy invoice id -> {"outcome": "sent"|"held", "reasons", "client", "total", "customer"}."""
        inv = self.truth["invoices"][self.choice]
        linked = {a: b for a, b in self.truth["contacts"][self.choice]["matched"]}
        plans = {p.ref: p for p in self.world.plan.invoices}
        out: dict[str, dict[str, Any]] = {}
        for ref in inv["sent"]:
            out[self.cid(ref)] = {"outcome": "sent", "reasons": []}
        for h in inv["held"]:
            out[self.cid(h["invoice"])] = {"outcome": "held", "reasons": sorted(self._reason(r) for r in h["reasons"])}
        for ref, p in plans.items():
            row = out.setdefault(self.cid(ref), {"outcome": "?", "reasons": []})
            row.update(client=self.name(p.client), total=Decimal(p.total), lines=len(p.items),
                       customer=self.qid(linked[p.client]) if p.client in linked else None)
        return out
