"""A minimal test-only HTTP server: static test pages + offer/answer over fetch into the engine (no Flask)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from proctor.errors import ProctorError
from proctor.rtc.engine import MediaEngine

PAGES = Path(__file__).parent / "pages"
TYPES = {".html": "text/html", ".js": "application/javascript"}


class PageServer:
    def __init__(self, engine: MediaEngine) -> None:
        self.engine = engine
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                name = urlparse(self.path).path.lstrip("/")
                path = PAGES / name
                if "/" in name or not path.is_file():
                    self._send(404, b"not found", "text/plain")
                    return
                self._send(200, path.read_bytes(), TYPES.get(path.suffix, "application/octet-stream"))

            def do_POST(self) -> None:
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    sdp = json.loads(self.rfile.read(length))["sdp"]
                    if url.path == "/offer/candidate":
                        answer = server.engine.candidate_offer(q["session"], sdp)
                    elif url.path == "/offer/viewer":
                        answer = server.engine.viewer_offer(q["session"], q["viewer"], sdp, q.get("talk") == "1")
                    else:
                        self._send(404, b"{}", "application/json")
                        return
                except ProctorError as exc:
                    self._send(400, json.dumps({"error": exc.message, "code": exc.code}).encode(), "application/json")
                    return
                self._send(200, json.dumps({"sdp": answer}).encode(), "application/json")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="test-pages", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
