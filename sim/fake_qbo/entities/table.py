"""The entity table: every entity the fake serves, as one `EntitySpec` each.

Writable field lists cover QBO's documented fields and everything
python-quickbooks 0.9.12 sends (its objects set every attribute, so a field
missing here would be a 2010 for an ordinary client).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..query import FieldType as T
from . import accounts, invoices, items, people, singletons
from .spec import EntitySpec, Hooks, Kind

USD = {"value": "USD", "name": "United States Dollar"}
META = {"MetaData.CreateTime": T.DATETIME, "MetaData.LastUpdatedTime": T.DATETIME}
EMAIL_ALIAS = {"PrimaryEmailAddr": "PrimaryEmailAddr.Address", "PrimaryPhone": "PrimaryPhone.FreeFormNumber"}

_PERSON = {"Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "DisplayName", "PrintOnCheckName",
           "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr",
           "CompanyName", "Source"}
_PERSON_FIELDS = {"DisplayName": T.STRING, "GivenName": T.STRING, "MiddleName": T.STRING,
                  "FamilyName": T.STRING, "Title": T.STRING, "Suffix": T.STRING, "CompanyName": T.STRING,
                  "PrintOnCheckName": T.STRING, "PrimaryEmailAddr.Address": T.STRING,
                  "PrimaryPhone.FreeFormNumber": T.STRING, "Active": T.BOOL, **META}

CUSTOMER = EntitySpec(
    name="Customer", segment="customer", kind=Kind.NAME_LIST, sequence="name",
    writable=frozenset(_PERSON | {
        "Notes", "Job", "BillWithParent", "ParentRef", "Taxable", "PreferredDeliveryMethod", "ResaleNum",
        "OpenBalanceDate", "PrimaryTaxIdentifier", "SecondaryTaxIdentifier", "BillAddr", "ShipAddr",
        "DefaultTaxCodeRef", "SalesTermRef", "PaymentMethodRef", "CurrencyRef", "ARAccountRef",
        "CustomerTypeRef", "TaxExemptionReasonId", "GSTIN", "BusinessNumber", "GSTRegistrationType",
        "ClientEntityId"}),
    read_only=frozenset({"Balance", "BalanceWithJobs", "FullyQualifiedName", "Level", "IsProject",
                         "V4IDPseudonym"}),
    defaults=MappingProxyType({"Active": True, "Job": False, "BillWithParent": False, "Taxable": True,
                               "IsProject": False, "Balance": 0, "BalanceWithJobs": 0,
                               "CurrencyRef": USD, "PreferredDeliveryMethod": "Print"}),
    refs=MappingProxyType({"ParentRef": "Customer"}),
    fields=MappingProxyType({**_PERSON_FIELDS, "FullyQualifiedName": T.STRING, "Balance": T.DECIMAL,
                             "BalanceWithJobs": T.DECIMAL, "Job": T.BOOL, "BillWithParent": T.BOOL,
                             "Taxable": T.BOOL, "ParentRef": T.REF, "Level": T.INT, "Notes": T.STRING,
                             "CurrencyRef": T.REF}),
    where_aliases=MappingProxyType(EMAIL_ALIAS),
    key_field="DisplayName", alt_field="ParentRef", unique_among=("Customer", "Vendor", "Employee"),
    name_scope="name", parent_flag="Job", label_field="DisplayName",
    hooks=Hooks(prepare=people.prepare_customer),
)

VENDOR = EntitySpec(
    name="Vendor", segment="vendor", kind=Kind.NAME_LIST, sequence="name",
    writable=frozenset(_PERSON | {
        "TaxIdentifier", "BillRate", "CostRate", "AcctNum", "Vendor1099", "TaxReportingBasis", "BillAddr",
        "TermRef", "CurrencyRef", "APAccountRef", "OtherContactInfo", "GSTIN", "BusinessNumber",
        "GSTRegistrationType", "T4AEligible", "T5018Eligible", "HasTPAR", "VendorPaymentBankDetail"}),
    read_only=frozenset({"Balance", "V4IDPseudonym"}),
    defaults=MappingProxyType({"Active": True, "Vendor1099": False, "Balance": 0, "CurrencyRef": USD}),
    numbers=frozenset({"BillRate", "CostRate"}),
    fields=MappingProxyType({**_PERSON_FIELDS, "Balance": T.DECIMAL, "Vendor1099": T.BOOL,
                             "AcctNum": T.STRING, "CurrencyRef": T.REF}),
    where_aliases=MappingProxyType(EMAIL_ALIAS),
    key_field="DisplayName", unique_among=("Customer", "Vendor", "Employee"), name_scope="name",
    label_field="DisplayName",
    hooks=Hooks(prepare=people.prepare_vendor),
)

EMPLOYEE = EntitySpec(
    name="Employee", segment="employee", kind=Kind.NAME_LIST, sequence="name",
    writable=frozenset((_PERSON - {"CompanyName", "AlternatePhone", "Fax", "WebAddr"}) | {
        "SSN", "EmployeeNumber", "BillRate", "CostRate", "BirthDate", "Gender", "HiredDate", "ReleasedDate",
        "Organization", "BillableTime", "PrimaryAddr", "EmailAddress"}),
    read_only=frozenset({"V4IDPseudonym"}),
    defaults=MappingProxyType({"Active": True, "BillableTime": False, "Organization": False}),
    numbers=frozenset({"BillRate", "CostRate"}),
    fields=MappingProxyType({k: v for k, v in _PERSON_FIELDS.items() if k != "CompanyName"} | {
        "EmployeeNumber": T.STRING, "HiredDate": T.DATE, "ReleasedDate": T.DATE, "BirthDate": T.DATE,
        "BillableTime": T.BOOL, "Organization": T.BOOL}),
    where_aliases=MappingProxyType(EMAIL_ALIAS),
    key_field="DisplayName", unique_among=("Customer", "Vendor", "Employee"), name_scope="name",
    label_field="DisplayName",
    hooks=Hooks(prepare=people.prepare_employee),
)

ITEM = EntitySpec(
    name="Item", segment="item", kind=Kind.NAME_LIST, sequence="Item",
    writable=frozenset({
        "Name", "Description", "Active", "SubItem", "ParentRef", "Taxable", "SalesTaxIncluded", "UnitPrice",
        "Type", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost", "TrackQtyOnHand", "QtyOnHand",
        "InvStartDate", "AssetAccountRef", "ExpenseAccountRef", "IncomeAccountRef", "SalesTaxCodeRef",
        "PurchaseTaxCodeRef", "AbatementRate", "ReverseChargeRate", "ServiceType", "ItemCategoryType", "Sku",
        "PrefVendorRef", "ClassRef", "ReorderPoint", "UQCDisplayText", "UQCId", "TaxClassificationRef",
        "Source"}),
    read_only=frozenset({"FullyQualifiedName", "Level"}),
    defaults=MappingProxyType({"Active": True, "SubItem": False, "Taxable": False, "UnitPrice": 0,
                               "SalesTaxIncluded": False, "PurchaseTaxIncluded": False, "PurchaseCost": 0,
                               "TrackQtyOnHand": False}),
    numbers=frozenset({"UnitPrice", "PurchaseCost", "QtyOnHand", "ReorderPoint", "AbatementRate",
                       "ReverseChargeRate"}),
    refs=MappingProxyType({"ParentRef": "Item", "IncomeAccountRef": "Account", "ExpenseAccountRef": "Account",
                           "AssetAccountRef": "Account"}),
    fields=MappingProxyType({"Name": T.STRING, "FullyQualifiedName": T.STRING, "Type": T.ENUM, "Sku": T.STRING,
                             "Active": T.BOOL, "Description": T.STRING, "UnitPrice": T.DECIMAL,
                             "PurchaseCost": T.DECIMAL, "Taxable": T.BOOL, "SubItem": T.BOOL,
                             "TrackQtyOnHand": T.BOOL, "QtyOnHand": T.DECIMAL, "ParentRef": T.REF,
                             "Level": T.INT, "IncomeAccountRef": T.REF, "ExpenseAccountRef": T.REF,
                             "AssetAccountRef": T.REF, **META}),
    key_field="Name", alt_field="Sku", unique_among=("Item",), name_scope="Item", parent_flag="SubItem",
    label_field="Name",
    hooks=Hooks(prepare=items.prepare_item),
)

ACCOUNT = EntitySpec(
    name="Account", segment="account", kind=Kind.NAME_LIST, sequence="Account",
    writable=frozenset({"Name", "SubAccount", "ParentRef", "Active", "AccountType", "AccountSubType",
                        "Description", "AcctNum", "CurrencyRef", "TaxCodeRef", "AccountAlias",
                        "TxnLocationType"}),
    read_only=frozenset({"FullyQualifiedName", "Classification", "CurrentBalance",
                         "CurrentBalanceWithSubAccounts"}),
    defaults=MappingProxyType({"Active": True, "SubAccount": False, "CurrentBalance": 0,
                               "CurrentBalanceWithSubAccounts": 0, "CurrencyRef": USD}),
    refs=MappingProxyType({"ParentRef": "Account"}),
    fields=MappingProxyType({"Name": T.STRING, "FullyQualifiedName": T.STRING, "AccountType": T.ENUM,
                             "AccountSubType": T.ENUM, "Classification": T.ENUM, "Active": T.BOOL,
                             "SubAccount": T.BOOL, "ParentRef": T.REF, "CurrentBalance": T.DECIMAL,
                             "AcctNum": T.STRING, "Description": T.STRING, **META}),
    key_field="Name", alt_field="ParentRef", unique_among=("Account",), name_scope="Account",
    forbidden=':\t\n"', parent_flag="SubAccount", label_field="FullyQualifiedName",
    hooks=Hooks(prepare=accounts.prepare_account),
)

INVOICE = EntitySpec(
    name="Invoice", segment="invoice", kind=Kind.TRANSACTION, sequence="txn",
    writable=frozenset({
        "CustomerRef", "Line", "TxnDate", "DueDate", "DocNumber", "PrivateNote", "CustomerMemo", "BillAddr",
        "ShipAddr", "ShipFromAddr", "BillEmail", "BillEmailCc", "BillEmailBcc", "SalesTermRef", "ShipDate",
        "TrackingNum", "ShipMethodRef", "ClassRef", "DepartmentRef", "CurrencyRef", "ExchangeRate",
        "TxnTaxDetail", "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus", "AllowIPNPayment",
        "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment", "Deposit",
        "DepositToAccountRef", "GlobalTaxCalculation", "CustomField", "LinkedTxn", "DeliveryInfo",
        "RecurDataRef", "TaxExemptionRef", "FreeFormAddress", "EInvoiceStatus", "TxnSource",
        "TransactionLocationType", "ProjectRef"}),
    read_only=frozenset({"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "InvoiceLink"}),
    required=("CustomerRef", "Line"),
    defaults=MappingProxyType({"PrintStatus": "NotSet", "EmailStatus": "NotSet", "CurrencyRef": USD,
                               "ApplyTaxAfterDiscount": False, "LinkedTxn": [], "CustomField": [],
                               "TxnTaxDetail": {"TotalTax": 0}}),
    numbers=frozenset({"ExchangeRate", "Deposit"}),
    refs=MappingProxyType({"CustomerRef": "Customer"}),
    fields=MappingProxyType({"DocNumber": T.STRING, "TxnDate": T.DATE, "DueDate": T.DATE,
                             "CustomerRef": T.REF, "TotalAmt": T.DECIMAL, "Balance": T.DECIMAL,
                             "PrivateNote": T.STRING, "EmailStatus": T.ENUM, "PrintStatus": T.ENUM,
                             "CurrencyRef": T.REF, **META}),
    key_field="DocNumber", alt_field="CustomerRef", label_field="DocNumber", extra_ops=("void",),
    hooks=Hooks(prepare=invoices.prepare_invoice, after=invoices.after_invoice,
                deleting=invoices.deleting_invoice, void=invoices.void_invoice),
)

COMPANY_INFO = EntitySpec(
    name="CompanyInfo", segment="companyinfo", kind=Kind.SINGLETON, sequence=None,
    writable=frozenset({"CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr", "LegalAddr",
                        "CustomerCommunicationEmailAddr", "PrimaryPhone", "Email", "WebAddr",
                        "FiscalYearStartMonth", "CompanyStartDate", "SupportedLanguages", "NameValue"}),
    read_only=frozenset({"Country"}),
    required=("CompanyName",),
    fields=MappingProxyType({"CompanyName": T.STRING, "LegalName": T.STRING, "Country": T.STRING, **META}),
)

PREFERENCES = EntitySpec(
    name="Preferences", segment="preferences", kind=Kind.SINGLETON, sequence=None,
    writable=frozenset({"AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs",
                        "EmailMessagesPrefs", "VendorAndPurchasesPrefs", "TimeTrackingPrefs", "TaxPrefs",
                        "CurrencyPrefs", "ReportPrefs", "OtherPrefs"}),
    fields=MappingProxyType(dict(META)),
    hooks=Hooks(prepare=singletons.prepare_preferences),
)

SPECS: tuple[EntitySpec, ...] = (CUSTOMER, VENDOR, EMPLOYEE, ITEM, ACCOUNT, INVOICE, COMPANY_INFO, PREFERENCES)
SPECS_BY_NAME: dict[str, EntitySpec] = {s.name: s for s in SPECS}
SPECS_BY_SEGMENT: dict[str, EntitySpec] = {s.segment: s for s in SPECS}
SPECS_BY_FOLDED: dict[str, EntitySpec] = {s.name.casefold(): s for s in SPECS}


def spec_for_query(entity: str) -> EntitySpec | None:
    """FROM names match case-insensitively (real traffic writes `from customer`)."""
    return SPECS_BY_FOLDED.get(entity.casefold())


def describe() -> list[dict[str, Any]]:
    """The table as plain data (docs, the OpenAPI writer)."""
    return [{"name": s.name, "segment": s.segment, "kind": s.kind.value, "sequence": s.sequence,
             "operations": sorted(s.operations), "queryable": sorted(s.fields)} for s in SPECS]
