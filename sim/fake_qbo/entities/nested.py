"""QBO's complex types inside an entity body: addresses, phones, e-mails, refs.

QBO's JSON binding knows these types field by field: an unknown property
inside one is the same 2010 as at the top level, and a number sent for one
of their text fields is read as its text. Refs to kinds of record the fake
does not model (terms, payment methods, tax codes, classes...) can never
name an existing record here, so they are the 2500 QBO answers for a ref
to a missing record. Invoice lines have their own rules (invoices.py).
"""
from __future__ import annotations

from typing import Any, Mapping

from . import faults, rules

TEXT, FLAG = "text", "flag"

ADDRESS = {k: TEXT for k in ("Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country", "CountryCode",
                             "County", "CountrySubDivisionCode", "PostalCode", "PostalCodeSuffix", "Lat", "Long",
                             "Tag", "Note")}
PHONE = {**{k: TEXT for k in ("Id", "DeviceType", "CountryCode", "AreaCode", "ExchangeCode", "Extension",
                              "FreeFormNumber", "Tag")}, "Default": FLAG}
EMAIL = {"Id": TEXT, "Address": TEXT, "Tag": TEXT, "Default": FLAG}
WEBSITE = {"Id": TEXT, "URI": TEXT, "Tag": TEXT, "Default": FLAG}
MEMO = {"value": TEXT}
REF = {"value": TEXT, "name": TEXT, "type": TEXT}

TYPES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    **{f: ("PhysicalAddress", ADDRESS) for f in ("BillAddr", "ShipAddr", "ShipFromAddr", "OtherAddr", "PrimaryAddr",
                                                  "CompanyAddr", "LegalAddr", "CustomerCommunicationAddr")},
    **{f: ("TelephoneNumber", PHONE) for f in ("PrimaryPhone", "AlternatePhone", "Mobile", "Fax")},
    **{f: ("EmailAddress", EMAIL) for f in ("PrimaryEmailAddr", "BillEmail", "BillEmailCc", "BillEmailBcc",
                                             "CustomerCommunicationEmailAddr", "Email")},
    "WebAddr": ("WebSiteAddress", WEBSITE),
    "CustomerMemo": ("MemoRef", MEMO),
}

UNMODELLED_REFS = frozenset({
    "SalesTermRef", "TermRef", "PaymentMethodRef", "DefaultTaxCodeRef", "TaxCodeRef", "SalesTaxCodeRef",
    "PurchaseTaxCodeRef", "TxnTaxCodeRef", "ClassRef", "DepartmentRef", "ShipMethodRef", "CustomerTypeRef",
    "TaxClassificationRef", "RecurDataRef", "ProjectRef"})
"""Refs to kinds of record the fake has none of: any value names a missing record."""


def typed(field: str, value: Any) -> Any:
    """A complex top-level value checked and coerced as QBO's binding would."""
    if field.endswith("Ref"):
        shape: tuple[str, Mapping[str, str]] | None = ("ReferenceType", REF)
    else:
        shape = TYPES.get(field)
    if shape is None or not isinstance(value, dict):
        return value
    type_name, known = shape
    out = {}
    for key, item in value.items():
        kind = known.get(key)
        if kind is None:
            raise faults.unknown_property(key, type_name)
        if kind == TEXT:
            if rules.is_number(item):
                item = str(item)
            elif not isinstance(item, str):
                raise faults.invalid_value(f"{field}.{key}", item)
        elif not isinstance(item, bool):
            raise faults.invalid_value(f"{field}.{key}", item)
        out[key] = item
    if field in UNMODELLED_REFS and "value" in out:
        raise faults.invalid_reference(field)
    return out
