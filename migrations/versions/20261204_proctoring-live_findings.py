"""proctoring-live: the findings listed on the assessor's live page and their labels

Revision ID: 20261204_proctoring_live
Revises: 20261204_review_records
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_proctoring_live'
down_revision = '20261204_review_records'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proctoring_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=12), nullable=False),
    sa.Column('media_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('snapshot_object', sa.String(length=255), nullable=True),
    sa.Column('log_index', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('labelled_by', sa.Integer(), nullable=True),
    sa.Column('labelled_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['labelled_by'], ['users.id'], name=op.f('fk_proctoring_findings_labelled_by_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_proctoring_findings_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proctoring_findings')),
    sa.UniqueConstraint('session_id', 'source', 'incident_id', name=op.f('uq_proctoring_findings_session_id'))
    )
    with op.batch_alter_table('proctoring_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proctoring_findings_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proctoring_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proctoring_findings_session_id'))
    op.drop_table('proctoring_findings')
