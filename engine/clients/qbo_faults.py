"""QBO's error answers read into the shared hierarchy.

QBO writes two shapes: the documented `{"Fault": {"Error": [{Message, Detail, code, element}],
"type"}}` (any status, even 200) and the gateway's lower-case `{"fault": {"error": [...]}}` for
401 (3200) and 403 (3100). The first error's numeric `code` decides; the status is the
fall-back. Batch items carry the same `Fault` per item.
"""
from __future__ import annotations

from typing import Any

from .errors import (
    AuthRefused,
    Duplicate,
    NotFound,
    ServerError,
    StaleObject,
    Throttled,
    UpstreamError,
    ValidationFailed,
)
from .transport import Reply

SERVICE = "qbo"
AUTH_REASONS = {"120": "access_removed", "3100": "app_not_authorized", "6190": "subscription_suspended"}
"""Codes that no refresh fixes, and what each means for the connection."""
DUPLICATE_CODES = {"6240", "6140"}


def fault_of(body: Any) -> tuple[str, dict[str, str]] | None:
    """(fault type, first error normalised to message/detail/code/element), or None if no fault."""
    if not isinstance(body, dict):
        return None
    fault = body.get("Fault")
    if isinstance(fault, dict):
        errors, keys = fault.get("Error"), ("Message", "Detail", "code", "element")
    else:
        fault = body.get("fault")
        if not isinstance(fault, dict):
            return None
        errors, keys = fault.get("error"), ("message", "detail", "code", "element")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    norm = {name: str(first.get(key) or "") for name, key in zip(("message", "detail", "code", "element"), keys)}
    return str(fault.get("type") or ""), norm


def token_reason(detail: str) -> str:
    """Why a 401 3200 refused the token, from its detail (`Token expired: …`, `Token revoked: …`)."""
    text = detail.lower()
    if "revoked" in text:
        return "token_revoked"
    if "expired" in text:
        return "token_expired"
    return "token_invalid"


def from_fault(status: int, fault_type: str, err: dict[str, str], body: Any = None) -> UpstreamError:
    """The exception one QBO error means."""
    code, message, detail = err["code"], err["message"], err["detail"]
    field = err["element"] or None
    args = (SERVICE, status, code or None, message, detail)
    kw: dict[str, Any] = {"field": field, "body": body}
    if status == 429 or code == "3001":
        return Throttled(*args, **kw)
    if code in AUTH_REASONS:
        return AuthRefused(*args, reason=AUTH_REASONS[code], **kw)
    if status == 401 or code == "3200":
        return AuthRefused(*args, reason=token_reason(detail), **kw)
    if status == 403:
        return AuthRefused(*args, reason="forbidden", **kw)
    if status >= 500 or fault_type == "SystemFault":
        return ServerError(*args, **kw)
    if code == "610":
        return NotFound(*args, **kw)
    if code == "5010":
        return StaleObject(*args, **kw)
    if code in DUPLICATE_CODES:
        return Duplicate(*args, **kw)
    if fault_type == "ValidationFault" or status == 400:
        return ValidationFailed(*args, **kw)
    return UpstreamError(*args, **kw)


def map_reply(reply: Reply) -> UpstreamError | None:
    """A QBO answer's error (a Fault at any status), or None for a success."""
    found = fault_of(reply.body)
    if found is not None:
        return from_fault(reply.status, found[0], found[1], reply.body)
    if reply.status == 401:
        return AuthRefused(SERVICE, 401, None, "Authentication failed", reply.text[:300], reason="token_invalid")
    if reply.status == 403:
        return AuthRefused(SERVICE, 403, None, "Forbidden", reply.text[:300], reason="forbidden")
    return None  # statuses alone: transport.default_error
