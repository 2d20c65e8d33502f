"""Issue 12 #8: one TOTP code posted by several browsers at the same moment is accepted once (SQLite and PostgreSQL)."""

from __future__ import annotations

import pyotp

from tests.conftest import PASSWORD, csrf_token
from tests.functional.together import run_together


def test_concurrent_totp_replay_is_accepted_once(app, cast):
    clients = [app.test_client() for _ in range(4)]
    tokens = []
    for i, client in enumerate(clients):
        client.environ_base["REMOTE_ADDR"] = f"10.8.0.{i + 1}"  # four browsers (the sign-in rate limit is per address)
        form = {"username": "asesor_a", "password": PASSWORD, "csrf_token": csrf_token(client)}
        resp = client.post("/masuk", data=form)
        assert resp.headers["Location"].endswith("/masuk/totp")
        tokens.append(csrf_token(client, "/masuk/totp"))
    code = pyotp.TOTP(cast.totp["asesor_a"]).now()
    responses = run_together(
        [
            lambda c=c, t=t: c.post("/masuk/totp", data={"code": code, "csrf_token": t})
            for c, t in zip(clients, tokens, strict=True)
        ]
    )
    codes = [r.status_code for r in responses]
    assert sorted(codes) == [302, 422, 422, 422]
    assert sum(c.get("/asesor/").status_code == 200 for c in clients) == 1


def test_concurrent_verification_in_the_service_accepts_once(app, cast):
    """The same race below HTTP: four database sessions that all loaded the user (no step used yet) verify one code."""
    from remote_tuk.accounts.models import User
    from remote_tuk.accounts.totp import verify
    from remote_tuk.errors import ValidationFailed
    from remote_tuk.extensions import db

    sessions = [db.factory() for _ in range(4)]
    users = [s.get(User, cast.users["asesor_b"]) for s in sessions]
    assert all(u.totp_last_step is None for u in users)
    code = pyotp.TOTP(cast.totp["asesor_b"]).now()

    def attempt(s, user) -> str:
        try:
            verify(s, user, code, ip=None)
            return "accepted"
        except ValidationFailed:
            return "refused"
        finally:
            s.close()

    outcomes = run_together([lambda s=s, u=u: attempt(s, u) for s, u in zip(sessions, users, strict=True)])
    assert sorted(outcomes) == ["accepted", "refused", "refused", "refused"]
