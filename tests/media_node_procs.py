"""Real ``python -m remote_tuk media-node`` processes on Redis (the media-node tests, bench/bench_media_nodes.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MediaNodes:
    """Start, read the log of and stop media-node processes sharing one database, var dir and Redis prefix.

    ``proctoring``: the live analysis runs in the nodes; ``ops_port``: each node serves /healthz, /readyz and
    /metrics on a port of its own (``ops_ports[name]``)."""

    def __init__(self, db_url: str, var_dir: Path, prefix: str, log_dir: Path, metrics_token: str, *,
                 proctoring: bool, ops_port: bool) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RTUK_")},
            "RTUK_ENV": "testing",
            "RTUK_DATABASE_URL": db_url,
            "RTUK_VAR_DIR": str(var_dir),
            "RTUK_RTC_LOOPBACK_ICE": "true",
            "RTUK_RTC_PROCTORING": "true" if proctoring else "false",
            "RTUK_MEDIA_NODES": "redis",
            "RTUK_MEDIA_NODES_URL": REDIS_URL,
            "RTUK_MEDIA_NODES_PREFIX": prefix,
            "RTUK_SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
            "RTUK_OPS_METRICS_TOKEN": metrics_token,
            "PYTHONPATH": str(ROOT),
        }
        self.log_dir = log_dir
        self.ops_port = ops_port
        self.procs: dict[str, subprocess.Popen] = {}
        self.ops_ports: dict[str, int] = {}

    def start(self, name: str) -> None:
        cmd = [sys.executable, "-m", "remote_tuk", "media-node", "--name", name]
        if self.ops_port:
            self.ops_ports[name] = free_port()
            cmd += ["--ops-port", str(self.ops_ports[name])]
        out = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self, timeout: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
