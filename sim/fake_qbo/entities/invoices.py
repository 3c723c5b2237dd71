"""Hooks for Invoice: lines, totals, numbering, void, and the customer's Balance.

The arithmetic is in `rules`; this module resolves the items each line
names (I/O) and keeps the customer's `Balance` equal to the sum of its open
invoice balances (and `BalanceWithJobs` up the parent chain).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sim.core.store import Rec

from . import faults, rules
from .spec import Session, Write

SALE = "SalesItemLineDetail"
DESCRIPTION = "DescriptionOnly"
DISCOUNT = "DiscountLineDetail"
SUBTOTAL = "SubTotalLineDetail"
NOT_MODELLED = ("GroupLineDetail",)
DOC_NUMBER_MAX = 21
DOC_NUMBER_START = 1001
ITEM_REF = "Line.SalesItemLineDetail.ItemRef"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def prepare_invoice(w: Write) -> None:
    voided = bool(w.data.get("_voided"))
    lines = _sent_lines(w.data.get("Line"))
    ids = rules.line_ids(lines)
    main: list[dict[str, Any]] = []
    discounts: list[tuple[dict[str, Any], dict[str, Any]]] = []
    sales: list[Decimal] = []
    for line, id_ in zip(lines, ids):
        kind = line.get("DetailType")
        out = {**line, "Id": id_}
        if kind == SALE:
            out[SALE], out["Amount"] = _sale(w.s, line, voided)
            sales.append(out["Amount"])
        elif kind == DESCRIPTION:
            out.pop("Amount", None)
        elif kind == DISCOUNT:
            detail = line.get(DISCOUNT) or {}
            if not isinstance(detail, dict):
                raise faults.invalid_value("Line.DiscountLineDetail", detail)
            discounts.append((out, detail))
            continue
        elif kind in NOT_MODELLED:
            raise faults.unsupported("create", f"Invoice lines of DetailType {kind}")
        elif kind is None:
            raise faults.required_missing("Line.DetailType")
        else:
            raise faults.invalid_value("Line.DetailType", kind)
        main.append(out)
    subtotal, _ = rules.invoice_totals(sales, ())
    taken = []
    for out, detail in discounts:
        amount = None if out.get("Amount") is None else rules.to_number(out["Amount"], "Line.Amount")
        out["Amount"] = Decimal(0) if voided else rules.discount_amount(detail, amount, subtotal)
        taken.append(out["Amount"])
    _, total = rules.invoice_totals(sales, taken)
    numbered = main + [out for out, _ in discounts]
    for n, out in enumerate(numbered, 1):
        out["LineNum"] = n
    sub_line = {"Amount": subtotal, "DetailType": SUBTOTAL, SUBTOTAL: {}}
    w.data["Line"] = main + [sub_line] + [out for out, _ in discounts]
    deposit = Decimal(rules.to_number(w.data.get("Deposit", 0), "Deposit"))
    paid = Decimal(w.data.get("_paid", 0))
    w.data["TotalAmt"] = rules.money(0 if voided else total)
    w.data["Balance"] = rules.money(0 if voided else total - deposit - paid)
    _dates_and_number(w)


def _sent_lines(raw: Any) -> list[dict[str, Any]]:
    """The lines that count: the computed subtotal line is the server's own."""
    if not isinstance(raw, list):
        raise faults.invalid_value("Line", raw)
    lines = []
    for line in raw:
        if not isinstance(line, dict):
            raise faults.invalid_value("Line", line)
        if line.get("DetailType") != SUBTOTAL:
            lines.append(line)
    if not lines:
        raise faults.required_missing("Line")
    return lines


def _sale(s: Session, line: dict[str, Any], voided: bool) -> tuple[dict[str, Any], Decimal]:
    """A sales line's detail (item resolved, ItemAccountRef added) and Amount."""
    detail = line.get(SALE)
    if detail is None:
        raise faults.required_missing("Line.SalesItemLineDetail")
    if not isinstance(detail, dict):
        raise faults.invalid_value("Line.SalesItemLineDetail", detail)
    detail = dict(detail)
    if detail.get("ItemRef") is None:
        raise faults.required_missing(ITEM_REF)
    # Imported here: resource imports the table, which imports this module.
    from .resource import resolve_ref
    detail["ItemRef"], item = resolve_ref(s, detail["ItemRef"], "Item", ITEM_REF)
    if item.data.get("Type") == "Category":
        raise faults.category_in_transaction(ITEM_REF)
    income = item.data.get("IncomeAccountRef")
    if income:
        detail["ItemAccountRef"] = dict(income)
    qty = detail.get("Qty")
    price = detail.get("UnitPrice")
    if qty is not None:
        detail["Qty"] = qty = rules.to_number(qty, "Line.SalesItemLineDetail.Qty")
    if price is not None:
        detail["UnitPrice"] = price = rules.to_number(price, "Line.SalesItemLineDetail.UnitPrice")
    if voided:
        return detail, rules.money(0)
    amount = line.get("Amount")
    if amount is None:
        if rules.is_zero(qty) or rules.is_zero(price):
            raise faults.required_missing("Line.Amount")
        amount = Decimal(qty) * Decimal(price)
    else:
        amount = rules.to_number(amount, "Line.Amount")
        rules.check_line_amount(amount, qty, price)
    return detail, rules.money(amount)


def _dates_and_number(w: Write) -> None:
    """TxnDate today, DueDate = TxnDate, DocNumber from the company's sequence;
    on an update an omitted one keeps its stored value rather than renumbering."""
    old = w.old.data if w.old is not None else {}
    for field in ("TxnDate", "DueDate", "DocNumber"):
        if w.data.get(field) is None and old.get(field) is not None:
            w.data[field] = old[field]
    w.data.setdefault("TxnDate", w.s.today)
    w.data.setdefault("DueDate", w.data["TxnDate"])
    for field in ("TxnDate", "DueDate", "ShipDate"):
        value = w.data.get(field)
        if value is not None and not (isinstance(value, str) and _DATE.fullmatch(value[:10])):
            raise faults.invalid_value(field, value)
        if isinstance(value, str):
            w.data[field] = value[:10]
    number = w.data.get("DocNumber")
    if number is None and not _custom_numbers(w.s):
        number = str(w.s.store.next_id("DocNumber:Invoice", start=DOC_NUMBER_START))
    if number is not None:
        number = str(number)
        if len(number) > DOC_NUMBER_MAX:
            raise faults.business(f"DocNumber can be at most {DOC_NUMBER_MAX} characters.", element="DocNumber")
        w.data["DocNumber"] = number


def _custom_numbers(s: Session) -> bool:
    prefs = s.store.get("Preferences", "1")
    return bool(prefs and prefs.data.get("SalesFormsPrefs", {}).get("CustomTxnNumbers"))


def void_invoice(w: Write) -> None:
    """Zero amounts, TotalAmt and Balance; note it in PrivateNote (D-14)."""
    w.data["_voided"] = True
    for line in w.data.get("Line", []):
        if "Amount" in line:
            line["Amount"] = rules.money(0)
    w.data["TotalAmt"] = rules.money(0)
    w.data["Balance"] = rules.money(0)
    w.data["PrivateNote"] = rules.voided_note(w.data.get("PrivateNote"))


# -- the customer's balance ------------------------------------------------------
def _share(rec: Rec | None) -> tuple[str, Decimal] | None:
    if rec is None or rec.deleted:
        return None
    ref = rec.data.get("CustomerRef")
    if not isinstance(ref, dict):
        return None
    return str(ref["value"]), Decimal(rec.data.get("Balance", 0))


def after_invoice(w: Write, rec: Rec) -> None:
    before, now = _share(w.old), _share(rec)
    if before and now and before[0] == now[0]:
        shift_balance(w.s, now[0], now[1] - before[1])
        return
    if before:
        shift_balance(w.s, before[0], -before[1])
    if now:
        shift_balance(w.s, now[0], now[1])


def deleting_invoice(s: Session, rec: Rec) -> None:
    share = _share(rec)
    if share:
        shift_balance(s, share[0], -share[1])


def shift_balance(s: Session, customer_id: str, delta: Decimal) -> None:
    """Move a customer's Balance, and BalanceWithJobs up its parent chain.

    Balances are derived, so the customers' SyncToken does not change: an
    engine holding a customer is not made stale by invoicing it.
    """
    if delta == 0:
        return
    node = s.store.get("Customer", customer_id)
    if node is None:
        return
    node.data["Balance"] = rules.money(Decimal(node.data.get("Balance", 0)) + delta)
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        node.data["BalanceWithJobs"] = rules.money(Decimal(node.data.get("BalanceWithJobs", 0)) + delta)
        s.store.replace(node)
        parent = node.data.get("ParentRef")
        node = s.store.get("Customer", parent["value"]) if isinstance(parent, dict) else None
