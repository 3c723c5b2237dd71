"""Canopy's v3 error envelope, raised anywhere and rendered in one middleware.

`{"errors": {"code", "message", "userMessage", "httpStatusCode", "details": []}}`
is the shape of the public spec; every refusal of the fake, admin routes
included, uses it. Raising inside `store.tx()` rolls the request back whole,
so a refused request never leaves a half-applied change.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sim.core.http import json_response, service_errors

log = logging.getLogger(__name__)


@dataclass
class CanopyError(Exception):
    """One refusal: HTTP status, a stable code, and per-field details."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    user_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"errors": {"code": self.code, "message": self.message,
                           "userMessage": self.user_message or self.message,
                           "httpStatusCode": self.status, "details": self.details}}

    def response(self) -> web.Response:
        return json_response(self.body(), status=self.status, headers=self.headers or None)


def invalid(field_name: str, reason: str, code: str = "invalid") -> dict[str, Any]:
    """One entry of `details`: which field and why."""
    return {"field": field_name, "code": code, "message": reason}


def validation(details: list[dict[str, Any]]) -> CanopyError:
    fields = ", ".join(d["field"] for d in details)
    return CanopyError(400, "validation_error", f"The request is invalid: {fields}", details,
                       "Some fields are missing or invalid.")


def bad_request(field_name: str, reason: str) -> CanopyError:
    return validation([invalid(field_name, reason)])


def unauthorized(message: str, code: str = "unauthorized") -> CanopyError:
    return CanopyError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="canopy"'})


def forbidden(code: str, message: str, missing: dict[str, Any]) -> CanopyError:
    """403 naming what is missing: `{"permission": ...}`, `{"license": ...}` or a module or plan."""
    return CanopyError(403, code, message, [{"code": code, **missing, "message": message}])


def not_found(kind: str, id: str) -> CanopyError:
    return CanopyError(404, "not_found", f"No {kind} with id {id}", [{"field": "id", "code": "not_found",
                                                                      "message": f"{kind} {id} not found"}])


def conflict(code: str, message: str, field_name: str | None = None) -> CanopyError:
    return CanopyError(409, code, message, [invalid(field_name, message, code)] if field_name else [])


def unprocessable(code: str, message: str, field_name: str | None = None) -> CanopyError:
    return CanopyError(422, code, message, [invalid(field_name, message, code)] if field_name else [])


def throttled(retry_after: int) -> CanopyError:
    return CanopyError(429, "rate_limited", "Too many requests", [],
                       "You are sending requests too quickly; try again shortly.",
                       headers={"Retry-After": str(retry_after)})


def internal() -> CanopyError:
    return CanopyError(500, "internal_error", "An unexpected error occurred", [],
                       "Something went wrong on our side.")


def _translate(request: web.Request, exc: web.HTTPException | None) -> CanopyError | None:
    if exc is None:
        return internal()
    if isinstance(exc, web.HTTPNotFound):
        return CanopyError(404, "not_found", f"No route {request.method} {request.path}")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return CanopyError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}",
                           headers={"Allow": ", ".join(sorted(exc.allowed_methods))})
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return CanopyError(413, "payload_too_large", "The request body is too large")
    return None


canopy_errors = service_errors(CanopyError, lambda request, exc: exc.response(), _translate)
"""The one place every error becomes the v3 envelope (core `/_sim` routes keep theirs)."""


def unavailable() -> CanopyError:
    return CanopyError(503, "service_unavailable", "The service is temporarily unavailable", [],
                       "Canopy is down for a moment; try again shortly.", headers={"Retry-After": "5"})


def conflict_stale() -> CanopyError:
    return conflict("etag_mismatch", "The record was changed by someone else")


PRESETS = {
    "throttle": lambda: throttled(5),
    "server_error": internal,
    "unavailable": unavailable,
    "expired_token": lambda: unauthorized("The access token expired", "token_expired"),
    "stale_object": conflict_stale,
}
"""The Canopy answers a fault rule can give by name (`{"type": "error", "error": "throttle"}`)."""
