"""Handing a message to the SMTP server (the boundary: smtplib's and the socket's errors become one of two kinds)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from config import MailSettings


class DeliveryError(Exception):
    """Sending failed. ``permanent``: the server refused for good (a 5xx answer), retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def _describe(err: BaseException) -> str:
    # smtplib's errors carry the server's code and text, never the message: safe to keep and show
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {text.decode('utf-8', 'replace')}" for addr, (code, text) in err.recipients.items()]
        return "penerima ditolak / recipient refused: " + "; ".join(parts)
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return f"SMTP {err.smtp_code}: {text}"
    return f"{type(err).__name__}: {err}"


def _permanent(err: BaseException) -> bool:
    """Only what this message's own content or recipient caused is permanent: a 5xx to RCPT (no such mailbox) or to
    DATA (the message refused). A 5xx to AUTH or MAIL FROM is the installation's settings: retried, so that mail
    flows again once the operator fixes them, without anyone pressing "retry" on every mail."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _text in err.recipients.values())
    if isinstance(err, smtplib.SMTPDataError):
        return 500 <= err.smtp_code < 600
    return False


class SmtpTransport:
    """One connection per batch is not worth it at this volume: one connection per message, closed after it."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._context: ssl.SSLContext | None = None

    @property
    def context(self) -> ssl.SSLContext:
        # made once: loading the system's CA certificates takes ~0.1 s, more than the whole rest of a send
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.settings.ca_file or None)
        return self._context

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self.context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with client:
                client.ehlo()
                if s.security == "starttls":
                    client.starttls(context=self.context)
                    client.ehlo()
                if s.username:
                    client.login(s.username, s.password)
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(_describe(err)[:1000], permanent=_permanent(err)) from err
