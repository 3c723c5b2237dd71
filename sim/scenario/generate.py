"""(scenario, seed, scale) -> `World`: the records both fakes get, and what they mean.

Pure and deterministic: Faker pools drawn once per (locale, seed), combined
by one `random.Random(seed)`; no set or dict iteration decides an order. The
records are the bodies the fakes' bulk seeds take; `plan` says what each
one was planted for, and `truth` (truth.py) is computed from that plan.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sim.core.bulk import gc_paused

from .names import NameBook, Person, case_or_space_variant
from .plan import ContactGroup, InvoicePlan, ItemPair, PaymentPlan, Plan
from .pools import Pools, ascii_slug, draw
from .schema import Scenario

INCOME = {"$ref": "income"}
"""The company's default income account, filled in by the seeder (its Id is the company's)."""


@dataclass
class World:
    scenario: Scenario
    seed: int
    scale: int
    firm: dict[str, Any]
    permission_sets: list[dict[str, Any]]
    team: list[dict[str, Any]]
    canopy: dict[str, list[dict[str, Any]]]
    app: dict[str, Any]
    company: dict[str, Any]
    qbo: dict[str, list[dict[str, Any]]]
    plan: Plan
    truth: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {f"canopy.{k}": len(v) for k, v in self.canopy.items()}
        out.update({f"qbo.{k}": len(v) for k, v in self.qbo.items()})
        return out


class _Gen:
    def __init__(self, sc: Scenario, seed: int, scale: int) -> None:
        self.sc, self.seed, self.scale = sc, seed, scale
        self.pools: Pools = draw(sc.locale, seed)
        self.rng = random.Random(f"{sc.name}:{seed}")
        self.book = NameBook(self.pools, self.rng)
        self.plan = Plan()
        self.canopy: dict[str, list[dict[str, Any]]] = {"clients": [], "service_items": [], "invoices": [],
                                                        "payments": []}
        self.qbo: dict[str, list[dict[str, Any]]] = {"Account": [], "Customer": [], "Vendor": [], "Employee": [],
                                                     "Item": [], "Invoice": []}
        self.n: dict[str, int] = {}
        self.epoch_day = date.fromisoformat(sc.epoch[:10])

    def count(self, value: int) -> int:
        return value * self.sc.size * self.scale

    def ref(self, prefix: str) -> str:
        self.n[prefix] = self.n.get(prefix, 0) + 1
        return f"{prefix}-{self.n[prefix]}"

    # -- contact details ---------------------------------------------------------
    def _email(self, name: str) -> str:
        return f"{ascii_slug(name)}{self.rng.randrange(1000)}@{self.rng.choice(self.pools.domains)}"

    def _phone(self) -> str:
        return f"({self.rng.randint(201, 989)}) 555-{self.rng.randrange(10000):04d}"

    def _place(self) -> tuple[str, str, str, str]:
        city, region, postal = self.rng.choice(self.pools.cities)
        return self.rng.choice(self.pools.streets), city, region, postal

    def client(self, name: str, business: bool, person: Person | None, display: str | None = None) -> str:
        ref = self.ref("cl")
        street, city, region, postal = self._place()
        body: dict[str, Any] = {"ref": ref, "is_business": business,
                                "emails": [{"email": self._email(name), "type": "WORK" if business else "PERSONAL",
                                            "is_primary": True}],
                                "phones": [{"number": self._phone(), "type": "WORK" if business else "MOBILE",
                                            "is_primary": True}],
                                "addresses": [{"address_1": street, "locality": city, "region": region,
                                               "postal_code": postal, "country": "US", "type": "MAILING",
                                               "is_primary": True}]}
        if business:
            body["business_name"] = name
        else:
            assert person is not None
            body.update(first_name=person.first, last_name=person.last)
        if display is not None and display != name:
            body["display_name"] = display
        self.canopy["clients"].append(body)
        self.plan.names[ref] = display or name
        return ref

    def customer(self, display: str, business: bool, person: Person | None, active: bool = True) -> str:
        ref = self.ref("cu")
        street, city, region, postal = self._place()
        body: dict[str, Any] = {"$id": ref, "DisplayName": display,
                                "PrimaryEmailAddr": {"Address": self._email(display)},
                                "PrimaryPhone": {"FreeFormNumber": self._phone()},
                                "BillAddr": {"Line1": street, "City": city, "CountrySubDivisionCode": region,
                                             "PostalCode": postal}}
        if business:
            body["CompanyName"] = display
        elif person is not None:
            body.update(GivenName=person.first, FamilyName=person.last)
        if not active:
            body["Active"] = False
        self.qbo["Customer"].append(body)
        self.plan.names[ref] = display + (" (deleted)" if not active else "")
        return ref

    def blocker(self, entity: str, name: str, person: Person | None) -> str:
        ref = self.ref("ve" if entity == "Vendor" else "em")
        body: dict[str, Any] = {"$id": ref, "DisplayName": name}
        if person is not None:
            body.update(GivenName=person.first, FamilyName=person.last)
        elif entity == "Vendor":
            body["CompanyName"] = name
        self.qbo[entity].append(body)
        self.plan.names[ref] = name
        return ref

    # -- contacts ------------------------------------------------------------------
    def new_name(self, business: bool) -> tuple[str, Person | None]:
        if business:
            return self.book.business(), None
        p = self.book.person()
        return p.display, p

    def contacts(self) -> None:
        c = self.sc.population.contacts
        kinds: list[str] = []
        for kind, n in c.items():
            kinds += [kind] * self.count(n)
        self.rng.shuffle(kinds)
        seen: dict[str, int] = {}
        for kind in kinds:
            i = seen[kind] = seen.get(kind, -1) + 1
            business = self.rng.random() < self.sc.population.businesses
            if kind == "employee_collisions" or (kind == "qbo_duplicates" and i % 2 == 0):
                business = False  # employees are people; the white-space twin needs a two-word name
            name, person = self.new_name(business)
            g = ContactGroup(kind, name, business)
            if kind == "exact":
                g.clients.append(self.client(name, business, person))
                g.customers.append((self.customer(name, business, person), True))
            elif kind == "case_or_space":
                g.clients.append(self.client(name, business, person))
                g.customers.append((self.customer(case_or_space_variant(name, self.rng), business, person), True))
            elif kind == "inactive_match":
                g.clients.append(self.client(name, business, person))
                g.customers.append((self.customer(name, business, person, active=False), False))
            elif kind == "unmatched":
                g.clients.append(self.client(name, business, person))
            elif kind in ("new_active", "new_inactive"):
                active = kind == "new_active"
                g.customers.append((self.customer(name, business, person, active=active), active))
            elif kind == "canopy_duplicates":
                g.clients.append(self.client(name, business, person))
                twin = name if i % 2 == 0 else case_or_space_variant(name, self.rng)
                g.clients.append(self.client(name, business, person, display=twin))
                if i % 2 == 0:
                    g.customers.append((self.customer(name, business, person), True))
            elif kind == "qbo_duplicates":
                if i % 3 == 2:  # now and then a Canopy client shares the name too
                    g.clients.append(self.client(name, business, person))
                g.customers.append((self.customer(name, business, person), True))
                if i % 2 == 0:  # two active customers whose names differ only in inner white space
                    spaced = name.replace(" ", "  ", 1)
                    g.customers.append((self.customer(spaced, business, person), True))
                else:  # an active customer and an inactive twin: a duplicate only when both take part
                    g.customers.append((self.customer(name, business, person, active=False), False))
            elif kind in ("vendor_collisions", "employee_collisions"):
                g.clients.append(self.client(name, business, person))
                g.blockers.append(self.blocker("Vendor" if kind == "vendor_collisions" else "Employee", name,
                                               person))
            self.plan.groups.append(g)

    # -- items -----------------------------------------------------------------------
    def _rate(self) -> Decimal:
        return Decimal(self.rng.randrange(40, 400) * 5).quantize(Decimal("0.01"))

    def item_pair(self, kind: str, i: int) -> ItemPair:
        name = self.book.item()
        rate = Decimal(100) if kind == "rate_format" else self._rate()
        sku = None if (kind == "matched" and i % 3 == 2) else f"SKU-{self.ref('sku')[4:].zfill(5)}"
        c_name, c_rate, c_sku = name, rate, sku
        q_name, q_rate, q_sku = name, rate, sku
        fix: dict[str, Any] | None = None
        if kind == "name_differs":
            q_name = self.book.item()
            fix = {"side": "canopy", "set": {"name": q_name}}
        elif kind == "rate_differs":
            q_rate = rate + Decimal("25.00")
            fix = {"side": "canopy", "set": {"rate": f"{q_rate:.2f}"}}
        elif kind == "sku_differs":
            q_sku = f"{sku}-B"
            fix = {"side": "qbo", "set": {"Sku": c_sku}}
        canopy_ref = qbo_ref = None
        if kind != "qbo_only":
            canopy_ref = self.ref("si")
            self.canopy["service_items"].append({"ref": canopy_ref, "name": c_name, "rate": f"{c_rate:.2f}",
                                                 "sku": c_sku, "description": f"{c_name} (per hour)"})
            self.plan.names[canopy_ref] = c_name
        if kind != "canopy_only":
            qbo_ref = self.ref("it")
            price: Any = int(q_rate) if kind == "rate_format" else q_rate
            body: dict[str, Any] = {"$id": qbo_ref, "Name": q_name, "Type": "Service", "UnitPrice": price,
                                    "IncomeAccountRef": dict(INCOME), "Description": f"{q_name} (per hour)"}
            if q_sku is not None:
                body["Sku"] = q_sku
            self.qbo["Item"].append(body)
            self.plan.names[qbo_ref] = q_name
        if fix is not None:
            fix["ref"] = canopy_ref if fix["side"] == "canopy" else qbo_ref
        return ItemPair(kind, canopy_ref, qbo_ref, fix)

    def items(self) -> None:
        for kind, n in self.sc.population.items.items():
            for i in range(self.count(n)):
                self.plan.items.append(self.item_pair(kind, i))

    # -- invoices and payments ----------------------------------------------------------
    def invoices(self) -> None:
        inv = self.sc.population.invoices
        linked = [p for p in self.plan.items if p.kind in ("matched", "rate_format")]
        unlinked = [p for p in self.plan.items if p.canopy and p.kind not in ("matched", "rate_format")]
        matched_clients = [g.clients[0] for g in self.plan.groups if g.kind in ("exact", "case_or_space")]
        unmatched_clients = [g.clients[0] for g in self.plan.groups if g.kind == "unmatched"]
        rates = {b["ref"]: Decimal(b["rate"]) for b in self.canopy["service_items"]}
        for kind in ("ready", "held_client", "held_item"):
            for _ in range(self.count(inv[kind])):
                client = self.rng.choice(unmatched_clients if kind == "held_client" else matched_clients)
                chosen = self.rng.sample(linked, min(len(linked), self.rng.randint(1, 3))) if linked else []
                items = [p.canopy for p in chosen if p.canopy]
                if kind == "held_item":
                    items.append(self.rng.choice(unlinked).canopy)  # type: ignore[arg-type]
                ref = self.ref("inv")
                issued = self.epoch_day - timedelta(days=self.rng.randrange(1, 60))
                lines, total = [], Decimal(0)
                for item in items:
                    qty = self.rng.randint(1, 8)
                    lines.append({"service_item_id": f"${item}", "quantity": str(qty)})
                    total += (qty * rates[item]).quantize(Decimal("0.01"))
                self.canopy["invoices"].append({"ref": ref, "client_id": f"${client}", "lines": lines,
                                                "issue_date": issued.isoformat(),
                                                "due_date": (issued + timedelta(days=30)).isoformat()})
                self.plan.invoices.append(InvoicePlan(ref, kind, client, items, f"{total:.2f}"))
        for invoice in self.plan.invoices[: self.count(self.sc.population.payments)]:
            ref = self.ref("pay")
            self.canopy["payments"].append({"ref": ref, "client_id": f"${invoice.client}", "amount": invoice.total,
                                            "method": "CHECK", "date": self.epoch_day.isoformat(),
                                            "applications": [{"invoice_id": f"${invoice.ref}",
                                                              "amount": invoice.total}]})
            self.plan.payments.append(PaymentPlan(ref, invoice.ref, invoice.total))

    def qbo_invoices(self) -> None:
        customers = [g.customers[0][0] for g in self.plan.groups if g.kind == "exact"]
        items = [p.qbo for p in self.plan.items if p.kind in ("matched", "rate_format") and p.qbo]
        prices = {b["$id"]: Decimal(b["UnitPrice"]) for b in self.qbo["Item"]}
        for n in range(self.count(self.sc.population.qbo_invoices)):
            ref = self.ref("qi")
            item = self.rng.choice(items)
            qty = self.rng.randint(1, 5)
            body: dict[str, Any] = {
                "$id": ref, "CustomerRef": {"$ref": self.rng.choice(customers)},
                "TxnDate": (self.epoch_day - timedelta(days=self.rng.randrange(1, 90))).isoformat(),
                "Line": [{"DetailType": "SalesItemLineDetail", "Amount": (qty * prices[item]).quantize(Decimal("0.01")),
                          "SalesItemLineDetail": {"ItemRef": {"$ref": item}, "Qty": qty, "UnitPrice": prices[item]}}]}
            if self.sc.qbo.custom_txn_numbers:
                body["DocNumber"] = f"Q-{1001 + n}"
            self.qbo["Invoice"].append(body)
            self.plan.qbo_invoices.append(ref)

    # -- the firm and the company --------------------------------------------------------
    def tenants(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any],
                               dict[str, Any]]:
        cn, qb = self.sc.canopy, self.sc.qbo
        firm_name = cn.firm_name or f"{self.rng.choice(self.pools.last_names)} CPA Group"
        admin = cn.admin
        firm = {"name": firm_name, "plan": cn.plan, "modules": list(cn.modules), "licenses": dict(cn.licenses),
                "admin": {"email": admin.email, "password": admin.password, "first_name": admin.first_name,
                          "last_name": admin.last_name, "permission_set": admin.permission_set,
                          "licenses": list(admin.licenses)}}
        sets = [{"name": n, "permissions": list(p)} for n, p in cn.permission_sets.items()]
        team = [{"email": m.email, "first_name": m.first_name, "last_name": m.last_name,
                 "permission_set": m.permission_set, "licenses": list(m.licenses),
                 **({"password": m.password} if m.password else {})} for m in cn.team]
        app = {"client_id": qb.client_id, "client_secret": qb.client_secret, "redirect_uris": list(qb.redirect_uris)}
        company = {"name": qb.company_name or f"{self.rng.choice(self.pools.companies)}",
                   "offset": qb.offset, "custom_txn_numbers": qb.custom_txn_numbers,
                   "user": {"email": qb.user_email, "password": qb.user_password}}
        for i, acc in enumerate(qb.accounts):
            self.qbo["Account"].append({"$id": f"acct-{i + 1}", **acc})
        return firm, sets, team, app, company


def build_world(sc: Scenario, seed: int = 0, scale: int = 1) -> World:
    """Every record of the scenario's world, and the plan behind them (deterministic)."""
    from .truth import ground_truth  # noqa: PLC0415 (truth imports World for typing)

    with gc_paused():
        g = _Gen(sc, seed, scale)
        firm, sets, team, app, company = g.tenants()
        g.contacts()
        g.items()
        g.invoices()
        g.qbo_invoices()
        world = World(sc, seed, scale, firm, sets, team, g.canopy, app, company, g.qbo, g.plan)
        world.truth = ground_truth(world)
    return world
