"""Ids, tokens and secrets that a seed makes reproducible.

Numeric ids come from per-tenant counters kept in the store (so they are
part of snapshots and forks). Secrets are derived by HMAC from the server
seed, a purpose and a counter, so the same seeded world gives the same
bytes whatever order unrelated tenants were touched in. Without a seed they
are random.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import string

_ALPHABET = string.ascii_letters + string.digits


class Secrets:
    def __init__(self, seed: int | str | None = None) -> None:
        self.seed = None if seed is None else str(seed)

    def _bytes(self, purpose: str, counter: int, n: int) -> bytes:
        if self.seed is None:
            return _random.token_bytes(n)
        out = b""
        block = 0
        while len(out) < n:
            msg = f"{purpose}|{counter}|{block}".encode()
            out += hmac.new(self.seed.encode(), msg, hashlib.sha256).digest()
            block += 1
        return out[:n]

    def token(self, purpose: str, counter: int, length: int = 32) -> str:
        """An alphanumeric token of `length` characters."""
        raw = self._bytes(purpose, counter, length)
        return "".join(_ALPHABET[b % len(_ALPHABET)] for b in raw)

    def digits(self, purpose: str, counter: int, length: int) -> str:
        raw = self._bytes(purpose, counter, length)
        first = "123456789"[raw[0] % 9]
        return first + "".join(str(b % 10) for b in raw[1:])

    def hex(self, purpose: str, counter: int, nbytes: int = 16) -> str:
        return self._bytes(purpose, counter, nbytes).hex()
