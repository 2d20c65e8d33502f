"""review-records: signed assessment documents (FR.AK.02 per candidate, FR.AK.05 per schedule) kept as evidence;
appeals (FR.AK.04) and the LSP's appeal window; the candidate's acknowledgement of the feedback (FR.AK.03); process reviews (FR.AK.06)

Revision ID: 20261204_review_records
Revises: 20261204_instruments_live
Create Date: 2026-12-04 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import remote_tuk.db

revision = '20261204_review_records'
down_revision = '20261204_instruments_live'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assessment_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=12), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('evidence_session', sa.String(length=128), nullable=False),
    sa.Column('object_key', sa.String(length=255), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('demo_signature', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_assessment_documents_created_by_id_users')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_assessment_documents_schedule_id_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_assessment_documents_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_documents')),
    sa.UniqueConstraint('evidence_session', name=op.f('uq_assessment_documents_evidence_session'))
    )
    with op.batch_alter_table('assessment_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_documents_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessment_documents_session_id'), ['session_id'], unique=False)

    op.create_table('appeal_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_settings'))
    )
    op.create_table('appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'assigned', 'upheld', 'rejected', name='appealstatus', native_enum=False, length=12), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('evidence_chain', sa.String(length=128), nullable=False),
    sa.Column('submitted_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reasons', sa.Text(), nullable=False),
    sa.Column('submitted_log_index', sa.Integer(), nullable=False),
    sa.Column('assigned_log_index', sa.Integer(), nullable=True),
    sa.Column('decided_log_index', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_appeals_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_appeals_candidate_id_users')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_appeals_reviewer_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_appeals_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('evidence_chain', name=op.f('uq_appeals_evidence_chain'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeals_reviewer_id'), ['reviewer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeals_session_id'), ['session_id'], unique=False)

    op.create_table('feedback_acks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('feedback_sha256', sa.String(length=64), nullable=False),
    sa.Column('evidence_chain', sa.String(length=128), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_feedback_acks_candidate_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_feedback_acks_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_acks')),
    sa.UniqueConstraint('evidence_chain', name=op.f('uq_feedback_acks_evidence_chain')),
    sa.UniqueConstraint('session_id', name=op.f('uq_feedback_acks_session_id'))
    )
    with op.batch_alter_table('feedback_acks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_acks_candidate_id'), ['candidate_id'], unique=False)

    op.create_table('process_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('recommendations', sa.Text(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('created_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['assessment_documents.id'], name=op.f('fk_process_reviews_document_id_assessment_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_process_reviews_reviewer_id_users')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_process_reviews_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_reviews'))
    )
    with op.batch_alter_table('process_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_reviews_schedule_id'), ['schedule_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_reviews_schedule_id'))
    op.drop_table('process_reviews')
    with op.batch_alter_table('feedback_acks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_acks_candidate_id'))
    op.drop_table('feedback_acks')
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeals_session_id'))
        batch_op.drop_index(batch_op.f('ix_appeals_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_appeals_candidate_id'))
    op.drop_table('appeals')
    op.drop_table('appeal_settings')
    with op.batch_alter_table('assessment_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_documents_session_id'))
        batch_op.drop_index(batch_op.f('ix_assessment_documents_schedule_id'))
    op.drop_table('assessment_documents')
