"""``python -m remote_tuk send-mail [--loop] [--interval S]``: queue the reminders now due and send the outbox.

Run once from a timer (cron, a systemd timer) or as its own long-running service with ``--loop``
(``deploy/systemd/rtuk-mail.service``). Several senders at once are safe: each row is claimed before it is sent and
each reminder is queued once (docs/INVITATIONS.md). It is not a thread of the web app: app nodes come and go with
their media load, while mail needs one steady sender, and a request never waits on an SMTP server.
"""

from __future__ import annotations

import time

import click
from flask import Flask, current_app

from remote_tuk.extensions import db


def register(app: Flask) -> None:
    @app.cli.command("send-mail")
    @click.option("--loop", is_flag=True, help="keep running, one pass every --interval seconds")
    @click.option("--interval", default=30, type=click.IntRange(1, 3600), show_default=True)
    @click.option("--passes", default=0, type=click.IntRange(0, None), hidden=True)  # tests: stop after N passes
    def send_mail(loop: bool, interval: int, passes: int) -> None:
        """Queue due reminders and send queued or retryable mail (invitations, schedule changes, reminders)."""
        from remote_tuk.invitations.services import queue_due_reminders, send_due
        from remote_tuk.invitations.smtp import SmtpTransport

        settings = current_app.config["RTUK"]
        if not settings.mail.enabled:
            raise click.ClickException("RTUK_MAIL_HOST belum diisi: pengiriman surel mati / e-mail is off.")
        transport = SmtpTransport(settings.mail)
        done = 0
        while True:
            try:
                reminders = queue_due_reminders(db.session, settings)
                report = send_due(db.session, settings, transport)
            finally:
                db.session.close()
            if reminders or report.sent or report.failed or report.cancelled or not loop:
                click.echo(f"Pengingat diantrekan {reminders}; {report}")
            done += 1
            if not loop or (passes and done >= passes):
                return
            time.sleep(interval)
