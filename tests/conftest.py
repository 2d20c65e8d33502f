"""Shared fixtures: a migrated database per test (SQLite and PostgreSQL), the app, clients signed in per role.

Each backend is migrated once per run into a template (a SQLite file, a PostgreSQL template database) together with
a fixed cast of users and schedules; every test gets its own copy, so tests never see each other's writes.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, text

from config import load_settings
from tests.components import require

PASSWORD = "Kata-Sandi-Uji-2026"
#: the evidence types a live session that went through every step (recording, chat, a KUK mark, a unit decision)
#: must have logged; the integration and the browser end-to-end tests both check them
FULL_SESSION_EVIDENCE_TYPES = frozenset({
    "recording.browser_chunk",
    "recording.browser_full",
    "assessment.kuk_mark",
    "assessment.unit_decision",
    "session.event",
    "session.chat",
})
PG_ADMIN_URL = os.environ.get("RTUK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Cast:
    """Ids of the fixed test data in every test database."""

    users: dict[str, int]
    totp: dict[str, str]
    scheme_id: int
    schedule_a: int
    schedule_b: int
    session_a: str  # asesi_a in schedule A (asesor_a, auditor_a granted)
    session_b: str  # asesi_b in schedule B (asesor_b)
    #: The seeding app's evidence keys (its keystore holds the keys that seal the cast's NIKs): copied into each
    #: test's var directory, as a database and its keystore belong together (docs/PRIVACY.md).
    keys_dir: Path | None = None


def seed_cast(url: str) -> Cast:
    from remote_tuk import create_app
    from remote_tuk.accounts.models import Role
    from remote_tuk.accounts.services import create_user
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.schemas import ScheduleIn
    from remote_tuk.demo import DEMO_SCHEME
    from remote_tuk.extensions import db
    from remote_tuk.lsp import standards
    from remote_tuk.lsp.models import Lsp, LspType

    seed_settings = load_settings(env="testing", database_url=url, var_dir=Path(f"/tmp/rtuk-seed-{uuid.uuid4().hex}"))
    app = create_app(seed_settings)
    with app.app_context():
        s = db.session
        s.add(Lsp(name="LSP Uji", licence_number="BNSP-LSP-0001", lsp_type=LspType.THIRD_PARTY))
        scheme = standards.store(s, standards.parse(DEMO_SCHEME.read_bytes(), DEMO_SCHEME.name))
        specs = {
            "admin": dict(role=Role.LSP_ADMIN),
            "asesor_a": dict(role=Role.ASSESSOR, met_number="MET.000.000001.2020"),
            "asesor_b": dict(role=Role.ASSESSOR, met_number="MET.000.000002.2020"),
            "asesi_a": dict(role=Role.CANDIDATE, nik="3201010101010001"),
            "asesi_b": dict(role=Role.CANDIDATE, nik="3201010101010002"),
            "auditor_a": dict(role=Role.AUDITOR),
            "auditor_b": dict(role=Role.AUDITOR),
        }
        users, totp = {}, {}
        for name, spec in specs.items():
            u = create_user(
                s, username=name, full_name=name.replace("_", " ").title(), password=PASSWORD, created_by=None, **spec
            )
            if spec["role"] in (Role.LSP_ADMIN, Role.ASSESSOR):
                u.totp_secret, u.totp_enabled = pyotp.random_base32(), True
                totp[name] = u.totp_secret
            s.flush()
            users[name] = u.id
        s.commit()
        admin = s.get(type(u), users["admin"])
        from remote_tuk.db import utcnow

        start = utcnow() + timedelta(days=1)
        sched = {}
        for key, assessor in (("a", "asesor_a"), ("b", "asesor_b")):
            sched[key] = assessment.create_schedule(
                s,
                ScheduleIn(
                    title=f"Jadwal {key.upper()}",
                    scheme_id=scheme.id,
                    starts_at=start,
                    ends_at=start + timedelta(hours=3),
                    assessor_id=users[assessor],
                    assignment_letter=f"00{key}/ST/2026",
                ),
                actor=admin,
            )
        sa = assessment.add_candidate(s, sched["a"], users["asesi_a"], actor=admin)
        sb = assessment.add_candidate(s, sched["b"], users["asesi_b"], actor=admin)
        assessment.grant_auditor(s, sched["a"], users["auditor_a"], actor=admin)
        cast = Cast(users, totp, scheme.id, sched["a"].id, sched["b"].id, sa.public_id, sb.public_id,
                    keys_dir=seed_settings.evidence_dir / "keys")
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()
    return cast


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


class _Backends:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.templates: dict[str, tuple[str, Cast]] = {}
        self.pg_dbs: list[str] = []
        self.counter = itertools.count()
        self.run_id = uuid.uuid4().hex[:8]

    def template(self, backend: str) -> tuple[str, Cast]:
        if backend not in self.templates:
            from remote_tuk.migrate import upgrade

            if backend == "sqlite":
                url = f"sqlite:///{self.tmp / 'template.sqlite3'}"
            else:
                name = f"rtuk_tmpl_{self.run_id}"
                self._pg_exec(f'CREATE DATABASE "{name}"')
                self.pg_dbs.append(name)
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            upgrade(url)
            self.templates[backend] = (url, seed_cast(url))
            if backend != "sqlite":
                # Analysed once here, then closed to connections: autovacuum never visits a database that allows
                # none, so nothing holds the template while every test copies it (CREATE DATABASE ... TEMPLATE
                # refuses a template "being accessed by other users").
                self._pg_exec("VACUUM ANALYZE", database=name)
                self._pg_exec(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        return self.templates[backend]

    def fresh(self, backend: str, tmp_path: Path) -> tuple[str, Cast]:
        _url, cast = self.template(backend)
        if backend == "sqlite":
            target = tmp_path / "test.sqlite3"
            shutil.copy(self.tmp / "template.sqlite3", target)
            return f"sqlite:///{target}", cast
        name = f"rtuk_t_{self.run_id}_{next(self.counter)}"
        self._pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "rtuk_tmpl_{self.run_id}"')
        self.pg_dbs.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", cast

    def _pg_exec(self, sql: str, database: str | None = None) -> None:
        url = PG_ADMIN_URL if database is None else PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.pg_dbs:
            self.pg_dbs.remove(name)

    def close(self) -> None:
        for name in list(reversed(self.pg_dbs)):
            if name.startswith("rtuk_tmpl_"):
                self._pg_exec(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
            self._pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Backends]:
    b = _Backends(tmp_path_factory.mktemp("db"))
    yield b
    b.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require(
            _pg_available(), "PostgreSQL", f"start PostgreSQL reachable at {PG_ADMIN_URL} (or set RTUK_TEST_PG_URL)"
        )
    return request.param


@pytest.fixture
def database(backends: _Backends, backend: str, tmp_path: Path) -> Iterator[tuple[str, Cast]]:
    url, cast = backends.fresh(backend, tmp_path)
    yield url, cast
    if backend == "postgresql":
        backends.drop(url)


@pytest.fixture
def settings(database: tuple[str, Cast], tmp_path: Path):
    settings = load_settings(env="testing", database_url=database[0], var_dir=tmp_path / "var")
    copy_seed_keys(database[1], settings.evidence_dir)
    return settings


def copy_seed_keys(cast: Cast, evidence_dir: Path) -> None:
    """Give a copy of the seeded database the keystore it was seeded with (the keys sealing the cast's NIKs)."""
    if cast.keys_dir is not None and cast.keys_dir.exists() and not (evidence_dir / "keys").exists():
        shutil.copytree(cast.keys_dir, evidence_dir / "keys")


@pytest.fixture
def cast(database: tuple[str, Cast]) -> Cast:
    return database[1]


@pytest.fixture
def app(settings):
    from remote_tuk import create_app
    from remote_tuk.extensions import limiter

    app = create_app(settings)
    limiter.reset()
    yield app
    # the media hub is one per process: a test that started its engine must not leave it (and the sessions its
    # analysis opened) to the next test's app
    media = app.extensions.get("rtuk_media")
    if media is not None and media.running:
        media.stop()
    app.extensions["rtuk_db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/masuk") -> str:
    page = client.get(path)
    match = _CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def totp_codes(secret: str):
    """The current code and the next one (a used code cannot be replayed, so a second login takes the next)."""

    t = pyotp.TOTP(secret)
    now = time.time()
    return [t.at(now), t.at(now + t.interval)]


def login(client, cast: Cast, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    resp = client.post("/masuk", data={"username": username, "password": password, "csrf_token": token})
    if username in cast.totp and resp.status_code == 302 and resp.headers["Location"].endswith("/masuk/totp"):
        token = csrf_token(client, "/masuk/totp")
        for code in totp_codes(cast.totp[username]):
            resp = client.post("/masuk/totp", data={"code": code, "csrf_token": token})
            if resp.status_code == 302:
                break
    assert resp.status_code == 302, f"login of {username} failed: {resp.status_code}"
    return resp


@pytest.fixture
def login_as(app, cast):
    """Factory: a test client signed in as one of the cast (or anonymous with None)."""

    def _make(username: str | None):
        c = app.test_client()
        if username is not None:
            login(c, cast, username)
        return c

    return _make


def satisfy_gate(url: str, public_id: str, *, consent: bool = True) -> None:
    """Record what the pre-session gate asks for (consent, a passed TUK check, ID and room confirmed), as the check
    page and the assessor would, for tests about what happens after the gate. The gate itself is tested in
    tests/integration/test_tuk_check.py. ``consent=False``: the test gave consent through the API itself."""
    from datetime import timedelta

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.consent import texts
    from remote_tuk.consent.models import ConsentForm
    from remote_tuk.db import utcnow
    from remote_tuk.tuk.models import Consent, IdentityCheck, TukCheck

    engine = create_engine(url)
    with Session(engine) as s:
        sess = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
        now = utcnow()
        if consent:
            for t in texts.DEFAULTS.values():
                s.add(Consent(session_id=sess.id, candidate_id=sess.candidate_id, kind=t.kind, version=t.version,
                              text_sha256=t.sha256, accepted=True))
            # FR.AK.01 signed by both (its fields left empty: this engine has no sealing keys)
            fr_ak_01 = texts.DEFAULTS[texts.FR_AK_01]
            s.add(ConsentForm(session_id=sess.id, candidate_id=sess.candidate_id, text_version=fr_ak_01.version,
                              text_sha256=fr_ak_01.sha256, fields_json="", form_sha256="0" * 64, candidate_log_index=0,
                              assessor_id=sess.schedule.assessor_id, assessor_signed_at=now, assessor_log_index=0))
        s.add(TukCheck(session_id=sess.id, user_id=sess.candidate_id, role="candidate", profile={}, measurements={},
                       results=[], passed=True, finished_at=now, valid_until=now + timedelta(hours=2)))
        s.add(IdentityCheck(session_id=sess.id, ktp_object="x", room_object="y", id_confirmed_at=now,
                            room_confirmed_at=now, id_confirmed_by=sess.schedule.assessor_id,
                            room_confirmed_by=sess.schedule.assessor_id))
        s.commit()
    engine.dispose()
