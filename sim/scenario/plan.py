"""What the generator planted, as plain data: the intent the ground truth is computed from.

Each `ContactGroup` holds every record that shares one (normalised) name,
and the generator guarantees that no two groups share one (`NameBook`). So
the truth can reason group by group from what was planted, without ever
comparing names.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ContactGroup:
    kind: str
    """The intent: exact, case_or_space, inactive_match, unmatched, new_active, new_inactive,
    canopy_duplicates, qbo_duplicates, vendor_collisions, employee_collisions."""
    name: str
    business: bool
    clients: list[str] = field(default_factory=list)
    """Canopy client refs."""
    customers: list[tuple[str, bool]] = field(default_factory=list)
    """(QBO customer $id, Active)."""
    blockers: list[str] = field(default_factory=list)
    """Active QBO vendor or employee $ids holding the name."""


@dataclass
class ItemPair:
    kind: str
    """matched, rate_format, name_differs, rate_differs, sku_differs, canopy_only, qbo_only."""
    canopy: str | None
    qbo: str | None
    fix: dict[str, object] | None = None
    """How to make the pair match (R16): {"side", "ref", "set"}."""


@dataclass
class InvoicePlan:
    ref: str
    kind: str
    """ready, held_client, held_item."""
    client: str
    items: list[str]
    total: str


@dataclass
class PaymentPlan:
    ref: str
    invoice: str
    amount: str


@dataclass
class Plan:
    groups: list[ContactGroup] = field(default_factory=list)
    items: list[ItemPair] = field(default_factory=list)
    invoices: list[InvoicePlan] = field(default_factory=list)
    payments: list[PaymentPlan] = field(default_factory=list)
    qbo_invoices: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    """ref -> the name as planted (QBO adds " (deleted)" to inactive ones)."""
