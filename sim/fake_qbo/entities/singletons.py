"""Hooks for the per-company singletons, CompanyInfo and Preferences.

Preferences are a bag of groups (SalesFormsPrefs, CurrencyPrefs...): an
update merges each sent group into the stored one, full or sparse, since
QBO documents most preferences as read-only and a client sending back what
it read must not wipe the rest.
"""
from __future__ import annotations

from typing import Any

from . import faults
from .spec import Write


def prepare_preferences(w: Write) -> None:
    old = w.old.data if w.old is not None else {}
    for group in w.spec.writable:
        stored = old.get(group)
        sent = w.sent.get(group)
        if sent is None:
            if stored is not None:
                w.data[group] = stored
            continue
        if not isinstance(sent, dict):
            raise faults.invalid_value(group, sent)
        w.data[group] = _merge(stored if isinstance(stored, dict) else {}, sent)
    custom = w.data.get("SalesFormsPrefs", {}).get("CustomTxnNumbers")
    if custom is not None and not isinstance(custom, bool):
        if str(custom).lower() not in ("true", "false"):
            raise faults.invalid_value("SalesFormsPrefs.CustomTxnNumbers", custom)
        w.data["SalesFormsPrefs"]["CustomTxnNumbers"] = str(custom).lower() == "true"


def _merge(stored: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    out = dict(stored)
    for k, v in sent.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
