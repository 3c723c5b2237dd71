"""The one generic entity resource: create, read, update, delete, void.

Every entity runs through the same steps, driven by its `EntitySpec`:
accept the body -> merge with the stored record -> defaults -> required
fields -> top-level refs -> the entity's `prepare` hook -> name rules ->
hierarchy (FQN, Level) -> store (Id, SyncToken, MetaData) -> `after` hook.
Callers hold `ctx.store.tx()` around each call, so a fault anywhere leaves
nothing behind.
"""
from __future__ import annotations

import copy
from typing import Any

from sim.core.store import Rec

from ..query import FieldType
from . import faults, nested, rules
from .spec import EntitySpec, Kind, Session, Write

MAX_LEVEL = 4
"""Sub-customers, sub-items and sub-accounts: five levels in all (Level 0-4)."""

SINGLETON_ID = "1"


def render(data: dict[str, Any]) -> dict[str, Any]:
    """The body QBO shows: stored data without the fake's private `_` keys,
    and without nulls (QBO leaves an unset field out)."""
    return {k: _no_nulls(v) for k, v in data.items() if not k.startswith("_") and v is not None}


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value if v is not None]
    return value


def fresh(value: Any) -> Any:
    """A copy of a default (plain JSON data; cheaper than `copy.deepcopy`)."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    return value


def passes_through(text: str) -> bool:
    """Can this stored JSON be sent as it is? (no private keys, no nulls)"""
    return '"_' not in text and ":null" not in text


# -- input ---------------------------------------------------------------------
def accept(spec: EntitySpec, body: Any) -> dict[str, Any]:
    """The writable fields of a request body, normalised.

    Unknown top-level properties are a 2010, as QBO's strict parser answers;
    read-only and common fields are dropped; "" and null mean absent;
    numeric strings become Decimal; "true"/"false" strings become booleans;
    a number sent for a text field becomes its text.
    """
    if not isinstance(body, dict):
        raise faults.bad_body()
    unknown = rules.unknown_fields(body, spec.accepted)
    if unknown:
        raise faults.unknown_property(unknown[0], spec.name)
    sent = rules.clean({k: v for k, v in body.items() if k in spec.writable}) or {}
    for name in spec.numbers & sent.keys():
        sent[name] = rules.to_number(sent[name], name)
    for name, value in list(sent.items()):
        sent[name] = nested.typed(name, _typed(spec, name, value))
    return sent


_TEXT = (FieldType.STRING, FieldType.ENUM, FieldType.DATE, FieldType.DATETIME)


def _typed(spec: EntitySpec, name: str, value: Any) -> Any:
    """A top-level value checked against the field's type (2010 when it cannot be one)."""
    kind = spec.fields.get(name)
    if kind is FieldType.REF or name in spec.refs or name.endswith("Ref"):
        if not isinstance(value, dict):
            raise faults.invalid_value(name, value)
    elif kind is FieldType.BOOL:
        return value if isinstance(value, bool) else _to_bool(value, name)
    elif kind in _TEXT:
        if rules.is_number(value):
            return str(value)  # QBO's binding reads a number sent for a string as its text
        if not isinstance(value, str):
            raise faults.invalid_value(name, value)
    elif kind in (FieldType.DECIMAL, FieldType.INT):
        return rules.to_number(value, name)
    return value


def _to_bool(value: Any, field: str) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise faults.invalid_value(field, value)


def _require_id(body: Any) -> str:
    if not isinstance(body, dict):
        raise faults.bad_body()
    if rules.clean(body.get("Id")) is None:
        raise faults.required_missing("Id")
    id_ = rules.positive_id(body.get("Id"))
    if id_ is None:
        raise faults.object_not_found()
    return id_


def _check_token(body: dict[str, Any], rec: Rec) -> None:
    raw = rules.clean(body.get("SyncToken"))
    if raw is None:
        raise faults.required_missing("SyncToken")
    if rules.sync_token(raw) != rec.version:
        raise faults.stale_object()


def _live(s: Session, spec: EntitySpec, id_: str) -> Rec:
    rec = s.store.get(spec.name, id_)
    if rec is None or rec.deleted:
        raise faults.object_not_found()
    return rec


# -- operations ----------------------------------------------------------------
def read(s: Session, spec: EntitySpec, id_: str) -> dict[str, Any]:
    return render(_live(s, spec, id_).data)


def create(s: Session, spec: EntitySpec, body: Any) -> dict[str, Any]:
    return render(create_record(s, spec, body).data)


def create_record(s: Session, spec: EntitySpec, body: Any) -> Rec:
    sent = accept(spec, body)
    w = Write(s, spec, dict(sent), sent)
    _complete(w)
    rec = _store_new(w)
    spec.hooks.after(w, rec)
    s.changes.append((spec.name, rec.id, "Create"))
    return rec


def update(s: Session, spec: EntitySpec, body: Any, sparse: bool | None = None) -> dict[str, Any]:
    return render(update_record(s, spec, body, sparse).data)


def update_record(s: Session, spec: EntitySpec, body: Any, sparse: bool | None = None) -> Rec:
    """Full or sparse update (`"sparse": true` in the body unless forced)."""
    if spec.kind is Kind.SINGLETON:
        if not isinstance(body, dict):
            raise faults.bad_body()
        id_ = SINGLETON_ID
    else:
        id_ = _require_id(body)
    old = _live(s, spec, id_)
    _check_token(body, old)
    sent = accept(spec, body)
    if sparse is None:
        sparse = body.get("sparse") is True or str(body.get("sparse")).lower() == "true"
    carried = {k: v for k, v in old.data.items() if k not in spec.writable}
    data = {**carried, **rules.merge(old.data, sent, spec.writable, sparse)}
    w = Write(s, spec, data, sent, old=old, sparse=sparse)
    _complete(w)
    rec = _store_change(w)
    _cascade_names(w, rec)
    spec.hooks.after(w, rec)
    # A name-list record made inactive is QBO's "delete" of it (webhooks say Delete).
    s.changes.append((spec.name, rec.id, "Delete" if old.active and not rec.active else "Update"))
    return rec


def delete(s: Session, spec: EntitySpec, body: Any) -> dict[str, Any]:
    """Transactions only: a hard delete. Reads then get 610; a stub stays
    (flagged deleted) for change tracking."""
    old = _live(s, spec, _require_id(body))
    _check_token(body, old)
    spec.hooks.deleting(s, old)
    stub = {"Id": old.id, "status": "Deleted", "domain": "QBO",
            "MetaData": {**old.data.get("MetaData", {}), "LastUpdatedTime": s.stamp}}
    rec = Rec(spec.name, old.id, stub, version=old.version + 1, key=None, alt=None,
              active=False, deleted=True, changed_at=s.ts)
    if not s.store.replace(rec, expect_version=old.version):
        raise faults.stale_object()
    s.changes.append((spec.name, old.id, "Delete"))
    return {"status": "Deleted", "domain": "QBO", "Id": old.id}


def void(s: Session, spec: EntitySpec, body: Any) -> dict[str, Any]:
    return render(void_record(s, spec, body).data)


def void_record(s: Session, spec: EntitySpec, body: Any) -> Rec:
    if spec.hooks.void is None:
        raise faults.unsupported("void", spec.name)
    old = _live(s, spec, _require_id(body))
    _check_token(body, old)
    w = Write(s, spec, copy.deepcopy(old.data), {}, old=old)
    spec.hooks.void(w)
    rec = _store_change(w)
    spec.hooks.after(w, rec)
    s.changes.append((spec.name, rec.id, "Void"))
    return rec


# -- the generic steps -----------------------------------------------------------
def _complete(w: Write) -> None:
    spec = w.spec
    for name, value in spec.defaults.items():
        if w.data.get(name) is None:
            w.data[name] = fresh(value) if isinstance(value, (dict, list)) else value
    for name in spec.required:
        if w.data.get(name) in (None, [], {}):
            raise faults.required_missing(name)
    for name, target in spec.refs.items():
        if w.data.get(name) is not None:
            w.data[name], w.refs[name] = resolve_ref(w.s, w.data[name], target, name)
    spec.hooks.prepare(w)
    if spec.unique_among:
        _settle_name(w)
    if spec.parent_flag:
        _place(w)


def resolve_ref(s: Session, ref: Any, target: str, element: str,
                allow_inactive: bool = False) -> tuple[dict[str, Any], Rec]:
    """A ref to `target`: 2500 if there is no such record, 610 if inactive;
    returned as `{"value", "name"}` with the referent's name filled in."""
    if not isinstance(ref, dict):
        raise faults.invalid_value(element, ref)
    value = ref.get("value")
    id_ = rules.positive_id(value)
    rec = s.store.get(target, id_) if id_ else None
    if rec is None or rec.deleted:
        raise faults.invalid_reference(element)
    if not rec.active and not allow_inactive:
        raise faults.inactive_reference(element)
    # Imported here: the table imports the hooks, which import this module.
    from .table import SPECS_BY_NAME
    label = SPECS_BY_NAME[target].label_field
    out = {"value": rec.id}
    if label and rec.data.get(label) is not None:
        out["name"] = rec.data[label]
    return out, rec


def _settle_name(w: Write) -> None:
    """Name rules of a name list: present, clean, suffixed when inactive (D-17),
    unique among the active records of `unique_among` (6240, D-18)."""
    spec, field = w.spec, w.spec.key_field
    assert field
    name = w.data.get(field)
    if not isinstance(name, str) or not name.strip():
        raise faults.required_missing(field)
    active = w.data.get("Active", True) is not False
    base = rules.without_deleted(name.strip()) if not active else name.strip()
    rules.check_name(base, field, spec.forbidden)
    name = rules.deactivation_name(base, w.was_active, active)
    w.data[field] = name
    if not active:
        return
    if w.old is not None and w.old.active and w.old.key == rules.name_key(name):
        return
    for entity, id_ in w.s.store.holders(spec.unique_among, rules.name_key(name)):
        if not (entity == spec.name and w.old is not None and id_ == w.old.id):
            raise faults.duplicate_name(spec.name_scope)


def _place(w: Write) -> None:
    """Hierarchy: the parent flag, `Level` and `FullyQualifiedName` from ParentRef."""
    spec, flag = w.spec, w.spec.parent_flag
    assert flag
    parent = w.refs.get("ParentRef")
    if w.data.get(flag) and parent is None:
        raise faults.required_missing("ParentRef")
    name = w.data[spec.key_field] if spec.key_field else ""
    if parent is None:
        w.data[flag] = False
        w.data.pop("ParentRef", None)
        level, fqn = 0, name
    else:
        _check_no_cycle(w, parent)
        level = int(parent.data.get("_level", parent.data.get("Level", 0))) + 1
        if level > MAX_LEVEL:
            raise faults.business(f"{spec.name} hierarchies can be at most {MAX_LEVEL + 1} levels deep.",
                                  element="ParentRef")
        w.data[flag] = True
        fqn = rules.fully_qualified(parent.data.get("FullyQualifiedName"), name)
    w.data["FullyQualifiedName"] = fqn
    if "Level" in spec.read_only:
        w.data["Level"] = level
    elif level:
        w.data["_level"] = level  # depth of an entity QBO shows no Level for (accounts)
    else:
        w.data.pop("_level", None)


def _check_no_cycle(w: Write, parent: Rec) -> None:
    if w.old is None:
        return
    seen, node = set(), parent
    while node is not None and node.id not in seen:
        if node.id == w.old.id:
            raise faults.business(f"A {w.spec.name.lower()} can't be its own parent or ancestor.",
                                  element="ParentRef")
        seen.add(node.id)
        ref = node.data.get("ParentRef")
        node = w.s.store.get(w.spec.name, ref["value"]) if isinstance(ref, dict) else None


def _new_rec(w: Write, id_: str, version: int) -> Rec:
    spec = w.spec
    active = w.data.get("Active", True) is not False if spec.name_list else True
    return Rec(spec.name, id_, w.data, version=version, key=spec.key_of(w.data), alt=spec.alt_of(w.data),
               active=active, changed_at=w.s.ts)


def _store_new(w: Write) -> Rec:
    spec, s = w.spec, w.s
    id_ = SINGLETON_ID if spec.sequence is None else str(s.store.next_id(spec.sequence))
    meta = {"CreateTime": s.stamp, "LastUpdatedTime": s.stamp}
    w.data.update({"domain": "QBO", "sparse": False, "Id": id_, "SyncToken": "0", "MetaData": meta})
    rec = _new_rec(w, id_, 0)
    s.store.insert(rec)
    return rec


def _store_change(w: Write) -> Rec:
    assert w.old is not None
    s, old = w.s, w.old
    version = old.version + 1
    meta = {"CreateTime": old.data.get("MetaData", {}).get("CreateTime", s.stamp), "LastUpdatedTime": s.stamp}
    w.data.update({"domain": "QBO", "sparse": False, "Id": old.id, "SyncToken": str(version), "MetaData": meta})
    rec = _new_rec(w, old.id, version)
    if not s.store.replace(rec, expect_version=old.version):
        raise faults.stale_object()
    return rec


def children(s: Session, spec: EntitySpec, parent_id: str) -> list[Rec]:
    """Records whose ParentRef names `parent_id` (by index when `alt` holds it)."""
    if spec.alt_field == "ParentRef":
        return s.store.find(spec.name, alt=parent_id)
    return [r for r in s.store.find(spec.name)
            if isinstance(r.data.get("ParentRef"), dict) and r.data["ParentRef"].get("value") == parent_id]


def _cascade_names(w: Write, rec: Rec) -> None:
    """A renamed or moved parent: its descendants' FQN and Level follow.

    Descendants are derived data, so their SyncToken stays (QBO shows the new
    FQN without the child having been edited)."""
    if not w.spec.parent_flag or w.old is None:
        return
    if w.old.data.get("FullyQualifiedName") == rec.data.get("FullyQualifiedName") \
            and w.old.data.get("Level") == rec.data.get("Level"):
        return
    label = w.spec.label_field
    stack, seen = [rec], {rec.id}
    while stack:
        parent = stack.pop()
        level = int(parent.data.get("Level", parent.data.get("_level", 0)))
        for child in children(w.s, w.spec, parent.id):
            name = child.data.get(w.spec.key_field or "", "")
            child.data["FullyQualifiedName"] = rules.fully_qualified(parent.data["FullyQualifiedName"], name)
            child.data["Level" if "Level" in child.data else "_level"] = level + 1
            if label and isinstance(child.data.get("ParentRef"), dict):
                child.data["ParentRef"]["name"] = parent.data.get(label)
            w.s.store.replace(child)
            if child.id not in seen:
                seen.add(child.id)
                stack.append(child)
