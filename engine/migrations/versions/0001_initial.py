"""The engine's initial schema: connections, OAuth states, jobs, reviews, links, log, inbox, cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written out in full (no imports from the engine), so it keeps describing this schema when
the models move on. `tests/engine/test_store.py` checks it against `engine.store.Base`.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _connection_id(table: str) -> list[sa.SchemaItem]:
    return [sa.Column("connection_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_connection_id_connections"))]


def upgrade() -> None:
    op.create_table(
        "connections",
        _id(),
        sa.Column("firm_id", sa.String(), nullable=False),
        sa.Column("realm_id", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("connected_by", sa.String(), nullable=True),
        sa.Column("wizard", sa.JSON(), nullable=False),
        sa.Column("qbo_access_token", sa.Text(), nullable=True),
        sa.Column("qbo_refresh_token", sa.Text(), nullable=True),
        _at("qbo_access_expires_at", nullable=True),
        _at("qbo_refresh_expires_at", nullable=True),
        sa.Column("canopy_integration_id", sa.String(), nullable=True),
        sa.Column("canopy_token", sa.Text(), nullable=True),
        sa.Column("canopy_webhook_id", sa.String(), nullable=True),
        sa.Column("canopy_webhook_secret", sa.Text(), nullable=True),
        sa.Column("income_account_id", sa.String(), nullable=True),
        sa.Column("items_skipped", sa.Boolean(), nullable=False),
        sa.Column("ongoing_contacts", sa.Boolean(), nullable=False),
        sa.Column("ongoing_items", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("state IN ('setup', 'connected', 'needs_reauthorization', 'disconnected')",
                           name=op.f("ck_connections_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("firm_id", name=op.f("uq_connections_firm_id")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("firm_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        _at("created_at"),
        _at("used_at", nullable=True),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oauth_states")),
    )
    op.create_table(
        "jobs",
        _id(),
        *_connection_id("jobs"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        _at("started_at"),
        _at("finished_at", nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name=op.f("ck_jobs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_connection_id"), "jobs", ["connection_id"])
    op.create_table(
        "review_entries",
        _id(),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("canopy_id", sa.String(), nullable=True),
        sa.Column("qbo_id", sa.String(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE", name=op.f("fk_review_entries_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_entries")),
    )
    op.create_index(op.f("ix_review_entries_job_id_section_position"), "review_entries",
                    ["job_id", "section", "position"], unique=True)
    op.create_table(
        "links",
        _id(),
        *_connection_id("links"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("canopy_id", sa.String(), nullable=False),
        sa.Column("qbo_id", sa.String(), nullable=False),
        sa.Column("canopy_hash", sa.String(), nullable=True),
        sa.Column("qbo_hash", sa.String(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.CheckConstraint("kind IN ('contact', 'item', 'invoice')", name=op.f("ck_links_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("connection_id", "kind", "canopy_id", name=op.f("uq_links_connection_id_kind_canopy_id")),
        sa.UniqueConstraint("connection_id", "kind", "qbo_id", name=op.f("uq_links_connection_id_kind_qbo_id")),
    )
    op.create_table(
        "sync_log",
        _id(),
        *_connection_id("sync_log"),
        _at("at"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=True),
        sa.Column("canopy_id", sa.String(), nullable=True),
        sa.Column("qbo_id", sa.String(), nullable=True),
        sa.Column("rule", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.CheckConstraint("action IN ('applied', 'created', 'linked', 'skipped', 'held', 'failed', 'info')",
                           name=op.f("ck_sync_log_action")),
        sa.CheckConstraint("direction IN ('canopy_to_qbo', 'qbo_to_canopy')", name=op.f("ck_sync_log_direction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_log")),
    )
    op.create_index(op.f("ix_sync_log_connection_id_id"), "sync_log", ["connection_id", "id"])
    op.create_table(
        "inbox",
        _id(),
        *_connection_id("inbox"),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("record_kind", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        _at("received_at"),
        sa.Column("claimed_by", sa.String(), nullable=True),
        _at("claimed_at", nullable=True),
        _at("applied_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("source IN ('qbo', 'canopy')", name=op.f("ck_inbox_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
    )
    op.create_index("ix_inbox_pending", "inbox",
                    ["applied_at", "connection_id", "source", "record_kind", "record_id"])
    op.create_table(
        "cursors",
        *_connection_id("cursors"),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("connection_id", "source", name=op.f("pk_cursors")),
    )


def downgrade() -> None:
    for table in ("cursors", "inbox", "sync_log", "links", "review_entries", "jobs", "oauth_states", "connections"):
        op.drop_table(table)
