"""Extension objects, created once and bound to an app in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect

from remote_tuk.db import Database
from remote_tuk.evidence import Evidence
from remote_tuk.live.media import MediaHub
from remote_tuk.sockets.registry import SocketRegistry

db = Database()
evidence = Evidence()
media = MediaHub()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
socketio = SocketIO()
#: Connected sockets of this process: user and sign-in per socket (remote_tuk/sockets/).
socket_registry = SocketRegistry()
babel = Babel()


def client_ip() -> str | None:
    return request.remote_addr
