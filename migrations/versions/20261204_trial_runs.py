"""trial: the candidates' trial runs (uji coba) before the day, kept apart from the real session

Revision ID: 20261204_trial
Revises: 20261204_linked_chains
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_trial'
down_revision = '20261204_linked_chains'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trial_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('started_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('consent_previewed_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('measurements', sa.JSON(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('finished_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('selftest_seconds', sa.Float(), nullable=True),
    sa.Column('selftest_played_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('selftest_object', sa.String(length=255), nullable=True),
    sa.Column('selftest_log_index', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_trial_runs_candidate_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_trial_runs_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trial_runs'))
    )
    with op.batch_alter_table('trial_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trial_runs_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trial_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trial_runs_session_id'))
    op.drop_table('trial_runs')
