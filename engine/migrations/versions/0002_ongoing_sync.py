"""The ongoing sync: what each link last synced, held records, and retry times in the inbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

- `links.synced`: the canonical content both sides agreed on at the last sync, the base a
  three-way merge compares each side against (R12 "the later change wins", R20 no echo).
- `held`: Canopy records waiting for a reference to be linked (R19), with every reason.
- `inbox.available_at`: a failed event waits until then before it is claimed again.
- indexes to find which section of a review listed a record: records that setup saw and did
  not link (unmatched, duplicates, outside the import filter) are not synced afterwards.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("synced", sa.JSON(), nullable=True))
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("available_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_review_entries_canopy", "review_entries", ["job_id", "canopy_id"])
    op.create_index("ix_review_entries_qbo", "review_entries", ["job_id", "qbo_id"])
    op.create_table(
        "held",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("canopy_id", sa.String(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_held_connection_id_connections")),
        sa.PrimaryKeyConstraint("connection_id", "kind", "canopy_id", name=op.f("pk_held")),
    )


def downgrade() -> None:
    op.drop_table("held")
    op.drop_index("ix_review_entries_qbo", "review_entries")
    op.drop_index("ix_review_entries_canopy", "review_entries")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("available_at")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("synced")
