"""Intuit OAuth 2.0 for the QBO app: the authorize URL, code exchange, refresh and revoke.

Endpoints come from the discovery document (fetched once, cached), with Intuit's documented
paths on the same host as the fall-back. Token calls are as Intuit wants them: Basic client
auth and a form body; revoke takes JSON. OAuth refusals (`invalid_grant`, `invalid_client`,
...) become `AuthRefused` whose `reason` is the OAuth error. The code exchange is not retried
after a lost answer: a replayed code is refused and revokes what the first exchange issued.
"""
from __future__ import annotations

import base64
import copy
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from .errors import AuthRefused, UpstreamError
from .retry import SAFE_WITHOUT_KEY, TRANSIENT, RetryPolicy
from .transport import Reply, Transport, dumps

log = logging.getLogger(__name__)
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
DISCOVERY_PATH = "/.well-known/openid-configuration"
DEFAULT_PATHS = {"authorization_endpoint": "/connect/oauth2",
                 "token_endpoint": "/oauth2/v1/tokens/bearer",
                 "revocation_endpoint": "/v2/oauth2/tokens/revoke"}
"""Intuit's documented paths, used when discovery fails."""


@dataclass(frozen=True)
class TokenSet:
    """A token pair and its lifetimes in seconds, as the token endpoint answered."""

    access: str
    refresh: str
    access_expires_in: int
    refresh_expires_in: int
    refresh_hard_expires_in: int | None = None
    id_token: str | None = None


def map_oauth_reply(reply: Reply) -> UpstreamError | None:
    """`{"error": ...}` answers as `AuthRefused(reason=<error>)`; other failures by status."""
    body = reply.body
    if reply.status < 400 or reply.status == 429 or reply.status >= 500:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
        return AuthRefused("qbo", reply.status, error, body.get("error_description") or error,
                           str(body.get("error_description") or ""), reason=error, body=body)
    return AuthRefused("qbo", reply.status, None, f"OAuth HTTP {reply.status}", reply.text[:300],
                       reason="oauth_error")


class QboOAuth:
    """One registered app's OAuth calls against Intuit (or the fake)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, client_id: str, client_secret: str,
                 redirect_uri: str, policy: RetryPolicy, *, discovery_url: str | None = None,
                 timeout: float | None = None, stats: Counter[str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.discovery_url = discovery_url or self.base_url + DISCOVERY_PATH
        self.transport = Transport(session, "qbo", policy, map_oauth_reply, stats, timeout)
        self._endpoints: dict[str, str] | None = None

    @property
    def stats(self) -> Counter[str]:
        return self.transport.stats

    def on_session(self, session: aiohttp.ClientSession) -> QboOAuth:
        """The same app's OAuth calls over another session (e.g. one of another event loop)."""
        twin = copy.copy(self)
        twin.transport = copy.copy(self.transport)
        twin.transport.session = session
        return twin

    async def endpoints(self) -> dict[str, str]:
        """The discovery document's endpoints, fetched once; the documented paths if it fails."""
        if self._endpoints is None:
            found: dict[str, Any] = {}
            try:
                reply = await self.transport.call("GET", self.discovery_url, kind="read", op="discovery",
                                                  headers={"Accept": "application/json"})
                found = reply.body if isinstance(reply.body, dict) else {}
            except UpstreamError as exc:
                log.warning("OAuth discovery failed (%s); using Intuit's documented paths", exc)
            self._endpoints = {key: str(found.get(key) or self.base_url + path)
                               for key, path in DEFAULT_PATHS.items()}
        return self._endpoints

    async def authorize_url(self, state: str, scopes: str = ACCOUNTING_SCOPE) -> str:
        """Where to send the user's browser to consent."""
        endpoint = (await self.endpoints())["authorization_endpoint"]
        query = urlencode({"client_id": self.client_id, "response_type": "code", "scope": scopes,
                           "redirect_uri": self.redirect_uri, "state": state})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def _basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    async def _token(self, form: dict[str, str], op: str, retry_lost: bool) -> TokenSet:
        url = (await self.endpoints())["token_endpoint"]
        headers = {"Authorization": self._basic(), "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded"}
        reply = await self.transport.call("POST", url, kind="write", op=op, headers=headers,
                                          data=urlencode(form),
                                          retry_on=TRANSIENT if retry_lost else SAFE_WITHOUT_KEY)
        body = reply.body if isinstance(reply.body, dict) else {}
        try:
            return TokenSet(access=body["access_token"], refresh=body["refresh_token"],
                            access_expires_in=int(body["expires_in"]),
                            refresh_expires_in=int(body["x_refresh_token_expires_in"]),
                            refresh_hard_expires_in=(int(body["x_refresh_token_hard_expires_in"])
                                                     if "x_refresh_token_hard_expires_in" in body else None),
                            id_token=body.get("id_token"))
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError("qbo", reply.status, "bad_token_response", "the token answer lacks fields",
                                reply.text[:200]) from exc

    async def exchange(self, code: str) -> TokenSet:
        """Trade an authorization code for tokens (never repeated after a lost answer)."""
        return await self._token({"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": self.redirect_uri}, "exchange", retry_lost=False)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens; always keep the refresh token this answers (it rotates about daily)."""
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token},
                                 "refresh", retry_lost=True)

    async def revoke(self, token: str) -> None:
        """Revoke the grant behind a refresh or access token (unknown tokens: no error)."""
        url = (await self.endpoints())["revocation_endpoint"]
        headers = {"Authorization": self._basic(), "Accept": "application/json",
                   "Content-Type": "application/json"}
        await self.transport.call("POST", url, kind="write", op="revoke", headers=headers,
                                  data=dumps({"token": token}), expect_json=False)
