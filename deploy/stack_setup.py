#!/usr/bin/env python3
"""What ``deploy/stack.py`` writes before it starts anything: the stack's ports, secrets, local CA and certificate,
PostgreSQL data directory, and the configuration of every process (nginx and coturn from the shipped templates in
``deploy/nginx`` and ``deploy/coturn``, supervisord's programs). Nothing here starts a process.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PY = sys.executable
BIN = Path(PY).parent

#: offsets from --base-port
PORTS = {
    "https": 0, "http": 1, "pg": 2, "redis": 3, "app1": 4, "app2": 5, "turn": 6, "turns": 7, "media1": 8, "media2": 9,
    "s3": 10, "s3_master": 11, "s3_volume": 12, "s3_filer": 13, "s3_iceberg": 14, "s3_lance": 15,
    "relay_min": 100, "relay_max": 199,
}
APP_NODES = ("app1", "app2")
#: the media nodes (issue 18 item 1, docs/DEPLOYMENT.md "Media nodes"): ``python -m remote_tuk media-node --name <n>``
#: programs, their /healthz, /readyz and /metrics on their port; the app nodes run with RTUK_MEDIA_NODES=redis.
#: Empty: each app node runs its own media engine.
MEDIA_NODES: tuple[str, ...] = ("media1", "media2")
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
        if MEDIA_NODES:
            env["RTUK_MEDIA_NODES"] = "redis"  # the app nodes signal the media nodes through the stack's Redis
        if node:
            env["RTUK_OPS_NODE_NAME"] = node
        return env


# --- helpers ---------------------------------------------------------------------------------------------------------


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


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise SystemExit("stack: PostgreSQL binaries not found (apt-get install postgresql)")
    return found[-1].parent


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
                     f"-c logging_collector=off",
         # a fast shutdown (what pg_ctl stop and the distributions' units do): SIGTERM is PostgreSQL's "smart" one,
         # which waits for the app nodes' pooled connections to close, i.e. until supervisord kills it 20 s later
         f"{pg_user}stopsignal=INT\n"),
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
    for name in MEDIA_NODES:
        env_line = ",".join(f'{k}="{v}"' for k, v in stack.app_env(name).items())
        programs.append((name, f"{PY} -m remote_tuk media-node --name {name} --ops-port {p(name)}",
                         f"environment={env_line}\nautostart=false\nstopwaitsecs=20\n"))

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
