"""One exception hierarchy for both upstreams, so callers branch on type, not on status codes.

Every error names the service (`"qbo"` or `"canopy"`), the HTTP status (None when no answer
came), the service's own code and message, and a detail, so a sync log line can say which
call failed and why. `retryable` marks the three kinds the retry policy repeats.
"""
from __future__ import annotations

from typing import Any


class UpstreamError(Exception):
    """A call to QBO or Canopy failed; subclasses say how."""

    retryable = False

    def __init__(self, service: str, status: int | None, code: str | None, message: str,
                 detail: str = "", *, field: str | None = None, reason: str | None = None,
                 retry_after: float | None = None, body: Any = None) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.field = field
        """The field the service blamed (QBO `element`, Canopy `details[].field`), if any."""
        self.reason = reason
        """A machine reason, stable across services (mainly for `AuthRefused`)."""
        self.retry_after = retry_after
        """Seconds the service asked us to wait (Canopy's `Retry-After`), if it said."""
        self.body = body
        """The parsed error body, for logs."""
        super().__init__(self.summary())

    def summary(self) -> str:
        parts = [f"{self.service}", f"{self.status if self.status is not None else '-'}"]
        if self.code:
            parts.append(str(self.code))
        if self.reason and self.reason != self.code:
            parts.append(f"({self.reason})")
        text = " ".join(parts) + f": {self.message}"
        if self.detail and self.detail != self.message:
            text += f" - {self.detail}"
        if self.field:
            text += f" [field {self.field}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view for sync logs and job errors."""
        return {"type": type(self).__name__, "service": self.service, "status": self.status,
                "code": self.code, "message": self.message, "detail": self.detail,
                "field": self.field, "reason": self.reason}


class Throttled(UpstreamError):
    """429: too many requests (QBO 3001 sends no Retry-After; Canopy does)."""

    retryable = True


class ServerError(UpstreamError):
    """5xx: the service failed; the same request may work later."""

    retryable = True


class Unreachable(UpstreamError):
    """No usable answer: time-out, reset or dropped connection, empty, malformed or truncated body."""

    retryable = True


class AuthRefused(UpstreamError):
    """Credentials that a refresh cannot fix; `reason` says why (token_expired, token_revoked,
    access_removed, subscription_suspended, app_not_authorized, invalid_grant, ...)."""

    connection_version: int | None = None
    """Set where the refusal was decided under the connection's row lock (a refused refresh):
    the connection's version then, so marking it refused can tell whether the tokens were
    replaced since (a reauthorization waiting on that lock)."""


class NotFound(UpstreamError):
    """The record does not exist (QBO 610, Canopy 404)."""


class StaleObject(UpstreamError):
    """Someone changed the record first (QBO 5010 stale SyncToken, Canopy 409 etag_mismatch)."""


class ValidationFailed(UpstreamError):
    """The service refused the body (QBO ValidationFault, Canopy 400/422); `field` names the field."""


class Duplicate(UpstreamError):
    """A name or number is taken (QBO 6240/6140, Canopy 409 duplicate_number/email_taken)."""


class Forbidden(UpstreamError):
    """Canopy 403: a permission, license, module or plan is missing; `code` says which."""


class Conflict(UpstreamError):
    """Canopy 409 for a rule on the record's state (a void invoice, a second primary contact)."""


__all__ = [
    "AuthRefused",
    "Conflict",
    "Duplicate",
    "Forbidden",
    "NotFound",
    "ServerError",
    "StaleObject",
    "Throttled",
    "Unreachable",
    "UpstreamError",
    "ValidationFailed",
]
