"""live-core: recording chunks claimed before they are stored, conflicts counted, joined recordings versioned

Revision ID: 20261204_live_core
Revises: 20261204_tuk_check
Create Date: 2026-12-04 14:19:24.245210
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_live_core'
down_revision = '20261204_tuk_check'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recording_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seq', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('logged_count', sa.Integer(), nullable=False),
    sa.Column('logged_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_recording_conflicts_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_conflicts')),
    sa.UniqueConstraint('session_id', name=op.f('uq_recording_conflicts_session_id'))
    )
    with op.batch_alter_table('recording_chunks', schema=None) as batch_op:
        batch_op.alter_column('object_key',
               existing_type=sa.VARCHAR(length=255),
               nullable=True)
        batch_op.alter_column('log_index',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('session_recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=8), nullable=False, server_default='browser'))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.alter_column('object_key',
               existing_type=sa.VARCHAR(length=255),
               nullable=True)
        batch_op.alter_column('log_index',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.drop_constraint(batch_op.f('uq_session_recordings_session_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_session_recordings_session_id'), ['session_id', 'source', 'version'])
        batch_op.create_index(batch_op.f('ix_session_recordings_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('session_recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_recordings_session_id'))
        batch_op.drop_constraint(batch_op.f('uq_session_recordings_session_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_session_recordings_session_id'), ['session_id'])
        batch_op.alter_column('log_index',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('object_key',
               existing_type=sa.VARCHAR(length=255),
               nullable=False)
        batch_op.drop_column('error')
        batch_op.drop_column('version')
        batch_op.drop_column('source')

    with op.batch_alter_table('recording_chunks', schema=None) as batch_op:
        batch_op.alter_column('log_index',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('object_key',
               existing_type=sa.VARCHAR(length=255),
               nullable=False)

    op.drop_table('recording_conflicts')
