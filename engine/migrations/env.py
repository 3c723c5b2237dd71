"""Alembic environment for the engine's schema.

`Store.migrate()` hands over an open connection (`config.attributes["connection"]`), so no
alembic.ini is needed; the `alembic` command line works too, given `sqlalchemy.url`
(`alembic -x` is not used). Tables, and Alembic's version table, go to the connection's
default schema, so a PostgreSQL `search_path` decides where they live.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from engine.store import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kw: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kw)


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set")
    with create_engine(url, poolclass=NullPool).begin() as conn:
        run_on(conn)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
