"""A small SMTP server on a real socket for the invitation tests (aiosmtpd is not installed here).

It speaks enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT, and
keeps every accepted message as bytes. With a server ``tls`` context it offers STARTTLS (RFC 3207), or with
``implicit_tls`` speaks TLS from the first byte (port-465 style); with ``credentials`` it offers AUTH PLAIN once the
connection is encrypted and refuses mail from a client that has not authenticated. ``reject_rcpt`` makes it refuse
recipients with a 550 (a permanent failure);
``stop()`` closes the port (the server is down: connection refused), ``start()`` opens the same port again.
"""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    tls: bool = False
    user: str | None = None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _say(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode("ascii"))
        self.wfile.flush()

    def _secure(self) -> None:
        owner = self.server.owner
        assert owner.tls is not None
        self.connection = owner.tls.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb", -1)
        self.wfile = self.connection.makefile("wb", 0)
        self.tls_on = True

    def handle(self) -> None:
        owner = self.server.owner
        self.tls_on, self.user = False, None
        if owner.implicit_tls:
            try:
                self._secure()
            except (ssl.SSLError, OSError):
                return  # the client did not trust us: it gives up
        self._say("220 test-smtp ESMTP ready")
        mail_from, rcpts = "", []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                lines = ["test-smtp", "8BITMIME", "SMTPUTF8"]
                if owner.tls is not None and not self.tls_on:
                    lines.append("STARTTLS")
                if owner.credentials and self.tls_on:
                    lines.append("AUTH PLAIN")
                for i, text in enumerate(lines):
                    self._say(("250 " if i == len(lines) - 1 else "250-") + text)
            elif verb == "STAR" and line.upper() == "STARTTLS" and owner.tls is not None and not self.tls_on:
                self._say("220 go ahead")
                try:
                    self._secure()
                except (ssl.SSLError, OSError):
                    return
            elif verb == "AUTH" and owner.credentials and self.tls_on:
                parts = line.split()
                try:
                    _authz, user, password = base64.b64decode(parts[2]).decode("utf-8").split("\0")
                except (IndexError, ValueError):
                    self._say("501 malformed")
                    continue
                if owner.credentials == (user, password):
                    self.user = user
                    self._say("235 2.7.0 authenticated")
                else:
                    self._say("535 5.7.8 authentication failed")
            elif verb == "MAIL" and owner.credentials and self.user is None:
                self._say("530 5.7.0 authentication required")
            elif verb == "HELO":
                self._say("250 test-smtp")
            elif verb == "MAIL":
                mail_from, rcpts = line.split(":", 1)[1].strip().split(" ")[0].strip("<>"), []
                self._say("250 OK")
            elif verb == "RCPT":
                if self.server.owner.reject_rcpt:
                    self._say("550 5.1.1 mailbox unavailable")
                else:
                    rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                    self._say("250 OK")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                data: list[bytes] = []
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk or chunk == b".\r\n":
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                owner.received.append(Received(mail_from, rcpts, b"".join(data), self.tls_on, self.user))
                self._say("250 OK queued")
            elif verb == "RSET":
                mail_from, rcpts = "", []
                self._say("250 OK")
            elif verb == "NOOP":
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: SmtpServer


class SmtpServer:
    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.tls, self.implicit_tls, self.credentials = tls, implicit_tls, credentials
        self.received: list[Received] = []
        self.reject_rcpt = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SmtpServer:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-smtp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
