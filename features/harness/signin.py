"""QBO's sign-in pop-up, driven through the fake QBO's HTML pages with form posts.

The pages: sign-in (`/connect/oauth2`, then POST `/connect/oauth2/signin`), the company chooser
(POST `/connect/oauth2/company`) and consent (POST `/connect/oauth2/consent`), which answers 302
to the app's redirect URI with `code`, `state` and `realmId` (or `error` and `state` when the user
cancels). The answer here is that `Location`: the browser's next stop, the engine's callback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlparse

from .http import Http, Reply

CancelAt = Literal["signin", "company", "consent"]


@dataclass
class Redirect:
    """Where QBO sent the browser back to, and what the query carries."""

    location: str
    params: dict[str, str]

    @property
    def state(self) -> str | None:
        return self.params.get("state")


class SignInError(AssertionError):
    pass


def _flow(reply: Reply) -> str:
    found = re.search(r"name='flow' value='([^']+)'", reply.text)
    if reply.status != 200 or not found:
        raise SignInError(f"no sign-in page: {reply.show()}")
    return found.group(1)


def _redirect(reply: Reply) -> Redirect:
    location = reply.headers.get("Location", "")
    if reply.status != 302 or not location:
        raise SignInError(f"QBO did not send the browser back: {reply.show()}")
    q = parse_qs(urlparse(location).query)
    return Redirect(location, {k: v[0] for k, v in q.items()})


def sign_in(authorize_url: str, email: str, password: str, realm_id: str,
            cancel_at: CancelAt | None = None) -> Redirect:
    """Open `authorize_url`, sign in as `email`, choose `realm_id` and consent (or cancel on the
    page `cancel_at`); answers the redirect back to the app."""
    u = urlparse(authorize_url)
    browser = Http(f"{u.scheme}://{u.netloc}")
    flow = _flow(browser.get(authorize_url))
    if cancel_at == "signin":
        return _redirect(browser.call("POST", "/connect/oauth2/signin", data={"flow": flow, "action": "cancel"},
                                      allow_redirects=False))
    chooser = browser.call("POST", "/connect/oauth2/signin", allow_redirects=False,
                           data={"flow": flow, "email": email, "password": password, "action": "signin"})
    if chooser.status != 200 or realm_id not in chooser.text:
        raise SignInError(f"signing in as {email} did not offer company {realm_id}: {chooser.show()}")
    if cancel_at == "company":
        return _redirect(browser.call("POST", "/connect/oauth2/company", data={"flow": flow, "action": "cancel"},
                                      allow_redirects=False))
    consent = browser.call("POST", "/connect/oauth2/company", allow_redirects=False,
                           data={"flow": flow, "realm_id": realm_id, "action": "next"})
    if consent.status != 200 or "/connect/oauth2/consent" not in consent.text:
        raise SignInError(f"choosing company {realm_id} showed no consent page: {consent.show()}")
    decision = "cancel" if cancel_at == "consent" else "connect"
    return _redirect(browser.call("POST", "/connect/oauth2/consent", data={"flow": flow, "decision": decision},
                                  allow_redirects=False))
