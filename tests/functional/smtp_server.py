"""A small SMTP server on a real socket for the invitation tests (aiosmtpd is not installed here).

It speaks enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT, and
keeps every accepted message as bytes. ``reject_rcpt`` makes it refuse recipients with a 550 (a permanent failure);
``stop()`` closes the port (the server is down: connection refused), ``start()`` opens the same port again.
"""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import threading
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _say(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode("ascii"))
        self.wfile.flush()

    def handle(self) -> None:
        self._say("220 test-smtp ESMTP ready")
        mail_from, rcpts = "", []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                self.wfile.flush()
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
                lines = []
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk or chunk == b".\r\n":
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.owner.received.append(Received(mail_from, rcpts, b"".join(lines)))
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
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
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
