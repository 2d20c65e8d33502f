"""consent texts, FR.AK.01 forms, withdrawals, privacy requests, erasures; personal data columns sealed

Chat text, KUK mark notes, unit decision reasons, consent IPs and NIKs become sealed columns (remote_tuk.privacy):
existing rows are sealed here with a data key per candidate kept in the evidence keystore (so this migration opens
the evidence store of the settings, RTUK_VAR_DIR / RTUK_EVIDENCE_*, when there is anything to seal), and each NIK
gets its keyed lookup hash. The downgrade opens them again (an erased value becomes NULL, or "[dihapus]" where the
column cannot be NULL).

Revision ID: 0005_consent_privacy
Revises: 20261204_evidence_ux
Create Date: 2026-12-04 14:24:02.162580
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import remote_tuk.db

#: (table, column, SQL giving each row's candidate, the column's sealing context, may be NULL)
SEALED = (
    ("chat_messages", "text", "SELECT c.id, s.candidate_id, c.text FROM chat_messages c "
     "JOIN assessment_sessions s ON s.id = c.session_id", "chat_messages.text", False),
    ("kuk_marks", "note", "SELECT m.id, s.candidate_id, m.note FROM kuk_marks m "
     "JOIN assessment_sessions s ON s.id = m.session_id", "kuk_marks.note", False),
    ("unit_decisions", "reason", "SELECT d.id, s.candidate_id, d.reason FROM unit_decisions d "
     "JOIN assessment_sessions s ON s.id = d.session_id", "unit_decisions.reason", False),
    ("consents", "ip", "SELECT id, candidate_id, ip FROM consents", "consents.ip", True),
    ("users", "nik", "SELECT id, id, nik FROM users", "users.nik", True),
)
PREFIX = "rtuk-seal:1:"


class _Keys:
    """The app's sealing keys over the evidence store of the settings, opened only if a row needs them."""

    def __init__(self) -> None:
        self.store: Any = None
        self.keys: Any = None

    def get(self) -> Any:
        if self.keys is None:
            from config import load_settings
            from evidence_store.store import EvidenceStore
            from remote_tuk.privacy.keys import SubjectKeys

            settings = context.config.attributes.get("settings") or load_settings()
            self.store = EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir, recover=False)
            self.keys = SubjectKeys(lambda: self.store)
        return self.keys

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


@contextmanager
def _referenced_table_rebuild() -> Iterator[None]:
    """SQLite rebuilds ``users`` to change it (copy, drop, rename); with rows pointing at it, the drop fails while
    foreign keys are enforced, and SQLite takes the pragma that stops enforcing them only outside a transaction. So
    the work of the earlier migrations of this run is committed first (each is complete, its version recorded), the
    rebuild runs unchecked, and the foreign keys are then checked as a whole."""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    if raw.in_transaction:
        raw.commit()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    yield
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild of users: {broken[:5]}")
    if not raw.in_transaction:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # else it is off until this migration connection closes


def _rows(sql: str) -> list[Any]:
    return list(op.get_bind().execute(sa.text(sql)))


def _seal_existing() -> None:
    keys = _Keys()
    try:
        for table, column, sql, ctx, _nullable in SEALED:
            for row_id, candidate, value in _rows(sql):
                if not value or value.startswith(PREFIX):
                    continue
                values = {column: keys.get().seal(value, int(candidate), ctx)}
                if table == "users":
                    values["nik_hash"] = keys.get().lookup_hash("nik", value)
                op.get_bind().execute(sa.table(table, *(sa.column(c) for c in values), sa.column("id"))
                                      .update().where(sa.column("id") == row_id).values(values))
    finally:
        keys.close()


def _open_existing() -> None:
    keys = _Keys()
    try:
        for table, column, sql, ctx, nullable in SEALED:
            for row_id, _candidate, value in _rows(sql):
                if not value or not value.startswith(PREFIX):
                    continue
                plain = keys.get().open(value, ctx)
                if plain in ("[dihapus]", "[tidak terbaca]") and nullable:
                    plain = None
                op.get_bind().execute(sa.table(table, sa.column(column), sa.column("id"))
                                      .update().where(sa.column("id") == row_id).values({column: plain}))
    finally:
        keys.close()


revision = '0005_consent_privacy'
down_revision = '20261204_evidence_ux'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # users first: SQLite rebuilds it, which must happen before this migration writes anything
    with _referenced_table_rebuild():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('nik_hash', sa.String(length=64), nullable=True))
            batch_op.alter_column('nik',
                   existing_type=sa.VARCHAR(length=16),
                   type_=sa.Text(),
                   existing_nullable=True)
            batch_op.drop_constraint(batch_op.f('uq_users_nik'), type_='unique')
            batch_op.create_unique_constraint(batch_op.f('uq_users_nik_hash'), ['nik_hash'])
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('consent_text_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lsp_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_consent_text_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['lsp_id'], ['lsp.id'], name=op.f('fk_consent_text_versions_lsp_id_lsp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_consent_text_versions_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_text_versions')),
    sa.UniqueConstraint('lsp_id', 'kind', 'version', name=op.f('uq_consent_text_versions_lsp_id'))
    )
    with op.batch_alter_table('consent_text_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_text_versions_lsp_id'), ['lsp_id'], unique=False)

    op.create_table('erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('retention_end', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('legal_reason', sa.Text(), nullable=False),
    sa.Column('shred_entries', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_erasures_by_id_users')),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_erasures_candidate_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    sa.UniqueConstraint('candidate_id', name=op.f('uq_erasures_candidate_id'))
    )
    op.create_table('privacy_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lsp_id', sa.Integer(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['lsp_id'], ['lsp.id'], name=op.f('fk_privacy_policies_lsp_id_lsp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_privacy_policies_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_policies')),
    sa.UniqueConstraint('lsp_id', name=op.f('uq_privacy_policies_lsp_id'))
    )
    op.create_table('consent_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('text_version', sa.Integer(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('fields_json', sa.Text(), nullable=False),
    sa.Column('form_sha256', sa.String(length=64), nullable=False),
    sa.Column('candidate_signed_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('candidate_log_index', sa.Integer(), nullable=False),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('assessor_signed_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assessor_log_index', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assessor_id'], ['users.id'], name=op.f('fk_consent_forms_assessor_id_users')),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_consent_forms_candidate_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_consent_forms_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_forms')),
    sa.UniqueConstraint('session_id', name=op.f('uq_consent_forms_session_id'))
    )
    op.create_table('consent_withdrawals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state_before', sa.String(length=16), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_consent_withdrawals_candidate_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_consent_withdrawals_session_id_assessment_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_withdrawals')),
    sa.UniqueConstraint('session_id', name=op.f('uq_consent_withdrawals_session_id'))
    )
    with op.batch_alter_table('consent_withdrawals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_withdrawals_candidate_id'), ['candidate_id'], unique=False)

    op.create_table('privacy_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('withdrawal_id', sa.Integer(), nullable=True),
    sa.Column('received_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processing_stopped_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('handled_at', remote_tuk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('handled_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_privacy_requests_candidate_id_users')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_privacy_requests_handled_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['assessment_sessions.id'], name=op.f('fk_privacy_requests_session_id_assessment_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['consent_withdrawals.id'], name=op.f('fk_privacy_requests_withdrawal_id_consent_withdrawals'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests'))
    )
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_requests_candidate_id'), ['candidate_id'], unique=False)

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.alter_column('ip',
               existing_type=sa.VARCHAR(length=64),
               type_=sa.Text(),
               existing_nullable=True)


    # ### end Alembic commands ###
    _seal_existing()


def downgrade() -> None:
    _open_existing()  # while the columns still hold them
    # ### commands auto generated by Alembic - please adjust! ###
    with _referenced_table_rebuild():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('uq_users_nik_hash'), type_='unique')
            batch_op.create_unique_constraint(batch_op.f('uq_users_nik'), ['nik'])
            batch_op.alter_column('nik',
                   existing_type=sa.Text(),
                   type_=sa.VARCHAR(length=16),
                   existing_nullable=True)
            batch_op.drop_column('nik_hash')

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.alter_column('ip',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=64),
               existing_nullable=True)

    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_requests_candidate_id'))

    op.drop_table('privacy_requests')
    with op.batch_alter_table('consent_withdrawals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_withdrawals_candidate_id'))

    op.drop_table('consent_withdrawals')
    op.drop_table('consent_forms')
    op.drop_table('privacy_policies')
    op.drop_table('erasures')
    with op.batch_alter_table('consent_text_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_text_versions_lsp_id'))

    op.drop_table('consent_text_versions')
    # ### end Alembic commands ###
