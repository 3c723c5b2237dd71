"""The engine's wizard API (docs/engine-api.md), as a team member calls it, and the shapes of
its answers read in one place each."""
from __future__ import annotations

from typing import Any

from .http import Http, Reply
from .tenants import Member

SECTIONS = ("matches", "new_contacts", "unmatched", "duplicates")
"""The review's sections in the order *Next* walks them (R10)."""
TRUTH_SECTION = {"matches": "matches", "new_contacts": "new", "unmatched": "unmatched", "duplicates": "duplicates"}
"""Engine section -> the key of the ground truth's `counts`."""
JOB_ROUTES = ("/integration/contacts/filter", "/integration/contacts/sync", "/integration/items/start",
              "/integration/items/repeat", "/integration/finish")


class Engine:
    def __init__(self, base: str) -> None:
        self.base = base
        self._sessions: dict[str, Http] = {}
        self.browser = Http(base)
        """No bearer token: what QBO's redirect reaches the engine with."""

    def _as(self, m: Member) -> Http:
        if m.token not in self._sessions:
            self._sessions[m.token] = Http(self.base, {"Authorization": f"Bearer {m.token}"})
        return self._sessions[m.token]

    def call(self, m: Member, method: str, path: str, json: Any = None, **params: Any) -> Reply:
        if path in JOB_ROUTES:
            params.setdefault("wait", "true")
        return self._as(m).call(method, path, json=json, params=params or None, who=m.key)

    def get(self, m: Member, path: str, **params: Any) -> Reply:
        return self.call(m, "GET", path, **params)

    def post(self, m: Member, path: str, json: Any = None, **params: Any) -> Reply:
        return self.call(m, "POST", path, json=json, **params)

    def status(self, m: Member) -> Reply:
        return self.get(m, "/integration")

    def callback(self, url: str) -> Reply:
        return self.browser.get(url, allow_redirects=False)


# -- reading the answers -------------------------------------------------------------------------

def job_result(reply: Reply) -> dict[str, Any]:
    """The result of a job route answered with `?wait=true` (or a repeat's first result)."""
    reply.expect(200)
    body = reply.body
    if body.get("result") is not None:
        return body["result"]
    job = body.get("job") or {}
    assert job.get("state") == "done", f"the job did not end well: {reply.show()}"
    return job.get("result") or {}


def review_sections(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`GET /integration/contacts/review` -> section name -> {total, pages, opened}."""
    sections = review["sections"]
    if isinstance(sections, dict):
        return sections
    return {s["section"]: s for s in sections}


def page_records(page: dict[str, Any]) -> list[dict[str, Any]]:
    """One page of a review section: its records."""
    return page["records"]


def error(reply: Reply) -> tuple[int, str | None]:
    return reply.status, reply.error_code
