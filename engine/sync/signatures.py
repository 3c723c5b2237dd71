"""Webhook signatures of both upstreams, checked before a delivery is read (pure).

QBO (docs: /work/shared/docs/qbo-api.md §8): header `intuit-signature` is base64 of
HMAC-SHA256 over the raw body, keyed by the app's verifier token. It carries no time stamp,
so a replayed QBO delivery verifies; that is harmless here because events are idempotent
(the worker re-reads the record).

Canopy (docs/decisions.md D-39): `Canopy-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>` with `Canopy-Timestamp: <t>`. The time stamp is signed, so a receiver rejects
deliveries whose `t` is too far from its own clock (either way) and replays stay bounded to
the tolerance window. Several `v1=` values (a secret being rotated) are accepted if any one
matches.

Every comparison of a MAC is constant-time (`hmac.compare_digest`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

MISSING_SIGNATURE = "missing_signature"
BAD_SIGNATURE = "bad_signature"
STALE_TIMESTAMP = "stale_timestamp"
MALFORMED = "malformed"
REASONS = (MISSING_SIGNATURE, BAD_SIGNATURE, STALE_TIMESTAMP, MALFORMED)
DEFAULT_TOLERANCE_S = 300.0


def qbo_signature(body: bytes, verifier_token: str) -> str:
    """What QBO sends in `intuit-signature` for this body (for tests and tools)."""
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


def verify_qbo(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """True when `signature` is the base64 HMAC-SHA256 of `body` under `verifier_token`."""
    if not signature or not verifier_token:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def canopy_signature(body: bytes, secret: str, timestamp: int) -> str:
    """What Canopy sends in `Canopy-Signature` for this body at `timestamp` (for tests and tools)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _parse_canopy_header(header: str) -> tuple[int, list[str]] | None:
    """`t=<int>,v1=<hex>[,v1=<hex>...]` -> (t, [macs]); None when it is not that shape."""
    stamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        value = value.strip()
        if key == "t":
            if stamp is not None or not value.isdigit():
                return None
            stamp = int(value)
        elif key == "v1":
            if not value:
                return None
            macs.append(value.lower())
        # other schemes (v0, future versions) are ignored, as Stripe-style receivers do
    if stamp is None or not macs:
        return None
    return stamp, macs


def verify_canopy(body: bytes, header: str | None, timestamp_header: str | None, secret: str, now: float,
                  tolerance_s: float = DEFAULT_TOLERANCE_S) -> str | None:
    """None when the delivery is authentic and fresh, else why not (one of `REASONS`).

    `header` is `Canopy-Signature`, `timestamp_header` is `Canopy-Timestamp` (optional; when
    present it must equal the signed `t`), `now` is the receiver's clock in Unix seconds.
    The MAC is checked before the time, so `stale_timestamp` only ever describes a delivery
    that really came from the holder of the secret; a `t` more than `tolerance_s` away from
    `now` in either direction (late or from the future) is stale.
    """
    if not header or not header.strip():
        return MISSING_SIGNATURE
    if not secret:
        return BAD_SIGNATURE
    parsed = _parse_canopy_header(header)
    if parsed is None:
        return MALFORMED
    stamp, macs = parsed
    if timestamp_header is not None and timestamp_header.strip() != str(stamp):
        return MALFORMED
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(mac.encode(), expected.encode()) for mac in macs):
        return BAD_SIGNATURE
    if abs(now - stamp) > tolerance_s:
        return STALE_TIMESTAMP
    return None
