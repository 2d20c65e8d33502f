"""The migration that seals personal data columns: rows written in clear before it (NIK, consent IP, chat) are sealed
with their candidate's key and read back as before through the app; NIK lookups work; the downgrade opens them."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from config import load_settings
from remote_tuk.migrate import alembic_config
from tests.integration.test_database import empty_url  # noqa: F401 - the fixture

BEFORE = "0004"
NIK = "3201010101010042"
CHAT = "Apakah suara saya terdengar?"
NOW = "2026-12-01 08:00:00+00:00"


def _plain_rows(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for sql in (
            "INSERT INTO users (id, username, full_name, role, active, auth_version, totp_enabled, nik, created_at) "
            f"VALUES (1, 'admin', 'Admin', 'lsp_admin', true, 1, false, NULL, '{NOW}')",
            "INSERT INTO users (id, username, full_name, role, active, auth_version, totp_enabled, nik, created_at) "
            f"VALUES (2, 'budi', 'Budi', 'asesi', true, 1, false, '{NIK}', '{NOW}')",
            f"INSERT INTO schemes (id, code, title, description, created_at) VALUES (1, 'S', 'Skema', '', '{NOW}')",
            "INSERT INTO schedules (id, title, scheme_id, starts_at, ends_at, created_by_id, created_at) "
            f"VALUES (1, 'Jadwal', 1, '{NOW}', '{NOW}', 1, '{NOW}')",
            "INSERT INTO assessment_sessions (id, public_id, schedule_id, candidate_id, state, state_changed_at, "
            f"created_at) VALUES (1, 'SES1', 1, 2, 'checking', '{NOW}', '{NOW}')",
            f"INSERT INTO chat_messages (session_id, sender_id, role, text, at) VALUES (1, 2, 'candidate', '{CHAT}', "
            f"'{NOW}')",
            "INSERT INTO consents (session_id, candidate_id, kind, version, text_sha256, accepted, at, ip) "
            f"VALUES (1, 2, 'pdp', 1, '{'0' * 64}', true, '{NOW}', '10.1.2.3')",
        ):
            conn.execute(text(sql))
    engine.dispose()


def _raw(url: str, sql: str):
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar()
    engine.dispose()
    return value


def test_existing_rows_are_sealed_then_opened_again_by_the_downgrade(empty_url, tmp_path):  # noqa: F811
    settings = load_settings(env="testing", database_url=empty_url, var_dir=tmp_path / "var")
    cfg = alembic_config(empty_url)
    cfg.attributes["settings"] = settings
    command.upgrade(cfg, BEFORE)
    _plain_rows(empty_url)

    command.upgrade(cfg, "head")
    for sql, plain in (
        ("select nik from users where id = 2", NIK),
        ("select text from chat_messages", CHAT),
        ("select ip from consents", "10.1.2.3"),
    ):
        sealed = _raw(empty_url, sql)
        assert sealed.startswith("rtuk-seal:1:db-2-") and plain not in sealed, sql
    assert _raw(empty_url, "select nik from users where id = 1") is None
    assert len(_raw(empty_url, "select nik_hash from users where id = 2")) == 64

    from remote_tuk import create_app
    from remote_tuk.accounts.models import Role, User
    from remote_tuk.accounts.services import create_user
    from remote_tuk.errors import Conflict
    from remote_tuk.extensions import db
    from remote_tuk.live.models import ChatMessage
    from remote_tuk.tuk.models import Consent

    app = create_app(settings)
    try:
        with app.app_context():
            assert db.session.get(User, 2).nik == NIK
            assert db.session.query(ChatMessage).one().text == CHAT
            assert db.session.query(Consent).one().ip == "10.1.2.3"
            try:
                create_user(db.session, username="budi2", full_name="B", role=Role.CANDIDATE,
                            password=None, created_by=None, nik=NIK)
            except Conflict:
                pass
            else:
                raise AssertionError("a NIK sealed by the migration must still be found")
            db.session.rollback()
    finally:
        app.extensions["rtuk_evidence"].close()
        app.extensions["rtuk_db"].dispose()

    command.downgrade(cfg, BEFORE)
    assert _raw(empty_url, "select nik from users where id = 2") == NIK
    assert _raw(empty_url, "select text from chat_messages") == CHAT
    assert _raw(empty_url, "select ip from consents") == "10.1.2.3"
