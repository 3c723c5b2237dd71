"""Building python-quickbooks objects for the tests, one recipe per name-list entity."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from quickbooks import QuickBooks
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import (DescriptionLineDetail, DescriptionOnlyLine, DiscountLine,
                                           DiscountLineDetail, SalesItemLine, SalesItemLineDetail)
from quickbooks.objects.employee import Employee
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.vendor import Vendor


def income_account(qb: QuickBooks) -> Account:
    accounts = Account.where("AccountType = 'Income'", order_by="Id", qb=qb)
    assert accounts, "the company has no income account"
    return accounts[0]


def ref(value: Any, name: str | None = None) -> Ref:
    r = Ref()
    r.value = str(value)
    if name is not None:
        r.name = name
    return r


def customer(stem: str, **fields: Any) -> Customer:
    c = Customer()
    c.DisplayName = stem
    for k, v in fields.items():
        setattr(c, k, v)
    return c


def vendor(stem: str, **fields: Any) -> Vendor:
    v = Vendor()
    v.DisplayName = stem
    for k, val in fields.items():
        setattr(v, k, val)
    return v


def employee(stem: str, **fields: Any) -> Employee:
    e = Employee()
    e.GivenName = stem[:25]
    e.FamilyName = "Employee"
    e.DisplayName = stem
    for k, v in fields.items():
        setattr(e, k, v)
    return e


def service_item(qb: QuickBooks, stem: str, price: Any = 50, **fields: Any) -> Item:
    i = Item()
    i.Name = stem
    i.Type = "Service"
    i.UnitPrice = price
    i.IncomeAccountRef = income_account(qb).to_ref()
    for k, v in fields.items():
        setattr(i, k, v)
    return i


def account(stem: str, **fields: Any) -> Account:
    a = Account()
    a.Name = stem
    a.AccountType = "Income"
    a.AccountSubType = "ServiceFeeIncome"
    for k, v in fields.items():
        setattr(a, k, v)
    return a


@dataclass(frozen=True)
class Recipe:
    """How to make and recognise one name-list entity in the generic tests."""

    cls: type
    name_field: str            # the unique name (DisplayName / Name)
    text_field: str            # a free writable text field the tests change and clear
    build: Callable[[QuickBooks, str], Any]
    shares_display_names: bool  # Customer/Vendor/Employee: one name space, " (deleted)" on deactivation

    @property
    def entity(self) -> str:
        return self.cls.qbo_object_name


RECIPES = {
    "Customer": Recipe(Customer, "DisplayName", "CompanyName", lambda qb, s: customer(s), True),
    "Vendor": Recipe(Vendor, "DisplayName", "CompanyName", lambda qb, s: vendor(s), True),
    "Employee": Recipe(Employee, "DisplayName", "EmployeeNumber", lambda qb, s: employee(s), True),
    "Item": Recipe(Item, "Name", "Description", lambda qb, s: service_item(qb, s), False),
    "Account": Recipe(Account, "Name", "Description", lambda qb, s: account(s), False),
}


# -- invoices --------------------------------------------------------------------------------
def sales_line(item: Item, amount: Any, qty: Any = None, price: Any = None, description: str | None = None) -> SalesItemLine:
    line = SalesItemLine()
    line.Amount = amount
    if description is not None:
        line.Description = description
    detail = SalesItemLineDetail()
    detail.ItemRef = ref(item.Id)
    if qty is not None:
        detail.Qty = qty
    if price is not None:
        detail.UnitPrice = price
    line.SalesItemLineDetail = detail
    return line


def description_line(text: str) -> DescriptionOnlyLine:
    line = DescriptionOnlyLine()
    line.Description = text
    line.DescriptionLineDetail = DescriptionLineDetail()
    del line.Amount  # python-quickbooks defaults it to 0; a description line has none
    return line


def percent_discount_line(percent: Any) -> DiscountLine:
    line = DiscountLine()
    detail = DiscountLineDetail()
    detail.PercentBased = True
    detail.DiscountPercent = percent
    line.DiscountLineDetail = detail
    line.Amount = 0
    return line


def invoice(customer_obj: Customer, *lines: Any, **fields: Any) -> Invoice:
    inv = Invoice()
    inv.CustomerRef = customer_obj.to_ref()
    inv.Line = list(lines)
    for k, v in fields.items():
        setattr(inv, k, v)
    return inv


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def sales_lines(inv: Invoice) -> list[Any]:
    return [line for line in inv.Line if line.DetailType == "SalesItemLineDetail"]


def subtotal_lines(inv: Invoice) -> list[Any]:
    return [line for line in inv.Line if line.DetailType == "SubTotalLineDetail"]
