"""Customer, Vendor and Employee rules beyond the generic name-list checks."""
from __future__ import annotations

import pytest
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import Address, EmailAddress, PhoneNumber
from quickbooks.objects.customer import Customer
from quickbooks.objects.employee import Employee
from quickbooks.objects.vendor import Vendor

from .entities import customer, employee, ref, vendor


def test_customer_defaults(qb, uniq):
    made = customer(uniq).save(qb=qb)
    assert made.PrintOnCheckName == uniq
    assert made.FullyQualifiedName == uniq
    assert made.Balance == 0
    assert made.BalanceWithJobs == 0
    assert made.Job is False
    assert made.CurrencyRef.value == "USD"


def test_display_name_is_built_from_the_name_parts(qb, uniq):
    c = Customer()
    c.GivenName = uniq
    c.FamilyName = "Smith"
    made = c.save(qb=qb)  # python-quickbooks sends "DisplayName": ""
    assert made.DisplayName == f"{uniq} Smith"
    assert made.GivenName == uniq and made.FamilyName == "Smith"


def test_customer_without_any_name_is_refused(qb):
    with pytest.raises(QuickbooksException) as exc:
        Customer().save(qb=qb)
    assert exc.value.error_code in (2020, 6000)


def test_customer_contact_fields_round_trip(qb, uniq):
    c = customer(uniq, GivenName="Ada", FamilyName="Lovelace", CompanyName=uniq + " Ltd", Notes="n" * 200)
    c.PrimaryEmailAddr = EmailAddress()
    c.PrimaryEmailAddr.Address = "ada@example.com"
    c.PrimaryPhone = PhoneNumber()
    c.PrimaryPhone.FreeFormNumber = "(555) 555-0100"
    c.BillAddr = Address()
    c.BillAddr.Line1 = "1 Main St"
    c.BillAddr.City = "Springfield"
    c.BillAddr.CountrySubDivisionCode = "CA"
    c.BillAddr.PostalCode = "94000"
    made = c.save(qb=qb)
    got = Customer.get(made.Id, qb=qb)
    assert got.PrimaryEmailAddr.Address == "ada@example.com"
    assert got.PrimaryPhone.FreeFormNumber == "(555) 555-0100"
    assert got.BillAddr.Line1 == "1 Main St" and got.BillAddr.City == "Springfield"
    assert got.BillAddr.PostalCode == "94000"
    assert got.CompanyName == uniq + " Ltd"
    assert got.Notes == "n" * 200


def test_unicode_and_apostrophes_survive_and_are_queryable(qb, uniq):
    name = f"{uniq} O'Brien & Söhne — café"
    made = customer(name).save(qb=qb)
    assert Customer.get(made.Id, qb=qb).DisplayName == name
    found = Customer.filter(DisplayName=name, qb=qb)  # python-quickbooks escapes ' as \'
    assert [c.Id for c in found] == [made.Id]


def test_sub_customer_has_a_qualified_name_and_level(qb, uniq):
    parent = customer(uniq).save(qb=qb)
    child = customer(uniq + " job", Job=True, ParentRef=parent.to_ref()).save(qb=qb)
    assert child.Job is True
    assert child.ParentRef.value == parent.Id
    assert child.FullyQualifiedName == f"{uniq}:{uniq} job"
    assert child.Level == 1
    grandchild = customer(uniq + " sub", Job=True, ParentRef=child.to_ref()).save(qb=qb)
    assert grandchild.FullyQualifiedName == f"{uniq}:{uniq} job:{uniq} sub"
    assert grandchild.Level == 2


def test_parent_ref_to_an_unknown_customer_is_refused(qb, uniq):
    with pytest.raises(QuickbooksException) as exc:
        customer(uniq, Job=True, ParentRef=ref("987654321")).save(qb=qb)
    assert exc.value.error_code in (610, 2500)


def test_balance_is_read_only(qb, uniq):
    made = customer(uniq).save(qb=qb)
    got = Customer.get(made.Id, qb=qb)
    got.Balance = 999
    got.BalanceWithJobs = 999
    saved = got.save(qb=qb)
    assert saved.Balance == 0 and saved.BalanceWithJobs == 0


@pytest.mark.parametrize("first,second", [(Customer, Vendor), (Vendor, Employee), (Employee, Customer),
                                          (Customer, Employee)])
def test_display_names_are_unique_across_customers_vendors_and_employees(qb, uniq, first, second):
    build = {Customer: customer, Vendor: vendor, Employee: employee}
    build[first](uniq).save(qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        build[second](uniq).save(qb=qb)
    assert exc.value.error_code == 6240
    assert not second.filter(DisplayName=uniq, qb=qb)


def test_display_name_uniqueness_ignores_case(qb, uniq):
    """D-18 (QBO's case rule is unverified; the fake takes the stricter reading)."""
    customer(uniq).save(qb=qb)
    with pytest.raises(QuickbooksException) as exc:
        vendor(uniq.upper()).save(qb=qb)
    assert exc.value.error_code == 6240


@pytest.mark.parametrize("build,cls", [(customer, Customer), (vendor, Vendor), (employee, Employee)])
def test_deactivated_names_get_deleted_suffix_and_free_the_name(qb, uniq, build, cls):
    """Observed at QBO (D-17): an inactive name gets " (deleted)" appended."""
    made = build(uniq).save(qb=qb)
    got = cls.get(made.Id, qb=qb)
    got.Active = False
    off = got.save(qb=qb)
    assert off.DisplayName == f"{uniq} (deleted)"
    again = build(uniq).save(qb=qb)
    assert again.Id != made.Id and again.DisplayName == uniq


def test_vendor_fields(qb, uniq):
    made = vendor(uniq, CompanyName=uniq + " Supplies", AcctNum="A-42", Vendor1099=True).save(qb=qb)
    got = Vendor.get(made.Id, qb=qb)
    assert got.CompanyName == uniq + " Supplies"
    assert got.AcctNum == "A-42"
    assert got.Vendor1099 is True
    assert got.Balance == 0


def test_employee_display_name_from_given_and_family_names(qb, uniq):
    e = Employee()
    e.GivenName = uniq
    e.FamilyName = "Worker"
    made = e.save(qb=qb)
    assert made.DisplayName == f"{uniq} Worker"
    assert made.PrintOnCheckName == f"{uniq} Worker"


def test_employee_ssn_comes_back_masked(qb, uniq):
    made = employee(uniq, SSN="123-45-6789").save(qb=qb)
    got = Employee.get(made.Id, qb=qb)
    assert got.SSN and got.SSN != "123-45-6789"
    assert "123-45" not in got.SSN


def test_employee_dates(qb, uniq):
    made = employee(uniq, HiredDate="2024-02-29", BirthDate="1990-01-31").save(qb=qb)
    got = Employee.get(made.Id, qb=qb)
    assert got.HiredDate == "2024-02-29"
    assert got.BirthDate == "1990-01-31"


@pytest.mark.fake_only
def test_customers_vendors_and_employees_share_one_id_sequence(qb, uniq):
    """D-19: one counter for Customer/Vendor/Employee in a fresh company."""
    c = customer(uniq + " c").save(qb=qb)
    v = vendor(uniq + " v").save(qb=qb)
    e = employee(uniq + " e").save(qb=qb)
    assert int(v.Id) == int(c.Id) + 1
    assert int(e.Id) == int(v.Id) + 1


@pytest.mark.fake_only
def test_metadata_times_run_on_the_company_clock(qb, clock, uniq):
    from datetime import datetime, timedelta
    clock(set="2025-03-04T18:11:12Z", freeze=True)
    made = customer(uniq).save(qb=qb)
    assert made.MetaData == {"CreateTime": "2025-03-04T10:11:12-08:00", "LastUpdatedTime": "2025-03-04T10:11:12-08:00"}
    clock(advance_seconds=90)
    got = Customer.get(made.Id, qb=qb)
    got.Notes = "later"
    saved = got.save(qb=qb)
    assert saved.MetaData["CreateTime"] == "2025-03-04T10:11:12-08:00"
    assert datetime.fromisoformat(saved.MetaData["LastUpdatedTime"]) == (
        datetime.fromisoformat("2025-03-04T10:11:12-08:00") + timedelta(seconds=90))
    found = Customer.where(f"MetaData.LastUpdatedTime > '2025-03-04T10:12:00-08:00' AND DisplayName = '{uniq}'", qb=qb)
    assert [c.Id for c in found] == [made.Id]


def test_a_body_that_is_not_json_is_2010(qb, conn, recorder):
    from quickbooks.exceptions import ValidationException
    with recorder.off_spec_requests(), pytest.raises(ValidationException) as exc:
        qb.post(f"{qb.api_url}/company/{conn.realm}/customer", '{"DisplayName": ')
    assert exc.value.error_code == 2010


# -- nested values: QBO's JSON binding types and checks them (entities/nested.py) -------------
def test_numbers_sent_for_address_strings_come_back_as_strings(qb, uniq, recorder):
    """QBO's binding stores an int PostalCode as the string "94043"."""
    c = customer(uniq)
    c.BillAddr = Address()
    c.BillAddr.Line1 = "1 Main St"
    c.BillAddr.PostalCode = 94043  # an easy slip with python-quickbooks; QBO's binding coerces it
    with recorder.off_spec_requests():
        made = c.save(qb=qb)
    assert made.BillAddr.PostalCode == "94043"


def test_unknown_nested_property_is_2010(qb, uniq, recorder):
    """QBO refuses an unknown property anywhere in the body, not only at the top level."""
    c = customer(uniq)
    c.PrimaryPhone = PhoneNumber()
    c.PrimaryPhone.FreeFormNumber = "555-0100"
    c.PrimaryPhone.Bogus = "x"
    with recorder.off_spec_requests(), pytest.raises(QuickbooksException) as exc:
        c.save(qb=qb)
    assert exc.value.error_code == 2010
    assert not Customer.filter(DisplayName=uniq, qb=qb)


@pytest.mark.parametrize("field", ["PaymentMethodRef", "SalesTermRef", "DefaultTaxCodeRef"])
def test_refs_to_unknown_payment_methods_terms_and_tax_codes_are_2500(qb, uniq, field):
    """The fake has no terms, payment methods or tax codes: every such ref names a missing record."""
    with pytest.raises(QuickbooksException) as exc:
        customer(uniq, **{field: ref("987654321")}).save(qb=qb)
    assert exc.value.error_code == 2500
