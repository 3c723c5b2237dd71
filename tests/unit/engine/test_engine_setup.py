"""The wizard (engine/setup.py): every legal transition, guards, effects, illegal events, the diagram."""
from __future__ import annotations

from typing import Any

import pytest

from engine.gates import GateInputs
from engine.models import ImportChoice
from engine.review import SECTION_ORDER, Section, SectionSizes
from engine.setup import (
    TRANSITIONS,
    Accept,
    AnswerContactSync,
    CallbackFailed,
    CallbackOk,
    ChooseFilter,
    ChooseIncomeAccount,
    Connect,
    ContactsSynced,
    ContactSyncFailed,
    ContactSyncResult,
    Decline,
    Disconnect,
    DropConnection,
    ExchangeCode,
    ExchangeFailed,
    ExchangeOk,
    Finish,
    Next,
    Notify,
    OpenSection,
    RedirectToQbo,
    RepeatItems,
    Restart,
    RevokeCanopyToken,
    RevokeQboTokens,
    RunContactSync,
    RunItemSync,
    SendExistingInvoices,
    SkipItems,
    StartItems,
    StartOngoingSync,
    Step,
    StopSync,
    StoreConnection,
    SyncContacts,
    SyncItems,
    Wizard,
    WizardError,
    advance,
    mermaid,
)

ADMIN = GateInputs("paid", frozenset({"time_and_billing"}), frozenset({"time_and_billing"}),
                   frozenset({"manage_integrations"}), False)
TN = GateInputs("paid", frozenset({"transcripts_and_notices"}), frozenset({"transcripts_and_notices"}),
                frozenset({"manage_integrations"}), True)
STAFF = GateInputs("paid", ADMIN.modules, ADMIN.effective_licenses, frozenset(), False)
SIZES = SectionSizes(matches=301, new_contacts=2, unmatched=0, duplicates=1)


def run(*events: Any, w: Wizard | None = None) -> tuple[Wizard, list[Any]]:
    w = w or Wizard()
    effects: list[Any] = []
    for e in events:
        w, effects = advance(w, e)
    return w, effects


def refused(w: Wizard, event: Any) -> WizardError:
    with pytest.raises(WizardError) as info:
        advance(w, event)
    assert info.value.state is w.step and info.value.allowed == w.allowed()
    return info.value


PATH: dict[Step, list[Any]] = {Step.NOT_CONNECTED: []}
PATH[Step.AUTHORIZING] = PATH[Step.NOT_CONNECTED] + [Connect(ADMIN, "s1")]
PATH[Step.EXCHANGING] = PATH[Step.AUTHORIZING] + [CallbackOk("s1", "code", "realm1")]
PATH[Step.AGREEMENT] = PATH[Step.EXCHANGING] + [ExchangeOk()]
PATH[Step.CONTACTS_FILTER] = PATH[Step.AGREEMENT] + [Accept()]
PATH[Step.CONTACTS_REVIEW] = PATH[Step.CONTACTS_FILTER] + [ChooseFilter(ImportChoice.ALL, SIZES)]
OPEN_ALL = [Next(), Next(), Next(), Next()]
PATH[Step.CONTACTS_SYNCING] = PATH[Step.CONTACTS_REVIEW] + OPEN_ALL + [SyncContacts()]
PATH[Step.CONTACTS_DONE] = PATH[Step.CONTACTS_SYNCING] + [ContactsSynced(linked=3, created=2)]
PATH[Step.ITEMS_REVIEW] = PATH[Step.CONTACTS_DONE] + [StartItems(ADMIN, "9")]
PATH[Step.ITEMS_SYNCED] = PATH[Step.ITEMS_REVIEW] + [SyncItems()]
PATH[Step.SKIPPED_ITEMS] = PATH[Step.CONTACTS_DONE] + [SkipItems()]
PATH[Step.FINISHED] = PATH[Step.ITEMS_SYNCED] + [Finish()]
PATH[Step.DISCONNECTED] = PATH[Step.FINISHED] + [Disconnect()]

SAMPLE: dict[type[Any], Any] = {
    Connect: Connect(ADMIN, "s2"), CallbackOk: CallbackOk("s1", "code", "realm1"),
    CallbackFailed: CallbackFailed("s1", "access_denied"), ExchangeOk: ExchangeOk(),
    ExchangeFailed: ExchangeFailed("invalid_grant"), Accept: Accept(), Decline: Decline(),
    ChooseFilter: ChooseFilter(ImportChoice.ACTIVE, SIZES), OpenSection: OpenSection(Section.MATCHES, 2),
    Next: Next(), SyncContacts: SyncContacts(), ContactsSynced: ContactsSynced(1, 1),
    ContactSyncFailed: ContactSyncFailed("timeout"), StartItems: StartItems(ADMIN, "9"),
    ChooseIncomeAccount: ChooseIncomeAccount("12"), RepeatItems: RepeatItems(), SyncItems: SyncItems(),
    SkipItems: SkipItems(), Finish: Finish(), Disconnect: Disconnect(), Restart: Restart(),
}


def at(step: Step) -> Wizard:
    w, _ = run(*PATH[step])
    assert w.step is step
    return w


def test_every_step_is_reachable_and_has_an_exit() -> None:
    assert set(PATH) == set(Step) == set(TRANSITIONS)


@pytest.mark.parametrize("step, event_type, target",
                         [(s, e, t) for s, row in TRANSITIONS.items() for e, t in row.items()],
                         ids=lambda x: getattr(x, "name", getattr(x, "__name__", str(x))))
def test_every_legal_transition(step: Step, event_type: type[Any], target: Step) -> None:
    w = at(step)
    if (step, event_type) == (Step.CONTACTS_REVIEW, SyncContacts):  # its guard wants every section opened
        w, _ = run(*OPEN_ALL, w=w)
    w, _ = advance(w, SAMPLE[event_type])
    assert w.step is target


@pytest.mark.parametrize("step, event_type",
                         [(s, e) for s in Step for e in SAMPLE if e not in TRANSITIONS[s] and e is not Connect],
                         ids=lambda x: getattr(x, "name", getattr(x, "__name__", str(x))))
def test_every_illegal_event_is_refused_without_change(step: Step, event_type: type[Any]) -> None:
    err = refused(at(step), SAMPLE[event_type])
    assert err.reason == "illegal_event"


# --- R1-R4a: connect and consent -----------------------------------------------------------

def test_connect_redirects_with_the_state() -> None:
    w, fx = run(Connect(ADMIN, "s1"))
    assert (w.step, w.oauth_state, fx) == (Step.AUTHORIZING, "s1", [RedirectToQbo("s1")])


def test_connect_refused_by_the_first_failing_gate() -> None:
    assert refused(Wizard(), Connect(STAFF, "s1")).reason == "missing_permission"
    assert refused(Wizard(), Connect(GateInputs("freemium", frozenset(), frozenset(), frozenset(), False),
                                     "s1")).reason == "plan_not_eligible"


@pytest.mark.parametrize("step", [Step.EXCHANGING, Step.AGREEMENT, Step.CONTACTS_FILTER, Step.CONTACTS_REVIEW,
                                  Step.CONTACTS_DONE, Step.ITEMS_SYNCED, Step.SKIPPED_ITEMS, Step.FINISHED])
def test_second_connect_is_already_connected_after_the_earlier_gates(step: Step) -> None:
    w = at(step)
    assert refused(w, Connect(ADMIN, "x")).reason == "already_connected"
    assert refused(w, Connect(STAFF, "x")).reason == "missing_permission"


def test_connect_after_disconnect_needs_restart() -> None:
    w = at(Step.DISCONNECTED)
    assert refused(w, Connect(ADMIN, "x")).reason == "illegal_event"
    assert refused(w, Connect(STAFF, "x")).reason == "missing_permission"
    w, fx = run(Restart(), Connect(ADMIN, "s9"), w=w)
    assert w.step is Step.AUTHORIZING and fx == [RedirectToQbo("s9")]


def test_connect_again_while_authorizing_replaces_the_state() -> None:
    w, _ = run(Connect(ADMIN, "s1"), Connect(ADMIN, "s2"))
    assert w.oauth_state == "s2"
    assert refused(w, CallbackOk("s1", "code", "r")).reason == "state_reused"
    assert refused(w, Connect(ADMIN, "s1")).reason == "state_reused"


def test_callback_with_wrong_state_is_refused_and_keeps_waiting() -> None:
    w = at(Step.AUTHORIZING)
    assert refused(w, CallbackOk("forged", "code", "r")).reason == "state_mismatch"
    assert refused(w, CallbackFailed("forged", "access_denied")).reason == "state_mismatch"


def test_callback_exchanges_the_code_and_uses_the_state_up() -> None:
    w, fx = run(*PATH[Step.EXCHANGING])
    assert fx == [ExchangeCode("code", "realm1")] and w.oauth_state is None and "s1" in w.used_states


def test_state_cannot_be_replayed_after_a_failed_flow() -> None:
    w, _ = run(*PATH[Step.EXCHANGING], ExchangeFailed("boom"), Connect(ADMIN, "s2"))
    assert refused(w, CallbackOk("s1", "code", "realm1")).reason == "state_reused"


@pytest.mark.parametrize("event, reason", [(CallbackFailed("s1", "access_denied"), "sign_in_cancelled"),
                                           (CallbackFailed("s1", "server_error"), "sign_in_failed:server_error")])
def test_cancelled_sign_in_keeps_nothing(event: Any, reason: str) -> None:
    w, fx = advance(at(Step.AUTHORIZING), event)
    assert w.step is Step.NOT_CONNECTED and w.realm_id is None and fx == [Notify(reason)]


def test_failed_exchange_keeps_nothing() -> None:
    w, fx = advance(at(Step.EXCHANGING), ExchangeFailed("invalid_grant"))
    assert w.step is Step.NOT_CONNECTED and w.realm_id is None and fx == [Notify("token_exchange_failed")]


def test_decline_revokes_the_fresh_tokens() -> None:
    w, fx = advance(at(Step.AGREEMENT), Decline())
    assert w.step is Step.NOT_CONNECTED and fx == [RevokeQboTokens(), Notify("agreement_declined")]


def test_accept_stores_the_connection() -> None:
    assert run(*PATH[Step.CONTACTS_FILTER])[1] == [StoreConnection("realm1")]


# --- R10 / R11: review and sync contacts ---------------------------------------------------

def test_sync_contacts_refused_until_every_section_opened() -> None:
    w = at(Step.CONTACTS_REVIEW)
    for s in SECTION_ORDER[:-1]:
        w, _ = advance(w, OpenSection(s))
        assert refused(w, SyncContacts()).reason == "sections_not_opened"
    w, _ = advance(w, OpenSection(Section.DUPLICATES))
    w, fx = advance(w, SyncContacts())
    assert w.step is Step.CONTACTS_SYNCING and fx == [RunContactSync(ImportChoice.ALL)]


def test_empty_section_must_be_opened_too() -> None:
    w, _ = run(OpenSection(Section.MATCHES), OpenSection(Section.NEW_CONTACTS), OpenSection(Section.DUPLICATES),
               w=at(Step.CONTACTS_REVIEW))
    assert refused(w, SyncContacts()).reason == "sections_not_opened"
    w, _ = advance(w, OpenSection(Section.UNMATCHED, 1))  # size 0: its one empty page
    assert advance(w, SyncContacts())[0].step is Step.CONTACTS_SYNCING


def test_opening_a_later_page_counts_and_pages_are_checked() -> None:
    w = at(Step.CONTACTS_REVIEW)
    w, _ = advance(w, OpenSection(Section.MATCHES, 2))  # 301 matches: two pages
    assert Section.MATCHES in w.opened.sections
    assert refused(w, OpenSection(Section.MATCHES, 3)).reason == "page_out_of_range"
    assert refused(w, OpenSection(Section.UNMATCHED, 2)).reason == "page_out_of_range"
    assert refused(w, OpenSection(Section.NEW_CONTACTS, 0)).reason == "page_out_of_range"


def test_next_opens_sections_in_order_and_stops_after_the_last() -> None:
    w = at(Step.CONTACTS_REVIEW)
    for s in SECTION_ORDER:
        w, _ = advance(w, Next())
        assert w.opened.current is s
    assert refused(w, Next()).reason == "no_next_section"


def test_new_filter_resets_the_opened_flags() -> None:
    w, _ = run(*OPEN_ALL, ChooseFilter(ImportChoice.INACTIVE, SectionSizes()), w=at(Step.CONTACTS_REVIEW))
    assert w.choice is ImportChoice.INACTIVE and not w.opened.sections
    assert refused(w, SyncContacts()).reason == "sections_not_opened"


def test_repeated_sync_contacts_answers_the_first_result() -> None:
    w, fx = advance(at(Step.CONTACTS_SYNCING), SyncContacts())
    assert fx == []  # still running: nothing starts twice
    w, fx = advance(w, ContactsSynced(3, 2))
    first = ContactSyncResult(3, 2)
    assert fx == [AnswerContactSync(first), StartOngoingSync("contacts")]
    for step in (Step.CONTACTS_DONE, Step.ITEMS_REVIEW, Step.ITEMS_SYNCED, Step.SKIPPED_ITEMS, Step.FINISHED):
        w2, fx = advance(at(step), SyncContacts())
        assert w2.step is step and fx == [AnswerContactSync(first)]


def test_failed_contact_sync_returns_to_review_with_flags_kept() -> None:
    w, fx = advance(at(Step.CONTACTS_SYNCING), ContactSyncFailed("timeout"))
    assert w.step is Step.CONTACTS_REVIEW and fx == [Notify("contact_sync_failed:timeout")]
    assert advance(w, SyncContacts())[1] == [RunContactSync(ImportChoice.ALL)]


# --- R13, R14, R16, R17: items -------------------------------------------------------------

def test_tn_standalone_cannot_start_items_but_contacts_are_done() -> None:
    w = at(Step.CONTACTS_DONE)
    assert refused(w, StartItems(TN, "9")).reason == "not_available_for_module"
    w, _ = advance(w, SkipItems())
    assert refused(w, StartItems(TN, "9")).reason == "not_available_for_module"


def test_skip_then_complete_later() -> None:
    w, fx = advance(at(Step.SKIPPED_ITEMS), StartItems(ADMIN, "9"))
    assert w.step is Step.ITEMS_REVIEW and fx == [] and w.income_account == "9"


def test_sync_items_uses_the_default_or_chosen_income_account() -> None:
    assert advance(at(Step.ITEMS_REVIEW), SyncItems())[1] == [RunItemSync("9")]
    _w, fx = run(ChooseIncomeAccount("12"), SyncItems(), w=at(Step.ITEMS_REVIEW))
    assert fx == [RunItemSync("12")]


def test_sync_items_needs_an_income_account() -> None:
    w, _ = run(*PATH[Step.CONTACTS_DONE], StartItems(ADMIN, None))
    assert refused(w, SyncItems()).reason == "no_income_account"


def test_repeat_items_after_sync_and_repeated_sync_does_nothing() -> None:
    w = at(Step.ITEMS_SYNCED)
    assert advance(w, SyncItems())[1] == []
    w, _ = advance(w, RepeatItems())
    assert w.step is Step.ITEMS_REVIEW and advance(w, SyncItems())[1] == [RunItemSync("9")]


def test_finish_sends_invoices_and_starts_ongoing_sync_once() -> None:
    w, fx = advance(at(Step.ITEMS_SYNCED), Finish())
    assert fx == [SendExistingInvoices(), StartOngoingSync("items_and_invoices")]
    assert advance(w, Finish()) == (w, [])


# --- R22: disconnect and restart -----------------------------------------------------------

@pytest.mark.parametrize("step", [s for s in Step if Disconnect in TRANSITIONS[s]])
def test_disconnect_stops_and_revokes_both_tokens(step: Step) -> None:
    w, fx = advance(at(step), Disconnect())
    assert w.step is Step.DISCONNECTED
    assert fx == [StopSync(), RevokeQboTokens(), RevokeCanopyToken(), DropConnection()]


def test_restart_runs_setup_again_from_the_start() -> None:
    w, fx = advance(at(Step.DISCONNECTED), Restart())
    assert w == Wizard(used_states=frozenset({"s1"})) and fx == []


def test_error_carries_state_and_allowed_events() -> None:
    err = refused(at(Step.CONTACTS_DONE), Finish())
    assert err.allowed == ("Disconnect", "SkipItems", "StartItems", "SyncContacts")
    assert "CONTACTS_DONE" in str(err)


def test_mermaid_draws_every_transition() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n    [*] --> NOT_CONNECTED\n")
    assert "    CONTACTS_REVIEW --> CONTACTS_SYNCING: SyncContacts" in text
    assert "    NOT_CONNECTED --> AUTHORIZING: Connect" in text
    for step, row in TRANSITIONS.items():
        for event, target in row.items():
            assert any(line.startswith(f"    {step.name} --> {target.name}: ") and event.__name__ in line
                       for line in text.splitlines())
