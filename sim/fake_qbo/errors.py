"""QBO's error shapes, raised anywhere and rendered in one middleware.

Two shapes exist at Intuit: the documented `Fault` (capital F) that the
accounting service writes, and the gateway's lower-case `fault` that comes
back for authentication and app-authorisation failures in front of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class QboFault(Exception):
    """One QBO `Fault`: HTTP status, type and one or more errors."""

    code: str
    message: str
    detail: str = ""
    element: str = ""
    status: int = 400
    type: str = "ValidationFault"
    gateway: bool = False
    more: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.message}: {self.detail}")

    def errors(self) -> list[dict[str, str]]:
        return [{"Message": self.message, "Detail": self.detail, "code": self.code,
                 "element": self.element}, *self.more]

    def body(self, time_iso: str, time_millis: int) -> dict[str, Any]:
        if self.gateway:
            return {"warnings": None, "intuitObject": None,
                    "fault": {"error": [{"message": e["Message"], "detail": e["Detail"], "code": e["code"],
                                         "element": e["element"] or None} for e in self.errors()],
                              "type": self.type},
                    "report": None, "queryResponse": None, "batchItemResponse": [],
                    "attachableResponse": [], "syncErrorResponse": None, "requestId": None,
                    "time": time_millis, "status": None, "cdcresponse": []}
        return {"Fault": {"Error": self.errors(), "type": self.type}, "time": time_iso}


def authentication_failed(detail: str) -> QboFault:
    """401 003200: no token, an expired one or a revoked one (gateway shape)."""
    return QboFault("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail,
                    status=401, type="AUTHENTICATION", gateway=True)


def app_not_authorized(detail: str) -> QboFault:
    """403 003100: a token used on a realm or a scope it was not granted for."""
    return QboFault("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", detail,
                    status=403, type="AUTHORIZATION", gateway=True)


def authorization_failure(detail: str) -> QboFault:
    return QboFault("120", "Authorization Failure", detail, status=403, type="AuthorizationFault")


def subscription_lapsed() -> QboFault:
    return QboFault("6190", "Invalid Company Status",
                    "Subscription period has ended or canceled or there was a billing problem : "
                    "You can't add data to QuickBooks Online because your trial or subscription period "
                    "ended, you canceled your subscription, or there was a billing problem.")


def unsupported_operation(detail: str) -> QboFault:
    return QboFault("500", "Unsupported Operation", detail)


def not_found(entity: str, id: str) -> QboFault:
    return QboFault("610", "Object Not Found",
                    "Object Not Found : Something you're trying to use has been made inactive. "
                    "Check the fields with accounts, customers, items, vendors or employees.",
                    element="")


def system_fault() -> QboFault:
    return QboFault("10000", "An application error has occurred while processing your request",
                    "System Failure Error: An unexpected error occurred while accessing or saving your data. "
                    "Please wait a few minutes and try again. If the problem persists, contact customer support.",
                    status=500, type="SystemFault")


def throttled() -> QboFault:
    return QboFault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    "The request limit was reached.  Try again later", status=429)


def stale_object(user: str = "another user") -> QboFault:
    return QboFault("5010", "Stale Object Error",
                    f"Stale Object Error : You and {user} were working on this at the same time. "
                    f"{user} finished before you did, so your work was not saved.")


def service_unavailable() -> QboFault:
    return QboFault("10000", "Service Unavailable",
                    "The service is temporarily unavailable. Please try again later.",
                    status=503, type="SystemFault")


PRESETS = {
    "throttle": throttled,
    "server_error": system_fault,
    "unavailable": service_unavailable,
    "expired_token": lambda: authentication_failed("Token expired: injected by a fault rule"),
    "stale_object": stale_object,
}
"""The QBO answers a fault rule can give by name (`{"type": "error", "error": "throttle"}`)."""
