"""Benchmark of the e-mail invitations (docs/INVITATIONS.md): what queueing, building and sending cost per mail.

Run:  .venv/bin/python bench/bench_mail.py [--candidates 200] [--json]

One SQLite database under a temporary directory, one schedule with N candidates (each with an address), the SMTP
server of the tests on a loopback socket (it accepts and keeps every message). Figures:

* invite: one fresh join link + the outbox row, per candidate (what the admin's click costs, without HTTP);
* build: rendering one invitation (bilingual body, the .ics, the MIME message) without sending;
* send pass: ``send_due`` over the whole outbox (claim, build, SMTP over loopback, record), per mail and mails/s;
* reminders: one ``queue_due_reminders`` pass that queues N reminders, and a second pass that finds them all queued.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from config import MailSettings, load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.candidates

    from remote_tuk import create_app
    from remote_tuk.accounts.models import Role
    from remote_tuk.accounts.services import create_user
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.schemas import ScheduleIn
    from remote_tuk.db import utcnow
    from remote_tuk.demo import DEMO_SCHEME
    from remote_tuk.extensions import db
    from remote_tuk.invitations import services
    from remote_tuk.invitations.models import OutboxMail
    from remote_tuk.invitations.smtp import SmtpTransport
    from remote_tuk.lsp import standards
    from remote_tuk.lsp.models import Lsp, LspType
    from remote_tuk.migrate import upgrade
    from tests.functional.smtp_server import SmtpServer

    tmp = Path(tempfile.mkdtemp(prefix="rtuk-bench-mail-"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    upgrade(url)
    smtp = SmtpServer().start()
    settings = load_settings(env="testing", database_url=url, var_dir=tmp / "var")
    settings.mail = MailSettings(host="127.0.0.1", port=smtp.port, security="none", from_address="tuk@lsp.example")
    app = create_app(settings)
    figures: dict[str, float | int | str] = {"candidates": n, "python": platform.python_version()}
    with app.app_context():
        s = db.session
        s.add(Lsp(name="LSP Bench", lsp_type=LspType.THIRD_PARTY, time_zone="Asia/Makassar", domain="lsp.example"))
        scheme = standards.store(s, standards.parse(DEMO_SCHEME.read_bytes(), DEMO_SCHEME.name))
        admin = create_user(s, username="admin", full_name="Admin", role=Role.LSP_ADMIN, password=None,
                            created_by=None)
        start = utcnow() + timedelta(hours=20)
        schedule = assessment.create_schedule(
            s,
            ScheduleIn(title="Jadwal Bench", scheme_id=scheme.id, starts_at=start, ends_at=start + timedelta(hours=3)),
            actor=admin,
        )
        sessions = []
        for i in range(n):
            user = create_user(s, username=f"asesi{i:05d}", full_name=f"Asesi {i}", role=Role.CANDIDATE,
                               password=None, created_by=None, nik=f"32010101{i:08d}",
                               email=f"asesi{i}@contoh.example")
            sessions.append(assessment.add_candidate(s, schedule, user.id, actor=admin))
        s.commit()

        t = time.perf_counter()
        for sess in sessions:
            services.invite(s, sess, actor=admin, settings=settings, request_root="https://tuk.lsp.example/")
        figures["invite_ms_per_candidate"] = round((time.perf_counter() - t) * 1000 / n, 2)

        mails = list(s.scalars(select(OutboxMail)))
        now = utcnow()
        t = time.perf_counter()
        for mail in mails[: min(n, 100)]:
            services.render_mail(s, mail, settings=settings, now=now)
        figures["build_ms_per_mail"] = round((time.perf_counter() - t) * 1000 / min(n, 100), 2)

        t = time.perf_counter()
        report = services.send_due(s, settings, SmtpTransport(settings.mail), limit=n)
        elapsed = time.perf_counter() - t
        assert report.sent == n == len(smtp.received), (report, len(smtp.received))
        figures["send_ms_per_mail"] = round(elapsed * 1000 / n, 2)
        figures["send_mails_per_s"] = round(n / elapsed, 1)
        figures["mail_bytes"] = len(smtp.received[0].data)

        t = time.perf_counter()
        queued = services.queue_due_reminders(s, settings)
        figures["reminder_pass_ms_queueing_all"] = round((time.perf_counter() - t) * 1000, 1)
        t = time.perf_counter()
        again = services.queue_due_reminders(s, settings)
        figures["reminder_pass_ms_nothing_new"] = round((time.perf_counter() - t) * 1000, 1)
        assert (queued, again) == (n, 0), (queued, again)
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()
    smtp.stop()

    if args.json:
        print(json.dumps(figures))
        return
    print(f"e-mail invitations, {n} candidates, SQLite, SMTP on loopback (Python {figures['python']})")
    print(f"  invite (new link + outbox row)   {figures['invite_ms_per_candidate']:>8} ms per candidate")
    print(f"  build one invitation (body+.ics) {figures['build_ms_per_mail']:>8} ms")
    print(f"  send pass                        {figures['send_ms_per_mail']:>8} ms per mail "
          f"({figures['send_mails_per_s']} mails/s, {figures['mail_bytes']} bytes each)")
    print(f"  reminder pass, queues {n:<5}      {figures['reminder_pass_ms_queueing_all']:>8} ms")
    print(f"  reminder pass, nothing new       {figures['reminder_pass_ms_nothing_new']:>8} ms")


if __name__ == "__main__":
    main()
