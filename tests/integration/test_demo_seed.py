"""`make run`'s data steps: migrate and seed twice on an empty database create everything once."""

from __future__ import annotations

import json
import os
import stat

from sqlalchemy import func, select

from config import load_settings
from remote_tuk import create_app
from remote_tuk.migrate import upgrade


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_seed_is_idempotent_and_keeps_passwords_private(tmp_path):
    from remote_tuk.accounts.models import Role, User
    from remote_tuk.assessment.models import AssessmentSession, Schedule
    from remote_tuk.demo import seed
    from remote_tuk.extensions import db
    from remote_tuk.lsp.models import Kuk, Lsp, Scheme

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    upgrade(url)
    upgrade(url)  # a second migrate is a no-op
    app = create_app(load_settings(env="development", database_url=url, var_dir=tmp_path))
    creds_path = tmp_path / "demo-credentials.json"
    with app.app_context():
        first = seed(db.session, creds_path)
        counts = [_count(db.session, m) for m in (Lsp, Scheme, Kuk, User, Schedule, AssessmentSession)]
        second = seed(db.session, creds_path)
        assert [_count(db.session, m) for m in (Lsp, Scheme, Kuk, User, Schedule, AssessmentSession)] == counts
        roles = {u.role for u in db.session.scalars(select(User))}
    assert counts[:3] == [1, 1, 20]
    assert roles == set(Role)
    assert first == second  # the same credentials are printed every time
    assert stat.S_IMODE(os.stat(creds_path).st_mode) == 0o600
    stored = {c["username"]: c["password"] for c in json.loads(creds_path.read_text())}
    assert stored == {c["username"]: c["password"] for c in first}
    app.extensions["rtuk_db"].dispose()


def test_seed_refused_in_production(tmp_path):
    s = load_settings(env="development", database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}", var_dir=tmp_path)
    app = create_app(s)
    s.env = "production"  # after start-up checks: the command itself must refuse
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "produksi" in result.output
    app.extensions["rtuk_db"].dispose()


def test_seed_includes_the_demo_question_bank_once(tmp_path):
    from remote_tuk.demo import DEMO_BANK, seed
    from remote_tuk.extensions import db
    from remote_tuk.instruments.models import BankVersion, QuestionRevision
    from remote_tuk.instruments.services import export, scheme_by_code

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    upgrade(url)
    app = create_app(load_settings(env="development", database_url=url, var_dir=tmp_path))
    with app.app_context():
        seed(db.session, tmp_path / "creds.json")
        seed(db.session, tmp_path / "creds.json")
        assert [_count(db.session, m) for m in (BankVersion, QuestionRevision)] == [1, 24]
        exported = json.loads(export(db.session, scheme_by_code(db.session, "SKM-JWD-2026"), "json"))
    assert exported == {**json.loads(DEMO_BANK.read_text()), "version": 1}
    app.extensions["rtuk_db"].dispose()
