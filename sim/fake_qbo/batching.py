"""The batch endpoint's rules: what a `BatchItemRequest` may hold, and one item run.

Items run in order, each in its own unit of work, so one item's Fault
leaves the others applied (QBO answers 200 with a Fault per failed item).
Unlike QBO, a later item can see what an earlier one created: QBO does not
promise either way (docs/decisions.md).
"""
from __future__ import annotations

from typing import Any, Callable

from sim.core import jsonutil

from .entities import SPECS_BY_NAME, Session, querying
from .errors import QboFault, subscription_lapsed
from .query import QueryError

MAX_ITEMS = 30
OPERATIONS = ("create", "update", "delete", "void")


def parse(body: Any) -> list[dict[str, Any]]:
    """The request's items, or the whole batch refused with a Fault."""
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise QboFault("2020", "Required param missing, need to supply the required value for the API",
                       "Required parameter BatchItemRequest is missing in the request", element="BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise QboFault("6000", "A business validation error has occurred while processing your request",
                       f"Business Validation Error: a batch holds at most {MAX_ITEMS} items; this one has "
                       f"{len(items)}.", element="BatchItemRequest")
    seen: set[str] = set()
    for i, item in enumerate(items):
        bid = item.get("bId") if isinstance(item, dict) else None
        if not isinstance(bid, str) or not bid:
            raise QboFault("2020", "Required param missing, need to supply the required value for the API",
                           f"Required parameter bId is missing in BatchItemRequest[{i}]", element="bId")
        if bid in seen:
            raise QboFault("6000", "A business validation error has occurred while processing your request",
                           f"Business Validation Error: bId {bid} is used twice in this batch", element="bId")
        seen.add(bid)
    return items


Perform = Callable[[Session, Any, str, Any], str]
Operation = Callable[[str | None, str | None, Any, Any], str]


def run_item(s: Session, item: dict[str, Any], writable: bool, perform: Perform,
             operation_of: Operation) -> dict[str, Any]:
    """One item's answer: the entity, a delete stub, or a QueryResponse (a Fault is raised)."""
    bid = item["bId"]
    if "Query" in item:
        try:
            return {"bId": bid, "QueryResponse": querying.run(s, str(item["Query"]))}
        except QueryError as exc:
            raise QboFault(exc.code, exc.message, exc.detail) from None
    names = [k for k in item if k in SPECS_BY_NAME]
    unknown = [k for k in item if k not in ("bId", "operation", "optionsData", *SPECS_BY_NAME)]
    if unknown or len(names) != 1:
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:{(unknown or names or ['(entity)'])[0]} specified is unsupported or invalid",
                       element=(unknown or names or [""])[0])
    spec = SPECS_BY_NAME[names[0]]
    op = item.get("operation")
    if op is not None and op not in OPERATIONS:
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:operation has an unsupported value: {op}", element="operation")
    if not writable:
        raise subscription_lapsed()
    body = item[spec.name]
    op = operation_of(op, None, spec, body)
    return {"bId": bid, spec.name: jsonutil.loads(perform(s, spec, op, body))}
