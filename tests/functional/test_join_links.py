"""Issue 12 #6: a one-time join link is used only by a deliberate POST from its page, and only once, even when many
requests race for it (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import csrf_token
from tests.functional.test_auth import _issue, redeem
from tests.functional.together import run_together


def _audit_kinds(app) -> list[tuple[str, dict]]:
    from remote_tuk.audit.models import AuditEvent
    from remote_tuk.extensions import db

    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.kind, AuditEvent.detail)
            .where(AuditEvent.kind.like("join_link_%"))
            .order_by(AuditEvent.id)
        ).all()
        return [(k, d) for k, d in rows]


def test_head_and_get_do_not_use_the_link(app, cast):
    token = _issue(app, cast)
    path = f"/gabung/{token}"
    scanner = app.test_client()
    assert scanner.head(path).status_code == 200  # a mail scanner or a chat app's link preview
    assert scanner.get(path).status_code == 200
    page = app.test_client().get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "data-join-redeem" in body and "Asesi A" in body  # the page says whose link it is and offers the button
    assert not any(kind == "join_link_used" for kind, _ in _audit_kinds(app))
    assert app.test_client().get("/asesi/").status_code == 302  # nobody got signed in by looking
    candidate = app.test_client()
    assert redeem(candidate, path).status_code == 302  # the candidate's real click still works
    assert candidate.get("/asesi/").status_code == 200


def test_redeeming_needs_the_pages_csrf_token(app, cast):
    token = _issue(app, cast)
    client = app.test_client()
    assert client.post(f"/gabung/{token}").status_code == 400
    assert redeem(client, f"/gabung/{token}").status_code == 302  # a refused forgery did not use the link up


def test_parallel_redemptions_succeed_exactly_once(app, cast):
    token = _issue(app, cast)
    path = f"/gabung/{token}"
    clients = [app.test_client() for _ in range(8)]
    tokens = [csrf_token(c, path) for c in clients]
    responses = run_together(
        [lambda c=c, t=t: c.post(path, data={"csrf_token": t}) for c, t in zip(clients, tokens, strict=True)]
    )
    codes = [r.status_code for r in responses]
    assert sorted(codes) == [302] + [410] * 7
    kinds = _audit_kinds(app)
    assert [k for k, _ in kinds].count("join_link_used") == 1
    refused = [d for k, d in kinds if k == "join_link_refused"]
    assert len(refused) == 7 and {d["reason"] for d in refused} == {"reused"}
    signed_in = [c for c in clients if c.get("/asesi/").status_code == 200]
    assert len(signed_in) == 1


def test_concurrent_redeems_in_the_service_succeed_exactly_once(app, cast):
    """The same race below HTTP: eight database sessions that have all read the link as unused redeem it together."""
    from remote_tuk.accounts.join_links import InvalidJoinLink, _link_of
    from remote_tuk.accounts.join_links import redeem as redeem_link
    from remote_tuk.extensions import db

    token = _issue(app, cast)
    secret = app.config["SECRET_KEY"]
    sessions = [db.factory() for _ in range(8)]
    for s in sessions:
        assert _link_of(s, secret, token).used_at is None  # every one has seen it unused

    def attempt(s) -> str:
        try:
            redeem_link(s, secret, token, ip=None)
            return "used"
        except InvalidJoinLink:
            return "refused"
        finally:
            s.close()

    outcomes = run_together([lambda s=s: attempt(s) for s in sessions])
    assert sorted(outcomes) == ["refused"] * 7 + ["used"]
