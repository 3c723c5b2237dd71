"""Invoices: lines and computed totals, balances, delete, void, and their errors."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from .entities import (customer, description_line, invoice, money, percent_discount_line, ref, sales_line,
                       sales_lines, service_item, subtotal_lines)


@pytest.fixture
def buyer(qb, uniq):
    return customer(uniq + " buyer").save(qb=qb)


@pytest.fixture
def consulting(qb, uniq):
    return service_item(qb, uniq + " consulting", price=50).save(qb=qb)


def test_create_computes_lines_and_totals(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 150, qty=3, price=50, description="Consulting"),
                  sales_line(consulting, 25.5, qty=1, price=25.5)).save(qb=qb)
    assert inv.Id and inv.SyncToken == "0"
    assert money(inv.TotalAmt) == Decimal("175.50")
    assert money(inv.Balance) == Decimal("175.50")
    lines = sales_lines(inv)
    assert [line.LineNum for line in lines] == [1, 2]
    assert all(line.Id for line in lines)
    assert len({line.Id for line in lines}) == 2
    assert lines[0].Description == "Consulting"
    assert money(lines[0].Amount) == Decimal("150.00")
    detail = lines[0].SalesItemLineDetail
    assert detail.ItemRef.value == consulting.Id
    assert detail.ItemRef.name == consulting.Name  # the server fills in ref names
    assert detail.Qty == 3 and money(detail.UnitPrice) == Decimal("50.00")
    assert detail.ItemAccountRef and detail.ItemAccountRef.value  # added by the server
    subtotal = subtotal_lines(inv)
    assert len(subtotal) == 1 and inv.Line[-1] is subtotal[0]
    assert money(subtotal[0].Amount) == Decimal("175.50")
    assert getattr(subtotal[0], "Id", None) is None
    assert inv.CustomerRef.value == buyer.Id and inv.CustomerRef.name == buyer.DisplayName


def test_create_fills_dates_statuses_and_doc_number(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    assert date.fromisoformat(inv.TxnDate)
    assert inv.DueDate >= inv.TxnDate
    assert inv.EmailStatus == "NotSet" and inv.PrintStatus == "NotSet"
    assert inv.DocNumber  # numbered by the server: CustomTxnNumbers is off
    second = invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    assert second.DocNumber != inv.DocNumber
    assert inv.MetaData.CreateTime and inv.MetaData.LastUpdatedTime


def test_supplied_dates_and_doc_number_are_kept(qb, buyer, consulting, uniq):
    inv = invoice(buyer, sales_line(consulting, 50, qty=1, price=50), TxnDate="2025-03-04",
                  DueDate="2025-04-03", DocNumber=uniq[:21], PrivateNote="hello").save(qb=qb)
    got = Invoice.get(inv.Id, qb=qb)
    assert got.TxnDate == "2025-03-04" and got.DueDate == "2025-04-03"
    assert got.DocNumber == uniq[:21]
    assert got.PrivateNote == "hello"


def test_due_date_defaults_to_txn_date_without_terms(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 50, qty=1, price=50), TxnDate="2025-03-04").save(qb=qb)
    assert inv.DueDate == "2025-03-04"


def test_amount_without_qty_and_price_is_accepted(qb, buyer, consulting):
    """python-quickbooks' own sandbox test sends Amount 100 with Qty 0 and UnitPrice 0."""
    inv = invoice(buyer, sales_line(consulting, 100, qty=0, price=0)).save(qb=qb)
    assert money(inv.TotalAmt) == Decimal("100.00")


def test_amount_not_qty_times_price_is_6070(qb, buyer, consulting):
    with pytest.raises(QuickbooksException) as exc:
        invoice(buyer, sales_line(consulting, 1000, qty=3, price=50)).save(qb=qb)
    assert type(exc.value) is QuickbooksException
    assert exc.value.error_code == 6070
    assert "Amount calculation incorrect" in exc.value.message
    assert not Invoice.filter(CustomerRef=buyer.Id, qb=qb)


def test_decimal_amounts_have_no_float_artefacts(qb_decimal, uniq):
    qb = qb_decimal
    buyer = customer(uniq).save(qb=qb)
    item = service_item(qb, uniq + " dime", price=Decimal("0.10")).save(qb=qb)
    inv = invoice(buyer, sales_line(item, Decimal("0.10"), qty=1, price=Decimal("0.10")),
                  sales_line(item, Decimal("0.20"), qty=2, price=Decimal("0.10"))).save(qb=qb)
    assert inv.TotalAmt == Decimal("0.3") or inv.TotalAmt == Decimal("0.30")
    assert isinstance(inv.TotalAmt, Decimal)
    assert str(inv.TotalAmt) in ("0.3", "0.30")
    assert Customer.get(buyer.Id, qb=qb).Balance in (Decimal("0.3"), Decimal("0.30"))


def test_decimal_client_full_update_sends_numbers_as_strings(qb_decimal, uniq):
    """With use_decimal, python-quickbooks echoes amounts as JSON strings ("150.00"): QBO coerces them."""
    qb = qb_decimal
    buyer = customer(uniq).save(qb=qb)
    item = service_item(qb, uniq + " svc", price=Decimal("12.5")).save(qb=qb)
    inv = invoice(buyer, sales_line(item, Decimal("25.00"), qty=2, price=Decimal("12.5"))).save(qb=qb)
    got = Invoice.get(inv.Id, qb=qb)
    got.PrivateNote = "decimal round trip"
    saved = got.save(qb=qb)
    assert saved.TotalAmt == Decimal("25") and saved.SyncToken == "1"


def test_missing_line_is_2020(qb, buyer):
    with pytest.raises(ValidationException) as exc:
        invoice(buyer).save(qb=qb)
    assert exc.value.error_code == 2020
    assert "Line" in exc.value.detail


def test_missing_customer_ref_is_2020(qb, consulting):
    inv = Invoice()
    inv.Line = [sales_line(consulting, 50, qty=1, price=50)]
    with pytest.raises(ValidationException) as exc:
        inv.save(qb=qb)
    assert exc.value.error_code == 2020


def test_unknown_item_ref_is_2500(qb, buyer):
    fake_item = Item()
    fake_item.Id = "987654321"
    with pytest.raises(ValidationException) as exc:
        invoice(buyer, sales_line(fake_item, 50, qty=1, price=50)).save(qb=qb)
    assert exc.value.error_code == 2500
    assert exc.value.message == "Invalid Reference Id"


def test_unknown_customer_ref_is_refused(qb, consulting):
    ghost = Customer()
    ghost.Id = "987654321"
    ghost.DisplayName = "ghost"
    with pytest.raises(QuickbooksException) as exc:
        invoice(ghost, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    assert exc.value.error_code in (610, 2500)


def test_inactive_customer_is_refused(qb, buyer, consulting):
    got = Customer.get(buyer.Id, qb=qb)
    got.Active = False
    got.save(qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    assert exc.value.error_code in (610, 2500)


def test_category_item_cannot_be_used_in_a_transaction(qb, buyer, uniq):
    category = Item()
    category.Name = uniq + " category"
    category.Type = "Category"
    category = category.save(qb=qb)
    assert category.Type == "Category"
    with pytest.raises(ValidationException) as exc:
        invoice(buyer, sales_line(category, 50, qty=1, price=50)).save(qb=qb)
    assert exc.value.error_code == 2500
    assert "Categories cannot be used in transactions" in exc.value.detail


def test_read_sparse_and_full_update(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    patch = Invoice()
    patch.Id, patch.SyncToken, patch.sparse = inv.Id, inv.SyncToken, True
    patch.DueDate = "2031-01-31"
    patch.Line = None  # a sparse update that leaves the lines alone
    patch.CustomField = None
    patch.LinkedTxn = None
    sparse = patch.save(qb=qb)
    assert sparse.SyncToken == "1"
    assert sparse.DueDate == "2031-01-31"
    assert money(sparse.TotalAmt) == Decimal("100.00")
    assert len(sales_lines(sparse)) == 1

    full = Invoice.get(inv.Id, qb=qb)
    full.Line = [sales_line(consulting, 50, qty=1, price=50), sales_line(consulting, 150, qty=3, price=50)]
    saved = full.save(qb=qb)  # Line arrays are replaced whole
    assert saved.SyncToken == "2"
    assert money(saved.TotalAmt) == Decimal("200.00")
    assert money(saved.Balance) == Decimal("200.00")
    assert [money(line.Amount) for line in sales_lines(saved)] == [Decimal("50.00"), Decimal("150.00")]
    assert saved.DueDate == "2031-01-31"


def test_full_update_echoing_the_invoice_read_is_accepted(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    got = Invoice.get(inv.Id, qb=qb)
    saved = got.save(qb=qb)  # sends Line Ids, the subtotal line, TotalAmt, Balance, MetaData back
    assert saved.SyncToken == "1"
    assert money(saved.TotalAmt) == Decimal("100.00")
    assert len(sales_lines(saved)) == 1 and len(subtotal_lines(saved)) == 1


def test_stale_invoice_update_is_5010(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    a = Invoice.get(inv.Id, qb=qb)
    b = Invoice.get(inv.Id, qb=qb)
    a.PrivateNote = "a"
    a.save(qb=qb)
    b.PrivateNote = "b"
    with pytest.raises(QuickbooksException) as exc:
        b.save(qb=qb)
    assert exc.value.error_code == 5010


def test_delete_returns_the_stub_and_the_invoice_is_gone(qb, buyer, consulting, recorder):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    answer = inv.delete(qb=qb)
    assert answer["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": inv.Id}
    assert "time" in answer
    exchange = recorder.last("createOrUpdateInvoice")
    assert "operation=delete" in exchange.url
    with pytest.raises(ObjectNotFoundException) as exc:
        Invoice.get(inv.Id, qb=qb)
    assert exc.value.error_code == 610
    assert not Invoice.choose([inv.Id], qb=qb)


def test_delete_with_a_stale_sync_token_is_5010(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    got = Invoice.get(inv.Id, qb=qb)
    got.PrivateNote = "bump"
    got.save(qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        inv.delete(qb=qb)  # SyncToken "0" is stale now
    assert exc.value.error_code == 5010
    assert Invoice.get(inv.Id, qb=qb).Id == inv.Id


def test_delete_unknown_invoice_is_610(qb):
    ghost = Invoice()
    ghost.Id, ghost.SyncToken = "987654321", "0"
    with pytest.raises(ObjectNotFoundException):
        ghost.delete(qb=qb)


def test_void_zeroes_the_invoice(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50), PrivateNote="memo").save(qb=qb)
    answer = inv.void(qb=qb)
    voided = answer["Invoice"]
    assert voided["Id"] == inv.Id
    assert voided["SyncToken"] == "1"
    assert Decimal(str(voided["TotalAmt"])) == 0 and Decimal(str(voided["Balance"])) == 0
    assert "Voided" in voided["PrivateNote"]
    got = Invoice.get(inv.Id, qb=qb)  # still there, unlike a delete
    assert money(got.TotalAmt) == 0 and got.SyncToken == "1"


def test_void_with_a_stale_sync_token_is_5010(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    got = Invoice.get(inv.Id, qb=qb)
    got.PrivateNote = "bump"
    got.save(qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        inv.void(qb=qb)
    assert exc.value.error_code == 5010


def test_customer_balance_follows_invoices(qb, buyer, consulting):
    def balance() -> Decimal:
        return money(Customer.get(buyer.Id, qb=qb).Balance)

    a = invoice(buyer, sales_line(consulting, 150, qty=3, price=50)).save(qb=qb)
    assert balance() == Decimal("150.00")
    b = invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    assert balance() == Decimal("200.00")
    got = Invoice.get(a.Id, qb=qb)
    got.Line = [sales_line(consulting, 100, qty=2, price=50)]
    a = got.save(qb=qb)
    assert balance() == Decimal("150.00")
    b.void(qb=qb)
    assert balance() == Decimal("100.00")
    a.delete(qb=qb)
    assert balance() == Decimal("0.00")
    assert money(Customer.get(buyer.Id, qb=qb).BalanceWithJobs) == Decimal("0.00")


def test_job_balance_rolls_up_to_the_parent(qb, buyer, consulting, uniq):
    job = customer(uniq + " job", Job=True, ParentRef=buyer.to_ref()).save(qb=qb)
    invoice(job, sales_line(consulting, 100, qty=2, price=50)).save(qb=qb)
    assert money(Customer.get(job.Id, qb=qb).Balance) == Decimal("100.00")
    parent = Customer.get(buyer.Id, qb=qb)
    assert money(parent.Balance) == Decimal("0.00")
    assert money(parent.BalanceWithJobs) == Decimal("100.00")


def test_description_only_line(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 50, qty=1, price=50), description_line("Thanks!")).save(qb=qb)
    described = [line for line in inv.Line if line.DetailType == "DescriptionOnly"]
    assert [line.Description for line in described] == ["Thanks!"]
    assert money(inv.TotalAmt) == Decimal("50.00")


def test_percent_discount_lowers_the_total(qb, buyer, consulting):
    inv = invoice(buyer, sales_line(consulting, 200, qty=4, price=50), percent_discount_line(10)).save(qb=qb)
    assert money(inv.TotalAmt) == Decimal("180.00")
    discount = [line for line in inv.Line if line.DetailType == "DiscountLineDetail"]
    assert len(discount) == 1 and money(discount[0].Amount) == Decimal("20.00")


def test_request_id_makes_invoice_create_idempotent(qb, buyer, consulting, uniq):
    first = invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb, request_id=uniq)
    second = invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb, request_id=uniq)
    assert first.Id == second.Id
    assert len(Invoice.filter(CustomerRef=buyer.Id, qb=qb)) == 1
    assert money(Customer.get(buyer.Id, qb=qb).Balance) == Decimal("50.00")


def test_transaction_ids_are_numeric_and_distinct(qb, buyer, consulting):
    ids = [invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb).Id for _ in range(3)]
    assert all(i.isdigit() for i in ids)
    assert len(set(ids)) == 3
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_item_ref_by_value_only_gets_its_name(qb, buyer, consulting):
    line = sales_line(consulting, 50, qty=1, price=50)
    line.SalesItemLineDetail.ItemRef = ref(consulting.Id)  # no name sent
    inv = invoice(buyer, line).save(qb=qb)
    assert sales_lines(inv)[0].SalesItemLineDetail.ItemRef.name == consulting.Name


def test_a_customer_with_an_open_balance_cannot_be_deactivated(qb, buyer, consulting):
    invoice(buyer, sales_line(consulting, 50, qty=1, price=50)).save(qb=qb)
    got = Customer.get(buyer.Id, qb=qb)
    got.Active = False
    with pytest.raises(QuickbooksException) as exc:
        got.save(qb=qb)
    assert "Delete List Has Balance" in exc.value.message
    assert Customer.get(buyer.Id, qb=qb).Active is True
