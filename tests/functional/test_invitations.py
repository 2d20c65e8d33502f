"""Issue 19 #4: invitations, schedule changes and reminders by e-mail, through a real SMTP server on a socket.

The mail arrives and decodes (Indonesian first, English second), its join link works once, its .ics parses with the
LSP's time zone, a re-sent invitation revokes the old link, reminders go out once, an SMTP server that is down leaves
the mail failed with its error and it is sent on a later pass, and no link is stored or logged.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from config import MailSettings
from tests.conftest import csrf_token
from tests.functional.smtp_server import SmtpServer

FROM = "tuk@lsp-uji.example"
CANDIDATE_MAIL = "asesi.a@contoh.example"
LINK_RE = re.compile(r"https?://[^\s]+/gabung/[A-Za-z0-9_.\-]+")


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, smtp):
    settings.mail = MailSettings(host="127.0.0.1", port=smtp.port, security="none", from_address=FROM,
                                 timeout_s=5, retry_base_s=60, retry_max_s=3600, max_attempts=3)
    return settings


@pytest.fixture(autouse=True)
def _starts_in_three_days(app):
    """The cast's schedules start a day after the run's seeding, i.e. inside the 24-hour reminder window by now:
    move them out of it, so that a send-mail pass queues a reminder only where a test asks for one."""
    from remote_tuk.assessment.models import Schedule

    with app.app_context():
        s = _db(app).session
        start = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
        for schedule in s.scalars(select(Schedule)):
            schedule.starts_at, schedule.ends_at = start, start + timedelta(hours=3)
        s.commit()


def _db(app):
    from remote_tuk.extensions import db

    return db


def _set_email(app, cast, username: str, address: str | None) -> None:
    from remote_tuk.accounts.models import User

    with app.app_context():
        s = _db(app).session
        s.get(User, cast.users[username]).email = address
        s.commit()


def _set_zone(app, zone: str) -> None:
    from remote_tuk.lsp.services import get_lsp

    with app.app_context():
        s = _db(app).session
        lsp = get_lsp(s)
        lsp.time_zone, lsp.domain, lsp.email = zone, "lsp-uji.example", "admin@lsp-uji.example"
        s.commit()


def _session(app, public_id: str):
    from remote_tuk.assessment.models import AssessmentSession

    return _db(app).session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))


def _invite(client, cast, public_id: str | None = None):
    page = f"/admin/jadwal/{cast.schedule_a}/surel"
    return client.post(f"/admin/sesi/{public_id or cast.session_a}/undangan",
                       data={"csrf_token": csrf_token(client, page)})


def _send(app) -> str:
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    return result.output


def _outbox(app) -> list:
    from remote_tuk.invitations.models import OutboxMail

    with app.app_context():
        return list(_db(app).session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _ics(message) -> str:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_filename() == "asesmen.ics" and parts[0].get_param("method") == "PUBLISH"
    return parts[0].get_payload(decode=True).decode("utf-8")


def parse_ics(raw: str) -> list[dict]:
    """RFC 5545 just enough to check ours: CRLF lines of at most 75 octets, unfolded, nested BEGIN/END, and each
    component's properties as {name: (params, value)}."""
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "")
    physical = raw[:-2].split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in physical), "a line longer than 75 octets"
    lines: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    stack: list[dict] = []
    done: list[dict] = []
    for line in lines:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        if name == "BEGIN":
            stack.append({"_type": value})
        elif name == "END":
            comp = stack.pop()
            assert comp["_type"] == value, f"END:{value} closes {comp['_type']}"
            done.append(comp)
        else:
            stack[-1][name] = (dict(p.split("=", 1) for p in params), value)
    assert not stack
    return done


def _component(ics: str, kind: str) -> dict:
    (comp,) = [c for c in parse_ics(ics) if c["_type"] == kind]
    return comp


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")


# --- the invitation -----------------------------------------------------------------------------------------------


def test_invitation_arrives_decodes_and_its_link_works_once(app, cast, login_as, smtp, caplog):
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    _set_zone(app, "Asia/Makassar")
    admin = login_as("admin")
    resp = _invite(admin, cast)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    shown = re.search(r"<code class=\"secret\" data-join-link>([^<]+)</code>", page).group(1)
    assert "/gabung/" in shown and CANDIDATE_MAIL in page  # the admin can copy it (WhatsApp) as well
    (queued,) = _outbox(app)
    assert queued.status.value == "queued" and queued.to_address == CANDIDATE_MAIL
    assert smtp.received == []  # queued, not sent from the request

    with caplog.at_level(logging.DEBUG):
        out = _send(app)
    assert "terkirim 1" in out
    (got,) = smtp.received
    assert got.mail_from == FROM and got.rcpt_to == [CANDIDATE_MAIL]
    message = got.message
    assert "Undangan uji kompetensi" in message["Subject"] and "Remote assessment invitation" in message["Subject"]
    body = _body(message)
    assert body.index("Yth. Asesi A") < body.index("English") < body.index("Dear Asesi A")
    assert "WITA" in body  # times in the LSP's zone
    assert body.count(f"/sesi/{cast.session_a}/uji-coba") == 2  # the trial before the day, in both languages
    links = LINK_RE.findall(body)
    assert len(set(links)) == 1
    token = links[0].rsplit("/", 1)[1]

    # no link text anywhere but in the mail: not in the outbox, the audit log, the log records or the CLI's output
    with app.app_context():
        dump = " ".join(str(r) for table in ("mail_outbox", "audit_events", "join_links")
                        for r in _db(app).session.execute(text(f"select * from {table}")).all())
    for secret in {token, shown.rsplit("/", 1)[1]}:
        assert secret not in dump
        assert secret not in caplog.text and secret not in out

    sent = _outbox(app)[0]
    assert sent.status.value == "sent" and sent.attempts == 1 and sent.sent_at is not None
    assert sent.message_id == message["Message-ID"]

    # the link works once
    from tests.functional.test_auth import redeem

    candidate = app.test_client()
    first = redeem(candidate, f"/gabung/{token}")
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/sesi/{cast.session_a}")
    assert candidate.get(f"/sesi/{cast.session_a}").status_code == 200
    again = redeem(app.test_client(), f"/gabung/{token}")
    assert again.status_code == 410

    # the calendar file, in the LSP's zone (WITA, UTC+8)
    ics = _ics(message)
    tz = _component(ics, "VTIMEZONE")
    assert tz["TZID"][1] == "Asia/Makassar"
    std = _component(ics, "STANDARD")
    assert std["TZOFFSETTO"][1] == "+0800" and std["TZNAME"][1] == "WITA"
    event = _component(ics, "VEVENT")
    with app.app_context():
        sess = _session(app, cast.session_a)
        start, end = sess.schedule.starts_at, sess.schedule.ends_at
    assert event["DTSTART"] == ({"TZID": "Asia/Makassar"}, (start + timedelta(hours=8)).strftime("%Y%m%dT%H%M%S"))
    assert event["DTEND"][1] == (end + timedelta(hours=8)).strftime("%Y%m%dT%H%M%S")
    assert event["UID"][1] == f"rtuk-{cast.session_a}@lsp-uji.example" and event["SEQUENCE"][1] == "0"
    assert event["URL"][1].endswith(f"/sesi/{cast.session_a}")
    assert "/gabung/" not in ics  # a calendar is synced elsewhere: no join link in it
    assert "Jadwal A" in _unescape(event["SUMMARY"][1])


def test_resending_issues_a_fresh_link_and_revokes_the_old(app, cast, login_as, smtp):
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    assert _invite(admin, cast).status_code == 200
    _send(app)
    old = LINK_RE.findall(_body(smtp.received[0].message))[0]
    page = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert "Kirim ulang undangan" in page and 'data-mail-status="sent"' in page

    # a resend while a first one is still queued: the queued one is cancelled, only the newest goes out
    assert _invite(admin, cast).status_code == 200
    resp = _invite(admin, cast)
    assert "tautan lama dicabut" in resp.get_data(as_text=True)
    _send(app)
    statuses = [m.status.value for m in _outbox(app)]
    assert statuses == ["sent", "cancelled", "sent"]
    assert len(smtp.received) == 2
    new = LINK_RE.findall(_body(smtp.received[1].message))[0]
    assert new != old

    from tests.functional.test_auth import redeem

    refused = redeem(app.test_client(), "/gabung/" + old.rsplit("/", 1)[1])
    assert refused.status_code == 410 and "kedaluwarsa" in refused.get_data(as_text=True)
    assert redeem(app.test_client(), "/gabung/" + new.rsplit("/", 1)[1]).status_code == 302
    with app.app_context():
        kinds = [k for (k,) in _db(app).session.execute(text("select kind from audit_events order by id"))]
    assert kinds.count("join_link_revoked") == 2 and kinds.count("mail_queued") == 3

    # the per-candidate view lists that candidate's mails only
    only_a = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel?asesi={cast.users['asesi_a']}")
    assert only_a.status_code == 200 and only_a.get_data(as_text=True).count("data-mail=") == 3


def test_a_used_link_is_not_mailed(app, cast, login_as, smtp):
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    page = _invite(admin, cast).get_data(as_text=True)
    shown = re.search(r"data-join-link>([^<]+)<", page).group(1)
    from tests.functional.test_auth import redeem

    assert redeem(app.test_client(), "/gabung/" + shown.rsplit("/", 1)[1]).status_code == 302  # copied to WhatsApp
    _send(app)
    assert smtp.received == []
    (mail,) = _outbox(app)
    assert mail.status.value == "cancelled" and "dipakai" in mail.last_error


# --- schedule change and reminders ------------------------------------------------------------------------------


def test_reschedule_mails_the_change_with_an_updated_calendar_entry(app, cast, login_as, smtp):
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    _invite(admin, cast)
    _send(app)
    first = _component(_ics(smtp.received[0].message), "VEVENT")
    new_start = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    wib = timedelta(hours=7)
    form = {"starts_at": (new_start + wib).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (new_start + wib + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    page = f"/admin/jadwal/{cast.schedule_a}/surel"
    resp = admin.post(f"/admin/jadwal/{cast.schedule_a}/waktu", data={**form, "csrf_token": csrf_token(admin, page)})
    assert resp.status_code == 302
    _send(app)
    assert len(smtp.received) == 2
    message = smtp.received[1].message
    assert "Perubahan jadwal" in message["Subject"]
    body = _body(message)
    assert "Waktu lama" in body and "Waktu baru" in body and "Old time" in body
    assert not LINK_RE.search(body)
    event = _component(_ics(message), "VEVENT")
    assert event["UID"] == first["UID"] and event["SEQUENCE"][1] == "1"  # the same entry, updated
    assert event["DTSTART"][1] == (new_start + wib).strftime("%Y%m%dT%H%M%S")
    with app.app_context():
        assert _session(app, cast.session_a).schedule.starts_at == new_start


def test_reminders_go_out_once_per_window(app, cast, smtp):
    from remote_tuk.invitations.services import queue_due_reminders, send_due
    from remote_tuk.invitations.smtp import SmtpTransport

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    settings = app.config["RTUK"]
    with app.app_context():
        s = _db(app).session
        start = _session(app, cast.session_a).schedule.starts_at
        transport = SmtpTransport(settings.mail)
        too_early = start - timedelta(hours=30)
        assert queue_due_reminders(s, settings, now=too_early) == 0
        day_before = start - timedelta(hours=20)
        assert queue_due_reminders(s, settings, now=day_before) == 1
        assert queue_due_reminders(s, settings, now=day_before + timedelta(minutes=5)) == 0
        assert send_due(s, settings, transport, now=day_before).sent == 1
        assert queue_due_reminders(s, settings, now=day_before + timedelta(hours=1)) == 0
        assert send_due(s, settings, transport, now=day_before + timedelta(hours=1)).sent == 0
        hour_before = start - timedelta(minutes=40)
        assert queue_due_reminders(s, settings, now=hour_before) == 1
        assert queue_due_reminders(s, settings, now=hour_before) == 0
        assert send_due(s, settings, transport, now=hour_before).sent == 1
        assert queue_due_reminders(s, settings, now=start + timedelta(minutes=1)) == 0  # started: nothing more
    assert len(smtp.received) == 2
    bodies = [_body(r.message) for r in smtp.received]
    assert "dalam 24 jam" in bodies[0] and "dalam 1 jam" in bodies[1] and "starts in 1 hour." in bodies[1]
    assert all("Pengingat" in r.message["Subject"] for r in smtp.received)
    assert all(_component(_ics(r.message), "VEVENT") for r in smtp.received)
    # and the CLI pass at the real time queues nothing new (the start is a day away, already reminded for that)
    _send(app)
    assert len(smtp.received) == 2


def test_a_late_schedule_gets_the_short_reminder_only(app, cast, smtp):
    from remote_tuk.invitations.services import queue_due_reminders

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    with app.app_context():
        s = _db(app).session
        start = _session(app, cast.session_a).schedule.starts_at
        assert queue_due_reminders(s, app.config["RTUK"], now=start - timedelta(minutes=30)) == 1
        assert queue_due_reminders(s, app.config["RTUK"], now=start - timedelta(minutes=29)) == 0
    (mail,) = _outbox(app)
    assert mail.params["hours"] == 1


def test_reminder_for_an_old_start_is_cancelled_after_a_reschedule(app, cast, login_as, smtp):
    from remote_tuk.invitations.services import queue_due_reminders

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    with app.app_context():
        s = _db(app).session
        start = _session(app, cast.session_a).schedule.starts_at
        assert queue_due_reminders(s, app.config["RTUK"], now=start - timedelta(hours=23, minutes=59)) == 1
    admin = login_as("admin")
    later = start + timedelta(days=2) + timedelta(hours=7)
    form = {"starts_at": later.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    page = f"/admin/jadwal/{cast.schedule_a}/surel"
    assert admin.post(f"/admin/jadwal/{cast.schedule_a}/waktu",
                      data={**form, "csrf_token": csrf_token(admin, page)}).status_code == 302
    _send(app)
    assert [m.status.value for m in _outbox(app)] == ["cancelled", "sent"]
    assert "Perubahan jadwal" in smtp.received[0].message["Subject"] and len(smtp.received) == 1


# --- failures and retries -----------------------------------------------------------------------------------------


def test_smtp_down_leaves_the_mail_failed_and_a_later_pass_sends_it(app, cast, login_as, smtp):
    from remote_tuk.invitations.services import send_due
    from remote_tuk.invitations.smtp import SmtpTransport

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    _invite(login_as("admin"), cast)
    smtp.stop()
    settings = app.config["RTUK"]
    transport = SmtpTransport(settings.mail)
    t0 = datetime.now(UTC)
    with app.app_context():
        s = _db(app).session
        report = send_due(s, settings, transport, now=t0)
    assert (report.sent, report.failed) == (0, 1)
    (mail,) = _outbox(app)
    assert mail.status.value == "failed" and mail.attempts == 1
    assert "ConnectionRefusedError" in mail.last_error
    assert mail.next_attempt_at == t0 + timedelta(seconds=60)  # the first wait of the backoff
    page = login_as("admin").get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert "ConnectionRefusedError" in page and "dicoba lagi" in page

    with app.app_context():
        s = _db(app).session
        assert send_due(s, settings, transport, now=t0 + timedelta(seconds=30)).failed == 0  # not yet due
        report = send_due(s, settings, transport, now=t0 + timedelta(seconds=61))
        assert report.failed == 1
    (mail,) = _outbox(app)
    assert mail.attempts == 2 and mail.next_attempt_at == t0 + timedelta(seconds=61 + 120)  # doubled

    smtp.start()
    with app.app_context():
        assert send_due(_db(app).session, settings, transport, now=t0 + timedelta(seconds=200)).sent == 1
    (mail,) = _outbox(app)
    assert mail.status.value == "sent" and mail.attempts == 3 and len(smtp.received) == 1
    assert LINK_RE.search(_body(smtp.received[0].message))


def test_retries_stop_at_the_limit_and_a_refused_recipient_is_not_retried(app, cast, login_as, smtp):
    from remote_tuk.invitations.services import send_due
    from remote_tuk.invitations.smtp import SmtpTransport

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    _invite(admin, cast)
    smtp.reject_rcpt = True
    settings = app.config["RTUK"]
    with app.app_context():
        assert send_due(_db(app).session, settings, SmtpTransport(settings.mail)).failed == 1
    (mail,) = _outbox(app)
    assert mail.status.value == "failed" and mail.next_attempt_at is None and "550" in mail.last_error
    page = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert "berhenti mencoba" in page

    # the admin fixes the cause and asks for one more attempt
    smtp.reject_rcpt = False
    resp = admin.post(f"/admin/surel/{mail.id}/coba-lagi",
                      data={"csrf_token": csrf_token(admin, f"/admin/jadwal/{cast.schedule_a}/surel")})
    assert resp.status_code == 302
    _send(app)
    assert _outbox(app)[0].status.value == "sent" and len(smtp.received) == 1

    # a server that stays down: max_attempts (3) tries, then no more
    _invite(admin, cast)
    smtp.stop()
    t = datetime.now(UTC)
    with app.app_context():
        s = _db(app).session
        for _ in range(5):
            t += timedelta(hours=2)
            send_due(s, settings, SmtpTransport(settings.mail), now=t)
    last = _outbox(app)[-1]
    assert last.status.value == "failed" and last.attempts == 3 and last.next_attempt_at is None


# --- refusals -----------------------------------------------------------------------------------------------------


def test_bad_inputs_are_refused(app, cast, login_as, smtp):
    admin = login_as("admin")
    page = f"/admin/jadwal/{cast.schedule_a}/surel"
    # no address
    resp = _invite(admin, cast)
    assert resp.status_code == 422 and "belum punya alamat surel" in resp.get_data(as_text=True)
    # an address the mail system would not take
    _set_email(app, cast, "asesi_a", "bukan alamat@@contoh")
    assert _invite(admin, cast).status_code == 422
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    # unknown session, another role, no CSRF token
    assert _invite(admin, cast, "tidak-ada-sesi-ini").status_code == 404
    assert _invite(login_as("asesor_a"), cast).status_code in (302, 403, 404)
    assert admin.post(f"/admin/sesi/{cast.session_a}/undangan").status_code == 400
    assert admin.get(f"/admin/jadwal/{cast.schedule_a}/surel?asesi=abc").status_code == 422
    # rescheduling: end before start, not a date, in the past, unchanged
    token = csrf_token(admin, page)
    start = datetime.now(UTC) + timedelta(days=5)
    fmt = "%Y-%m-%dT%H:%M"

    def move(a, b):
        return admin.post(f"/admin/jadwal/{cast.schedule_a}/waktu", data={"starts_at": a, "ends_at": b,
                                                                          "csrf_token": token})

    assert move(start.strftime(fmt), (start - timedelta(hours=1)).strftime(fmt)).status_code == 422
    assert move("besok pagi", start.strftime(fmt)).status_code == 422
    past = datetime.now(UTC) - timedelta(days=1)
    assert move(past.strftime(fmt), (past + timedelta(hours=1)).strftime(fmt)).status_code == 422
    # retry of a mail that did not fail, of one that does not exist
    assert _invite(admin, cast).status_code == 200
    (mail,) = _outbox(app)
    assert admin.post(f"/admin/surel/{mail.id}/coba-lagi", data={"csrf_token": token}).status_code == 409
    assert admin.post("/admin/surel/999999/coba-lagi", data={"csrf_token": token}).status_code == 404
    # a closed session is not invited
    with app.app_context():
        from remote_tuk.assessment.models import SessionState

        s = _db(app).session
        _session(app, cast.session_a).state = SessionState.CANCELLED
        s.commit()
    assert _invite(admin, cast).status_code == 409
    assert smtp.received == []


def test_mail_off_is_said_and_refused(app, cast, login_as, smtp):
    app.config["RTUK"].mail = MailSettings()
    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    page = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert "data-mail-off" in page and "Kotak keluar" in page
    admin.set_cookie("lang", "en")
    page = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert "Outbox" in page and "E-mail is not configured" in page and "Kotak keluar" not in page
    admin.set_cookie("lang", "id")
    assert _invite(admin, cast).status_code == 409
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code != 0 and "RTUK_MAIL_HOST" in result.output


def test_erasing_the_candidate_clears_the_outbox(app, cast, login_as, smtp):
    from tests.functional.test_consent import api
    from tests.functional.test_privacy import _erase

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    admin = login_as("admin")
    _invite(admin, cast)
    _send(app)
    assert _invite(admin, cast).status_code == 200  # a second one still queued
    assert api(admin, "POST", f"/api/v1/sessions/{cast.session_a}/transition",
               {"to": "cancelled", "reason": "Asesi mengundurkan diri"}).status_code == 200
    legal = "Permintaan penghapusan asesi (surat 13/LSP/XII/2026), dasar UU PDP Pasal 43."
    assert _erase(admin, cast.users["asesi_a"], confirm="asesi_a", legal_reason=legal).status_code == 303
    mails = _outbox(app)
    assert {m.to_address for m in mails} == {"[dihapus]"}
    assert [m.status.value for m in mails] == ["sent", "cancelled"]
    page = admin.get(f"/admin/jadwal/{cast.schedule_a}/surel").get_data(as_text=True)
    assert CANDIDATE_MAIL not in page
    _send(app)
    assert len(smtp.received) == 1


def test_a_mail_that_cannot_be_built_fails_alone_and_the_pass_goes_on(app, cast, login_as, smtp):
    from remote_tuk.accounts.models import User

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    _set_email(app, cast, "asesi_b", "asesi.b@contoh.example")
    admin = login_as("admin")
    assert _invite(admin, cast).status_code == 200
    page = f"/admin/jadwal/{cast.schedule_b}/surel"
    assert admin.post(f"/admin/sesi/{cast.session_b}/undangan",
                      data={"csrf_token": csrf_token(admin, page)}).status_code == 200
    with app.app_context():
        s = _db(app).session
        s.get(User, cast.users["asesi_a"]).full_name = "Asesi A\r\nBcc: orang-lain@contoh.example"
        s.commit()
    out = _send(app)
    assert "terkirim 1, gagal 1" in out
    bad, good = _outbox(app)
    assert bad.status.value == "failed" and bad.next_attempt_at is None and "tidak dapat disusun" in bad.last_error
    assert good.status.value == "sent"
    assert [r.rcpt_to for r in smtp.received] == [["asesi.b@contoh.example"]]  # no header injected, no Bcc


def test_a_start_moved_away_and_back_is_reminded_again(app, cast, login_as, smtp):
    from remote_tuk.invitations.schemas import RescheduleIn
    from remote_tuk.invitations.services import queue_due_reminders, reschedule

    _set_email(app, cast, "asesi_a", CANDIDATE_MAIL)
    settings = app.config["RTUK"]
    with app.app_context():
        s = _db(app).session
        sess = _session(app, cast.session_a)
        schedule, admin = sess.schedule, s.get(type(sess.candidate), cast.users["admin"])
        start, end = schedule.starts_at, schedule.ends_at
        now = start - timedelta(hours=20)
        assert queue_due_reminders(s, settings, now=now) == 1
        reschedule(s, schedule, RescheduleIn(starts_at=start + timedelta(days=1), ends_at=end + timedelta(days=1)),
                   actor=admin, settings=settings, request_root="http://localhost/", now=now)
        assert queue_due_reminders(s, settings, now=now) == 0  # nothing due for the new start yet
        reschedule(s, schedule, RescheduleIn(starts_at=start, ends_at=end),
                   actor=admin, settings=settings, request_root="http://localhost/", now=now)
        assert queue_due_reminders(s, settings, now=now) == 1
        assert queue_due_reminders(s, settings, now=now) == 0
    kinds = [(m.kind.value, m.status.value) for m in _outbox(app)]
    assert kinds == [("reminder", "cancelled"), ("schedule_change", "queued"), ("schedule_change", "queued"),
                     ("reminder", "queued")]
