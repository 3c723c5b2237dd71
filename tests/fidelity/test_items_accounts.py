"""Item and Account rules beyond the generic name-list checks; CompanyInfo and Preferences."""
from __future__ import annotations

from decimal import Decimal

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.account import Account
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.item import Item
from quickbooks.objects.preferences import Preferences

from .entities import account, income_account, money, ref, service_item


def test_service_item_round_trip(qb, uniq):
    made = service_item(qb, uniq, price=Decimal("12.34"), Description="An hour", Sku="S-" + uniq,
                        Taxable=False).save(qb=qb)
    got = Item.get(made.Id, qb=qb)
    assert got.Type == "Service"
    assert money(got.UnitPrice) == Decimal("12.34")
    assert got.Description == "An hour"
    assert got.Sku == "S-" + uniq
    assert got.FullyQualifiedName == uniq
    assert got.IncomeAccountRef.value == made.IncomeAccountRef.value
    assert got.IncomeAccountRef.name  # the server names the account


def test_service_item_needs_an_income_account(qb, uniq):
    item = Item()
    item.Name = uniq
    item.Type = "Service"
    with pytest.raises(QuickbooksException) as exc:
        item.save(qb=qb)
    assert exc.value.error_code in (2020, 2500, 6000)
    assert not Item.filter(Name=uniq, qb=qb)


def test_item_income_account_must_exist(qb, uniq):
    item = service_item(qb, uniq)
    item.IncomeAccountRef = ref("987654321")
    with pytest.raises(QuickbooksException) as exc:
        item.save(qb=qb)
    assert exc.value.error_code in (610, 2500)


def test_sub_item_fully_qualified_name(qb, uniq):
    parent = service_item(qb, uniq).save(qb=qb)
    child = service_item(qb, uniq + " child", SubItem=True, ParentRef=parent.to_ref()).save(qb=qb)
    assert child.SubItem is True
    assert child.ParentRef.value == parent.Id
    assert child.FullyQualifiedName == f"{uniq}:{uniq} child"
    assert child.Level == 1


def test_inventory_item(qb, uniq):
    accounts = {a.AccountType: a for a in Account.all(max_results=1000, qb=qb)}
    item = Item()
    item.Name = uniq
    item.Type = "Inventory"
    item.TrackQtyOnHand = True
    item.QtyOnHand = 10
    item.InvStartDate = "2025-01-01"
    item.UnitPrice = 5
    item.IncomeAccountRef = income_account(qb).to_ref()
    item.ExpenseAccountRef = accounts["Cost of Goods Sold"].to_ref()
    item.AssetAccountRef = accounts["Other Current Asset"].to_ref()
    made = item.save(qb=qb)
    got = Item.get(made.Id, qb=qb)
    assert got.Type == "Inventory" and got.TrackQtyOnHand is True
    assert money(got.QtyOnHand) == Decimal("10.00")
    assert got.InvStartDate == "2025-01-01"


def test_item_names_are_unique_among_items_only(qb, uniq):
    from .entities import customer
    customer(uniq).save(qb=qb)
    item = service_item(qb, uniq).save(qb=qb)  # an item may share a customer's name
    assert item.Name == uniq


def test_account_classification_follows_type_and_is_read_only(qb, uniq):
    made = account(uniq).save(qb=qb)
    assert made.AccountType == "Income"
    assert made.Classification == "Revenue"
    assert made.AccountSubType == "ServiceFeeIncome"
    assert money(made.CurrentBalance) == 0
    got = Account.get(made.Id, qb=qb)
    got.Classification = "Asset"
    got.CurrentBalance = 500
    saved = got.save(qb=qb)
    assert saved.Classification == "Revenue" and money(saved.CurrentBalance) == 0


def test_sub_account(qb, uniq):
    parent = account(uniq).save(qb=qb)
    child = account(uniq + " child", SubAccount=True, ParentRef=parent.to_ref()).save(qb=qb)
    assert child.SubAccount is True
    assert child.FullyQualifiedName == f"{uniq}:{uniq} child"


def test_account_name_with_a_double_quote_is_refused(qb, uniq):
    with pytest.raises(QuickbooksException):
        account(uniq + ' "quoted"').save(qb=qb)


@pytest.mark.fake_only
def test_new_company_has_the_default_chart_of_accounts(qb):
    names = {a.Name: a for a in Account.all(max_results=1000, qb=qb)}
    assert {"Services", "Accounts Receivable (A/R)", "Undeposited Funds", "Checking"} <= set(names)
    assert names["Services"].AccountType == "Income"
    assert names["Accounts Receivable (A/R)"].Classification == "Asset"


# -- CompanyInfo and Preferences ---------------------------------------------------------------
def test_company_info_by_realm(qb, conn):
    info = CompanyInfo.get(conn.realm, qb=qb)
    assert info.CompanyName
    assert info.Id
    assert info.Country
    assert info.FiscalYearStartMonth
    assert info.MetaData.CreateTime


@pytest.mark.fake_only
def test_company_info_names_the_company(qb, conn, qbo_tenant):
    info = CompanyInfo.get(conn.realm, qb=qb)
    assert info.CompanyName.startswith("Test Co ")
    assert info.Id == "1"


def test_company_info_by_query(qb, conn):
    rows = CompanyInfo.query("SELECT * FROM CompanyInfo", qb=qb)
    assert len(rows) == 1
    assert rows[0].CompanyName == CompanyInfo.get(conn.realm, qb=qb).CompanyName


def test_preferences(qb):
    prefs = Preferences.get(qb=qb)
    assert prefs.Id
    assert prefs.SalesFormsPrefs.CustomTxnNumbers in (True, False)
    assert prefs.CurrencyPrefs.HomeCurrency.value == "USD"


def test_preferences_by_query(qb):
    answer = qb.query("SELECT * FROM Preferences")
    rows = answer["QueryResponse"]["Preferences"]
    assert len(rows) == 1 and rows[0]["Id"] == Preferences.get(qb=qb).Id


@pytest.mark.fake_only  # changes company-wide settings
def test_custom_txn_numbers_stops_the_server_numbering_invoices(qb, uniq):
    from .entities import customer, invoice, sales_line
    prefs = Preferences.get(qb=qb)
    assert prefs.SalesFormsPrefs.CustomTxnNumbers is False
    buyer = customer(uniq).save(qb=qb)
    item = service_item(qb, uniq + " svc").save(qb=qb)
    numbered = invoice(buyer, sales_line(item, 50, qty=1, price=50)).save(qb=qb)
    assert numbered.DocNumber

    prefs.SalesFormsPrefs.CustomTxnNumbers = True
    saved = prefs.save(qb=qb)  # python-quickbooks sends every preference group it read back
    assert saved.SalesFormsPrefs.CustomTxnNumbers is True
    assert int(saved.SyncToken) == int(prefs.SyncToken) + 1
    assert Preferences.get(qb=qb).SalesFormsPrefs.CustomTxnNumbers is True

    unnumbered = invoice(buyer, sales_line(item, 50, qty=1, price=50)).save(qb=qb)
    assert getattr(unnumbered, "DocNumber", None) in (None, "")
    mine = invoice(buyer, sales_line(item, 50, qty=1, price=50), DocNumber="INV-7").save(qb=qb)
    assert mine.DocNumber == "INV-7"


@pytest.mark.fake_only
def test_stale_preferences_update_is_5010(qb):
    first = Preferences.get(qb=qb)
    stale = Preferences.get(qb=qb)
    first.SalesFormsPrefs.AllowDiscount = False
    first.save(qb=qb)
    stale.SalesFormsPrefs.AllowDiscount = True
    with pytest.raises(QuickbooksException) as exc:
        stale.save(qb=qb)
    assert exc.value.error_code == 5010


@pytest.mark.fake_only
def test_company_info_update(qb, conn):
    info = CompanyInfo.get(conn.realm, qb=qb)
    info.LegalName = "Renamed Legal LLC"
    saved = info.save(qb=qb)
    assert saved.LegalName == "Renamed Legal LLC"
    assert saved.SyncToken == "1"
    again = CompanyInfo.get(conn.realm, qb=qb)
    assert again.LegalName == "Renamed Legal LLC"
    assert again.CompanyName == info.CompanyName
