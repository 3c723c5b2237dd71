"""The wizard survives the database: dump_wizard/load_wizard round-trip, JSON-safe."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from engine.models import ImportChoice
from engine.review import Opened, Section, SectionSizes
from engine.setup import ContactSyncResult, Step, Wizard
from engine.wizard_codec import dump_wizard, load_wizard


def _through_json(w: Wizard) -> Wizard:
    return load_wizard(json.loads(json.dumps(dump_wizard(w))))


def test_a_fresh_wizard_round_trips_and_empty_storage_is_a_fresh_wizard() -> None:
    assert _through_json(Wizard()) == Wizard()
    assert load_wizard(None) == Wizard() == load_wizard({})


def test_a_wizard_mid_review_round_trips_with_readable_json() -> None:
    w = Wizard(step=Step.ITEMS_REVIEW, oauth_state=None, used_states=frozenset({"s2", "s1"}), realm_id="9130",
               choice=ImportChoice.INACTIVE, sizes=SectionSizes(8, 6, 4, 9),
               opened=Opened().open(Section.UNMATCHED).open(Section.MATCHES),
               contacts_result=ContactSyncResult(linked=8, created=6), income_account="79")
    data = dump_wizard(w)
    assert data["step"] == "items_review" and data["used_states"] == ["s1", "s2"]
    assert data["opened"] == {"sections": ["matches", "unmatched"], "current": "matches"}
    assert _through_json(w) == w


def test_a_wizard_stored_before_a_field_existed_still_loads() -> None:
    assert load_wizard({"step": "contacts_filter", "realm_id": "1"}) == Wizard(step=Step.CONTACTS_FILTER,
                                                                               realm_id="1")


_ids = st.text(min_size=1, max_size=12)
wizards = st.builds(
    Wizard,
    step=st.sampled_from(Step),
    oauth_state=st.none() | _ids,
    used_states=st.frozensets(_ids, max_size=4),
    realm_id=st.none() | _ids,
    choice=st.none() | st.sampled_from(ImportChoice),
    sizes=st.builds(SectionSizes, *[st.integers(0, 200_000)] * 4),
    opened=st.builds(Opened, st.frozensets(st.sampled_from(Section)), st.none() | st.sampled_from(Section)),
    contacts_result=st.none() | st.builds(ContactSyncResult, st.integers(0, 10**6), st.integers(0, 10**6)),
    income_account=st.none() | _ids,
)


@given(wizards)
def test_every_wizard_round_trips_through_json(w: Wizard) -> None:
    assert _through_json(w) == w
