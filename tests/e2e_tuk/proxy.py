"""A real buffering reverse proxy and a real throttled link for the bandwidth tests.

* :class:`BufferingProxy` is Debian's nginx in front of the app with its defaults for a proxy: it reads a request's
  whole body before the app sees a byte (``proxy_request_buffering on``) and buffers responses (``proxy_buffering on``),
  as a production TLS terminator in front of the app does.
* :class:`ThrottledNetNs` is the browser's own network namespace (tests/e2e ``NetNs``) whose veth link is shaped by the
  kernel (``tc`` token bucket) in both directions: what leaves the namespace is the candidate's upload, what enters it
  their download. The proxy listens on the host's end of that link, so every byte between browser and proxy crosses
  the throttle, and the proxy reaches the app over loopback at full speed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import NetNs, free_port, netns_available

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_max_body_size 64m;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen {host}:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_request_buffering on;
      proxy_buffering on;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 300s;
    }}
  }}
}}
"""


def nginx_available() -> bool:
    return Path(NGINX).exists()


def tc_available() -> bool:
    return shutil.which("tc") is not None and netns_available()


class BufferingProxy:
    """nginx listening on *host*, proxying to the app on 127.0.0.1:*upstream*."""

    def __init__(self, tmp: Path, host: str, upstream: int) -> None:
        self.tmp, self.host, self.upstream = tmp, host, upstream
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BufferingProxy:
        import os

        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                tmp=self.tmp,
                host=self.host,
                port=self.port,
                upstream=self.upstream,
                user="user root root;" if os.geteuid() == 0 else "",
            )
        )
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(self.tmp), "-e", str(self.tmp / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not listen on {self.host}:{self.port}: {self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.tmp / "error.log").read_text(errors="replace")[-2000:]
        return ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)  # graceful stop of the master and its worker
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class ThrottledNetNs(NetNs):
    """A network namespace for the browser whose link to the host carries *kbps* in each direction."""

    def __init__(self, tmp: Path, kbps: float) -> None:
        super().__init__(tmp)
        self.kbps = kbps

    def __enter__(self) -> ThrottledNetNs:
        super().__enter__()
        try:
            # No IPv6 in the namespace: its link-local address would appear a moment after the link comes up (once
            # duplicate address detection ends), and Chromium aborts what it is loading on such a change
            # (net::ERR_NETWORK_CHANGED). Settled before the browser starts.
            script = " && ".join(
                f"echo 1 > /proc/sys/net/ipv6/conf/{conf}/disable_ipv6" for conf in ("all", "default", self.ns_if, "lo")
            )
            subprocess.run(["ip", "netns", "exec", self.name, "sh", "-c", script], check=True, capture_output=True)
            rate = f"{int(self.kbps)}kbit"
            # burst: a few packets (the bucket refills between transfers; a large one would show up as extra speed);
            # latency: how long a packet may queue before the bucket drops it (TCP then slows down, as on a real link)
            shape = ["root", "tbf", "rate", rate, "burst", "6000", "latency", "400ms"]
            _ip_tc("qdisc", "add", "dev", self.host_if, *shape)  # host -> namespace: the browser's download
            _ip_tc("qdisc", "add", "dev", self.ns_if, *shape, ns=self.name)  # namespace -> host: its upload
        except BaseException:
            self.__exit__()
            raise
        return self


def _ip_tc(*args: str, ns: str | None = None) -> None:
    cmd = [*(["ip", "netns", "exec", ns] if ns else []), "tc", *args]
    subprocess.run(cmd, check=True, capture_output=True)


def launch_in(pw: Any, netns: NetNs, args: list[str]) -> Any:
    """Debian Chromium started inside *netns* (through its wrapper script)."""
    return pw.chromium.launch(executable_path=str(netns.wrapper), args=args)
