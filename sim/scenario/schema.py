"""The scenario file's schema, as code: every mistake names the file, the key path and the fix.

A schema in code (not JSON Schema) so that messages read as sentences and the
checks that span keys (licenses vs. team, a plan name) sit beside the shape.
`load` returns a typed `Scenario`; nothing downstream re-checks the YAML.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

PLANS = ("paid", "freemium", "legacy")
MODULES = ("client_management", "time_and_billing", "transcripts_and_notices")
LICENSES = ("time_and_billing", "transcripts_and_notices")
PERMISSIONS = ("manage_integrations", "billing", "clients_all", "clients_assigned", "manage_team")
PRESET_SETS = {
    "admin": ("manage_integrations", "billing", "clients_all", "manage_team"),
    "admin_no_billing": ("manage_integrations", "clients_all", "manage_team"),
    "staff_all_contacts": ("billing", "clients_all"),
    "staff_all_contacts_no_billing": ("clients_all",),
    "staff_assigned_contacts": ("billing", "clients_assigned"),
    "staff_assigned_contacts_no_billing": ("clients_assigned",),
}
"""Canopy's preset permission sets (mirrors sim/fake_canopy/gates.py; a scenario names them)."""

CONTACT_COUNTS = ("exact", "case_or_space", "inactive_match", "unmatched", "new_active", "new_inactive",
                  "canopy_duplicates", "qbo_duplicates", "vendor_collisions", "employee_collisions")
ITEM_COUNTS = ("matched", "rate_format", "name_differs", "rate_differs", "sku_differs", "canopy_only", "qbo_only")
INVOICE_COUNTS = ("ready", "held_client", "held_item")


class ScenarioError(ValueError):
    """A scenario file that does not fit the schema: `file: key.path: what is wrong`."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file, self.path, self.message = file, path, message
        super().__init__(f"{file}: {path or '<top>'}: {message}")


@dataclass(frozen=True)
class Member:
    email: str
    first_name: str
    last_name: str
    permission_set: str
    licenses: tuple[str, ...]
    password: str | None = None


@dataclass(frozen=True)
class Canopy:
    firm_name: str | None
    plan: str
    modules: tuple[str, ...]
    licenses: dict[str, int]
    admin: Member
    permission_sets: dict[str, tuple[str, ...]]
    """Custom permission sets: name -> permissions."""
    team: tuple[Member, ...]


@dataclass(frozen=True)
class Qbo:
    company_name: str | None
    offset: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    user_email: str
    user_password: str
    custom_txn_numbers: bool
    accounts: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Population:
    contacts: dict[str, int]
    businesses: float
    items: dict[str, int]
    invoices: dict[str, int]
    payments: int
    qbo_invoices: int


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    file: str
    epoch: str
    locale: str
    size: int
    canopy: Canopy
    qbo: Qbo
    population: Population
    tags: tuple[str, ...] = field(default_factory=tuple)


class _Reader:
    """Walks the YAML tree, remembering the key path for messages."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, path, message)

    def obj(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.fail(_join(path, str(key)), f"unknown key; expected one of {', '.join(allowed)}")
        return value

    def str_(self, d: dict[str, Any], key: str, path: str, default: str | None = None,
             choices: tuple[str, ...] | None = None) -> str:
        value = d.get(key, default)
        p = _join(path, key)
        if value is None:
            raise self.fail(p, "is required")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(p, f"must be a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.fail(p, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def opt_str(self, d: dict[str, Any], key: str, path: str) -> str | None:
        return None if d.get(key) is None else self.str_(d, key, path)

    def count(self, d: dict[str, Any], key: str, path: str, default: int = 0, minimum: int = 0) -> int:
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(_join(path, key), f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def str_list(self, value: Any, path: str, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        for i, v in enumerate(value):
            if not isinstance(v, str) or (choices and v not in choices):
                want = f"one of {', '.join(choices)}" if choices else "a string"
                raise self.fail(f"{path}[{i}]", f"must be {want}, got {v!r}")
        return tuple(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _member(r: _Reader, raw: Any, path: str, sets: dict[str, tuple[str, ...]], default_email: str,
            default_set: str, default_licenses: tuple[str, ...]) -> Member:
    d = r.obj(raw, path, ("email", "first_name", "last_name", "permission_set", "licenses", "password"))
    email = r.str_(d, "email", path, default_email)
    if "@" not in email:
        raise r.fail(_join(path, "email"), f"must be an email address, got {email!r}")
    pset = r.str_(d, "permission_set", path, default_set)
    if pset not in PRESET_SETS and pset not in sets:
        raise r.fail(_join(path, "permission_set"),
                     f"{pset!r} is neither a preset ({', '.join(PRESET_SETS)}) nor in canopy.permission_sets")
    lic = r.str_list(d["licenses"], _join(path, "licenses"), LICENSES) if "licenses" in d else default_licenses
    return Member(email, r.str_(d, "first_name", path, "Team"), r.str_(d, "last_name", path, "Member"),
                  pset, lic, r.opt_str(d, "password", path))


def _canopy(r: _Reader, raw: Any, name: str) -> Canopy:
    d = r.obj(raw, "canopy", ("firm", "admin", "permission_sets", "team"))
    firm = r.obj(d.get("firm"), "canopy.firm", ("name", "plan", "modules", "licenses"))
    plan = r.str_(firm, "plan", "canopy.firm", "paid", PLANS)
    modules = r.str_list(firm.get("modules", list(MODULES)), "canopy.firm.modules", MODULES)
    if not modules:
        raise r.fail("canopy.firm.modules", "must name at least one module")
    raw_lic = firm.get("licenses")
    if raw_lic is None:
        raw_lic = {k: 25 for k in LICENSES if k in modules}
    lic_d = r.obj(raw_lic, "canopy.firm.licenses", LICENSES)
    licenses = {k: r.count(lic_d, k, "canopy.firm.licenses") for k in lic_d}
    sets: dict[str, tuple[str, ...]] = {}
    raw_sets = r.obj(d.get("permission_sets"), "canopy.permission_sets", tuple(d.get("permission_sets") or ()))
    for set_name, perms in raw_sets.items():
        if set_name in PRESET_SETS:
            raise r.fail(f"canopy.permission_sets.{set_name}", "is a preset's id; pick another name")
        sets[set_name] = r.str_list(perms, f"canopy.permission_sets.{set_name}", PERMISSIONS)
    admin = _member(r, d.get("admin"), "canopy.admin", sets, f"admin@{name.replace('_', '-')}.canopy.test",
                    "admin", tuple(sorted(licenses)))
    admin = Member(admin.email, admin.first_name if "first_name" in (d.get("admin") or {}) else "Avery",
                   admin.last_name if "last_name" in (d.get("admin") or {}) else "Admin", admin.permission_set,
                   admin.licenses, admin.password or "canopy-password")
    if admin.permission_set not in ("admin", "admin_no_billing"):
        raise r.fail("canopy.admin.permission_set", "the firm's first member must be an Admin preset")
    raw_team = d.get("team") or []
    if not isinstance(raw_team, list):
        raise r.fail("canopy.team", "must be a list of team members")
    team = tuple(_member(r, m, f"canopy.team[{i}]", sets, f"member{i + 1}@{name.replace('_', '-')}.canopy.test",
                         "staff_all_contacts", ()) for i, m in enumerate(raw_team))
    emails = [admin.email.casefold()] + [m.email.casefold() for m in team]
    for i, e in enumerate(emails[1:]):
        if e in emails[: i + 1]:
            raise r.fail(f"canopy.team[{i}].email", f"{e} is used by another member")
    for lic in LICENSES:
        used = sum(lic in m.licenses for m in (admin, *team))
        if used > licenses.get(lic, 0):
            raise r.fail("canopy.firm.licenses", f"{used} members hold {lic} but the firm has "
                         f"{licenses.get(lic, 0)} seats")
    return Canopy(r.opt_str(firm, "name", "canopy.firm"), plan, modules, licenses, admin, sets, team)


def _qbo(r: _Reader, raw: Any, name: str) -> Qbo:
    d = r.obj(raw, "qbo", ("company", "app", "user", "preferences", "accounts"))
    comp = r.obj(d.get("company"), "qbo.company", ("name", "offset"))
    offset = r.str_(comp, "offset", "qbo.company", "-08:00")
    if not (len(offset) == 6 and offset[0] in "+-" and offset[3] == ":"):
        raise r.fail("qbo.company.offset", f"must look like -08:00, got {offset!r}")
    app = r.obj(d.get("app"), "qbo.app", ("client_id", "client_secret", "redirect_uris"))
    uris = r.str_list(app.get("redirect_uris", ["http://127.0.0.1:8080/callback"]), "qbo.app.redirect_uris")
    if not uris:
        raise r.fail("qbo.app.redirect_uris", "must name at least one URI")
    user = r.obj(d.get("user"), "qbo.user", ("email", "password"))
    prefs = r.obj(d.get("preferences"), "qbo.preferences", ("custom_txn_numbers",))
    custom = prefs.get("custom_txn_numbers", False)
    if not isinstance(custom, bool):
        raise r.fail("qbo.preferences.custom_txn_numbers", f"must be true or false, got {custom!r}")
    raw_acc = d.get("accounts") or []
    if not isinstance(raw_acc, list):
        raise r.fail("qbo.accounts", "must be a list of {name, type, subtype}")
    accounts = []
    for i, a in enumerate(raw_acc):
        p = f"qbo.accounts[{i}]"
        ad = r.obj(a, p, ("name", "type", "subtype"))
        accounts.append({"Name": r.str_(ad, "name", p), "AccountType": r.str_(ad, "type", p, "Income"),
                         **({"AccountSubType": r.str_(ad, "subtype", p)} if "subtype" in ad else {})})
    slug = name.replace("_", "-")
    return Qbo(r.opt_str(comp, "name", "qbo.company"), offset,
               r.str_(app, "client_id", "qbo.app", f"scenario-{slug}-client"),
               r.str_(app, "client_secret", "qbo.app", f"scenario-{slug}-secret"), uris,
               r.str_(user, "email", "qbo.user", f"owner@{slug}.qbo.test"),
               r.str_(user, "password", "qbo.user", "qbo-password"), custom, tuple(accounts))


def _population(r: _Reader, raw: Any) -> Population:
    d = r.obj(raw, "population", ("contacts", "items", "invoices", "payments", "qbo_invoices"))
    c = r.obj(d.get("contacts"), "population.contacts", (*CONTACT_COUNTS, "businesses"))
    contacts = {k: r.count(c, k, "population.contacts") for k in CONTACT_COUNTS}
    biz = c.get("businesses", 0.3)
    if isinstance(biz, bool) or not isinstance(biz, (int, float)) or not 0 <= biz <= 1:
        raise r.fail("population.contacts.businesses", f"must be a fraction between 0 and 1, got {biz!r}")
    it = r.obj(d.get("items"), "population.items", ITEM_COUNTS)
    items = {k: r.count(it, k, "population.items") for k in ITEM_COUNTS}
    inv = r.obj(d.get("invoices"), "population.invoices", INVOICE_COUNTS)
    invoices = {k: r.count(inv, k, "population.invoices") for k in INVOICE_COUNTS}
    linked_items = items["matched"] + items["rate_format"]
    if (invoices["ready"] or invoices["held_client"]) and not linked_items:
        raise r.fail("population.invoices", "invoices need at least one matched item (items.matched or rate_format)")
    if invoices["held_item"] and not (items["canopy_only"] + items["name_differs"] + items["rate_differs"]
                                      + items["sku_differs"]):
        raise r.fail("population.invoices.held_item", "needs an unmatched Canopy item (items.canopy_only or a *_differs)")
    if invoices["ready"] and not (contacts["exact"] + contacts["case_or_space"]):
        raise r.fail("population.invoices.ready", "needs matched clients (contacts.exact or case_or_space)")
    if invoices["held_client"] and not contacts["unmatched"]:
        raise r.fail("population.invoices.held_client", "needs unmatched clients (contacts.unmatched)")
    payments = r.count(d, "payments", "population")
    if payments > invoices["ready"] + invoices["held_client"] + invoices["held_item"]:
        raise r.fail("population.payments", "cannot exceed the number of invoices (one payment per invoice)")
    qbo_inv = r.count(d, "qbo_invoices", "population")
    if qbo_inv and not (contacts["exact"] and linked_items):
        raise r.fail("population.qbo_invoices", "needs contacts.exact customers and matched items")
    return Population(contacts, float(biz), items, invoices, payments, qbo_inv)


TOP_KEYS = ("name", "description", "epoch", "locale", "size", "tags", "canopy", "qbo", "population")


def parse(data: Any, file: str) -> Scenario:
    """Check a parsed YAML document and return its `Scenario` (raises `ScenarioError`)."""
    r = _Reader(file)
    d = r.obj(data, "", TOP_KEYS)
    if not d:
        raise r.fail("", "the file is empty; a scenario needs at least `name` and `population`")
    name = r.str_(d, "name", "", Path(file).stem)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise r.fail("name", f"must be letters, digits, _ or -, got {name!r}")
    epoch = r.str_(d, "epoch", "", "2024-01-15T17:00:00Z")
    try:
        parsed = datetime.fromisoformat(epoch.replace("Z", "+00:00"))
    except ValueError:
        raise r.fail("epoch", f"must be an ISO 8601 instant such as 2024-01-15T17:00:00Z, got {epoch!r}") from None
    if parsed.tzinfo is None:
        raise r.fail("epoch", "must carry a zone (Z or +hh:mm) so it names one instant")
    locale = r.str_(d, "locale", "", "en_US")
    from faker.config import AVAILABLE_LOCALES  # noqa: PLC0415 (slow import, only when loading)
    if locale not in AVAILABLE_LOCALES:
        raise r.fail("locale", f"{locale!r} is not a Faker locale (e.g. en_US, en_GB, de_DE)")
    tags = r.str_list(d.get("tags", []), "tags")
    return Scenario(name=name, description=r.str_(d, "description", "", name), file=file, epoch=epoch,
                    locale=locale, size=r.count(d, "size", "", 1, minimum=1), canopy=_canopy(r, d.get("canopy"), name),
                    qbo=_qbo(r, d.get("qbo"), name), population=_population(r, d.get("population")), tags=tags)


def load(path: str | Path) -> Scenario:
    """Read and check one scenario file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(file, "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse(data, file)
