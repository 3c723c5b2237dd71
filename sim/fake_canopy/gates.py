"""Who may do what: plans, licenses, modules and permission sets. Pure.

Every function here reads a snapshot (`FirmView`, `UserView`) and returns a
decision; none touches the store or a request, so each rule is one place and
testable with plain data. The HTTP layers call these and render refusals.

- A permission set grants permissions; presets cannot be edited.
- A permission takes effect only where the user holds the license it needs
  (`PERMISSION_LICENSE`), licenses being assigned per team member.
- D-1: on a firm whose only module is Transcripts and Notices (the standalone
  module), a member holding the T&N license counts as holding Time & Billing
  for contacts, so their `manage_integrations` takes effect.
- Integration creation checks, in the order of rules R2, R3, R1: plan,
  license, permission. (R4a, one connection, is the engine's.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

PLANS = ("paid", "freemium", "legacy")
ELIGIBLE_PLANS = frozenset({"paid"})

TIME_AND_BILLING = "time_and_billing"
TRANSCRIPTS_AND_NOTICES = "transcripts_and_notices"
LICENSES = (TIME_AND_BILLING, TRANSCRIPTS_AND_NOTICES)

CLIENT_MANAGEMENT = "client_management"
MODULES = (CLIENT_MANAGEMENT, TIME_AND_BILLING, TRANSCRIPTS_AND_NOTICES)
FULL_SUITE = (CLIENT_MANAGEMENT, TIME_AND_BILLING, TRANSCRIPTS_AND_NOTICES)

MANAGE_INTEGRATIONS = "manage_integrations"
BILLING = "billing"
CLIENTS_ALL = "clients_all"
CLIENTS_ASSIGNED = "clients_assigned"
MANAGE_TEAM = "manage_team"
PERMISSIONS = (MANAGE_INTEGRATIONS, BILLING, CLIENTS_ALL, CLIENTS_ASSIGNED, MANAGE_TEAM)

PERMISSION_LICENSE: Mapping[str, str] = {MANAGE_INTEGRATIONS: TIME_AND_BILLING, BILLING: TIME_AND_BILLING}
"""The license a permission needs to take effect; permissions not listed need none."""


@dataclass(frozen=True)
class PermissionSet:
    id: str
    name: str
    permissions: frozenset[str]
    preset: bool = True
    admin: bool = False

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "permissions": sorted(self.permissions),
                "is_preset": self.preset, "is_admin": self.admin}


def _preset(id: str, name: str, *perms: str, admin: bool = False) -> PermissionSet:
    return PermissionSet(id, name, frozenset(perms), True, admin)


PRESETS: dict[str, PermissionSet] = {p.id: p for p in (
    _preset("admin", "Admin", MANAGE_INTEGRATIONS, BILLING, CLIENTS_ALL, MANAGE_TEAM, admin=True),
    _preset("admin_no_billing", "Admin (No Billing)", MANAGE_INTEGRATIONS, CLIENTS_ALL, MANAGE_TEAM, admin=True),
    _preset("staff_all_contacts", "Staff (All Contacts)", BILLING, CLIENTS_ALL),
    _preset("staff_all_contacts_no_billing", "Staff (All Contacts) (No Billing)", CLIENTS_ALL),
    _preset("staff_assigned_contacts", "Staff (Assigned Contacts)", BILLING, CLIENTS_ASSIGNED),
    _preset("staff_assigned_contacts_no_billing", "Staff (Assigned Contacts) (No Billing)", CLIENTS_ASSIGNED),
)}


@dataclass(frozen=True)
class FirmView:
    plan: str
    modules: frozenset[str]
    licenses: Mapping[str, int] = field(default_factory=dict)
    """License name -> seats the firm bought."""


@dataclass(frozen=True)
class UserView:
    permission_set: PermissionSet
    licenses: frozenset[str]
    active: bool = True


@dataclass(frozen=True)
class Refusal:
    """Why something is refused: a stable reason and what is missing."""

    status: int
    reason: str
    message: str
    missing: Mapping[str, str]


def is_tn_standalone(firm: FirmView) -> bool:
    """A firm on the Transcripts and Notices standalone module has only that module."""
    return firm.modules == frozenset({TRANSCRIPTS_AND_NOTICES})


def effective_licenses(user: UserView, firm: FirmView) -> frozenset[str]:
    """The user's own licenses, plus Time & Billing on T&N standalone firms (D-1)."""
    held = set(user.licenses)
    if is_tn_standalone(firm) and TRANSCRIPTS_AND_NOTICES in held:
        held.add(TIME_AND_BILLING)
    return frozenset(held)


def ineffective_permissions(user: UserView, firm: FirmView) -> dict[str, str]:
    """Granted permissions that do not take effect, with the license each lacks."""
    held = effective_licenses(user, firm)
    return {p: PERMISSION_LICENSE[p] for p in user.permission_set.permissions
            if p in PERMISSION_LICENSE and PERMISSION_LICENSE[p] not in held}


def effective_permissions(user: UserView, firm: FirmView) -> frozenset[str]:
    if not user.active:
        return frozenset()
    return user.permission_set.permissions - set(ineffective_permissions(user, firm))


def integration_refusal(user: UserView, firm: FirmView) -> Refusal | None:
    """May this user create an integration? Plan (R2), license (R3), permission (R1)."""
    if firm.plan not in ELIGIBLE_PLANS:
        return Refusal(403, "plan_not_eligible", f"The {firm.plan} plan cannot use integrations",
                       {"plan": firm.plan})
    if TIME_AND_BILLING not in effective_licenses(user, firm):
        return Refusal(403, "missing_license", "Integrations need the Time & Billing license",
                       {"license": TIME_AND_BILLING})
    if MANAGE_INTEGRATIONS not in effective_permissions(user, firm):
        return Refusal(403, "missing_permission", "Integrations need the Manage Integrations permission",
                       {"permission": MANAGE_INTEGRATIONS})
    return None


@dataclass(frozen=True)
class Needs:
    """What a resource needs: a firm module, and (for user tokens) any one of some permissions."""

    module: str | None = None
    any_permission: tuple[str, ...] = ()


def access_refusal(firm: FirmView, user: UserView | None, needs: Needs) -> Refusal | None:
    """Resource access: the firm's module first, then (users only) the permission.

    Integration tokens (`user` None) act for the firm and need only the module.
    """
    if needs.module and needs.module not in firm.modules:
        return Refusal(403, "module_not_available", f"The firm does not have the {needs.module} module",
                       {"module": needs.module})
    if user is None or not needs.any_permission:
        return None
    if effective_permissions(user, firm) & set(needs.any_permission):
        return None
    wanted = needs.any_permission[0]
    lacking = ineffective_permissions(user, firm)
    if wanted in lacking:
        return Refusal(403, "missing_license", f"The {wanted} permission needs the {lacking[wanted]} license",
                       {"license": lacking[wanted], "permission": wanted})
    return Refusal(403, "missing_permission", f"This needs the {wanted} permission", {"permission": wanted})


def keeps_an_admin(sets_after: Iterable[PermissionSet]) -> bool:
    """A firm keeps at least one active member whose permission set is an Admin set."""
    return any(s.admin for s in sets_after)


def license_overflow(firm: FirmView, assigned: Mapping[str, int]) -> str | None:
    """The first license assigned to more members than the firm has seats for (or does not own)."""
    for name, count in sorted(assigned.items()):
        if count > firm.licenses.get(name, 0):
            return name
    return None
