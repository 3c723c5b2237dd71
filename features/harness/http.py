"""A small synchronous HTTP client for the steps (pytest-bdd steps are sync; `requests` is).

Every call answers a `Reply` that keeps the request it answered, so a failed assertion shows
what was sent and what came back.
"""
from __future__ import annotations

import json as _json
from dataclasses import dataclass
from typing import Any

import requests

from sim.demo.http import Reply as AnyReply

TIMEOUT = 120.0


@dataclass
class Reply(AnyReply):
    """The demo's reply (`error_code`), plus what was sent and for whom."""

    sent: Any = None
    who: str | None = None
    """The Canopy team member the engine call acted for (a member key), when there was one."""

    def show(self, limit: int = 1500) -> str:
        sent = "" if self.sent is None else f" {_json.dumps(self.sent)[:400]}"
        return f"{self.method} {self.url}{sent} -> {self.status} {self.text[:limit]}"

    def expect(self, *statuses: int) -> Reply:
        assert self.status in statuses, f"expected HTTP {'/'.join(map(str, statuses))}: {self.show()}"
        return self


class Http:
    """One `requests.Session` with a default header set (e.g. a bearer token)."""

    def __init__(self, base: str = "", headers: dict[str, str] | None = None) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # never send test traffic through a proxy
        self.headers = dict(headers or {})

    def call(self, method: str, path_or_url: str, *, json: Any = None, data: Any = None,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             allow_redirects: bool = True, timeout: float = TIMEOUT, who: str | None = None) -> Reply:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        resp = self.session.request(method, url, json=json, data=data, params=params,
                                    headers={**self.headers, **(headers or {})},
                                    allow_redirects=allow_redirects, timeout=timeout)
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        return Reply(method, resp.url if params else url, resp.status_code, body, resp.text,
                     dict(resp.headers), json if json is not None else data, who)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, json=json, **kw)


def ok_json(reply: Reply, *statuses: int) -> Any:
    """The body of a reply that must have one of `statuses` (200/201 by default)."""
    reply.expect(*(statuses or (200, 201)))
    return reply.body
