"""PostgreSQL for the multi-worker tests: a fresh schema per test, as `tests/engine/conftest.py`
does (`options=-csearch_path=<schema>` in the URL's query, so every connection of every engine
process lands in it), dropped afterwards.

`ENGINE_TEST_DATABASE_URL`, else a local server with trust auth if it answers within 1 s; with
none, the tests skip with `tests.conftest.PG_SKIP` in the reason (the run's summary counts them).

No `__init__.py` here, like `tests/engine/`: this directory is not a package.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import private_schema_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from private_schema_url("engine_workers")
