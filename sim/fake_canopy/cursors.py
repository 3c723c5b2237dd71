"""Opaque cursors: a tag and a position, base64url without padding.

The tag keeps a list cursor from being fed to the change feed and back.
"""
from __future__ import annotations

import base64

from .errors import bad_request


def encode(tag: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{position}".encode()).decode().rstrip("=")


def decode(tag: str, cursor: str, field_name: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, num = raw.partition(":")
        if found != tag or not (num.isascii() and num.isdigit()):
            raise ValueError
        return int(num)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(field_name, "is not a cursor this server issued") from None
