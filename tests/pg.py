"""PostgreSQL for tests: `ENGINE_TEST_DATABASE_URL`, else a local server with trust auth if it
answers within 1 s; each test gets a schema of its own (`options=-csearch_path=<schema>` in the
URL's query, so every connection of every engine process lands in it)."""
from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_SKIP

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_schemas = itertools.count(1)


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI psycopg opens directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def postgres() -> tuple[str | None, str]:
    explicit = os.environ.get("ENGINE_TEST_DATABASE_URL")
    url = explicit or PG_DEFAULT_URL
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        with psycopg.connect(conninfo(url), connect_timeout=1):
            pass
    except psycopg.Error as exc:
        if explicit:
            raise RuntimeError(f"ENGINE_TEST_DATABASE_URL={shown} does not answer: {exc}") from exc
        first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        return None, f"{PG_SKIP} at {shown}: {first_line}"
    return url, ""


def private_schema_url(prefix: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh, private schema, dropped afterwards;
    skips the test (with `PG_SKIP` in the reason) when no server answers."""
    base, why = postgres()
    if base is None:
        pytest.skip(why)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"{prefix}_{worker}_{os.getpid()}_{next(_schemas)}".lower()
    with psycopg.connect(conninfo(base), autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        c.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base)
    options = " ".join(filter(None, [str(url.query.get("options", "")), f"-csearch_path={schema}"]))
    try:
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo(base), autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
