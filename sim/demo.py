"""The demo: a fresh fake QBO, an app, a company, an OAuth sign-in through
the real HTML pages, API calls and a token refresh, all over real HTTP.

Each step states what it expects; the demo exits non-zero when any step
sees something else. It grows into the whole integration story as the
engine, the fake Canopy and the scenarios arrive.
"""
from __future__ import annotations

import asyncio
import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import aiohttp
from rich.console import Console
from rich.table import Table

from sim.core.server import start_site
from sim.fake_qbo.app import QboConfig, create_app

console = Console()
REDIRECT = "http://127.0.0.1:8080/callback"
SCOPES = "com.intuit.quickbooks.accounting openid email profile"


@dataclass
class Story:
    rows: list[tuple[str, str, bool]] = field(default_factory=list)

    def step(self, name: str, outcome: str, ok: bool) -> None:
        self.rows.append((name, outcome, ok))

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.rows)


def _flow_id(html: str) -> str:
    found = re.search(r"name='flow' value='([^']+)'", html)
    if not found:
        raise RuntimeError("the sign-in page carries no flow id")
    return found.group(1)


async def _json(resp: aiohttp.ClientResponse) -> Any:
    return await resp.json(content_type=None)


async def run_demo(seed: int | None = None, keep_running: bool = False) -> int:
    started = time.perf_counter()
    app = create_app(QboConfig(seed=seed if seed is not None else 7))
    runner, port = await start_site(app)
    base = f"http://127.0.0.1:{port}"
    story = Story()
    console.rule("[bold]fake QBO demo")
    console.print(f"fake QBO on {base}")
    try:
        async with aiohttp.ClientSession() as http:
            await _story(http, base, story)
    finally:
        if not keep_running:
            await runner.cleanup()
    table = Table(title="What happened")
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("", justify="center")
    for name, outcome, ok in story.rows:
        table.add_row(name, outcome, "[green]✓[/]" if ok else "[red]✗[/]")
    console.print(table)
    console.print(f"{len(story.rows)} steps in {time.perf_counter() - started:.2f} s: "
                  + ("[green]all as expected[/]" if story.ok else "[red]some steps did not go as expected[/]"))
    if keep_running:
        console.print(f"servers left running: fake QBO {base} (admin {base}/_sim). Ctrl+C to stop.")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    return 0 if story.ok else 1


async def _story(http: aiohttp.ClientSession, base: str, story: Story) -> None:
    app = {"client_id": "demo-canopy-integration", "client_secret": "demo-secret",
           "redirect_uris": [REDIRECT], "name": "Canopy (demo)"}
    async with http.post(base + "/_sim/apps", json=app) as r:
        story.step("register app", f"HTTP {r.status}, client_id {app['client_id']}", r.status == 201)
    async with http.post(base + "/_sim/companies", json={"name": "Demo Accounting LLC"}) as r:
        company = await _json(r)
        realm = company["realm_id"]
        story.step("create company", f"{company['name']}, realm {realm}, "
                   f"{len(company['accounts'])} accounts, user {company['user']['email']}", r.status == 201)
    async with http.get(base + "/.well-known/openid-configuration") as r:
        disco = await _json(r)
        story.step("discovery", f"token endpoint {disco['token_endpoint']}", r.status == 200)

    query = urlencode({"client_id": app["client_id"], "response_type": "code", "scope": SCOPES,
                       "redirect_uri": REDIRECT, "state": "demo-state-1"})
    async with http.get(f"{disco['authorization_endpoint']}?{query}") as r:
        flow = _flow_id(await r.text())
        story.step("open sign-in page", f"HTTP {r.status}, {r.content_type}", r.status == 200)
    form = {"flow": flow, "email": company["user"]["email"], "password": company["user"]["password"],
            "action": "signin"}
    async with http.post(base + "/connect/oauth2/signin", data=form) as r:
        story.step("sign in", f"HTTP {r.status}, company chooser shown", r.status == 200 and realm in await r.text())
    async with http.post(base + "/connect/oauth2/company", data={"flow": flow, "realm_id": realm,
                                                                 "action": "next"}) as r:
        story.step("choose company", f"HTTP {r.status}, consent page shown", r.status == 200)
    async with http.post(base + "/connect/oauth2/consent", data={"flow": flow, "decision": "connect"},
                         allow_redirects=False) as r:
        params = parse_qs(urlparse(r.headers.get("Location", "")).query)
        code = params.get("code", [""])[0]
        story.step("consent", f"HTTP {r.status} to the redirect URI with code, state and realmId",
                   r.status == 302 and params.get("state") == ["demo-state-1"]
                   and params.get("realmId") == [realm] and bool(code))

    basic = "Basic " + base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    headers = {"Authorization": basic, "Accept": "application/json"}
    async with http.post(disco["token_endpoint"], headers=headers, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}) as r:
        tokens = await _json(r)
        story.step("exchange code", f"HTTP {r.status}, access token for {tokens.get('expires_in')} s, "
                   f"refresh token {tokens.get('refresh_token', '')[:14]}…, id_token "
                   f"{'yes' if tokens.get('id_token') else 'no'}", r.status == 200)
    async with http.post(disco["token_endpoint"], headers=headers, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}) as r:
        body = await _json(r)
        story.step("replay the code", f"HTTP {r.status} {body.get('error')}", r.status == 400)

    info_url = f"{base}/v3/company/{realm}/companyinfo/{realm}?minorversion=75"

    async def company_info(access: str) -> tuple[int, Any]:
        async with http.get(info_url, headers={"Authorization": f"Bearer {access}",
                                               "Accept": "application/json"}) as r:
            return r.status, await _json(r)

    # The replay revoked the first exchange's tokens (as Intuit does): sign in again via the admin shortcut.
    async with http.post(base + "/_sim/oauth/grant", json={
            "client_id": app["client_id"], "redirect_uri": REDIRECT, "realm_id": realm, "scope": SCOPES,
            "state": "demo-state-2"}) as r:
        code = (await _json(r))["code"]
    async with http.post(disco["token_endpoint"], headers=headers, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}) as r:
        tokens = await _json(r)
    status, body = await company_info(tokens["access_token"])
    story.step("read CompanyInfo", f"HTTP {status}, {body.get('CompanyInfo', {}).get('CompanyName')}",
               status == 200)
    async with http.post(base + "/_sim/clock", json={"tenant": realm, "advance_seconds": 2 * 3600}) as r:
        clock = await _json(r)
        story.step("advance the company clock 2 h", f"company time now {clock['now']}", r.status == 200)
    status, body = await company_info(tokens["access_token"])
    code_seen = body.get("fault", {}).get("error", [{}])[0].get("code")
    story.step("read with the expired token", f"HTTP {status}, code {code_seen}", status == 401 and code_seen == "3200")
    async with http.post(disco["token_endpoint"], headers=headers, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}) as r:
        fresh = await _json(r)
        story.step("refresh", f"HTTP {r.status}, new access token; refresh token "
                   f"{'unchanged (under 24 h old)' if fresh.get('refresh_token') == tokens['refresh_token'] else 'rotated'}",
                   r.status == 200)
    status, body = await company_info(fresh["access_token"])
    story.step("read with the fresh token", f"HTTP {status}", status == 200)
