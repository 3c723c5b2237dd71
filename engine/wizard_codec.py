"""The wizard as JSON: `engine.setup.Wizard` <-> a plain dict for the `connections.wizard` column.

Enums are stored by value and sets as sorted lists, so the stored form is stable and
readable in the database. A key missing from a stored dict takes the field's default,
so a wizard saved before a field was added still loads.
"""
from __future__ import annotations

from typing import Any

from engine.models import ImportChoice
from engine.review import Opened, Section, SectionSizes
from engine.setup import ContactSyncResult, Step, Wizard


def dump_wizard(w: Wizard) -> dict[str, Any]:
    return {
        "step": w.step.value,
        "oauth_state": w.oauth_state,
        "used_states": sorted(w.used_states),
        "realm_id": w.realm_id,
        "choice": None if w.choice is None else w.choice.value,
        "sizes": {"matches": w.sizes.matches, "new_contacts": w.sizes.new_contacts,
                  "unmatched": w.sizes.unmatched, "duplicates": w.sizes.duplicates},
        "opened": {"sections": sorted(s.value for s in w.opened.sections),
                   "current": None if w.opened.current is None else w.opened.current.value},
        "contacts_result": None if w.contacts_result is None else {
            "linked": w.contacts_result.linked, "created": w.contacts_result.created},
        "income_account": w.income_account,
    }


def load_wizard(data: dict[str, Any] | None) -> Wizard:
    """The inverse of `dump_wizard`; `None` or `{}` is a wizard that has not started."""
    d = data or {}
    sizes = d.get("sizes") or {}
    opened = d.get("opened") or {}
    result = d.get("contacts_result")
    current = opened.get("current")
    return Wizard(
        step=Step(d.get("step", Step.NOT_CONNECTED.value)),
        oauth_state=d.get("oauth_state"),
        used_states=frozenset(d.get("used_states") or ()),
        realm_id=d.get("realm_id"),
        choice=None if d.get("choice") is None else ImportChoice(d["choice"]),
        sizes=SectionSizes(**{k: int(v) for k, v in sizes.items()}),
        opened=Opened(sections=frozenset(Section(s) for s in opened.get("sections") or ()),
                      current=None if current is None else Section(current)),
        contacts_result=None if result is None else ContactSyncResult(int(result["linked"]),
                                                                      int(result["created"])),
        income_account=d.get("income_account"),
    )
