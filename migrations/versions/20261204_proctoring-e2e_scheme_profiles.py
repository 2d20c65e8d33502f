"""proctoring-e2e: the proctoring profile of each scheme, set by the LSP admin

Revision ID: 20261204_proctoring_e2e
Revises: 20261204_second_sources
Create Date: 2026-12-04 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_proctoring_e2e'
down_revision = '20261204_second_sources'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheme_proctoring_profiles',
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_scheme_proctoring_profiles_scheme_id_schemes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_scheme_proctoring_profiles_updated_by_users')),
    sa.PrimaryKeyConstraint('scheme_id', name=op.f('pk_scheme_proctoring_profiles'))
    )


def downgrade() -> None:
    op.drop_table('scheme_proctoring_profiles')
