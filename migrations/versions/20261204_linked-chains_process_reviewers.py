"""linked-chains: the reviewer the LSP assigns to a schedule's process review (FR.AK.06)

Revision ID: 20261204_linked_chains
Revises: 20261204_proctoring_live
Create Date: 2026-12-04 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_linked_chains'
down_revision = '20261204_proctoring_live'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('process_reviewers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_process_reviewers_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_process_reviewers_reviewer_id_users')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_process_reviewers_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_reviewers')),
    sa.UniqueConstraint('schedule_id', name=op.f('uq_process_reviewers_schedule_id'))
    )
    with op.batch_alter_table('process_reviewers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_reviewers_reviewer_id'), ['reviewer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_reviewers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_reviewers_reviewer_id'))
    op.drop_table('process_reviewers')
