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

Media nodes (issue 18 item 1) get their slot here: ``MEDIA_NODES`` lists ``python -m proctor.node`` programs, empty
until that module exists; today each app node runs its own media engine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PY = sys.executable
BIN = Path(PY).parent

#: offsets from --base-port
PORTS = {
    "https": 0, "http": 1, "pg": 2, "redis": 3, "app1": 4, "app2": 5, "turn": 6, "turns": 7,
    "s3": 10, "s3_master": 11, "s3_volume": 12, "s3_filer": 13, "s3_iceberg": 14, "s3_lance": 15,
    "relay_min": 100, "relay_max": 199,
}
APP_NODES = ("app1", "app2")
#: the slot for separate media nodes (issue 18 item 1): (name, command) pairs, e.g.
#: ("media1", [PY, "-m", "proctor.node", "--name", "media1"]). Empty: each app node runs its own media engine.
MEDIA_NODES: list[tuple[str, list[str]]] = []
S3_BUCKET = "rtuk-evidence"
REALM = "rtuk.local"


@dataclass
class Stack:
    dir: Path
    base: int
    host: str
    #: the address nginx and coturn listen on (the other services stay on 127.0.0.1)
    listen: str = "127.0.0.1"

    def port(self, name: str) -> int:
        return self.base + PORTS[name]

    @property
    def conf(self) -> Path:
        return self.dir / "supervisord.conf"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port('https')}"

    @property
    def ca(self) -> Path:
        return self.dir / "tls" / "ca.pem"

    @property
    def db_url(self) -> str:
        return f"postgresql+psycopg://rtuk@127.0.0.1:{self.port('pg')}/rtuk"

    def secrets(self) -> dict[str, str]:
        return json.loads((self.dir / "secrets" / "secrets.json").read_text())

    def app_env(self, node: str | None = None) -> dict[str, str]:
        """The environment of an app node (and of the one-off migrate / seed commands)."""
        sec = self.secrets()
        turn = self.port("turn")
        env = {
            "RTUK_ENV": "production",
            "RTUK_SECRET_KEY": sec["secret_key"],
            "RTUK_DATABASE_URL": self.db_url,
            "RTUK_VAR_DIR": str(self.dir / "var"),
            "RTUK_BEHIND_TLS": "true",
            "RTUK_PUBLIC_ORIGIN": self.url,
            "RTUK_SOCKETIO_MESSAGE_QUEUE": f"redis://127.0.0.1:{self.port('redis')}/0",
            "RTUK_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{self.port('redis')}/1",
            "RTUK_EVIDENCE_BACKEND": "s3",
            "RTUK_EVIDENCE_DIR": str(self.dir / "evidence"),
            "RTUK_EVIDENCE_S3_ENDPOINT": f"127.0.0.1:{self.port('s3')}",
            "RTUK_EVIDENCE_S3_ACCESS_KEY": sec["s3_access_key"],
            "RTUK_EVIDENCE_S3_SECRET_KEY": sec["s3_secret_key"],
            "RTUK_EVIDENCE_S3_BUCKET": S3_BUCKET,
            "RTUK_EVIDENCE_S3_SECURE": "false",
            "RTUK_EVIDENCE_OBJECT_LOCK_MODE": "COMPLIANCE",
            "RTUK_EVIDENCE_RETENTION_DAYS": "1",  # a local stack: objects stay locked for one day
            "RTUK_EVIDENCE_KEK": sec["kek"],
            "RTUK_EVIDENCE_SIGNING_KEY_FILE": str(self.dir / "secrets" / "checkpoint-ed25519.pem"),
            "RTUK_EVIDENCE_LOG_ORIGIN": f"{self.host}/rtuk-stack/evidence",
            "RTUK_TURN_URLS": ",".join([
                f"turn:{self.host}:{turn}?transport=udp",
                f"turn:{self.host}:{turn}?transport=tcp",
                f"turns:{self.host}:{self.port('turns')}?transport=tcp",
            ]),
            "RTUK_TURN_SECRET": sec["turn_secret"],
            "RTUK_OPS_METRICS_TOKEN": sec["metrics_token"],
            "RTUK_OPS_JSON_LOGS": "true",
            "PYTHONUNBUFFERED": "1",
        }
        if "RTUK_MAX_CONTENT_LENGTH" in os.environ:  # the one setting the proxy's body limit follows
            env["RTUK_MAX_CONTENT_LENGTH"] = os.environ["RTUK_MAX_CONTENT_LENGTH"]
        if node:
            env["RTUK_OPS_NODE_NAME"] = node
        return env


# --- helpers -----------------------------------------------------------------------------------------------------


def say(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


def render(template: Path, values: dict[str, str]) -> str:
    """Fill the ``@NAME@`` placeholders of a shipped template (the same files an operator fills for a server)."""
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    leftover = sorted(set(re.findall(r"@[A-Z_]+@", body)))
    if leftover:
        raise SystemExit(f"{template}: placeholders left unfilled: {', '.join(leftover)}")
    return text


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


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


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise SystemExit("stack: PostgreSQL binaries not found (apt-get install postgresql)")
    return found[-1].parent


def need(*commands: str) -> None:
    missing = [c for c in commands if shutil.which(c) is None and not Path(c).exists()]
    if missing:
        raise SystemExit(f"stack: missing {', '.join(missing)} (bash .ci/system-deps.sh installs them as root)")


def as_postgres() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the 'postgres' system user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


# --- setup -------------------------------------------------------------------------------------------------------


def make_secrets(stack: Stack) -> None:
    sdir = stack.dir / "secrets"
    path = sdir / "secrets.json"
    if path.exists():
        return
    sdir.mkdir(parents=True, exist_ok=True)
    sdir.chmod(0o700)
    values = {
        "secret_key": secrets.token_urlsafe(48),
        "turn_secret": secrets.token_urlsafe(36),
        "metrics_token": secrets.token_urlsafe(36),
        "s3_access_key": "rtuk-" + secrets.token_hex(8),
        "s3_secret_key": secrets.token_urlsafe(30),
        "kek": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write(sdir / "checkpoint-ed25519.pem", pem.decode(), 0o600)
    write(path, json.dumps(values, indent=1), 0o600)


def make_tls(stack: Stack) -> None:
    tls = stack.dir / "tls"
    if (tls / "server.pem").exists():
        return
    import trustme

    ca = trustme.CA(organization_name="Remote TUK local stack CA")
    names = sorted({stack.host, stack.listen, "localhost", "127.0.0.1"})
    cert = ca.issue_cert(*names)
    tls.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(tls / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tls / "server.pem"))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(tls / "server.pem"), append=True)
    cert.private_key_pem.write_to_path(str(tls / "server.key"))
    (tls / "server.key").chmod(0o640)
    if os.geteuid() == 0:  # coturn drops no privileges here, but keep the key readable only by root
        os.chown(tls / "server.key", 0, 0)


def init_postgres(stack: Stack) -> None:
    data = stack.dir / "pg" / "data"
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    run_dir = stack.dir / "run"
    if os.geteuid() == 0:
        stack.dir.chmod(0o755)  # the postgres user walks into it
        pg = pwd.getpwnam("postgres")
        for p in (stack.dir / "pg", data, run_dir):
            p.mkdir(parents=True, exist_ok=True)
            os.chown(p, pg.pw_uid, pg.pw_gid)
        data.chmod(0o700)
        walk = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(data)], check=False)  # noqa: S603,S607
        if walk.returncode != 0:
            raise SystemExit(f"stack: the postgres user cannot reach {data}: make its parent directories "
                             "traversable (chmod o+x) or choose another --dir")
    subprocess.run(  # noqa: S603 - fixed executables
        [*as_postgres(), str(pg_bindir() / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--locale=C.UTF-8"],
        check=True, stdout=subprocess.DEVNULL,
    )


def render_configs(stack: Stack) -> None:
    sec = stack.secrets()
    tls = stack.dir / "tls"
    logs = stack.dir / "log"
    run = stack.dir / "run"
    for d in (logs, run, stack.dir / "redis", stack.dir / "s3", stack.dir / "var", stack.dir / "evidence"):
        d.mkdir(parents=True, exist_ok=True)
    run.chmod(0o777)  # postgres (another user when started as root) puts its socket here

    max_body = int(os.environ.get("RTUK_MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))) + 1024 * 1024
    site = render(DEPLOY / "nginx" / "rtuk-site.conf.in", {
        "SERVER_NAME": " ".join(sorted({stack.host, stack.listen, "localhost", "127.0.0.1"})),
        "LISTEN_ADDR": stack.listen,
        "HTTP_PORT": str(stack.port("http")),
        "HTTPS_PORT": str(stack.port("https")),
        "TLS_CERT": str(tls / "server.pem"),
        "TLS_KEY": str(tls / "server.key"),
        "MAX_BODY": str(max_body),
        "APP_SERVERS": "\n".join(f"    server 127.0.0.1:{stack.port(n)} max_fails=1 fail_timeout=5s;"
                                 for n in APP_NODES),
    })
    ngx = stack.dir / "nginx"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (ngx / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    write(ngx / "rtuk-site.conf", site)
    user = ""
    if os.geteuid() == 0:
        user = "user nobody nogroup;"
        nobody = pwd.getpwnam("nobody")
        for sub in (ngx / "tmp").rglob("*"):
            os.chown(sub, nobody.pw_uid, nobody.pw_gid)
    write(ngx / "nginx.conf", f"""# the stack's nginx main configuration (generated by deploy/stack.py)
{user}
worker_processes 2;
pid {run / "nginx.pid"};
error_log {logs / "nginx-error.log"} warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format rtuk_json escape=json '{{"time":"$time_iso8601","remote":"$remote_addr","request":"$request",'
        '"status":$status,"bytes":$body_bytes_sent,"upstream":"$upstream_addr","request_time":$request_time,'
        '"request_id":"$request_id"}}';
    access_log {logs / "nginx-access.log"} rtuk_json;
    client_body_temp_path {ngx / "tmp" / "client_body"};
    proxy_temp_path {ngx / "tmp" / "proxy"};
    fastcgi_temp_path {ngx / "tmp" / "fastcgi"};
    uwsgi_temp_path {ngx / "tmp" / "uwsgi"};
    scgi_temp_path {ngx / "tmp" / "scgi"};
    sendfile on;
    server_tokens off;
    include {ngx / "rtuk-site.conf"};
}}
""")

    write(stack.dir / "coturn" / "turnserver.conf", render(DEPLOY / "coturn" / "turnserver.conf.in", {
        "LISTEN_IP": stack.listen,
        "RELAY_IP": stack.listen,
        "EXTERNAL_IP_LINE": "# external-ip: not needed on loopback",
        "TURN_PORT": str(stack.port("turn")),
        "TURNS_PORT": str(stack.port("turns")),
        "MIN_PORT": str(stack.port("relay_min")),
        "MAX_PORT": str(stack.port("relay_max")),
        "TURN_SECRET": sec["turn_secret"],
        "REALM": REALM,
        "TLS_CERT": str(tls / "server.pem"),
        "TLS_KEY": str(tls / "server.key"),
        # the stack's browsers and media engine are on this machine: loopback peers are the whole point here
        "PEER_POLICY": "allow-loopback-peers",
        "PID_FILE": str(run / "turnserver.pid"),
    }), 0o600)

    p = stack.port
    weed = BIN / "weed" if (BIN / "weed").exists() else Path(shutil.which("weed") or "weed")
    pg_user = "user=postgres\n" if os.geteuid() == 0 else ""
    programs: list[tuple[str, str, str]] = [
        ("postgres", f"{pg_bindir() / 'postgres'} -D {stack.dir / 'pg' / 'data'} -p {p('pg')} "
                     f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={run} -c fsync=on "
                     f"-c logging_collector=off", pg_user),
        ("redis", f"{shutil.which('redis-server')} --bind 127.0.0.1 --port {p('redis')} --save '' "
                  f"--appendonly no --dir {stack.dir / 'redis'} --protected-mode yes", ""),
        ("s3", f"{weed} mini -dir={stack.dir / 's3'} -ip=127.0.0.1 -ip.bind=127.0.0.1 "
               f"-s3.port={p('s3')} -s3.port.grpc={p('s3') + 10000} "
               f"-master.port={p('s3_master')} -master.port.grpc={p('s3_master') + 10000} "
               f"-volume.port={p('s3_volume')} -volume.port.grpc={p('s3_volume') + 10000} "
               f"-filer.port={p('s3_filer')} -filer.port.grpc={p('s3_filer') + 10000} "
               f"-s3.port.iceberg={p('s3_iceberg')} -s3.port.lance={p('s3_lance')} -admin.ui=false -webdav=false",
         f'environment=AWS_ACCESS_KEY_ID="{sec["s3_access_key"]}",AWS_SECRET_ACCESS_KEY="{sec["s3_secret_key"]}"\n'),
        ("coturn", f"{shutil.which('turnserver')} -c {stack.dir / 'coturn' / 'turnserver.conf'}", ""),
        ("nginx", f"{shutil.which('nginx')} -p {ngx} -c {ngx / 'nginx.conf'} -e {logs / 'nginx-error.log'}", ""),
    ]
    for node in APP_NODES:
        env = stack.app_env(node)
        env_line = ",".join(f'{k}="{v}"' for k, v in env.items())
        programs.append((node, f"{BIN / 'gunicorn'} --chdir {ROOT} -w 1 --threads 32 -b 127.0.0.1:{p(node)} "
                               f"--timeout 60 --graceful-timeout 20 --keep-alive 75 "
                               f"--control-socket {run / (node + '-gunicorn.ctl')} wsgi:app",
                         f"environment={env_line}\nautostart=false\n"))
    for name, command in MEDIA_NODES:
        env_line = ",".join(f'{k}="{v}"' for k, v in stack.app_env(name).items())
        programs.append((name, " ".join(command), f"environment={env_line}\nautostart=false\n"))

    sections = [f"""; generated by deploy/stack.py: the stack's processes under supervisord
[unix_http_server]
file={run / "supervisor.sock"}
chmod=0700

[supervisord]
logfile={logs / "supervisord.log"}
pidfile={run / "supervisord.pid"}
childlogdir={logs}
directory={ROOT}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run / "supervisor.sock"}
"""]
    for name, command, extra in programs:
        sections.append(f"""[program:{name}]
command={command}
{extra}autorestart=true
startsecs=1
startretries=20
stopasgroup=true
killasgroup=true
stopwaitsecs=20
redirect_stderr=true
stdout_logfile={logs / (name + ".log")}
stdout_logfile_maxbytes=20MB
""")
    write(stack.conf, "\n".join(sections), 0o600)


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
        busy = [n for n in ("pg", "redis", "app1", "app2", "s3") if port_open(stack.port(n))]
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
    supervisorctl(stack, "start", *APP_NODES, *(n for n, _ in MEDIA_NODES), check=False)
    for node in APP_NODES:
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
        for key, value in stack.app_env().items():
            print(f"{key}={value}")
    else:
        print(supervisorctl(stack, "status", check=False).stdout if stack.conf.exists() else "no stack")


if __name__ == "__main__":
    main()
