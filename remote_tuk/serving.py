"""How ``python -m remote_tuk serve`` serves the app: gunicorn (the production server the README recommends: one
process with threads, because the WebRTC media of every session runs in that process's aiortc loop) or Werkzeug's
development server, named as such.

Gunicorn runs the ``gthread`` worker: Flask-SocketIO's threading mode with simple-websocket needs a thread per open
WebSocket, and the media engine's asyncio loop is a thread of the one worker. ``tests/e2e_records/
test_served_by_gunicorn.py`` runs a live session through it (WebSocket signaling, WebRTC media from Chromium, the
aiortc loop's own evidence events).
"""

from __future__ import annotations

import logging
from typing import Any

from config import Settings


class _HonestDevServer(logging.Filter):
    """Werkzeug (through Flask-SocketIO) warns "appears to be used in a production deployment" whenever stdin is not
    a terminal, which is also the case under make, CI or a test. ``serve`` says plainly which server runs instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "appears to be used in a production deployment" not in record.getMessage()


def serve_werkzeug(app: Any, socketio: Any, host: str, port: int) -> None:
    logging.getLogger("werkzeug").addFilter(_HonestDevServer())
    kwargs: dict[str, Any] = {"host": host, "port": port, "use_reloader": False, "allow_unsafe_werkzeug": True}
    socketio.run(app, **kwargs)


def serve_gunicorn(settings: Settings, host: str, port: int, threads: int) -> None:
    """gunicorn, one ``gthread`` worker with ``threads`` threads, building the app inside the worker."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": 1,  # the media engine (aiortc) lives in this one process
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 20,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "remote-tuk",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from remote_tuk import create_app

            return create_app(settings)

    _App().run()
