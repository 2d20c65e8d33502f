"""LSP profile: its domain (names the evidence log) and its time zone (WIB/WITA/WIT)

Revision ID: 20261204_evidence_ux
Revises: instruments_0001
Create Date: 2026-12-04 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261204_evidence_ux"
down_revision = "instruments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lsp", schema=None) as batch_op:
        batch_op.add_column(sa.Column("domain", sa.String(length=253), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=32), nullable=False, server_default="Asia/Jakarta")
        )


def downgrade() -> None:
    with op.batch_alter_table("lsp", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("domain")
