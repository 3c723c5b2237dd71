"""HTTP clients for the two upstreams (QBO, Intuit OAuth, Canopy), sharing one error hierarchy,
one retry policy and one request helper. The engine talks to its upstreams only through these."""
from __future__ import annotations

from .canopy import MAX_LIMIT as CANOPY_MAX_LIMIT
from .canopy import CanopyClient, ChangePage
from .errors import (
    AuthRefused,
    Conflict,
    Duplicate,
    Forbidden,
    NotFound,
    ServerError,
    StaleObject,
    Throttled,
    Unreachable,
    UpstreamError,
    ValidationFailed,
)
from .pacing import Pacer, Rate
from .qbo import (
    MAX_BATCH,
    MAX_PAGE,
    BatchOp,
    BatchResult,
    QboClient,
    TokenSource,
    fit_request_id,
)
from .qbo_oauth import ACCOUNTING_SCOPE, QboOAuth, TokenSet
from .retry import NO_RETRY, SAFE_WITHOUT_KEY, TRANSIENT, RetryPolicy
from .transport import dumps, loads

__all__ = [
    "ACCOUNTING_SCOPE",
    "CANOPY_MAX_LIMIT",
    "MAX_BATCH",
    "MAX_PAGE",
    "NO_RETRY",
    "SAFE_WITHOUT_KEY",
    "TRANSIENT",
    "AuthRefused",
    "BatchOp",
    "BatchResult",
    "CanopyClient",
    "ChangePage",
    "Conflict",
    "Duplicate",
    "Forbidden",
    "NotFound",
    "Pacer",
    "QboClient",
    "QboOAuth",
    "Rate",
    "RetryPolicy",
    "ServerError",
    "StaleObject",
    "Throttled",
    "TokenSet",
    "TokenSource",
    "Unreachable",
    "UpstreamError",
    "ValidationFailed",
    "dumps",
    "fit_request_id",
    "loads",
]
