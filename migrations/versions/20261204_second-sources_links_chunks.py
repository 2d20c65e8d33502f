"""Second sources (issue 19): single-use phone links and the chunks of the phone camera and the screen share

Revision ID: 20261204_second_sources
Revises: 20261204_trial
Create Date: 2026-12-04 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = "20261204_second_sources"
down_revision = '20261204_trial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("grant", sa.String(length=32), nullable=False),
        sa.Column("created_at", remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["assessment_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
        sa.UniqueConstraint("grant"),
    )
    with op.batch_alter_table("source_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_links_session_id"), ["session_id"], unique=False)
    op.create_table(
        "source_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("client_start_ms", sa.BigInteger(), nullable=True),
        sa.Column("received_at", remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["assessment_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "stream", "seq"),
    )
    with op.batch_alter_table("source_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_chunks_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_chunks_session_id"))
    op.drop_table("source_chunks")
    with op.batch_alter_table("source_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_links_session_id"))
    op.drop_table("source_links")
