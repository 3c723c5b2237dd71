"""Field mapping (docs/rules.md "Field mapping", D-5, D-7, D-44): pure, so tested with dicts."""
from decimal import Decimal

from engine.mapping import canopy_client_from_customer, line_amount, qbo_invoice, sendable


def test_a_business_customer_becomes_a_business_client_with_its_contact_details() -> None:
    body = canopy_client_from_customer({
        "Id": "7", "DisplayName": "Acme LLC", "CompanyName": "Acme LLC", "Active": True,
        "PrimaryEmailAddr": {"Address": "ap@acme.test"}, "PrimaryPhone": {"FreeFormNumber": "(555) 010-2000"},
        "BillAddr": {"Line1": "1 Main St", "City": "Springfield", "CountrySubDivisionCode": "IL",
                     "PostalCode": "62701"}})
    assert body["is_business"] is True and body["business_name"] == "Acme LLC"
    assert "first_name" not in body and "is_archived" not in body
    assert body["emails"] == [{"email": "ap@acme.test", "type": "WORK", "is_primary": True}]
    assert body["phones"][0]["number"] == "(555) 010-2000"
    assert body["addresses"][0] == {"address_1": "1 Main St", "locality": "Springfield", "region": "IL",
                                    "postal_code": "62701", "type": "WORK", "is_primary": True}


def test_an_inactive_individual_becomes_an_archived_individual_without_the_deleted_suffix() -> None:
    body = canopy_client_from_customer({"Id": "8", "DisplayName": "Jo Smith (deleted)", "GivenName": "Jo",
                                        "FamilyName": "Smith", "CompanyName": "Smith Bakery", "Active": False})
    assert body == {"display_name": "Jo Smith", "is_business": False, "type": "CLIENT", "first_name": "Jo",
                    "last_name": "Smith", "is_archived": True}


INVOICE = {"id": "900", "client_id": "c1", "number": "1001", "issue_date": "2024-01-10", "due_date": "2024-02-09",
           "status": "open", "memo": "Thanks",
           "lines": [{"service_item_id": "s1", "quantity": "1.5", "rate": "100.10", "description": "Tax prep"},
                     {"service_item_id": "s2", "quantity": "2", "rate": "0.10"}]}


def test_a_linked_invoice_maps_through_the_links_with_exact_money() -> None:
    decision = qbo_invoice(INVOICE, {"c1": "58"}, {"s1": "3", "s2": "4"})
    assert decision.held == ()
    body = decision.body
    assert body is not None
    assert body["CustomerRef"] == {"value": "58"} and body["DocNumber"] == "1001"
    assert body["TxnDate"] == "2024-01-10" and body["DueDate"] == "2024-02-09"
    first, second = body["Line"]
    assert first["Amount"] == Decimal("150.15") and first["SalesItemLineDetail"]["UnitPrice"] == Decimal("100.10")
    assert first["SalesItemLineDetail"]["ItemRef"] == {"value": "3"} and first["Description"] == "Tax prep"
    assert second["Amount"] == Decimal("0.20") and "Description" not in second


def test_an_invoice_with_unlinked_references_is_held_with_every_reason() -> None:
    decision = qbo_invoice(INVOICE, {}, {"s1": "3"})
    assert decision.body is None
    assert decision.held == ("client_unlinked", "item_unlinked:s2")
    assert qbo_invoice({**INVOICE, "status": "draft"}, {"c1": "58"}, {"s1": "3", "s2": "4"}).held == ("draft",)


def test_void_and_deleted_invoices_are_never_sent_and_amounts_round_half_up() -> None:
    assert sendable(INVOICE) and sendable({**INVOICE, "status": "paid"})
    assert not sendable({**INVOICE, "status": "void"}) and not sendable({**INVOICE, "is_deleted": True})
    assert line_amount(Decimal("3"), Decimal("0.335")) == Decimal("1.01")
