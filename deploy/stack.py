#!/usr/bin/env python3
"""The production-like stack on one machine, as supervised processes (no Docker): ``make stack`` / ``make stack-stop``.

    python deploy/stack.py up   [--dir var/stack] [--base-port 8440] [--host localhost] [--no-demo]
    python deploy/stack.py down [--dir var/stack]
    python deploy/stack.py status [--dir var/stack]

``up`` starts, under supervisord (PyPI ``supervisor``): its own PostgreSQL (initdb into <dir>/pg from Debian's
binaries, on its own port), Redis (own port, no persistence), the S3 server (SeaweedFS ``weed mini`` with object lock),
coturn (TURN REST API secret; UDP/TCP and TLS), nginx (TLS with a locally generated CA, HSTS, WebSocket upgrade,
session-affine routing) and two app nodes (gunicorn, one process each with threads: Flask-SocketIO threading mode,
the media engine's loop thread inside). Migrations run once, before the app nodes start; the demo data is seeded; it
prints the HTTPS URL, the CA file to trust and the demo accounts. Running it again keeps the data, the secrets and the
certificates. Everything lives under <dir>; ports are <base-port> + a fixed offset each (``PORTS``).

The media engines run in two media nodes (issue 18 item 1, ``stack_setup.MEDIA_NODES``: ``python -m remote_tuk
media-node`` programs started with the app nodes, which run with ``RTUK_MEDIA_NODES=redis``); with ``MEDIA_NODES``
empty each app node runs its own media engine instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from stack_setup import (  # deploy/stack_setup.py, beside this script
    APP_NODES,
    BIN,
    MEDIA_NODES,
    PORTS,
    PY,
    ROOT,
    Stack,
    init_postgres,
    make_secrets,
    make_tls,
    pg_bindir,
    render_configs,
)

__all__ = ["PORTS", "Stack", "down", "supervisorctl", "up"]


# --- helpers ---------------------------------------------------------------------------------------------------------


def say(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_for(what: str, check: Callable[[], object], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(0.3)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    raise SystemExit(f"stack: {what} did not come up in {timeout:.0f} s{tail}")


def need(*commands: str) -> None:
    missing = [c for c in commands if shutil.which(c) is None and not Path(c).exists()]
    if missing:
        raise SystemExit(f"stack: missing {', '.join(missing)} (bash .ci/system-deps.sh installs them as root)")


# --- commands ----------------------------------------------------------------------------------------------------


def supervisorctl(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed executable
        [str(BIN / "supervisorctl"), "-c", str(stack.conf), *args], check=check, capture_output=True, text=True
    )


def supervisord_running(stack: Stack) -> bool:
    pidfile = stack.dir / "run" / "supervisord.pid"
    if not pidfile.exists():
        return False
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def pg_ready(stack: Stack) -> bool:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=stack.port("pg"), user="postgres", dbname="postgres",
                         connect_timeout=2):
        return True


def create_database(stack: Stack) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=stack.port("pg"), user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rtuk'").fetchone():
            conn.execute("CREATE ROLE rtuk LOGIN")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'rtuk'").fetchone():
            conn.execute("CREATE DATABASE rtuk OWNER rtuk")


def s3_ready(stack: Stack) -> bool:
    from minio import Minio

    sec = stack.secrets()
    Minio(f"127.0.0.1:{stack.port('s3')}", access_key=sec["s3_access_key"], secret_key=sec["s3_secret_key"],
          secure=False).list_buckets()
    return True


def ready_through_proxy(stack: Stack) -> bool:
    import ssl

    ctx = ssl.create_default_context(cafile=str(stack.ca))
    for _ in APP_NODES:  # the proxy balances: ask as often as there are nodes
        with urllib.request.urlopen(f"https://{stack.listen}:{stack.port('https')}/readyz", context=ctx,
                                    timeout=5) as resp:
            if resp.status != 200:
                return False
    return True


def node_ready(stack: Stack, node: str) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port(node)}/readyz", timeout=5) as resp:
        return resp.status == 200


def manage(stack: Stack, *args: str, env_extra: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTUK_")}
    env.update(stack.app_env())
    env.update(env_extra or {})
    done = subprocess.run(  # noqa: S603 - this interpreter
        [PY, "-m", "remote_tuk", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"stack: python -m remote_tuk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def up(stack: Stack, demo: bool) -> None:
    need("nginx", "turnserver", "redis-server", "runuser" if os.geteuid() == 0 else "nginx")
    pg_bindir()
    stack.dir.mkdir(parents=True, exist_ok=True)
    make_secrets(stack)
    make_tls(stack)
    init_postgres(stack)
    render_configs(stack)
    ngx = stack.dir / "nginx"
    tested = subprocess.run(  # noqa: S603 - fixed executable
        [shutil.which("nginx") or "nginx", "-t", "-q", "-p", str(ngx), "-c", str(ngx / "nginx.conf"),
         "-e", str(stack.dir / "log" / "nginx-error.log")], capture_output=True, text=True
    )
    if tested.returncode != 0:
        raise SystemExit(f"stack: the nginx configuration is refused:\n{tested.stderr}")
    if not supervisord_running(stack):
        busy = [n for n in ("pg", "redis", *APP_NODES, *MEDIA_NODES, "s3") if port_open(stack.port(n))]
        busy += [n for n in ("https", "turn") if port_open(stack.port(n), stack.listen)]
        if busy:
            raise SystemExit(f"stack: ports in use: {', '.join(f'{n}={stack.port(n)}' for n in busy)} "
                             "(another stack? choose --base-port)")
        # the processes get the settings written for them, none of the caller's RTUK_* (a developer's shell)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("RTUK_")}
        subprocess.run([str(BIN / "supervisord"), "-c", str(stack.conf)], check=True, env=clean)  # noqa: S603
    else:
        supervisorctl(stack, "update", check=False)
    logs = stack.dir / "log"
    wait_for("PostgreSQL", lambda: pg_ready(stack), 60, logs / "postgres.log")
    create_database(stack)
    wait_for("Redis", lambda: port_open(stack.port("redis")), 30, logs / "redis.log")
    wait_for("the S3 server", lambda: s3_ready(stack), 120, logs / "s3.log")
    wait_for("coturn", lambda: port_open(stack.port("turn"), stack.listen), 30, logs / "coturn.log")
    say("migrating the database (once, before the app nodes start)")
    manage(stack, "migrate")
    if demo:
        # demo data is refused in production mode: this one command runs as development on the same database
        out = manage(stack, "seed-demo", env_extra={"RTUK_ENV": "development"})
        (stack.dir / "demo-accounts.txt").write_text(out)
    supervisorctl(stack, "start", *APP_NODES, *MEDIA_NODES, check=False)
    for node in (*APP_NODES, *MEDIA_NODES):
        wait_for(f"app node {node}", lambda n=node: node_ready(stack, n), 90, logs / f"{node}.log")
    wait_for("nginx", lambda: ready_through_proxy(stack), 30, logs / "nginx-error.log")
    accounts = (stack.dir / "demo-accounts.txt").read_text() if (stack.dir / "demo-accounts.txt").exists() else ""
    print(f"""
Remote TUK stack is up (supervised by supervisord; `make stack-stop` stops it)
  URL            {stack.url}/
  trust this CA  {stack.ca}
                 (curl --cacert {stack.ca} {stack.url}/readyz; in Chromium: Settings > Privacy and security >
                  Security > Manage certificates > Authorities > Import)
  app nodes      {", ".join(f"{n} http://127.0.0.1:{stack.port(n)}" for n in APP_NODES)}  (/healthz /readyz /metrics)
  media nodes    {", ".join(f"{n} http://127.0.0.1:{stack.port(n)}" for n in MEDIA_NODES) or "none"}  (the same)
  metrics token  {stack.dir / "secrets" / "secrets.json"} (metrics_token)
  TURN           turn:{stack.host}:{stack.port("turn")} (udp, tcp), turns:{stack.host}:{stack.port("turns")}
  PostgreSQL     {stack.db_url}
  logs           {logs}/
  processes      {BIN / "supervisorctl"} -c {stack.conf} status
{accounts}""", flush=True)


def down(stack: Stack) -> None:
    if not stack.conf.exists() or not supervisord_running(stack):
        say(f"no stack running under {stack.dir}")
        return
    pid = int((stack.dir / "run" / "supervisord.pid").read_text().strip())
    supervisorctl(stack, "shutdown", check=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            say("stopped")
            return
        time.sleep(0.2)
    raise SystemExit("stack: supervisord did not stop in 60 s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "stack")
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("RTUK_STACK_BASE_PORT", "8440")))
    parser.add_argument("--host", default=os.environ.get("RTUK_STACK_HOST", "localhost"))
    parser.add_argument("--listen", default=os.environ.get("RTUK_STACK_LISTEN", "127.0.0.1"),
                        help="address nginx and coturn listen on (default 127.0.0.1; the rest stays on loopback)")
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    args = parser.parse_args(argv)
    if not 1024 < args.base_port < 65535 - 10000 - max(PORTS.values()):
        parser.error("--base-port out of range")
    stack = Stack(args.dir.resolve(), args.base_port, args.host, args.listen)
    if args.command == "up":
        up(stack, demo=not args.no_demo)
    elif args.command == "down":
        down(stack)
    elif args.command == "env":
        if not (stack.dir / "secrets" / "secrets.json").exists():
            raise SystemExit(f"stack: no stack under {stack.dir} yet (run `make stack` first)")
        for key, value in stack.app_env().items():
            print(f"{key}={value}")
    else:
        print(supervisorctl(stack, "status", check=False).stdout if stack.conf.exists() else "no stack")


if __name__ == "__main__":
    main()
