"""Settings read from the environment (prefix ``RTUK_``) with embedded defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The project root: ``var/`` (the embedded data directory) lives below it unless ``RTUK_VAR_DIR`` says otherwise.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The development secret key. Production refuses to start with it.
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - refused in production

#: A web origin: scheme, host (name or bracketed IPv6) and optional port; no path, query or user.
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


class ProductionConfigError(RuntimeError):
    """Raised when production mode is asked to start with settings that are only safe for development."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Refusing to start in production: " + "; ".join(problems))


class EvidenceSettings(BaseSettings):
    """Where and how evidence is stored (``RTUK_EVIDENCE_*``)."""

    model_config = SettingsConfigDict(env_prefix="RTUK_EVIDENCE_", extra="ignore")

    backend: Literal["filesystem", "s3"] = "filesystem"
    #: Embedded store directory; relative paths are below ``var_dir``.
    dir: Path = Path("evidence")
    #: Production must opt in explicitly to the filesystem store.
    allow_filesystem: bool = False
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "rtuk-evidence"
    s3_secure: bool = True
    s3_region: str = "us-east-1"
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    retention_days: int = Field(default=1825, ge=1, le=36500)
    legal_hold: bool = False
    #: Key-encryption key, base64 of 32 bytes. Empty in development: a key is generated under var/ on first use.
    kek: str = ""
    kek_id: str = "kek-1"
    #: Ed25519 signing key for checkpoints (path to a PEM or raw file). Empty: generated under var/ in development.
    signing_key_file: str = ""
    #: Name of the log in checkpoints (the C2SP "origin" line) and of its verifier key. Empty: the web app names a
    #: new log after the LSP's domain in its profile (``<domain>/evidence``); a log keeps the name of its first
    #: checkpoint for ever.
    log_origin: str = ""
    #: The evidence log in PostgreSQL, shared by every app and media node (``postgresql://user@host:5432/db``; the
    #: tables live in the schema ``rtuk_evidence`` and are created on first use). Empty: the log is a directory on
    #: this machine (``<dir>/log``), for one machine only. Every node must then sign with the same key
    #: (``signing_key_file``) and store objects in the same S3 bucket.
    log_url: str = ""
    checkpoint_every_entries: int = Field(default=256, ge=1, le=1_000_000)
    checkpoint_every_seconds: int = Field(default=60, ge=1, le=86_400)
    chunk_size: int = Field(default=64 * 1024, ge=4096, le=16 * 1024 * 1024)


class RtcSettings(BaseSettings):
    """WebRTC media (``RTUK_RTC_*``)."""

    model_config = SettingsConfigDict(env_prefix="RTUK_RTC_", extra="ignore")

    #: JSON list of RTCIceServer dicts, e.g. ``[{"urls": ["stun:stun.lsp.example:3478"]}]``.
    #: Empty means no STUN/TURN at all (loopback / same LAN); the public default STUN server is never used.
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    ice_gathering_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: Gather only 127.0.0.1 host candidates (browser and server on one machine: tests, a local demo).
    loopback_ice: bool = False
    #: Length of the candidate browser's MediaRecorder chunks (the primary recording), in milliseconds.
    chunk_ms: int = Field(default=2000, ge=500, le=10_000)
    #: Largest recording chunk accepted, in bytes.
    max_chunk_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    #: Live proctoring (docs/PROCTORING.md, "Live sessions"): analyse the candidate's video and audio while a session
    #: is live. Off: the node relays and records only (the assessor's page says the analysis is not running).
    proctoring: bool = True

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else []
        return value


class TurnSettings(BaseSettings):
    """TURN with time-limited credentials (``RTUK_TURN_*``; coturn's ``use-auth-secret``, the TURN REST API draft).

    The app mints a credential per page load: username ``<expiry unix time>:<opaque user id>``, password
    ``base64(HMAC-SHA1(secret, username))``. coturn recomputes it from the same shared secret; nothing is stored.
    """

    model_config = SettingsConfigDict(env_prefix="RTUK_TURN_", extra="ignore")

    #: TURN URLs the browsers get, e.g. ``turn:turn.lsp.example:3478?transport=udp``,
    #: ``turn:turn.lsp.example:3478?transport=tcp``, ``turns:turn.lsp.example:443?transport=tcp``. Empty: no TURN.
    urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: coturn's ``static-auth-secret``. Required when ``urls`` is set.
    secret: str = ""
    #: How long a credential stays valid, in seconds. coturn checks the expiry on every authenticated request
    #: (allocate, refresh, permission), so it must outlast the longest session a page stays open for.
    ttl_s: int = Field(default=12 * 3600, ge=60, le=7 * 86_400)

    @field_validator("urls", mode="before")
    @classmethod
    def _parse_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            return json.loads(text) if text.startswith("[") else [u.strip() for u in text.split(",") if u.strip()]
        return value

    @field_validator("urls")
    @classmethod
    def _turn_urls_only(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"RTUK_TURN_URLS takes turn: or turns: URLs only, not {url!r}")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.urls)


class OpsSettings(BaseSettings):
    """Operations of one node (``RTUK_OPS_*``): its name, the metrics endpoint, the log format."""

    model_config = SettingsConfigDict(env_prefix="RTUK_OPS_", extra="ignore")

    #: Name of this node in readiness answers, metrics and logs (e.g. ``app1``). Empty: the host name.
    node_name: str = ""
    #: Bearer token that ``/metrics`` requires (Prometheus ``authorization: credentials_file``). Empty: ``/metrics``
    #: is off (404). The shipped proxy configurations never forward ``/metrics``: scrape each node directly.
    metrics_token: str = ""
    #: One JSON object per log line (time, level, logger, node, message, exception) instead of plain text.
    json_logs: bool = False


class SopSettings(BaseSettings):
    """The SOP dossier signer (``RTUK_SOP_*``)."""

    model_config = SettingsConfigDict(env_prefix="RTUK_SOP_", extra="ignore")

    #: PKCS#12 file with the LSP's signing key and certificate. Empty: a self-signed demo certificate is generated.
    signing_p12: str = ""
    signing_p12_password: str = ""
    #: "module:function" that gathers the dossier's facts from the live configuration for ``python -m sop build``.
    #: It is loaded by name at run time, so sop/ never imports the web layer.
    facts_provider: str = "remote_tuk.dossier.facts:collect_inputs"


class MailSettings(BaseSettings):
    """E-mailed invitations, schedule changes and reminders (``RTUK_MAIL_*``; docs/INVITATIONS.md).

    Empty ``host``: e-mail is off (the admin copies the join link by hand, as before). Mail is queued in the database
    and sent by ``python -m remote_tuk send-mail`` (once, or ``--loop`` as its own service).
    """

    model_config = SettingsConfigDict(env_prefix="RTUK_MAIL_", extra="ignore")

    #: SMTP server (the LSP's relay, e.g. ``smtp.lsp.example``). Empty: e-mail is off.
    host: str = Field(default="", max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    #: ``starttls`` (submission, port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (plain SMTP: a relay on
    #: this machine or a test server; production refuses it towards any other host).
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = ""
    #: CA certificates (PEM file) that the SMTP server's certificate must chain to, e.g. an LSP's internal relay
    #: with its own CA. Empty: the system's CA store.
    ca_file: str = ""
    #: The sender address candidates see (``From:``), e.g. ``tuk@lsp.example``.
    from_address: str = Field(default="", max_length=254)
    from_name: str = Field(default="Remote TUK", max_length=120)
    #: Where the links in mails point (``https://tuk.lsp.example``). Empty: ``RTUK_PUBLIC_ORIGIN``, else the address
    #: the admin's browser used when the mail was queued.
    base_url: str = Field(default="", max_length=200)
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    #: Attempts before a message is given up (failed for good); between attempts the wait doubles from
    #: ``retry_base_s`` up to ``retry_max_s``.
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_s: int = Field(default=60, ge=1, le=86_400)
    retry_max_s: int = Field(default=3600, ge=1, le=7 * 86_400)
    #: Hours before the start at which a reminder goes out (each once per session and start time).
    reminder_hours: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [24, 1])

    @field_validator("reminder_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [int(h) for h in text.split(",") if h.strip()]
        return value

    @field_validator("reminder_hours")
    @classmethod
    def _hours_range(cls, value: list[int]) -> list[int]:
        if any(h < 1 or h > 14 * 24 for h in value):
            raise ValueError("RTUK_MAIL_REMINDER_HOURS takes hours between 1 and 336")
        return sorted(set(value), reverse=True)

    @field_validator("base_url")
    @classmethod
    def _base_origin(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not _ORIGIN.fullmatch(value):
            raise ValueError("must be scheme://host[:port] with no path, e.g. https://tuk.lsp.example")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def host_is_local(self) -> bool:
        return self.host in {"127.0.0.1", "::1", "localhost"}


class Settings(BaseSettings):
    """Top-level settings (``RTUK_*``)."""

    model_config = SettingsConfigDict(env_prefix="RTUK_", extra="ignore")

    env: Literal["development", "testing", "production"] = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    var_dir: Path = PROJECT_ROOT / "var"
    #: SQLAlchemy URL. Empty: SQLite file ``var/remote_tuk.sqlite3``.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=1, le=65535)
    #: What ``python -m remote_tuk serve`` runs: gunicorn (production-grade, one process with threads; ``make run``)
    #: or Werkzeug's development server (tests, debugging). Production refuses the development server.
    http_server: Literal["gunicorn", "werkzeug"] = "werkzeug"
    #: gunicorn's threads (each open Socket.IO WebSocket holds one)
    http_threads: int = Field(default=32, ge=4, le=1024)
    #: Set when the app sits behind a TLS-terminating proxy: cookies become Secure and X-Forwarded-* is trusted.
    behind_tls: bool = False
    #: The origin browsers use to reach the app when it differs from what the app sees (a proxy that rewrites the
    #: Host), e.g. ``https://tuk.lsp.example``. Socket.IO accepts its own origin and this one, nothing else.
    public_origin: str = Field(default="", max_length=200)
    #: Largest request body in bytes (413 above it).
    max_content_length: int = Field(default=16 * 1024 * 1024, ge=1024)
    login_rate_limit: str = "5 per minute"
    #: Storage for rate-limit counters (``memory://`` or ``redis://host:port``).
    ratelimit_storage_uri: str = "memory://"
    #: Socket.IO message queue for several app nodes (e.g. ``redis://127.0.0.1:6379/0``); empty means in-process.
    socketio_message_queue: str = ""
    #: Where the media engine runs (docs/DEPLOYMENT.md, "Media nodes"): ``local`` (every app node runs its own engine
    #: in-process) or ``redis`` (media-node processes, ``python -m remote_tuk media-node --name media-1``; the app
    #: places each session on the least-loaded live node and signals it through Redis).
    media_nodes: Literal["local", "redis"] = "local"
    #: Redis URL of the media nodes' registry and requests. Empty: ``socketio_message_queue``.
    media_nodes_url: str = ""
    #: Prefix of the media nodes' Redis keys (one deployment per prefix).
    media_nodes_prefix: str = Field(default="rtuk:media", pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")
    #: A node whose heartbeat (sent every third of this) is older than this is dead: its sessions are placed again.
    media_node_ttl_s: float = Field(default=3.0, ge=1.0, le=60.0)
    #: How long an app node waits for a media node's answer (an offer gathers ICE first), in seconds.
    media_rpc_timeout_s: float = Field(default=20.0, gt=0, le=120)
    join_link_ttl_hours: int = Field(default=72, ge=1, le=24 * 60)
    totp_issuer: str = "Remote TUK"
    default_locale: Literal["id", "en"] = "id"
    session_lifetime_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)

    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    rtc: RtcSettings = Field(default_factory=RtcSettings)
    turn: TurnSettings = Field(default_factory=TurnSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    sop: SopSettings = Field(default_factory=SopSettings)
    mail: MailSettings = Field(default_factory=MailSettings)

    @field_validator("public_origin")
    @classmethod
    def _origin_only(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not _ORIGIN.fullmatch(value):
            raise ValueError("must be scheme://host[:port] with no path, e.g. https://tuk.lsp.example")
        return value

    @field_validator("media_nodes", mode="before")
    @classmethod
    def _media_nodes_default(cls, value: Any) -> Any:
        return "local" if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _media_nodes_need_redis(self) -> Settings:
        if self.media_nodes == "redis" and not self.media_nodes_redis_url.startswith(("redis://", "rediss://",
                                                                                      "unix://")):
            raise ValueError("RTUK_MEDIA_NODES=redis needs a Redis URL in RTUK_MEDIA_NODES_URL or "
                             "RTUK_SOCKETIO_MESSAGE_QUEUE (redis://host:port/db)")
        return self

    @property
    def media_nodes_redis_url(self) -> str:
        return self.media_nodes_url or self.socketio_message_queue

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'remote_tuk.sqlite3'}"

    @property
    def evidence_dir(self) -> Path:
        path = self.evidence.dir
        return path if path.is_absolute() else self.var_dir / path

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe for production (empty when they are fine)."""
        problems: list[str] = []
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("RTUK_SECRET_KEY is the default or shorter than 32 characters")
        if not self.database_url:
            problems.append("RTUK_DATABASE_URL is not set")
        if self.evidence.backend == "filesystem" and not self.evidence.allow_filesystem:
            problems.append(
                "RTUK_EVIDENCE_BACKEND is 'filesystem' without RTUK_EVIDENCE_ALLOW_FILESYSTEM=true "
                "(use 's3' for MinIO with object lock)"
            )
        if not self.evidence.kek:
            problems.append("RTUK_EVIDENCE_KEK (the key-encryption key) is not set")
        if not self.evidence.signing_key_file:
            problems.append("RTUK_EVIDENCE_SIGNING_KEY_FILE (the checkpoint signing key) is not set")
        if self.evidence.backend == "s3" and not (self.evidence.s3_access_key and self.evidence.s3_secret_key):
            problems.append("RTUK_EVIDENCE_S3_ACCESS_KEY / RTUK_EVIDENCE_S3_SECRET_KEY are not set")
        if self.turn.enabled and len(self.turn.secret) < 32:
            problems.append("RTUK_TURN_URLS is set but RTUK_TURN_SECRET (coturn's static-auth-secret) is missing "
                            "or shorter than 32 characters")
        if self.media_nodes == "redis" and not self.socketio_message_queue:
            problems.append("RTUK_MEDIA_NODES=redis without RTUK_SOCKETIO_MESSAGE_QUEUE: the media nodes' events "
                            "would reach no page")
        if self.ops.metrics_token and len(self.ops.metrics_token) < 32:
            problems.append("RTUK_OPS_METRICS_TOKEN is shorter than 32 characters")
        if self.mail.enabled:
            if self.mail.security == "none" and not self.mail.host_is_local:
                problems.append("RTUK_MAIL_SECURITY is 'none' towards a remote SMTP server (join links and the "
                                "SMTP password would travel in clear): use 'starttls' or 'ssl'")
            if not self.mail.from_address:
                problems.append("RTUK_MAIL_HOST is set but RTUK_MAIL_FROM_ADDRESS is not")
        return problems

    def check_production(self) -> None:
        """Raise :class:`ProductionConfigError` naming every problem if this is production and unsafe."""
        if self.is_production:
            problems = self.production_problems()
            if problems:
                raise ProductionConfigError(problems)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, with keyword overrides (used by tests and the CLI)."""
    return Settings(**overrides)
