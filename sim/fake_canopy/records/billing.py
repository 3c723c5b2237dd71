"""Service items, invoices and payments: Time & Billing records.

Money is `Decimal` in the code and a decimal string on the wire. An
invoice's line amounts (quantity x rate, to the cent) and totals are always
computed here, never taken from the client. Payments move invoice balances
and status (open -> paid and back when a payment is deleted), in the same
transaction as the payment itself.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sim.core.store import Rec

from .. import gates, money
from ..errors import conflict, unprocessable
from .resource import Kind, Ops, soft_delete
from .validate import MISSING, Body, put

NEEDS = gates.Needs(module=gates.TIME_AND_BILLING, any_permission=(gates.BILLING,))
ITEM_FIELDS = ("name", "rate", "sku", "description", "is_active", "qbo_income_account_ref", "qbo_category_ref")
INVOICE_FIELDS = ("client_id", "number", "issue_date", "due_date", "lines", "memo", "status")
LINE_FIELDS = ("service_item_id", "quantity", "rate", "description")
PAYMENT_FIELDS = ("client_id", "date", "method", "reference", "memo", "amount", "applications")
METHODS = ("CASH", "CHECK", "CREDIT_CARD", "ACH", "OTHER")
STATUSES = ("draft", "open", "paid", "void")
RATE_PLACES = 4


# -- service items ----------------------------------------------------------------
def _ref(body: Body, key: str) -> Any:
    if key not in body.data:
        return MISSING
    v = body.data[key]
    if v is None:
        return None
    if (isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"].strip()
            and not set(v) - {"value", "name"} and (v.get("name") is None or isinstance(v.get("name"), str))):
        return {"value": v["value"], "name": v.get("name")}
    body.fail(key, "must be null or {value, name}")
    return MISSING


def _item_fields(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "name", body.str("name", nonempty=True, max_len=100))
    rate = body.money("rate", places=RATE_PLACES)
    put(out, "rate", money.text(rate) if rate is not MISSING else MISSING)
    put(out, "sku", body.str("sku", nullable=True, max_len=100))
    put(out, "description", body.str("description", nullable=True, max_len=4000))
    put(out, "is_active", body.bool("is_active"))
    put(out, "qbo_income_account_ref", _ref(body, "qbo_income_account_ref"))
    put(out, "qbo_category_ref", _ref(body, "qbo_category_ref"))
    return out


def create_item(ops: Ops, data: dict[str, Any]) -> Rec:
    body = Body(data, ITEM_FIELDS)
    if "name" not in data:
        body.fail("name", "is required", "required")
    fields = _item_fields(body)
    body.done()
    item = {"name": fields["name"], "rate": "0.00", "sku": None, "description": None, "is_active": True,
            "qbo_income_account_ref": None, "qbo_category_ref": None, **fields}
    return ops.insert("service_item", item, key=item["name"].casefold())


def update_item(ops: Ops, rec: Rec, data: dict[str, Any], expect: int | None) -> Rec:
    body = Body(data, ITEM_FIELDS)
    fields = _item_fields(body)
    body.done()
    new = {**rec.data, **fields}
    return ops.save(rec, new, key=new["name"].casefold(), expect=expect)


def delete_item(ops: Ops, rec: Rec, expect: int | None) -> None:
    soft_delete(ops, rec, expect)


# -- invoices -------------------------------------------------------------------
def _lines(ops: Ops, body: Body) -> Any:
    def line(b: Body, path: str, v: Any) -> Any:
        if not isinstance(v, dict) or set(v) - set(LINE_FIELDS):
            b.fail(path, f"must be an object with {', '.join(LINE_FIELDS)}")
            return None
        item = ops.exists("service_item", v.get("service_item_id"))
        if item is None:
            b.fail(f"{path}.service_item_id", "names no service item of this firm", "not_found")
            return None
        qty = money.parse(v.get("quantity", "1"), places=4)
        if qty is None or qty <= 0:
            b.fail(f"{path}.quantity", "must be a decimal string greater than 0")
            return None
        rate = money.parse(v.get("rate", item.data["rate"]), places=RATE_PLACES)
        if rate is None or rate < 0:
            b.fail(f"{path}.rate", f"must be a decimal string (at most {RATE_PLACES} decimals), at least 0")
            return None
        desc = v.get("description", item.data.get("description") or item.data["name"])
        if desc is not None and (not isinstance(desc, str) or len(desc) > 4000):
            b.fail(f"{path}.description", "must be a string")
            return None
        return {"service_item_id": item.id, "quantity": money.quantity_text(qty), "rate": money.text(rate),
                "description": desc, "amount": money.text(money.cents(qty * rate))}
    lines = body.list("lines", line, max_items=250)
    if isinstance(lines, list) and not lines:
        body.fail("lines", "needs at least one line")
    return lines


def _totals(inv: dict[str, Any]) -> None:
    for n, line in enumerate(inv["lines"], 1):
        line["id"] = str(n)
    subtotal = sum((Decimal(line["amount"]) for line in inv["lines"]), Decimal("0"))
    paid = Decimal(inv.get("amount_paid", "0"))
    inv.update(subtotal=money.text(subtotal), total=money.text(subtotal), amount_paid=money.text(paid),
               balance=money.text(subtotal - paid))


def _invoice_fields(ops: Ops, body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "number", body.str("number", nonempty=True, max_len=21))
    put(out, "issue_date", body.date("issue_date"))
    put(out, "due_date", body.date("due_date"))
    put(out, "memo", body.str("memo", nullable=True, max_len=4000))
    put(out, "status", body.str("status", choices=STATUSES))
    put(out, "lines", _lines(ops, body))
    return out


def _check_number(ops: Ops, number: str, own_id: str | None) -> None:
    if any(r.id != own_id for r in ops.t.find("invoice", key=number.casefold())):
        raise conflict("duplicate_number", f"Invoice number {number} is taken", "number")


def create_invoice(ops: Ops, data: dict[str, Any]) -> Rec:
    body = Body(data, INVOICE_FIELDS)
    client_id = body.str("client_id", required=True, nonempty=True)
    if "lines" not in data:
        body.fail("lines", "is required", "required")
    fields = _invoice_fields(ops, body)
    client = ops.exists("client", client_id)
    if client_id is not MISSING and client is None:
        body.fail("client_id", "names no client of this firm", "not_found")
    if fields.get("status") in ("paid", "void"):
        body.fail("status", "a new invoice is draft or open")
    today = ops.now_iso[:10]
    issue = fields.get("issue_date", today)
    if fields.get("due_date", issue) < issue:
        body.fail("due_date", "must not be before issue_date")
    body.done()
    assert client is not None
    number = fields.get("number") or str(ops.t.next_id("invoice_number", 1001))
    _check_number(ops, number, None)
    inv = {"client_id": client.id, "number": number, "issue_date": issue, "due_date": issue, "memo": None,
           "status": "open", **fields}
    inv["number"] = number
    inv["amount_paid"] = "0.00"
    _totals(inv)
    inv = {k: inv[k] for k in ("client_id", "number", "issue_date", "due_date", "status", "memo", "lines",
                               "subtotal", "total", "amount_paid", "balance")}
    return ops.insert("invoice", inv, key=number.casefold())


TRANSITIONS = {"draft": {"draft", "open", "void"}, "open": {"open", "void"}, "paid": {"paid", "void"},
               "void": {"void"}}


def update_invoice(ops: Ops, rec: Rec, data: dict[str, Any], expect: int | None) -> Rec:
    old = rec.data
    body = Body(data, INVOICE_FIELDS)
    if "client_id" in data and data["client_id"] != old["client_id"]:
        body.fail("client_id", "an invoice cannot move to another client", "immutable")
    fields = _invoice_fields(ops, body)
    body.done()
    if old["status"] == "void":
        raise conflict("invoice_void", f"Invoice {rec.id} is void and cannot change")
    status = fields.get("status", old["status"])
    if status not in TRANSITIONS[old["status"]] or (status == "paid" and old["status"] != "paid"):
        raise unprocessable("invalid_status_change", f"An invoice cannot go from {old['status']} to {status}",
                            "status")
    if status == "void" and Decimal(old["amount_paid"]) > 0:
        raise conflict("invoice_has_payments", "Delete the invoice's payments before voiding it", "status")
    new = {**old, **fields}
    if new["due_date"] < new["issue_date"]:
        raise unprocessable("due_before_issue", "due_date must not be before issue_date", "due_date")
    if "number" in fields:
        _check_number(ops, new["number"], rec.id)
    _totals(new)
    if Decimal(new["balance"]) < 0:
        raise unprocessable("total_below_paid", "The new total is less than what was already paid", "lines")
    if Decimal(new["amount_paid"]) > 0 and status != "void":
        new["status"] = "paid" if Decimal(new["balance"]) == 0 else "open"
    return ops.save(rec, new, key=new["number"].casefold(), expect=expect)


def delete_invoice(ops: Ops, rec: Rec, expect: int | None) -> None:
    if Decimal(rec.data["amount_paid"]) > 0:
        raise conflict("invoice_has_payments", "Delete the invoice's payments before deleting it")
    soft_delete(ops, rec, expect)


# -- payments -------------------------------------------------------------------
def _applications(body: Body) -> Any:
    def app(b: Body, path: str, v: Any) -> Any:
        amt = money.parse(v.get("amount")) if isinstance(v, dict) else None
        if (not isinstance(v, dict) or set(v) - {"invoice_id", "amount"} or not isinstance(v.get("invoice_id"), str)
                or amt is None or amt <= 0):
            b.fail(path, "must be {invoice_id, amount} with an amount greater than 0")
            return None
        return {"invoice_id": v["invoice_id"], "amount": amt}
    apps = body.list("applications", app, required=True, max_items=100)
    if isinstance(apps, list):
        ids = [a["invoice_id"] for a in apps if a]
        if not apps:
            body.fail("applications", "needs at least one invoice")
        elif len(ids) != len(set(ids)):
            body.fail("applications", "names an invoice twice")
    return apps


def _apply(ops: Ops, invoice: Rec, delta: Decimal) -> None:
    """Move an invoice's paid amount by `delta` (negative when a payment goes away)."""
    inv = dict(invoice.data)
    inv["amount_paid"] = money.text(Decimal(inv["amount_paid"]) + delta)
    _totals(inv)
    inv["status"] = "paid" if Decimal(inv["balance"]) == 0 else "open"
    ops.save(invoice, inv)


def create_payment(ops: Ops, data: dict[str, Any]) -> Rec:
    body = Body(data, PAYMENT_FIELDS)
    client_id = body.str("client_id", required=True, nonempty=True)
    amount = body.money("amount", required=True, positive=True)
    pay_date = body.date("date")
    method = body.str("method", choices=METHODS)
    reference = body.str("reference", nullable=True, max_len=100)
    memo = body.str("memo", nullable=True, max_len=4000)
    apps = _applications(body)
    client = ops.exists("client", client_id)
    if client_id is not MISSING and client is None:
        body.fail("client_id", "names no client of this firm", "not_found")
    body.done()
    assert client is not None
    if sum((a["amount"] for a in apps), Decimal(0)) != amount:
        raise unprocessable("amount_mismatch", "amount must equal the sum of the applications", "amount")
    invoices = []
    for i, a in enumerate(apps):
        inv = ops.exists("invoice", a["invoice_id"])
        field = f"applications[{i}].invoice_id"
        if inv is None:
            raise unprocessable("invoice_not_found", f"No invoice {a['invoice_id']}", field)
        if inv.data["client_id"] != client.id:
            raise unprocessable("invoice_of_another_client", f"Invoice {inv.id} belongs to another client", field)
        if inv.data["status"] != "open":
            raise unprocessable("invoice_not_open", f"Invoice {inv.id} is {inv.data['status']}", field)
        if a["amount"] > Decimal(inv.data["balance"]):
            raise unprocessable("overpayment", f"More than the balance of invoice {inv.id}",
                                f"applications[{i}].amount")
        invoices.append(inv)
    for inv, a in zip(invoices, apps):
        _apply(ops, inv, a["amount"])
    payment = {"client_id": client.id, "date": pay_date if pay_date is not MISSING else ops.now_iso[:10],
               "method": method if method is not MISSING else "OTHER",
               "reference": reference if reference is not MISSING else None,
               "memo": memo if memo is not MISSING else None, "amount": money.text(amount),
               "applications": [{"invoice_id": a["invoice_id"], "amount": money.text(a["amount"])} for a in apps]}
    return ops.insert("payment", payment, key=client.id)


def update_payment(ops: Ops, rec: Rec, data: dict[str, Any], expect: int | None) -> Rec:
    body = Body(data, PAYMENT_FIELDS)
    for key in ("client_id", "amount", "applications"):
        if key in data:
            body.fail(key, "cannot change; delete the payment and record a new one", "immutable")
    out: dict[str, Any] = {}
    put(out, "date", body.date("date"))
    put(out, "method", body.str("method", choices=METHODS))
    put(out, "reference", body.str("reference", nullable=True, max_len=100))
    put(out, "memo", body.str("memo", nullable=True, max_len=4000))
    body.done()
    return ops.save(rec, {**rec.data, **out}, expect=expect)


def delete_payment(ops: Ops, rec: Rec, expect: int | None) -> None:
    soft_delete(ops, rec, expect)
    for a in rec.data["applications"]:
        inv = ops.exists("invoice", a["invoice_id"])
        if inv is not None:
            _apply(ops, inv, -Decimal(a["amount"]))


SERVICE_ITEM = Kind("service_item", "service_items", NEEDS, create_item, update_item, delete_item)
INVOICE = Kind("invoice", "invoices", NEEDS, create_invoice, update_invoice, delete_invoice,
               list_filters=("client_id", "status"))
PAYMENT = Kind("payment", "payments", NEEDS, create_payment, update_payment, delete_payment,
               list_filters=("client_id",))
