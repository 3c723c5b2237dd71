"""A small JSON-over-HTTP client for the demo: every answer keeps what it answered, so a
surprise says which call, what came back and what the step expected."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=300)


class Surprise(RuntimeError):
    """A call answered something the step did not expect: the story cannot go on as told."""


@dataclass
class Reply:
    method: str
    url: str
    status: int
    body: Any
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str | None:
        """The engine's `{"error": {"code"}}` or Canopy's `{"errors": {"code"}}`."""
        for key in ("error", "errors"):
            if isinstance(self.body, dict) and isinstance(self.body.get(key), dict):
                return self.body[key].get("code")
        return None

    def show(self, limit: int = 600) -> str:
        text = " ".join(self.text.split())
        return f"{self.method} {self.url} -> HTTP {self.status} {text[:limit]}"


class Http:
    """One base URL and a default set of headers (a bearer token) over a shared session."""

    def __init__(self, session: aiohttp.ClientSession, base: str, headers: dict[str, str] | None = None) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.headers = dict(headers or {})

    def bearer(self, token: str) -> Http:
        return Http(self.session, self.base, {**self.headers, "Authorization": f"Bearer {token}"})

    async def call(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                   params: dict[str, Any] | None = None, expect: tuple[int, ...] | None = (200,),
                   allow_redirects: bool = True) -> Reply:
        url = path if path.startswith("http") else self.base + path
        headers = {"Accept": "application/json", **self.headers}
        async with self.session.request(method, url, json=json_body, data=data, params=params, headers=headers,
                                        allow_redirects=allow_redirects) as resp:
            text = await resp.text()
            shown = str(resp.url)
            status, got_headers = resp.status, dict(resp.headers)
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        reply = Reply(method, shown, status, body, text, got_headers)
        if expect is not None and status not in expect:
            raise Surprise(f"expected HTTP {'/'.join(map(str, expect))}: {reply.show()}")
        return reply

    async def get(self, path: str, **kw: Any) -> Any:
        return (await self.call("GET", path, **kw)).body

    async def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return (await self.call("POST", path, json_body=body, **kw)).body
