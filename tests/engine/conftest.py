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

import functools
import itertools
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from engine.crypto import TokenBox
from engine.store import Store
from tests.conftest import PG_SKIP

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_schemas = itertools.count(1)


def _conninfo(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI psycopg can open directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def _postgres() -> tuple[str | None, str]:
    """(url, None) when a server answers within 1 s, else (None, why not). Probed once."""
    explicit = os.environ.get("ENGINE_TEST_DATABASE_URL")
    url = explicit or PG_DEFAULT_URL
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        with psycopg.connect(_conninfo(url), connect_timeout=1):
            pass
    except psycopg.Error as exc:
        if explicit:
            raise RuntimeError(f"ENGINE_TEST_DATABASE_URL={shown} does not answer: {exc}") from exc
        first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        return None, f"{PG_SKIP} at {shown}: {first_line}"
    return url, ""


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh, private schema."""
    base, why = _postgres()
    if base is None:
        pytest.skip(why)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"engine_test_{worker}_{os.getpid()}_{next(_schemas)}".lower()
    with psycopg.connect(_conninfo(base), autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        c.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base)
    options = " ".join(filter(None, [str(url.query.get("options", "")), f"-csearch_path={schema}"]))
    try:
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(base), autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
