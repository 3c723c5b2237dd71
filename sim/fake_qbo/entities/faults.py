"""The faults the entity layer raises, worded as QBO words them.

Each constructor is the one place its Message/Detail text lives, so tests
and docs can point at it. Codes without a primary source are marked.
"""
from __future__ import annotations

from ..errors import QboFault

INACTIVE_DETAIL = ("Object Not Found : Something you're trying to use has been made inactive. "
                   "Check the fields with accounts, customers, items, vendors or employees.")

# The second half of a 6240 Detail, by which list the name collided in.
DUPLICATE_NAME_DETAILS = {
    "name": "Another customer, vendor or employee is already using this name. Please use a different name.",
    "Item": "Another product or service is already using this name. Please use a different name.",
    "Account": "Another account is already using this name. Please use a different name.",
}


def duplicate_name(scope: str) -> QboFault:
    """6240: the name is taken (`scope` is a key of DUPLICATE_NAME_DETAILS)."""
    return QboFault("6240", "Duplicate Name Exists Error",
                    f"The name supplied already exists. : {DUPLICATE_NAME_DETAILS[scope]}")


def stale_object() -> QboFault:
    return QboFault("5010", "Stale Object Error",
                    "Stale Object Error : You and another user were working on this at the same time. "
                    "The other user finished before you did, so your work was not saved.")


def invalid_reference(element: str) -> QboFault:
    """2500: a reference to a record that does not exist."""
    return QboFault("2500", "Invalid Reference Id", f"Invalid Reference Id : {element}", element=element)


def category_in_transaction(element: str) -> QboFault:
    return QboFault("2500", "Invalid Reference Id",
                    "Invalid Reference Id : Categories cannot be used in transactions.", element=element)


def inactive_reference(element: str) -> QboFault:
    """610: a reference to a record that exists but was made inactive."""
    return QboFault("610", "Object Not Found", INACTIVE_DETAIL, element=element)


def object_not_found() -> QboFault:
    """610: reading (or writing) an Id that is not there, or was deleted."""
    return QboFault("610", "Object Not Found", INACTIVE_DETAIL)


def required_missing(param: str) -> QboFault:
    return QboFault("2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {param} is missing in the request", element=param)


def unknown_property(field: str, entity: str) -> QboFault:
    """2010: a property the entity's schema does not have (Jackson's wording)."""
    return QboFault("2010", "Request has invalid or unsupported property",
                    f'Property Name:Unrecognized field "{field}" (class com.intuit.schema.finance.v3.{entity}), '
                    f"not marked as ignorable specified is unsupported or invalid")


def invalid_value(field: str, value: object) -> QboFault:
    """2010: a property whose value cannot be read as its type."""
    return QboFault("2010", "Request has invalid or unsupported property",
                    f"Property Name:Can not construct instance of {field} from value {value!r}: "
                    f"not a valid representation specified is unsupported or invalid", element=field)


def bad_body() -> QboFault:
    """2010: the body is not a JSON object (as QBO answers a body it cannot parse)."""
    return QboFault("2010", "Request has invalid or unsupported property",
                    "Property Name:failed to parse json object; a property specified is unsupported or invalid")


def not_utf8() -> QboFault:
    return QboFault("500", "Unsupported Operation",
                    "Unsupported Operation : the request body is not valid UTF-8")


def business(detail: str, element: str = "") -> QboFault:
    """6000: QBO's catch-all business rule failure."""
    return QboFault("6000", "A business validation error has occurred while processing your request",
                    f"Business Validation Error: {detail}", element=element)


def list_has_balance(entity: str) -> QboFault:
    """Deactivating a customer with an open balance (code unverified: 6000)."""
    return QboFault("6000", "Delete List Has Balance Error",
                    f"The entity you are trying to delete has an open balance. : This {entity.lower()} "
                    f"cannot be deleted because it has a non-zero balance")


def amount_mismatch(supplied: str) -> QboFault:
    return QboFault("6070", "Amount calculation incorrect in the request.",
                    f"Amount is not equal to UnitPrice * Qty. Supplied value:{supplied}", element="Line.Amount")


def unsupported(operation: str, entity: str | None = None) -> QboFault:
    """500: an (entity, operation) pair QBO does not offer."""
    what = f"Operation {operation.capitalize()} is not supported"
    return QboFault("500", "Unsupported Operation", f"{what} for {entity}." if entity else f"{what}.")


def bad_request_id() -> QboFault:
    """A requestid longer than QBO's 50 characters (code unverified: 2010)."""
    return QboFault("2010", "Request has invalid or unsupported property",
                    "Property Name:requestid must be at most 50 characters specified is unsupported or invalid",
                    element="requestid")
