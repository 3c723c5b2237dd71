"""QBO's entities as one generic resource driven by a table of specs.

- `table`: the `EntitySpec` of every entity served (fields, defaults, ids,
  indexes, hooks).
- `resource`: create / read / update / delete / void for any spec.
- `rules`: the pure rules (totals, names, merging, money).
- `people`, `items`, `accounts`, `invoices`, `singletons`: the hooks.
- `querying`: the query language over the store's indexes.
- `idempotency`: `requestid` replays.
"""
from .spec import EntitySpec, Hooks, Kind, Session, Write
from .table import SPECS, SPECS_BY_NAME, SPECS_BY_SEGMENT

__all__ = ["SPECS", "SPECS_BY_NAME", "SPECS_BY_SEGMENT", "EntitySpec", "Hooks", "Kind", "Session", "Write"]
