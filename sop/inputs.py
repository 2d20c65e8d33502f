"""The dossier's typed inputs.

Every fact printed in the dossier comes from one of these models; the web app fills them from the live configuration
and the database, the CLI reads them from JSON. Fields that an LSP must supply are optional here on purpose: a missing
one is reported by :func:`sop.missing.missing_facts` as something to fill in, instead of failing validation or being
rendered as a blank.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from config.proctoring_profile import ProctoringProfile
from config.settings import EvidenceSettings, Settings
from config.tuk_profile import TukRequirementProfile

LicenceType = Literal["pihak_kesatu", "pihak_kedua", "pihak_ketiga"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Person(_Model):
    name: str | None = None
    position: str | None = Field(default=None, description="Jabatan")
    nip_or_id: str | None = Field(default=None, description="Nomor induk pegawai atau identitas lain (opsional)")


class Contact(_Model):
    phone: str | None = None
    email: str | None = None
    website: str | None = None


class LspProfile(_Model):
    """The certification body and its BNSP licence."""

    name: str | None = None
    licence_number: str | None = Field(default=None, description="Nomor SK lisensi BNSP")
    licence_type: LicenceType | None = None
    licence_valid_until: dt.date | None = None
    address: str | None = None
    city: str | None = None
    contact: Contact = Field(default_factory=Contact)
    director: Person = Field(default_factory=Person, description="Ketua/Direktur LSP (penanggung jawab)")
    #: Person responsible for personal data protection (pejabat pelindungan data pribadi), if one is appointed.
    data_protection_officer: Person | None = None


class Unit(_Model):
    code: str
    title: str


class Scheme(_Model):
    code: str | None = None
    title: str | None = None
    #: e.g. "KKNI Level II", "Okupasi", "Klaster".
    kind: str | None = None
    units: list[Unit] = Field(default_factory=list)
    #: The proctoring profile in force for the scheme's live sessions (the LSP's own or the project's default).
    proctoring: ProctoringProfile | None = None
    #: Whether ``proctoring`` is the LSP's own profile for this scheme (False: the project's default).
    proctoring_own: bool = False


#: Nested groups of the evidence library's ``describe_parameters()``: key → field (None: not a dossier fact).
_NESTED: dict[str, dict[str, str | None]] = {
    "encryption": {
        "algorithm": "streaming_scheme",
        "cipher": "encryption_algorithm",
        "data_key_bits": "encryption_key_bits",
        "chunk_size_bytes": "chunk_size",
        "tag_bytes": "tag_bytes",
        "nonce": "nonce_scheme",
        "associated_data": "associated_data",
        "data_key": "data_key_policy",
        "key_wrap": "key_wrap_algorithm",
        "kek_id": "kek_id",
        "kek_bits": "kek_bits",
        "kek_source": "kek_source",
    },
    "log": {
        "hashing": "merkle_tree",
        "entry_encoding": "entry_encoding",
        "checkpoint_format": "checkpoint_format",
        "signature": "signature_algorithm",
        "proof_format": "proof_format",
        "origin": "log_origin",
        "checkpoint_every_entries": "checkpoint_every_entries",
        "checkpoint_every_seconds": "checkpoint_every_seconds",
        "checkpoint_on_session_close": "checkpoint_on_session_close",
    },
    "backend_details": {
        "backend": None,
        "root": None,  # a server path: not for the dossier
        "bucket": "bucket",
        "endpoint": "storage_endpoint",
        "tls": "storage_tls",
        "object_lock": "object_lock_mode",
        "retention_days": "retention_days",
        "legal_hold": "legal_hold",
        "write_once": "write_once",
    },
}
_RENAMED = {"plaintext_commitment": "commitment_scheme"}


class EvidenceFacts(BaseModel):
    """How evidence is protected, as the evidence library and its settings describe it.

    Accepts the plain dict returned by the evidence library's ``describe_parameters()``: algorithm names may come under
    several common keys (``hash``/``hash_algorithm``, ``aead``/``encryption``/``cipher`` ...). Keys this model does not
    know are kept and listed in the dossier verbatim as "other parameters", never interpreted.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    hash_algorithm: str | None = Field(
        default=None, validation_alias=AliasChoices("hash_algorithm", "hash", "digest", "hash_alg")
    )
    encryption_algorithm: str | None = Field(
        default=None,
        validation_alias=AliasChoices("encryption_algorithm", "aead", "encryption", "cipher", "data_encryption"),
    )
    encryption_key_bits: int | None = Field(
        default=None, validation_alias=AliasChoices("encryption_key_bits", "data_key_bits", "key_bits", "key_size")
    )
    streaming_scheme: str | None = Field(
        default=None, validation_alias=AliasChoices("streaming_scheme", "streaming", "stream_scheme", "nonce_scheme")
    )
    key_wrap_algorithm: str | None = Field(
        default=None, validation_alias=AliasChoices("key_wrap_algorithm", "key_wrap", "kek_algorithm", "wrap")
    )
    kek_id: str | None = None
    signature_algorithm: str | None = Field(
        default=None,
        validation_alias=AliasChoices("signature_algorithm", "signature", "checkpoint_signature", "signing_algorithm"),
    )
    merkle_tree: str | None = Field(default=None, validation_alias=AliasChoices("merkle_tree", "merkle", "log_format"))
    checkpoint_format: str | None = Field(
        default=None, validation_alias=AliasChoices("checkpoint_format", "checkpoint", "tree_head_format")
    )
    commitment_scheme: str | None = Field(
        default=None, validation_alias=AliasChoices("commitment_scheme", "commitment", "salted_commitment")
    )
    timestamping: str | None = Field(default=None, validation_alias=AliasChoices("timestamping", "timestamp", "tsa"))
    chunk_size: int | None = Field(default=None, ge=1)
    checkpoint_every_entries: int | None = Field(default=None, ge=1)
    checkpoint_every_seconds: int | None = Field(default=None, ge=1)
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE", "NONE"] | None = None
    retention_days: int | None = Field(default=None, ge=1)
    legal_hold: bool | None = None
    backend: Literal["filesystem", "s3"] | None = None
    #: Where the evidence bytes physically are, in words ("MinIO di pusat data LSP, Jakarta").
    storage_location: str | None = None
    bucket: str | None = None
    log_origin: str | None = None
    #: The C2SP signed-note verifier key (``origin+keyhash+base64``) or its fingerprint.
    verifier_key: str | None = None
    offline_verifier: str | None = Field(
        default=None, validation_alias=AliasChoices("offline_verifier", "verifier", "verifier_cli")
    )
    #: SHA-256 (hex) of the one-file verifier the LSP hands to auditors, so an auditor can check the copy they got.
    offline_verifier_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # Details the evidence library reports (``describe_parameters()``); printed only when present.
    nonce_scheme: str | None = None
    associated_data: str | None = None
    tag_bytes: int | None = None
    data_key_policy: str | None = None
    kek_bits: int | None = None
    kek_source: str | None = None
    entry_encoding: str | None = None
    proof_format: str | None = None
    checkpoint_on_session_close: bool | None = None
    auditor_key_wrap: str | None = None
    bundle_format: str | None = None
    storage_endpoint: str | None = None
    storage_tls: bool | None = None
    write_once: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """Accept the evidence library's nested ``describe_parameters()`` dict as well as flat keys."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for group, mapping in _NESTED.items():
            sub = data.get(group)
            if not isinstance(sub, dict):
                continue
            del data[group]
            for key, value in sub.items():
                target = mapping.get(key, f"{group}.{key}")
                if target is None or value is None:
                    continue
                if data.get(target) is None:
                    data[target] = value
        for old, new in _RENAMED.items():
            if old in data and data.get(new) is None:
                data[new] = data.pop(old)
        return {k: v for k, v in data.items() if v is not None}

    @field_validator("object_lock_mode", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _derived(self) -> EvidenceFacts:
        if self.encryption_key_bits is None and self.encryption_algorithm:
            match = re.search(r"(128|192|256)", self.encryption_algorithm)
            if match:
                self.encryption_key_bits = int(match.group(1))
        if self.hash_algorithm is None and self.merkle_tree:
            match = re.search(r"SHA-?(256|384|512)", self.merkle_tree)
            if match:
                self.hash_algorithm = f"SHA-{match.group(1)}"
        if self.object_lock_mode is None and self.backend == "filesystem":
            self.object_lock_mode = "NONE"
        return self

    @classmethod
    def from_settings(cls, settings: EvidenceSettings, **parameters: Any) -> EvidenceFacts:
        """Combine the evidence settings (retention, lock, intervals, backend) with the library's parameters."""
        base: dict[str, Any] = {
            "chunk_size": settings.chunk_size,
            "checkpoint_every_entries": settings.checkpoint_every_entries,
            "checkpoint_every_seconds": settings.checkpoint_every_seconds,
            "retention_days": settings.retention_days,
            "legal_hold": settings.legal_hold,
            "backend": settings.backend,
            "log_origin": settings.log_origin or None,
            "kek_id": settings.kek_id,
        }
        if settings.backend == "s3":
            base["object_lock_mode"] = settings.object_lock_mode
            base["bucket"] = settings.s3_bucket
        else:
            base["object_lock_mode"] = "NONE"
        # What the library reports is what is in force: it wins over the settings.
        reported = cls.model_validate(parameters).model_dump(exclude_none=True)
        if parameters.get("backend") == "filesystem" and "object_lock_mode" not in parameters:
            reported["object_lock_mode"] = "NONE"
        base.update(reported)
        return cls.model_validate(base)

    def other_parameters(self) -> dict[str, Any]:
        """Parameters the library reported that this model does not interpret."""
        return dict(self.model_extra or {})


class Role(_Model):
    key: str
    name: str
    description: str | None = None
    #: What the role may do, in words ("menilai sesi yang ditugaskan kepadanya").
    permissions: list[str] = Field(default_factory=list)
    #: Whether a second factor (TOTP) is required to sign in with this role.
    requires_2fa: bool = False


class AccessRule(_Model):
    """One rule of the access policy: a resource, who may do what with it, and the condition."""

    resource: str
    roles: list[str]
    action: str
    condition: str | None = None


class Administrator(_Model):
    name: str
    position: str | None = None
    email: str | None = None


class Assessor(_Model):
    name: str
    met_number: str | None = Field(default=None, description="Nomor registrasi asesor (MET)")
    schemes: list[str] = Field(default_factory=list, description="Kode skema yang boleh diases")


class Personnel(_Model):
    administrators: list[Administrator] = Field(default_factory=list)
    assessors: list[Assessor] = Field(default_factory=list)


class TrialSession(_Model):
    """A real trial session's evidence, as verified by the offline verifier."""

    session_ref: str
    held_on: dt.date
    entries: int = Field(ge=0)
    checkpoint_size: int = Field(ge=0, description="Tree size of the last checkpoint")
    checkpoint_root_hash: str
    verification_ok: bool
    verification_detail: str | None = None
    verifier_command: str | None = None


class CandidateTrials(_Model):
    """The candidates' trials (uji coba) before the day: how many of the candidates ran one and how many passed the
    TUK check in their newest trial. Counted per candidate session; a trial never changes the session it rehearses."""

    candidates: int = Field(ge=0, description="Sesi asesi yang dihitung")
    tried: int = Field(ge=0, description="Asesi yang menyelesaikan uji coba")
    passed: int = Field(ge=0, description="Asesi yang uji coba terakhirnya lulus pemeriksaan TUK")
    runs: int = Field(ge=0, description="Jumlah uji coba (termasuk ulangan)")
    selftests_played: int = Field(default=0, ge=0, description="Asesi yang memutar kembali rekaman uji")
    selftests_sent: int = Field(default=0, ge=0, description="Asesi yang mengirim rekaman uji sebagai bukti uji coba")

    @property
    def pass_rate(self) -> float | None:
        return None if not self.tried else self.passed / self.tried


class Deployment(_Model):
    """Where and how the system runs."""

    server_location: str | None = Field(default=None, description="Lokasi fisik server (kota, pusat data)")
    hosting_provider: str | None = None
    database: str | None = Field(default=None, description="e.g. PostgreSQL 16")
    backup: str | None = Field(default=None, description="Cara dan jadwal cadangan")
    backup_location: str | None = None
    backup_retention_days: int | None = Field(default=None, ge=1)
    public_url: str | None = None
    tls: bool = True
    #: STUN/TURN servers the media uses (empty: none; only direct connections).
    ice_servers: list[str] = Field(default_factory=list)
    #: Socket.IO message queue between app nodes, if several nodes run.
    message_queue: str | None = None
    app_nodes: int = Field(default=1, ge=1)

    @classmethod
    def from_settings(cls, settings: Settings, **facts: Any) -> Deployment:
        """Deployment facts the settings know (database kind, TLS, STUN/TURN, message queue); *facts* add the rest
        (server location, backup, ...). Credentials in URLs are never copied."""
        url = settings.sqlalchemy_url
        database = "PostgreSQL" if url.startswith("postgresql") else "SQLite" if url.startswith("sqlite") else None
        ice: list[str] = []
        for server in settings.rtc.ice_servers:
            urls = server.get("urls", [])
            ice.extend([urls] if isinstance(urls, str) else list(urls))
        queue = None
        if settings.socketio_message_queue:
            parts = urlsplit(settings.socketio_message_queue)
            queue = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        base: dict[str, Any] = {
            "database": database,
            "tls": settings.behind_tls,
            "ice_servers": ice,
            "message_queue": queue,
        }
        base.update(facts)
        return cls.model_validate(base)


class Capabilities(_Model):
    """Features the running system actually has. The dossier describes a feature only when it is set here.

    A feature that is off is described as a manual procedure carried out by people, never as something the system does.
    """

    #: Sessions are recorded (audio and video) and the recording is stored as evidence.
    session_recording: bool = False
    #: Face on camera is compared with the registered photo (advisory; a human decides).
    face_matching: bool = False
    #: Automatic proctoring signals (covered camera, frozen video, more than one face, absence) raise incidents.
    proctoring_signals: bool = False
    #: FR.AK.01 consent is given and recorded electronically in the application.
    electronic_consent: bool = False
    #: Appeals (FR.AK.04) are submitted and tracked in the application.
    online_appeal: bool = False
    #: The pre-session gate blocks a session until every mandatory TUK requirement passes (or an assessor overrides it).
    tuk_gate: bool = False
    #: Every TUK check result is stored with the session's evidence.
    tuk_check_records: bool = False
    #: Evidence bundle export with offline verification.
    evidence_export: bool = False
    #: Assessor accounts require a second factor.
    two_factor_auth: bool = False


class DossierMeta(_Model):
    letter_number: str | None = Field(default=None, description="Nomor surat permohonan")
    date: dt.date | None = None
    place: str | None = Field(default=None, description="Tempat penandatanganan surat")
    recipient: str = "Kepala Badan Nasional Sertifikasi Profesi"
    recipient_address: str = "di Jakarta"
    version: str = "1.0"
    #: Further legal references the LSP wants listed (e.g. its own pedoman mutu).
    additional_legal_basis: list[str] = Field(default_factory=list)


class DossierInputs(_Model):
    """Everything the dossier states, and nothing else."""

    meta: DossierMeta = Field(default_factory=DossierMeta)
    lsp: LspProfile = Field(default_factory=LspProfile)
    schemes: list[Scheme] = Field(default_factory=list)
    tuk_profile: TukRequirementProfile | None = None
    evidence: EvidenceFacts = Field(default_factory=EvidenceFacts)
    roles: list[Role] = Field(default_factory=list)
    access_rules: list[AccessRule] = Field(default_factory=list)
    personnel: Personnel = Field(default_factory=Personnel)
    deployment: Deployment = Field(default_factory=Deployment)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    trial_session: TrialSession | None = None
    candidate_trials: CandidateTrials | None = None
