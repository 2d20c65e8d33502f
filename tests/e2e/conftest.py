"""End-to-end fixtures: the real server as a subprocess, Debian Chromium via Playwright with a fake webcam/microphone.

The server is ``python -m remote_tuk serve`` on a freshly migrated SQLite database seeded with the test cast
(tests/conftest.py ``seed_cast``: an LSP, the demo scheme, assessors with TOTP, candidates, two schedules), with its own
``RTUK_VAR_DIR`` (evidence store included). A network cut needs a browser whose network can really be cut:
:class:`NetNs` puts one Chromium in a Linux network namespace joined to the host by a veth pair and blackholes its
routes (Chromium's DevTools offline switch does not touch WebRTC).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.components import require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Kata-Sandi-Uji-2026"  # tests/conftest.py PASSWORD


def chromium_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def chromium_args(y4m: Path, wav: Path) -> list[str]:
    """The flags that worked with aiortc on this kind of machine (shared/ARCHITECTURE.md)."""
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}", f"--use-file-for-fake-audio-capture={wav}",
        "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--autoplay-policy=no-user-gesture-required", "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# --- the server ---------------------------------------------------------------------------------------------------


@dataclass
class Server:
    """``python -m remote_tuk serve`` in a subprocess, with its own database and var directory."""

    tmp: Path
    host: str = "127.0.0.1"
    loopback_ice: bool = True
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    cast: Any = None
    #: Kept across restarts, so the browsers' signed sessions stay valid.
    secret_key: str = field(default_factory=lambda: "e2e-" + uuid.uuid4().hex + uuid.uuid4().hex)

    @property
    def var_dir(self) -> Path:
        return self.tmp / "var"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'e2e.sqlite3'}"

    @property
    def log_path(self) -> Path:
        return self.tmp / "server.log"

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RTUK_")}
        env.update(
            RTUK_ENV="development",
            RTUK_VAR_DIR=str(self.var_dir),
            RTUK_DATABASE_URL=self.db_url,
            RTUK_SECRET_KEY=self.secret_key,
            RTUK_LOGIN_RATE_LIMIT="1000 per minute",
            RTUK_RTC_ICE_SERVERS="[]",
            RTUK_RTC_LOOPBACK_ICE="true" if self.loopback_ice else "false",
            PYTHONUNBUFFERED="1",
        )
        return env

    def prepare(self) -> None:
        from remote_tuk.migrate import upgrade
        from tests.conftest import copy_seed_keys, satisfy_gate, seed_cast

        self.var_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.db_url)
        self.cast = seed_cast(self.db_url)
        copy_seed_keys(self.cast, self.var_dir / "evidence")
        # The pre-session gate (consent, TUK check, ID and room) is tested elsewhere; here it is already satisfied.
        for public_id in (self.cast.session_a, self.cast.session_b):
            satisfy_gate(self.db_url, public_id)

    def start(self) -> Server:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remote_tuk", "serve", "--host", self.host, "--port", str(self.port)],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"server did not listen on {self.port}:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # lets atexit close the media engine and the evidence store
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """kill -9: no atexit, no flush, as in a crash."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @contextlib.contextmanager
    def app_context(self) -> Iterator[Any]:
        """The same application (database, var directory, evidence store) in this process; stop the server first."""
        from config import load_settings
        from remote_tuk import create_app

        app = create_app(load_settings(env="development", database_url=self.db_url, var_dir=self.var_dir))
        try:
            with app.app_context():
                yield app
        finally:
            app.extensions["rtuk_evidence"].close()
            app.extensions["rtuk_db"].dispose()


@pytest.fixture(scope="session")
def fake_devices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    require(shutil.which("ffmpeg") is not None, "ffmpeg", "apt-get install -y ffmpeg")
    from tests.media.face import write_wav, write_y4m

    out = tmp_path_factory.mktemp("media")
    return write_y4m(out / "face.y4m", seconds=4), write_wav(out / "tone.wav", seconds=4)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(**kw: Any) -> Server:
        server = Server(tmp_path / f"server{len(servers)}", **kw)
        server.tmp.mkdir(parents=True)
        servers.append(server)
        server.prepare()
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def playwright_instance(fake_devices: tuple[Path, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright_instance: Any, fake_devices: tuple[Path, Path]) -> Iterator[Any]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*fake_devices))
    try:
        yield b
    finally:
        b.close()


# --- signing in --------------------------------------------------------------------------------------------------


def sign_in(page: Any, base: str, username: str, totp_secret: str | None = None) -> None:
    """Sign in through the real login form (and the TOTP form for admins and assessors)."""
    page.goto(f"{base}/masuk")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form:has(input[name=password]) button")
    if "/masuk/totp" in page.url:
        assert totp_secret, f"{username} needs TOTP"
        totp = pyotp.TOTP(totp_secret)
        for offset in (0, totp.interval):
            page.fill("input[name=code]", totp.at(time.time() + offset))
            with page.expect_navigation():
                page.click("form:has(input[name=code]) button")
            if "/masuk" not in page.url:
                break
    assert "/masuk" not in page.url, f"sign-in of {username} failed at {page.url}"


def csrf_of(page: Any) -> str:
    return page.eval_on_selector('meta[name="csrf-token"]', "m => m.content")


def api(page: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A JSON call with the page's cookies and CSRF token (what the pages' scripts do)."""
    headers = {"Accept": "application/json", "X-CSRFToken": csrf_of(page)}
    url = page.url.split("/", 3)[:3]
    full = "/".join(url) + path
    if method == "GET":
        resp = page.request.get(full, headers=headers)
    else:
        resp = page.request.post(full, headers={**headers, "Content-Type": "application/json"},
                                 data=json.dumps(body))
    try:
        payload = resp.json()
    except Exception:  # noqa: BLE001 - a non-JSON answer is reported as text
        payload = resp.text()
    return resp.status, payload


# --- a browser in a network namespace whose network can be cut ----------------------------------------------------


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True)


def netns_available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    name = f"rtukp{os.getpid() % 100000}"
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError:
        return False
    with contextlib.suppress(subprocess.CalledProcessError):
        _ip("netns", "del", name)
    return True


class NetNs:
    """A network namespace joined to the host by a veth pair (host side .1, namespace side .2 of a /30)."""

    def __init__(self, tmp: Path) -> None:
        tag = f"{os.getpid() % 10000}{random.randrange(100)}"
        self.name = f"rtuk{tag}"
        self.host_if, self.ns_if = f"rtk{tag}h", f"rtk{tag}n"
        net, sub = random.randrange(16, 250), random.randrange(0, 62) * 4
        self.host_ip, self.ns_ip = f"10.213.{net}.{sub + 1}", f"10.213.{net}.{sub + 2}"
        self.wrapper = tmp / "chromium-in-netns.sh"
        self.cut_active = False

    def __enter__(self) -> NetNs:
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if, ns=self.name)
            _ip("link", "set", self.ns_if, "up", ns=self.name)
            _ip("link", "set", "lo", "up", ns=self.name)
            _ip("route", "add", "default", "via", self.host_ip, ns=self.name)
        except BaseException:
            self.__exit__()
            raise
        self.wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {CHROMIUM} "$@"\n')
        self.wrapper.chmod(0o755)
        return self

    def cut(self) -> None:
        """Drop every packet between the namespace and the host (links stay up, as on a dead Wi-Fi uplink)."""
        _ip("route", "add", "blackhole", f"{self.host_ip}/32", ns=self.name)
        _ip("route", "replace", "blackhole", "default", ns=self.name)
        _ip("route", "add", "blackhole", f"{self.ns_ip}/32")
        self.cut_active = True

    def restore(self) -> None:
        if not self.cut_active:
            return
        _ip("route", "del", "blackhole", f"{self.host_ip}/32", ns=self.name)
        _ip("route", "replace", "default", "via", self.host_ip, ns=self.name)
        _ip("route", "del", "blackhole", f"{self.ns_ip}/32")
        self.cut_active = False

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.restore()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self.host_if)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", self.name)
