"""Store fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL: `ENGINE_TEST_DATABASE_URL`, else a local server with trust auth. Each test gets
a schema of its own (`engine_test_<xdist worker>_<pid>_<n>`, put first on the
`search_path`), so parallel and concurrent runs never see each other's tables; it is
dropped afterwards. With no server answering, the PostgreSQL half is skipped and the run
ends with one line saying so. A URL given explicitly that does not answer is an error.

No `__init__.py` here on purpose: as a package this directory would be imported as
`engine`, shadowing the engine itself.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.crypto import TokenBox
from engine.store import Store
from tests.pg import private_schema_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh, private schema."""
    yield from private_schema_url("engine_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'engine.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def token_key() -> str:
    return TokenBox.generate_key()


def _migrated(url: str, key: str) -> Iterator[Store]:
    s = Store(url, TokenBox(key))
    s.migrate()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def store(db_url: str, token_key: str) -> Iterator[Store]:
    """A migrated store on an empty database, once per dialect."""
    yield from _migrated(db_url, token_key)


@pytest.fixture
def pg_store(pg_url: str, token_key: str) -> Iterator[Store]:
    """For behaviour only PostgreSQL has (row locks that other claimers skip)."""
    yield from _migrated(pg_url, token_key)
