"""Tokens at rest: QBO and Canopy secrets are stored Fernet-encrypted, never in clear.

The key comes from configuration (`--token-key` / `ENGINE_TOKEN_KEY`). Without one, a
random key is made per process: fine for a throw-away database, but tokens stored by an
earlier process can then no longer be read, and `open` says so plainly (`TokenKeyError`)
instead of failing somewhere deep in a QBO call.
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class TokenKeyError(Exception):
    """The token key is malformed, or is not the key the stored tokens were sealed with."""


class TokenBox:
    """Seals and opens secrets with one Fernet key; `None` passes through both ways."""

    def __init__(self, key: str | None) -> None:
        self.ephemeral = key is None
        raw = Fernet.generate_key() if key is None else key.strip().encode()
        try:
            self._fernet = Fernet(raw)
        except (ValueError, TypeError) as exc:
            raise TokenKeyError(
                "the token key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "make one with TokenBox.generate_key()") from exc

    @staticmethod
    def generate_key() -> str:
        """A fresh key, in the form `--token-key` expects."""
        return Fernet.generate_key().decode()

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            hint = (" (no token key was configured, so this process made a random one)"
                    if self.ephemeral else "")
            raise TokenKeyError(
                "a stored token cannot be decrypted with the configured token key: the key "
                f"differs from the one it was sealed with, or the value was altered{hint}") from exc
