"""Clients (individual or business) and their contacts, in the v3 shapes.

An individual client gets its primary contact automatically; a business
client's contacts are added explicitly. A client never switches between
individual and business. Archiving sets `archived_at`; deleting is soft and
takes the client's contacts with it.
"""
from __future__ import annotations

from typing import Any

from sim.core.store import Rec

from .. import gates
from ..errors import conflict, unprocessable
from .resource import Kind, Ops, soft_delete
from .validate import MISSING, Body, email_ok, one_primary, put

CLIENT_TYPES = ("CLIENT", "PROSPECT", "OTHER")
EMAIL_TYPES = ("PERSONAL", "WORK", "OTHER")
PHONE_TYPES = ("HOME", "MOBILE", "WORK", "FAX", "OTHER")
ADDRESS_TYPES = ("MAILING", "PHYSICAL", "WORK", "OTHER")
FILING_STATUSES = ("NOT_SELECTED", "SINGLE", "MARRIED_JOINT", "MARRIED_SEPARATE", "HEAD_OF_HOUSEHOLD",
                   "QUALIFYING_WITH_DEPENDENTS")
BUSINESS_TYPES = ("NOT_SELECTED", "C_CORPORATION", "S_CORPORATION", "LLC", "PARTNERSHIP", "SOLE_PROPRIETORSHIP",
                  "ESTATE", "TRUST", "NON_PROFIT", "OTHER")
RELATIONSHIPS = ("PRIMARY", "SPOUSE", "DEPENDENT", "OTHER")

COMMON = ("display_name", "emails", "phones", "addresses", "is_active", "is_archived", "external_id", "tags",
          "custom_fields", "notes", "type", "tin", "client_since")
INDIVIDUAL_ONLY = ("first_name", "middle_name", "last_name", "birthdate", "filing_status")
BUSINESS_ONLY = ("business_name", "business_type")
CLIENT_FIELDS = ("is_business",) + COMMON + INDIVIDUAL_ONLY + BUSINESS_ONLY
CONTACT_FIELDS = ("client_id", "relationship", "first_name", "middle_name", "last_name", "display_name",
                  "birthdate", "emails", "phones", "addresses", "is_archived", "external_id", "notes")
NEEDS = gates.Needs(any_permission=(gates.CLIENTS_ALL, gates.CLIENTS_ASSIGNED))


# -- nested items -------------------------------------------------------------
def _email(body: Body, path: str, v: Any) -> Any:
    if not isinstance(v, dict) or set(v) - {"email", "type", "is_primary"} or not email_ok(v.get("email")):
        body.fail(path, "must be {email, type, is_primary} with a valid email")
        return None
    if v.get("type", "OTHER") not in EMAIL_TYPES or not isinstance(v.get("is_primary", False), bool):
        body.fail(path, f"type must be one of {', '.join(EMAIL_TYPES)}; is_primary a boolean")
        return None
    return {"email": v["email"], "type": v.get("type", "OTHER"), "is_primary": v.get("is_primary", False)}


def _phone(body: Body, path: str, v: Any) -> Any:
    ok = (isinstance(v, dict) and not set(v) - {"number", "extension", "type", "is_primary"}
          and isinstance(v.get("number"), str) and v["number"].strip() and len(v["number"]) <= 40
          and (v.get("extension") is None or isinstance(v.get("extension"), str))
          and v.get("type", "OTHER") in PHONE_TYPES and isinstance(v.get("is_primary", False), bool))
    if not ok:
        body.fail(path, f"must be {{number, extension, type ({', '.join(PHONE_TYPES)}), is_primary}}")
        return None
    return {"number": v["number"], "extension": v.get("extension"), "type": v.get("type", "OTHER"),
            "is_primary": v.get("is_primary", False)}


ADDRESS_KEYS = ("address_1", "address_2", "locality", "region", "postal_code", "country")


def _address(body: Body, path: str, v: Any) -> Any:
    ok = (isinstance(v, dict) and not set(v) - {*ADDRESS_KEYS, "type", "is_primary"}
          and all(v.get(k) is None or (isinstance(v.get(k), str) and len(v[k]) <= 200) for k in ADDRESS_KEYS)
          and v.get("type", "OTHER") in ADDRESS_TYPES and isinstance(v.get("is_primary", False), bool))
    if not ok:
        body.fail(path, f"must be an address with type one of {', '.join(ADDRESS_TYPES)}")
        return None
    return {**{k: v.get(k) for k in ADDRESS_KEYS}, "type": v.get("type", "OTHER"),
            "is_primary": v.get("is_primary", False)}


def _tag(body: Body, path: str, v: Any) -> Any:
    """Tags are written as names and read back as `{id, name}`."""
    name = v.get("name") if isinstance(v, dict) else v
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        body.fail(path, "must be a tag name (or {name})")
        return None
    return {"id": name.strip().casefold(), "name": name.strip()}


def _custom_field(body: Body, path: str, v: Any) -> Any:
    if not (isinstance(v, dict) and isinstance(v.get("field_id"), str) and v["field_id"]
            and not set(v) - {"field_id", "field_name", "type", "value", "dropdown_values"}
            and all(v.get(k) is None or isinstance(v.get(k), str) for k in ("field_name", "type", "value"))
            and (v.get("dropdown_values") is None or isinstance(v.get("dropdown_values"), list))):
        body.fail(path, "must be {field_id, field_name, type, value | dropdown_values}")
        return None
    return dict(v)


def _primary_first(items: Any) -> Any:
    """A list with no primary item gets its first one marked primary."""
    if isinstance(items, list) and items and all(isinstance(i, dict) for i in items) \
            and not any(i["is_primary"] for i in items):
        items[0]["is_primary"] = True
    return items


def _people_fields(body: Body, out: dict[str, Any]) -> None:
    for key in ("emails", "phones", "addresses"):
        item = {"emails": _email, "phones": _phone, "addresses": _address}[key]
        value = body.list(key, item)
        one_primary(body, key, value)
        put(out, key, _primary_first(value))
    for key in ("first_name", "middle_name", "last_name"):
        put(out, key, body.str(key, max_len=100))
    put(out, "birthdate", body.date("birthdate", nullable=True))
    put(out, "external_id", body.str("external_id", nullable=True, max_len=200))
    put(out, "notes", body.str("notes", nullable=True, max_len=5000))
    put(out, "display_name", body.str("display_name", nonempty=True, max_len=200))
    put(out, "is_archived", body.bool("is_archived"))


def _person_name(d: dict[str, Any]) -> str:
    return " ".join(p for p in (d.get("first_name"), d.get("last_name")) if p and p.strip())


def _client_fields(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _people_fields(body, out)
    put(out, "type", body.str("type", choices=CLIENT_TYPES))
    put(out, "tin", body.str("tin", nullable=True, max_len=20))
    put(out, "client_since", body.date("client_since", nullable=True))
    put(out, "is_active", body.bool("is_active"))
    put(out, "filing_status", body.str("filing_status", choices=FILING_STATUSES))
    put(out, "business_name", body.str("business_name", nonempty=True, max_len=200))
    put(out, "business_type", body.str("business_type", choices=BUSINESS_TYPES))
    put(out, "tags", body.list("tags", _tag))
    put(out, "custom_fields", body.list("custom_fields", _custom_field))
    return out


def _archive_stamp(ops: Ops, old: dict[str, Any], new: dict[str, Any]) -> None:
    if new.get("is_archived") and not old.get("is_archived"):
        new["archived_at"] = ops.now_iso
    elif not new.get("is_archived"):
        new["archived_at"] = None


# -- clients ------------------------------------------------------------------
def _check_kind_fields(body: Body, business: bool) -> None:
    for key in (INDIVIDUAL_ONLY if business else BUSINESS_ONLY):
        if key in body.data:
            body.fail(key, f"is not a field of {'business' if business else 'individual'} clients", "wrong_kind")


def create_client(ops: Ops, data: dict[str, Any]) -> Rec:
    body = Body(data, CLIENT_FIELDS)
    business = body.bool("is_business", required=True)
    fields = _client_fields(body)
    if business is not MISSING:
        _check_kind_fields(body, business)
        if business and not fields.get("business_name"):
            body.fail("business_name", "is required for a business client", "required")
        if not business and not _person_name(fields):
            body.fail("first_name", "an individual client needs a first or last name", "required")
    body.done()
    client: dict[str, Any] = {
        "is_business": business, "type": "CLIENT",
        "display_name": fields.get("business_name") if business else _person_name(fields),
        "emails": [], "phones": [], "addresses": [], "is_active": True, "is_archived": False,
        "archived_at": None, "external_id": None, "tags": [], "custom_fields": [], "notes": None,
        "tin": None, "client_since": None, "primary_contact": None}
    if business:
        client.update(business_name=None, business_type="NOT_SELECTED")
    else:
        client.update(first_name=None, middle_name=None, last_name=None, birthdate=None,
                      filing_status="NOT_SELECTED")
    client.update(fields)
    _archive_stamp(ops, {}, client)
    key = client["display_name"].casefold()
    if business:
        return ops.insert("client", client, key=key)
    client_id, contact_id = ops.new_id(), ops.new_id()
    contact = _contact_from_client(client, client_id)
    client["primary_contact"] = {"id": contact_id, "display_name": contact["display_name"]}
    rec = ops.insert("client", client, key=key, id=client_id)
    ops.insert("contact", contact, id=contact_id)
    return rec


def _contact_from_client(client: dict[str, Any], client_id: str | None) -> dict[str, Any]:
    return {"client_id": client_id, "relationship": "PRIMARY", "first_name": client.get("first_name"),
            "middle_name": client.get("middle_name"), "last_name": client.get("last_name"),
            "display_name": _person_name(client) or client["display_name"],
            "birthdate": client.get("birthdate"), "emails": client["emails"], "phones": client["phones"],
            "addresses": client["addresses"], "is_archived": False, "archived_at": None,
            "external_id": None, "notes": None}


def update_client(ops: Ops, rec: Rec, data: dict[str, Any], expect: int | None) -> Rec:
    old = rec.data
    body = Body(data, CLIENT_FIELDS)
    business = body.bool("is_business")
    if business is not MISSING and business != old["is_business"]:
        raise unprocessable("cannot_switch_client_kind",
                            "A client cannot switch between individual and business", "is_business")
    _check_kind_fields(body, old["is_business"])
    fields = _client_fields(body)
    body.done()
    new = {**old, **fields}
    if "display_name" not in fields:
        derived_old = old.get("business_name") if old["is_business"] else _person_name(old)
        derived_new = new.get("business_name") if new["is_business"] else _person_name(new)
        if old["display_name"] == derived_old and derived_new:
            new["display_name"] = derived_new
    if not new["is_business"] and not _person_name(new):
        raise unprocessable("name_required", "An individual client needs a first or last name", "first_name")
    _archive_stamp(ops, old, new)
    return ops.save(rec, new, key=new["display_name"].casefold(), expect=expect)


def delete_client(ops: Ops, rec: Rec, expect: int | None) -> None:
    for contact in ops.t.find("contact"):
        if contact.data.get("client_id") == rec.id:
            soft_delete(ops, contact)
    soft_delete(ops, rec, expect)


# -- contacts -------------------------------------------------------------------
def _contact_fields(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _people_fields(body, out)
    put(out, "relationship", body.str("relationship", choices=RELATIONSHIPS))
    return out


def _set_primary(ops: Ops, client: Rec, contact: dict[str, Any] | None) -> None:
    ref = {"id": contact["id"], "display_name": contact["display_name"]} if contact else None
    if client.data.get("primary_contact") != ref:
        ops.save(client, {**client.data, "primary_contact": ref})


def create_contact(ops: Ops, data: dict[str, Any]) -> Rec:
    body = Body(data, CONTACT_FIELDS)
    client_id = body.str("client_id", required=True, nonempty=True)
    fields = _contact_fields(body)
    if not _person_name(fields) and not fields.get("display_name"):
        body.fail("first_name", "a contact needs a first or last name", "required")
    client = ops.exists("client", client_id)
    if client_id is not MISSING and client is None:
        body.fail("client_id", "names no client of this firm", "not_found")
    body.done()
    assert client is not None
    contact = {"client_id": client.id, "relationship": "OTHER", "first_name": None, "middle_name": None,
               "last_name": None, "birthdate": None, "emails": [], "phones": [], "addresses": [],
               "is_archived": False, "archived_at": None, "external_id": None, "notes": None, **fields}
    contact.setdefault("display_name", _person_name(contact))
    _archive_stamp(ops, {}, contact)
    if contact["relationship"] == "PRIMARY" and client.data.get("primary_contact"):
        raise conflict("primary_contact_exists", f"Client {client.id} already has a primary contact",
                       "relationship")
    rec = ops.insert("contact", contact)
    if contact["relationship"] == "PRIMARY":
        _set_primary(ops, client, rec.data)
    return rec


def update_contact(ops: Ops, rec: Rec, data: dict[str, Any], expect: int | None) -> Rec:
    old = rec.data
    body = Body(data, CONTACT_FIELDS)
    if "client_id" in data and data["client_id"] != old["client_id"]:
        body.fail("client_id", "a contact cannot move to another client", "immutable")
    fields = _contact_fields(body)
    body.done()
    new = {**old, **fields}
    if "display_name" not in fields and old["display_name"] == _person_name(old) and _person_name(new):
        new["display_name"] = _person_name(new)
    client = ops.exists("client", old["client_id"])
    if new["relationship"] == "PRIMARY" and old["relationship"] != "PRIMARY" and client \
            and client.data.get("primary_contact"):
        raise conflict("primary_contact_exists", f"Client {client.id} already has a primary contact",
                       "relationship")
    _archive_stamp(ops, old, new)
    saved = ops.save(rec, new, expect=expect)
    if client is not None and (new["relationship"] == "PRIMARY" or old["relationship"] == "PRIMARY"):
        _set_primary(ops, client, saved.data if new["relationship"] == "PRIMARY" else None)
    return saved


def delete_contact(ops: Ops, rec: Rec, expect: int | None) -> None:
    soft_delete(ops, rec, expect)
    client = ops.exists("client", rec.data["client_id"])
    if client is not None and rec.data["relationship"] == "PRIMARY":
        _set_primary(ops, client, None)


CLIENT = Kind("client", "clients", NEEDS, create_client, update_client, delete_client)
CONTACT = Kind("contact", "contacts", NEEDS, create_contact, update_contact, delete_contact,
               list_filters=("client_id",))
