"""Field mapping between Canopy and QBO records (docs/rules.md, "Field mapping"): pure.

One function per direction and kind, so each mapped field is decided in one place. Money
stays `Decimal`; a QBO line `Amount` is quantity x rate to the cent.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.matching import NewClient, new_client
from engine.models import Customer, to_decimal
from engine.sync.canonical import canopy_client_patch, qbo_contact

CENT = Decimal("0.01")


def canopy_client_from_customer(customer: Mapping[str, Any]) -> dict[str, Any]:
    """R8 / D-5 / D-7: the Canopy client created for a QBO customer, with its contact details."""
    plan: NewClient = new_client(Customer.from_qbo(customer))
    body: dict[str, Any] = {"display_name": plan.display_name, "is_business": plan.is_business, "type": "CLIENT"}
    if plan.is_business:
        body["business_name"] = plan.business_name
    else:
        if plan.first_name:
            body["first_name"] = plan.first_name
        if plan.last_name:
            body["last_name"] = plan.last_name
    if plan.is_archived:
        body["is_archived"] = True
    # e-mail, phone and address as the ongoing sync maps them (one mapping: engine.sync.canonical)
    view = qbo_contact(customer, plan.is_business)
    details = {k: view[k] for k in ("email", "phone", "address") if view.get(k)}
    if "@" not in (details.get("email") or "@"):
        del details["email"]  # Canopy refuses it, and the client must still be created
    body.update(canopy_client_patch(details, {}))
    return body


@dataclass(frozen=True)
class InvoiceDecision:
    """R17 / R19: an invoice goes out with its QBO body, or is held with every reason."""

    body: dict[str, Any] | None
    held: tuple[str, ...]


def line_amount(quantity: Decimal, rate: Decimal) -> Decimal:
    return (quantity * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def qbo_invoice(invoice: Mapping[str, Any], customers: Mapping[str, str],
                items: Mapping[str, str]) -> InvoiceDecision:
    """Map a Canopy invoice through the contact and item links, or say why it must wait.

    `customers` maps Canopy client ids to QBO customer ids; `items` Canopy service item ids
    to QBO item ids. Reasons: `draft` (D-44), `client_unlinked`, `item_unlinked:<id>`.
    """
    held: list[str] = ["draft"] if invoice.get("status") == "draft" else []
    customer = customers.get(str(invoice["client_id"]))
    if customer is None:
        held.append("client_unlinked")
    lines: list[dict[str, Any]] = []
    for line in invoice.get("lines") or []:
        item_id = str(line["service_item_id"])
        qbo_item = items.get(item_id)
        if qbo_item is None:
            if f"item_unlinked:{item_id}" not in held:
                held.append(f"item_unlinked:{item_id}")
            continue
        qty, rate = to_decimal(line.get("quantity", "1")), to_decimal(line["rate"])
        out: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": line_amount(qty, rate),
                               "SalesItemLineDetail": {"ItemRef": {"value": qbo_item}, "Qty": qty,
                                                       "UnitPrice": rate}}
        if line.get("description"):
            out["Description"] = line["description"]
        lines.append(out)
    if held:
        return InvoiceDecision(None, tuple(held))
    body: dict[str, Any] = {"CustomerRef": {"value": customer}, "Line": lines,
                            "DocNumber": str(invoice.get("number") or "")[:21] or None,
                            "TxnDate": invoice.get("issue_date"), "DueDate": invoice.get("due_date")}
    if invoice.get("memo"):
        body["CustomerMemo"] = {"value": str(invoice["memo"])[:1000]}
    return InvoiceDecision({k: v for k, v in body.items() if v is not None}, ())


def sendable(invoice: Mapping[str, Any]) -> bool:
    """D-44: Finish never sends a void or deleted invoice; a draft is held until it is opened."""
    return not invoice.get("is_deleted") and invoice.get("status") != "void"
