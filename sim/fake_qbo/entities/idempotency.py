"""`requestid`: a repeated write gets the first answer back, and runs nothing.

Answers are kept per company as `_Request` records keyed by the request id,
faults included (QBO: "the service sends the same response as it did for
the original request"), except server errors, which a retry should re-run.
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.core.store import Rec, TenantStore

from . import faults

ENTITY = "_Request"
MAX_LENGTH = 50


@dataclass(frozen=True)
class Answer:
    """A response as sent: status and the JSON text of its body."""

    status: int
    text: str


def check(request_id: str) -> None:
    if len(request_id) > MAX_LENGTH:
        raise faults.bad_request_id()


def recall(store: TenantStore, request_id: str) -> Answer | None:
    rec = store.get(ENTITY, request_id)
    return Answer(rec.data["status"], rec.data["text"]) if rec else None


def remember(store: TenantStore, request_id: str, answer: Answer, at: float) -> None:
    if answer.status >= 500:
        return
    store.insert(Rec(ENTITY, request_id, {"status": answer.status, "text": answer.text},
                     num=0, active=False, changed_at=at))
