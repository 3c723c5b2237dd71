"""The setup wizard as a pure state machine, in the style of h11's `_state.py`.

All transition logic lives here and nothing here does I/O. `TRANSITIONS` is plain data:
step -> event type -> next step. `advance(wizard, event)` checks the move against the table,
runs the event's guard (one place each) and returns the new wizard plus the effects the
caller must perform (exchange a code, revoke tokens, run the contact sync, ...). An event
the table does not allow, or a guard that refuses, raises `WizardError`; the API answers
409 with its reason, the current step and the events allowed there.

The caller gathers before it decides: `ChooseFilter` carries the section sizes of the
`MatchPlan` it computed, `StartItems` the gate inputs and the default income account, and
the results of effects come back as events (`ExchangeOk`, `ContactsSynced`, ...).

Rules: R4 (sign-in and consent), R4a (one connection), R10 (review), R11 (sync contacts,
repeated answers the first result), R13 (T&N standalone), R14 (skip), R16 (repeat items),
R17 (income account, sync items, finish), R22 (disconnect and restart).
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from engine.gates import GateInputs, connect_refusal, items_step_refusal
from engine.models import ImportChoice
from engine.review import Opened, Section, SectionSizes, can_sync_contacts, page_count


class Step(enum.Enum):
    NOT_CONNECTED = "not_connected"
    AUTHORIZING = "authorizing"          # QBO sign-in pop-up open, waiting for the callback
    EXCHANGING = "exchanging"            # callback accepted, code being exchanged for tokens
    AGREEMENT = "agreement"              # tokens held, waiting for the data-sharing agreement
    CONTACTS_FILTER = "contacts_filter"  # connected; choose All / Active / Inactive (R5)
    CONTACTS_REVIEW = "contacts_review"  # four sections, pages, opened flags (R10)
    CONTACTS_SYNCING = "contacts_syncing"
    CONTACTS_DONE = "contacts_done"      # contacts step complete (R11)
    ITEMS_REVIEW = "items_review"        # items matched, income account chosen (R15, R17)
    ITEMS_SYNCED = "items_synced"
    SKIPPED_ITEMS = "skipped_items"      # R14: no item or invoice syncs until the step is done
    FINISHED = "finished"                # R17: existing invoices sent, ongoing sync running
    DISCONNECTED = "disconnected"        # R22: nothing syncs; links kept for a restart (D-15)


# --- events --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Connect:
    """A user asks to connect; the caller supplies a fresh random OAuth `state`."""
    me: GateInputs
    oauth_state: str


@dataclass(frozen=True)
class CallbackOk:
    state: str
    code: str
    realm_id: str


@dataclass(frozen=True)
class CallbackFailed:
    """The OAuth callback carried an error, e.g. `access_denied` when the user cancelled."""
    state: str
    error: str


@dataclass(frozen=True)
class ExchangeOk:
    pass


@dataclass(frozen=True)
class ExchangeFailed:
    error: str


@dataclass(frozen=True)
class Accept:
    pass


@dataclass(frozen=True)
class Decline:
    pass


@dataclass(frozen=True)
class ChooseFilter:
    choice: ImportChoice
    sizes: SectionSizes


@dataclass(frozen=True)
class OpenSection:
    section: Section
    page_no: int = 1


@dataclass(frozen=True)
class Next:
    pass


@dataclass(frozen=True)
class SyncContacts:
    pass


@dataclass(frozen=True)
class ContactsSynced:
    linked: int
    created: int


@dataclass(frozen=True)
class ContactSyncFailed:
    error: str


@dataclass(frozen=True)
class StartItems:
    me: GateInputs
    default_income_account: str | None


@dataclass(frozen=True)
class ChooseIncomeAccount:
    account_id: str


@dataclass(frozen=True)
class RepeatItems:
    pass


@dataclass(frozen=True)
class SyncItems:
    pass


@dataclass(frozen=True)
class SkipItems:
    pass


@dataclass(frozen=True)
class Finish:
    pass


@dataclass(frozen=True)
class Disconnect:
    pass


@dataclass(frozen=True)
class Restart:
    pass


Event = (
    Connect | CallbackOk | CallbackFailed | ExchangeOk | ExchangeFailed | Accept | Decline | ChooseFilter |
    OpenSection | Next | SyncContacts | ContactsSynced | ContactSyncFailed | StartItems | ChooseIncomeAccount |
    RepeatItems | SyncItems | SkipItems | Finish | Disconnect | Restart
)


# --- effects: what the caller must do ------------------------------------------------------

@dataclass(frozen=True)
class RedirectToQbo:
    """Open QBO's authorization URL with this `state` (R4)."""
    oauth_state: str


@dataclass(frozen=True)
class ExchangeCode:
    code: str
    realm_id: str


@dataclass(frozen=True)
class RevokeQboTokens:
    pass


@dataclass(frozen=True)
class RevokeCanopyToken:
    pass


@dataclass(frozen=True)
class StoreConnection:
    """Persist the held tokens and realm as the account's one connection (R4a)."""
    realm_id: str


@dataclass(frozen=True)
class DropConnection:
    """Forget tokens and connection; links stay for a restart (D-15)."""


@dataclass(frozen=True)
class Notify:
    """Tell the user why the flow stopped (R4)."""
    reason: str


@dataclass(frozen=True)
class RunContactSync:
    choice: ImportChoice


@dataclass(frozen=True)
class ContactSyncResult:
    linked: int
    created: int


@dataclass(frozen=True)
class AnswerContactSync:
    """Reply with the first result; nothing runs again (R11)."""
    result: ContactSyncResult


@dataclass(frozen=True)
class RunItemSync:
    income_account_id: str


@dataclass(frozen=True)
class SendExistingInvoices:
    pass


@dataclass(frozen=True)
class StartOngoingSync:
    scope: Literal["contacts", "items_and_invoices"]


@dataclass(frozen=True)
class StopSync:
    pass


Effect = (
    RedirectToQbo | ExchangeCode | RevokeQboTokens | RevokeCanopyToken | StoreConnection | DropConnection | Notify
    | RunContactSync | AnswerContactSync | RunItemSync | SendExistingInvoices | StartOngoingSync | StopSync
)


# --- the table -----------------------------------------------------------------------------

S = Step
_CONNECTED = (S.CONTACTS_FILTER, S.CONTACTS_REVIEW, S.CONTACTS_SYNCING, S.CONTACTS_DONE, S.ITEMS_REVIEW,
              S.ITEMS_SYNCED, S.SKIPPED_ITEMS, S.FINISHED)
_CONTACTS_COMPLETE = (S.CONTACTS_DONE, S.ITEMS_REVIEW, S.ITEMS_SYNCED, S.SKIPPED_ITEMS, S.FINISHED)

TRANSITIONS: dict[Step, dict[type[Any], Step]] = {
    S.NOT_CONNECTED: {Connect: S.AUTHORIZING},
    S.AUTHORIZING: {Connect: S.AUTHORIZING, CallbackOk: S.EXCHANGING, CallbackFailed: S.NOT_CONNECTED},
    S.EXCHANGING: {ExchangeOk: S.AGREEMENT, ExchangeFailed: S.NOT_CONNECTED},
    S.AGREEMENT: {Accept: S.CONTACTS_FILTER, Decline: S.NOT_CONNECTED},
    S.CONTACTS_FILTER: {ChooseFilter: S.CONTACTS_REVIEW},
    S.CONTACTS_REVIEW: {ChooseFilter: S.CONTACTS_REVIEW, OpenSection: S.CONTACTS_REVIEW, Next: S.CONTACTS_REVIEW,
                        SyncContacts: S.CONTACTS_SYNCING},
    S.CONTACTS_SYNCING: {SyncContacts: S.CONTACTS_SYNCING, ContactsSynced: S.CONTACTS_DONE,
                         ContactSyncFailed: S.CONTACTS_REVIEW},
    S.CONTACTS_DONE: {StartItems: S.ITEMS_REVIEW, SkipItems: S.SKIPPED_ITEMS},
    S.ITEMS_REVIEW: {ChooseIncomeAccount: S.ITEMS_REVIEW, RepeatItems: S.ITEMS_REVIEW, SyncItems: S.ITEMS_SYNCED,
                     SkipItems: S.SKIPPED_ITEMS},
    S.ITEMS_SYNCED: {RepeatItems: S.ITEMS_REVIEW, SyncItems: S.ITEMS_SYNCED, Finish: S.FINISHED},
    S.SKIPPED_ITEMS: {StartItems: S.ITEMS_REVIEW},
    S.FINISHED: {Finish: S.FINISHED},
    S.DISCONNECTED: {Restart: S.NOT_CONNECTED},
}
for _step in _CONTACTS_COMPLETE:  # R11: a repeated Sync contacts answers the first result
    TRANSITIONS[_step][SyncContacts] = _step
for _step in _CONNECTED:  # R22: disconnect from anywhere a connection is stored
    TRANSITIONS[_step][Disconnect] = S.DISCONNECTED
del _step


# --- state ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wizard:
    """One Canopy account's setup (R4a: one per account). Persist it as it is."""

    step: Step = Step.NOT_CONNECTED
    oauth_state: str | None = None
    used_states: frozenset[str] = frozenset()
    realm_id: str | None = None
    choice: ImportChoice | None = None
    sizes: SectionSizes = field(default_factory=SectionSizes)
    opened: Opened = field(default_factory=Opened)
    contacts_result: ContactSyncResult | None = None
    income_account: str | None = None

    def allowed(self) -> tuple[str, ...]:
        return allowed_events(self.step)


class WizardError(Exception):
    """An illegal or refused event: the API answers 409 with these three fields."""

    def __init__(self, reason: str, state: Step, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{reason} (in {state.name}; allowed: {', '.join(allowed) or 'nothing'})")
        self.reason = reason
        self.state = state
        self.allowed = allowed


def allowed_events(step: Step) -> tuple[str, ...]:
    return tuple(sorted(e.__name__ for e in TRANSITIONS.get(step, {})))


def _refuse(w: Wizard, reason: str) -> WizardError:
    return WizardError(reason, w.step, w.allowed())


Result = tuple[Wizard, list[Effect]]


# --- guards and data changes, one handler per event type -----------------------------------

def _connect_reason(w: Wizard, me: GateInputs) -> str | None:
    """R2 -> R3 -> R1 -> R4a. A flow past the callback, or a stored connection, counts as connected."""
    in_use = w.step not in (S.NOT_CONNECTED, S.AUTHORIZING, S.DISCONNECTED)
    return connect_refusal(me, already_connected=in_use)


def _connect(w: Wizard, e: Connect) -> Result:
    reason = _connect_reason(w, e.me)
    if reason:
        raise _refuse(w, reason)
    used = w.used_states | ({w.oauth_state} if w.oauth_state else set())
    if e.oauth_state in used:
        raise _refuse(w, "state_reused")
    return replace(w, oauth_state=e.oauth_state, used_states=used), [RedirectToQbo(e.oauth_state)]


def _check_state(w: Wizard, state: str) -> Wizard:
    """R4: the callback's `state` must be the pending one and never used before."""
    if state in w.used_states:
        raise _refuse(w, "state_reused")
    if state != w.oauth_state:
        raise _refuse(w, "state_mismatch")
    return replace(w, oauth_state=None, used_states=w.used_states | {state})


def _callback_ok(w: Wizard, e: CallbackOk) -> Result:
    return replace(_check_state(w, e.state), realm_id=e.realm_id), [ExchangeCode(e.code, e.realm_id)]


def _callback_failed(w: Wizard, e: CallbackFailed) -> Result:
    reason = "sign_in_cancelled" if e.error == "access_denied" else f"sign_in_failed:{e.error}"
    return replace(_check_state(w, e.state), realm_id=None), [Notify(reason)]


def _exchange_failed(w: Wizard, e: ExchangeFailed) -> Result:
    return replace(w, realm_id=None), [Notify("token_exchange_failed")]


def _accept(w: Wizard, e: Accept) -> Result:
    assert w.realm_id is not None
    return w, [StoreConnection(w.realm_id)]


def _decline(w: Wizard, e: Decline) -> Result:
    """R4: declining revokes, at QBO, the tokens just received; nothing is kept."""
    return replace(w, realm_id=None), [RevokeQboTokens(), Notify("agreement_declined")]


def _choose_filter(w: Wizard, e: ChooseFilter) -> Result:
    """A new choice is a new review: the opened flags start again (R10)."""
    return replace(w, choice=e.choice, sizes=e.sizes, opened=Opened()), []


def _open_section(w: Wizard, e: OpenSection) -> Result:
    if not 1 <= e.page_no <= page_count(w.sizes.of(e.section)):
        raise _refuse(w, "page_out_of_range")
    return replace(w, opened=w.opened.open(e.section)), []


def _next(w: Wizard, e: Next) -> Result:
    section = w.opened.next_section()
    if section is None:
        raise _refuse(w, "no_next_section")
    return replace(w, opened=w.opened.open(section)), []


def _sync_contacts(w: Wizard, e: SyncContacts) -> Result:
    """R10 guard, then R11: run once; while running or after success, run nothing again."""
    if w.step is S.CONTACTS_REVIEW:
        if not can_sync_contacts(w.opened):
            raise _refuse(w, "sections_not_opened")
        assert w.choice is not None
        return w, [RunContactSync(w.choice)]
    if w.contacts_result is not None:
        return w, [AnswerContactSync(w.contacts_result)]
    return w, []  # still syncing: the running sync will answer


def _contacts_synced(w: Wizard, e: ContactsSynced) -> Result:
    result = ContactSyncResult(e.linked, e.created)
    return replace(w, contacts_result=result), [AnswerContactSync(result), StartOngoingSync("contacts")]


def _contact_sync_failed(w: Wizard, e: ContactSyncFailed) -> Result:
    return w, [Notify(f"contact_sync_failed:{e.error}")]


def _start_items(w: Wizard, e: StartItems) -> Result:
    """R13 guard: T&N standalone firms have no items step."""
    reason = items_step_refusal(e.me)
    if reason:
        raise _refuse(w, reason)
    return replace(w, income_account=w.income_account or e.default_income_account), []


def _choose_income_account(w: Wizard, e: ChooseIncomeAccount) -> Result:
    return replace(w, income_account=e.account_id), []


def _sync_items(w: Wizard, e: SyncItems) -> Result:
    """R17: links the matched items; a repeat in ITEMS_SYNCED does nothing (R16 keeps links)."""
    if w.step is S.ITEMS_SYNCED:
        return w, []
    if w.income_account is None:
        raise _refuse(w, "no_income_account")
    return w, [RunItemSync(w.income_account)]


def _finish(w: Wizard, e: Finish) -> Result:
    if w.step is S.FINISHED:
        return w, []
    return w, [SendExistingInvoices(), StartOngoingSync("items_and_invoices")]


def _disconnect(w: Wizard, e: Disconnect) -> Result:
    """R22: stop syncing and revoke both the QBO tokens and the Canopy token."""
    return w, [StopSync(), RevokeQboTokens(), RevokeCanopyToken(), DropConnection()]


def _restart(w: Wizard, e: Restart) -> Result:
    """R22: setup runs again from the start; links are judged then (D-15)."""
    return Wizard(used_states=w.used_states), []


def _no_change(w: Wizard, e: object) -> Result:
    return w, []


_HANDLERS: dict[type[Any], Callable[[Wizard, Any], Result]] = {
    Connect: _connect, CallbackOk: _callback_ok, CallbackFailed: _callback_failed, ExchangeOk: _no_change,
    ExchangeFailed: _exchange_failed, Accept: _accept, Decline: _decline, ChooseFilter: _choose_filter,
    OpenSection: _open_section, Next: _next, SyncContacts: _sync_contacts, ContactsSynced: _contacts_synced,
    ContactSyncFailed: _contact_sync_failed, StartItems: _start_items, ChooseIncomeAccount: _choose_income_account,
    RepeatItems: _no_change, SyncItems: _sync_items, SkipItems: _no_change, Finish: _finish,
    Disconnect: _disconnect, Restart: _restart,
}


def advance(state: Wizard, event: Event) -> tuple[Wizard, list[Effect]]:
    """Apply one event: table lookup, then the event's guard; returns the new state and effects."""
    target = TRANSITIONS.get(state.step, {}).get(type(event))
    if target is None:
        reason = _connect_reason(state, event.me) if isinstance(event, Connect) else None
        raise _refuse(state, reason or "illegal_event")
    new, effects = _HANDLERS[type(event)](state, event)
    return replace(new, step=target), effects


def mermaid() -> str:
    """TRANSITIONS as a Mermaid state diagram, one arrow per (from, to) with its events."""
    lines = ["stateDiagram-v2", f"    [*] --> {Step.NOT_CONNECTED.name}"]
    for step in Step:
        by_target: dict[Step, list[str]] = {}
        for event, target in TRANSITIONS.get(step, {}).items():
            by_target.setdefault(target, []).append(event.__name__)
        for target, names in by_target.items():
            lines.append(f"    {step.name} --> {target.name}: {', '.join(names)}")
    return "\n".join(lines) + "\n"
