"""TUK check: the download measurement keeps no state in the database (its start time travels in a signed token)

Revision ID: 20261204_tuk_check
Revises: 20261204_sec_web
Create Date: 2026-12-04 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = "20261204_tuk_check"
down_revision = '20261204_sec_web'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tuk_checks", schema=None) as batch_op:
        batch_op.drop_column("download_started_at")
        batch_op.drop_column("download_bytes")


def downgrade() -> None:
    with op.batch_alter_table("tuk_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("download_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("download_started_at", remote_tuk.db.UTCDateTime(timezone=True), nullable=True))
