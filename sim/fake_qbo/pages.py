"""The sign-in, company chooser and consent pages: plain HTML forms that
work without JavaScript, so a test can drive them with form posts."""
from __future__ import annotations

from html import escape
from typing import Iterable

_STYLE = ("body{font-family:sans-serif;max-width:28rem;margin:3rem auto;color:#393a3d}"
          "h1{color:#2ca01c;font-size:1.4rem}.err{color:#c00}button{margin:.3rem .3rem 0 0}"
          "label{display:block;margin:.5rem 0}")


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Intuit (fake QBO)</h1><h2>{escape(title)}</h2>"
            f"{body}</body></html>")


def _hidden(flow: str) -> str:
    return f"<input type='hidden' name='flow' value='{escape(flow)}'>"


def sign_in(flow: str, app_name: str, error: str = "") -> str:
    err = f"<p class='err' id='error'>{escape(error)}</p>" if error else ""
    return _page("Sign in", f"""{err}<p>Sign in to connect <b>{escape(app_name)}</b>.</p>
<form method='post' action='/connect/oauth2/signin' id='signin'>{_hidden(flow)}
<label>Email or user ID <input name='email' type='email' autocomplete='username'></label>
<label>Password <input name='password' type='password' autocomplete='current-password'></label>
<button name='action' value='signin' type='submit'>Sign in</button>
<button name='action' value='cancel' type='submit'>Cancel</button></form>""")


def choose_company(flow: str, companies: Iterable[tuple[str, str]]) -> str:
    options = "".join(
        f"<label><input type='radio' name='realm_id' value='{escape(realm)}'{' checked' if i == 0 else ''}> "
        f"{escape(name)}</label>" for i, (realm, name) in enumerate(companies))
    if not options:
        options = "<p class='err' id='error'>This user has access to no QuickBooks company.</p>"
    return _page("Select a company", f"""<form method='post' action='/connect/oauth2/company' id='company'>
{_hidden(flow)}{options}
<button name='action' value='next' type='submit'>Next</button>
<button name='action' value='cancel' type='submit'>Cancel</button></form>""")


def consent(flow: str, app_name: str, company: str | None, scopes: list[str]) -> str:
    target = f" to <b>{escape(company)}</b>" if company else ""
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    return _page("Connect", f"""<p><b>{escape(app_name)}</b> wants access{target}:</p><ul>{items}</ul>
<form method='post' action='/connect/oauth2/consent' id='consent'>{_hidden(flow)}
<button name='decision' value='connect' type='submit'>Connect</button>
<button name='decision' value='cancel' type='submit'>Cancel</button></form>""")


def error(message: str) -> str:
    return _page("Something's not right", f"<p class='err' id='error'>{escape(message)}</p>")
