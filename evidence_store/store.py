"""EvidenceStore: the library the web app, the media thread and the operator CLI call. See docs/EVIDENCE.md."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from .backends import FilesystemStore, ObjectStore, S3Store, fsync_dir
from .crypto import (
    KEK_WRAP_ALG,
    build_header,
    encrypt_stream,
    load_x25519_public,
    wrap_for_auditor,
)
from .errors import (
    IntegrityError,
    KeyUnavailable,
    ObjectNotFound,
    SessionError,
    StoreUnavailable,
)
from .keystore import KekRing, KeyStore
from .log import SYSTEM_CHAIN, LogState, NoteSigner, TransparencyLog, sha256_file
from .staging import DIRECT_MIN_BYTES, StagingFile
from .verifier import (
    AUDITOR_WRAP_ALG,
    BUNDLE_FORMAT,
    STREAM_ALG,
    TAG_SIZE,
    commitment_matches,
    decrypt_stream,
    format_tlog_proof,
    is_text,
)

_ID_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}$")
Actor = tuple[str, str]
SYSTEM_ACTOR: Actor = ("system", "evidence_store")


@dataclass(frozen=True)
class Receipt:
    log_index: int
    entry_hash: str
    object_key: str | None = None
    object_version: str | None = None
    spooled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_text(value: str, what: str) -> str:
    """Refuse a string that is not Unicode text (an unpaired UTF-16 surrogate, which JSON could carry as an escape
    but the verifier, and any verifier that reads UTF-8, refuses)."""
    if not is_text(value):
        raise ValueError(f"{what} holds an unpaired surrogate character, which is not Unicode text")
    return value


def _check_canonical(value: Any, path: str = "metadata") -> None:
    """Refuse at append what the verifier would refuse later: canonical JSON has no floats, NaN or non-string keys,
    and its strings are Unicode text."""
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, float):
        raise ValueError(f"{path} holds the floating-point number {value!r}; use an integer (e.g. milliseconds) "
                         "or a string (canonical JSON has no floats)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path} has a non-string key {k!r}")
            _check_text(k, f"{path} key {k!r}")
            _check_canonical(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_canonical(v, f"{path}[{i}]")
    elif not (value is None or isinstance(value, str | int | bool)):
        raise ValueError(f"{path} holds a {type(value).__name__}, which is not JSON")


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValueError(f"{what} must match {_ID_RE.pattern}")
    return value


def _actor(actor: Actor) -> dict[str, str]:
    role, ident = actor
    return {"role": _check_text(str(role), "actor role"), "id": _check_text(str(ident), "actor id")}


#: an intent slot's size: intents are written over the whole slot (padded with spaces), so a slot keeps its size and a
#: data sync of it flushes one block and no metadata
SLOT_SIZE = 4096


def _slot_payload(raw: bytes) -> tuple[str, bytes] | None:
    """(object key, JSON) of a slot's content, or None for an empty slot. The object key is the first line, the same
    in every version of the intent, so it survives a torn write of the JSON."""
    raw = raw.strip()
    if not raw:
        return None
    key, _, body = raw.partition(b"\n")
    return key.decode("utf-8", "replace"), body


class _Intent:
    """One intent slot (``pending/slot-<hex>.intent``): a file that is created once and reused by append after
    append. While an append uses it, it is ``flock``-ed and holds ``<object key>\n<JSON>`` padded with spaces; when
    the append is done it is blanked. So no file is created, renamed or removed per append, and its directory entry
    is synced once, when the slot is created."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path
        self.key = ""
        self.size = os.fstat(fd).st_size

    def acquire(self) -> bool:
        """Lock a pooled slot for an append: False if another process holds it, it was removed, or it holds the
        intent of an interrupted append that recovery has not resolved yet."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        st = os.fstat(self.fd)
        if st.st_nlink == 0 or _slot_payload(os.pread(self.fd, st.st_size, 0)) is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            return False
        self.size = st.st_size
        return True

    def update(self, obj: dict[str, Any]) -> None:
        data = self.key.encode() + b"\n" + json.dumps(obj, sort_keys=True).encode()
        length = max(self.size, -(-(len(data) + 1) // SLOT_SIZE) * SLOT_SIZE)
        os.pwrite(self.fd, data.ljust(length), 0)  # overwrites the whole slot: nothing of an older intent is left
        self.size = length

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def blank(self) -> None:
        os.pwrite(self.fd, b" " * self.size, 0)

    def close(self) -> None:
        os.close(self.fd)  # also releases the lock


class _IntentSlots:
    """The pool of this process's idle intent slots. Like the rest of :class:`EvidenceStore` (its helper thread
    pools), not to be carried across ``fork``: open the store in the process that uses it."""

    def __init__(self, directory: Path):
        self.dir = directory
        self._idle: list[_Intent] = []
        self._lock = threading.Lock()
        self._adopted = False

    def take(self) -> _Intent:
        with self._lock:
            adopt, self._adopted = not self._adopted, True
        if adopt:  # reuse the idle slots earlier processes left behind
            found = []
            for path in sorted(self.dir.glob("slot-*.intent")):
                with suppress(FileNotFoundError):
                    found.append(_Intent(os.open(path, os.O_RDWR | os.O_CLOEXEC), path))
            with self._lock:
                self._idle.extend(found)
        while True:
            with self._lock:
                slot = self._idle.pop() if self._idle else None
            if slot is None:
                return self._create()
            if slot.acquire():
                return slot
            slot.close()  # busy in another process or waiting for recovery: not ours to reuse

    def _create(self) -> _Intent:
        path = self.dir / f"slot-{uuid.uuid4().hex}.intent"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b" " * SLOT_SIZE, 0)
        os.fsync(fd)
        fsync_dir(self.dir)  # the slot's name is durable once; each intent is then one data sync
        return _Intent(fd, path)

    def give_back(self, slot: _Intent) -> None:
        slot.blank()
        fcntl.flock(slot.fd, fcntl.LOCK_UN)
        with self._lock:
            self._idle.append(slot)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for slot in idle:
            slot.close()


def _quarantine_entry(session_id: str, obj: dict[str, Any], reason: str) -> dict[str, Any]:
    """A ``quarantine`` entry on the system chain: an object (or an entry's object) that recovery or a refused append
    could not account for, with the reason, so it is never dropped silently."""
    return {"chain": SYSTEM_CHAIN, "kind": "quarantine", "session_id": session_id, "object": obj,
            "actor": _actor(SYSTEM_ACTOR), "reason": reason}


def _wait_all(futures: list[Future[Any]]) -> None:
    """Wait for every future; then raise the first failure, if any."""
    error: BaseException | None = None
    for fut in futures:
        try:
            fut.result()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others have ended
            error = error or exc
    if error is not None:
        raise error


def _write_json_durable(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(json.dumps(obj, sort_keys=True).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class EvidenceStore:
    def __init__(self, data_dir: Path, backend: ObjectStore, ring: KekRing, signing_key: Ed25519PrivateKey, *,
                 origin: str, chunk_size: int = 64 * 1024, checkpoint_every_entries: int = 256,
                 checkpoint_every_seconds: int = 60, kek_from_settings: bool = False,
                 extra_parameters: dict[str, Any] | None = None, recover: bool = True):
        self.dir = Path(data_dir)
        for sub in ("staging", "spool", "pending", "keys"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.chunk_size = chunk_size
        self.kek_from_settings = kek_from_settings
        self.keys = KeyStore(self.dir / "keys" / "keystore.sqlite3", ring)
        self._slots = _IntentSlots(self.dir / "pending")
        self.signer = NoteSigner(origin, signing_key)
        self.log = TransparencyLog(self.dir / "log", self.signer, every_entries=checkpoint_every_entries,
                                   every_seconds=checkpoint_every_seconds)
        self.extra_parameters = extra_parameters or {}
        self._spool_lock = threading.Lock()
        self._spool_file = open(self.dir / "spool" / ".lock", "a+b")
        self._stop = threading.Event()
        self._last_drain = 0.0
        #: an append retries draining the spool at most this often (seconds); the background thread does too
        self.drain_interval = 2.0
        self._bg: threading.Thread | None = None
        self.last_recovery: dict[str, Any] = {}
        if recover:
            self.last_recovery = self.recover()

    # ------------------------------------------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, evidence: Any, data_dir: Path | None = None, **kw: Any) -> EvidenceStore:
        """Build from ``config.EvidenceSettings``. ``data_dir`` defaults to ``evidence.dir`` (absolute) or var/."""
        if data_dir is None:
            from config import load_settings

            data_dir = load_settings(evidence=evidence).evidence_dir
        data_dir = Path(data_dir)
        keys_dir = data_dir / "keys"
        keys_dir.mkdir(parents=True, exist_ok=True)
        # key-encryption keys: from settings, else generated and kept under the data dir (development)
        ring_file = keys_dir / "kek.json"
        stored: dict[str, Any] = json.loads(ring_file.read_text()) if ring_file.exists() else {}
        keks = {k: base64.b64decode(v) for k, v in stored.get("keys", {}).items()}
        if evidence.kek:
            kek = base64.b64decode(evidence.kek, validate=True)
            if len(kek) != 32:
                raise ValueError("RTUK_EVIDENCE_KEK must be base64 of 32 bytes")
            keks[evidence.kek_id] = kek
            ring = KekRing(evidence.kek_id, keks)
            from_settings = True
        else:
            if not stored:
                stored = {"current": evidence.kek_id, "keys": {evidence.kek_id:
                                                                base64.b64encode(secrets.token_bytes(32)).decode()}}
                _write_secret(ring_file, json.dumps(stored).encode())
                keks = {k: base64.b64decode(v) for k, v in stored["keys"].items()}
            ring = KekRing(stored["current"], keks)
            from_settings = False
        signing = load_or_create_signing_key(Path(evidence.signing_key_file) if evidence.signing_key_file
                                             else keys_dir / "checkpoint-ed25519.pem",
                                             create=not evidence.signing_key_file)
        if evidence.backend == "s3":
            backend: ObjectStore = S3Store(evidence.s3_endpoint, evidence.s3_access_key, evidence.s3_secret_key,
                                           evidence.s3_bucket, secure=evidence.s3_secure, region=evidence.s3_region,
                                           lock_mode=evidence.object_lock_mode,
                                           retention_days=evidence.retention_days, legal_hold=evidence.legal_hold)
        else:
            backend = FilesystemStore(data_dir / "objects")
        return cls(data_dir, backend, ring, signing, origin=evidence.log_origin, chunk_size=evidence.chunk_size,
                   checkpoint_every_entries=evidence.checkpoint_every_entries,
                   checkpoint_every_seconds=evidence.checkpoint_every_seconds, kek_from_settings=from_settings,
                   # retention and legal hold exist only where the object store enforces them (S3 object lock);
                   # the filesystem store is write-once through this API but enforces no retention
                   extra_parameters={"retention_days": evidence.retention_days if evidence.backend == "s3" else None,
                                     "object_lock_mode": evidence.object_lock_mode if evidence.backend == "s3"
                                     else None,
                                     "legal_hold": evidence.legal_hold if evidence.backend == "s3" else None},
                   **kw)

    def close(self) -> None:
        self._stop.set()
        if self._bg is not None:
            self._bg.join(timeout=10)
        self.log.close()
        self._spool_file.close()
        self._slots.close()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_background(self, interval: float = 1.0) -> None:
        """Issue time-based checkpoints and drain the spool from a daemon thread."""
        def run() -> None:
            while not self._stop.wait(interval):
                with suppress(Exception):
                    self.log.maybe_checkpoint()
                with suppress(Exception):
                    self.drain_spool()

        self._bg = threading.Thread(target=run, name="evidence-background", daemon=True)
        self._bg.start()

    # ------------------------------------------------------------------------------------------------------------
    # sessions
    # ------------------------------------------------------------------------------------------------------------
    def open_session(self, session_id: str, meta: dict[str, Any] | None = None,
                     actor: Actor = SYSTEM_ACTOR) -> Receipt:
        _check_id(session_id, "session_id")
        if session_id == SYSTEM_CHAIN:
            raise ValueError(f"{SYSTEM_CHAIN!r} is the log's own chain, not a session id")
        _check_canonical(meta or {}, "meta")

        def build(st: LogState) -> dict[str, Any]:
            if session_id in st.heads:
                raise SessionError(f"session {session_id} already exists")
            return {"chain": session_id, "kind": "open", "session_id": session_id, "metadata": meta or {},
                    "actor": _actor(actor)}

        idx, h, _ = self.log.append(build)
        return Receipt(idx, h)

    def close_session(self, session_id: str, actor: Actor = SYSTEM_ACTOR) -> Receipt:
        def build(st: LogState) -> dict[str, Any]:
            self._require_open(st, session_id)
            return {"chain": session_id, "kind": "close", "session_id": session_id, "actor": _actor(actor)}

        idx, h, _ = self.log.append(build)
        return Receipt(idx, h)

    @staticmethod
    def _require_open(st: LogState, session_id: str) -> None:
        head = st.heads.get(session_id)
        if head is None:
            raise SessionError(f"session {session_id} is not open")
        if head.closed:
            raise SessionError(f"session {session_id} is closed")

    # ------------------------------------------------------------------------------------------------------------
    # append
    # ------------------------------------------------------------------------------------------------------------
    def append(self, session_id: str, type: str, data: bytes | BinaryIO, *,
               metadata: dict[str, Any] | None = None, actor: Actor, client_time: str | int | None = None,
               media_range: tuple[int, int] | dict[str, int] | None = None, candidate_id: str | None = None,
               commit_plaintext: bool = False) -> Receipt:
        """Encrypt and store one evidence item and log it. Returns only once both the object (in the store, or in the
        local spool if the store is unreachable) and its log entry are durable.

        ``commit_plaintext=True`` logs SHA-256(salt || plaintext) (answers, scores: a later dispute can be settled by
        revealing salt and plaintext without the key); the default logs SHA-256(salt || data key), which with the
        logged ciphertext hash binds the plaintext just as firmly and spares a hash pass over bulk media."""
        _check_id(session_id, "session_id")
        _check_id(type, "type")
        _check_canonical(metadata or {})
        if candidate_id is not None:
            _check_id(candidate_id, "candidate_id")
        # everything that goes into the entry is checked before any work is done
        actor_fields = _actor(actor)
        client_text = None if client_time is None else _check_text(str(client_time), "client_time")
        if isinstance(media_range, tuple | list):
            if len(media_range) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in media_range):
                raise ValueError("media_range must be (start_ms, end_ms), two integers")
            media_range = {"start_ms": media_range[0], "end_ms": media_range[1]}
        _check_canonical(media_range, "media_range")
        with self.log.locked() as st:
            self._require_open(st, session_id)
        object_id = uuid.uuid4().hex
        key_id = f"dk-{object_id}"
        object_key = f"sessions/{session_id}/{object_id}.rte"
        header, prefix = build_header(object_id, session_id, type, key_id, self.chunk_size)
        staging = self.dir / "staging" / f"{object_id}.rte"
        with self._intent(object_key, {"state": "encrypting", "session_id": session_id,
                                        "object": {"key": object_key, "id": object_id},
                                        "enc": {"key_id": key_id}}) as intent:
            dk, salt = secrets.token_bytes(32), secrets.token_bytes(32)
            kek_id = self.keys.ring.current_id
            # On a helper thread, while the object is encrypted: the wrapped key is committed (one WAL fsync), then
            # the intent is made durable. The append waits for both as soon as the object is encrypted.
            key_saved = _KEYS.submit(self._save_key, intent, key_id, session_id, candidate_id, object_key, dk, salt,
                                     kek_id)
            waits: list[Future[Any]] = [key_saved]
            try:
                small = isinstance(data, bytes | bytearray | memoryview) and len(data) < DIRECT_MIN_BYTES
                with StagingFile(staging, direct=False if small else None) as out:
                    # the data sync is left to the backend (filesystem: while the log line is written and synced)
                    # or to the spool; recovery checks the hash of anything an interrupted append left
                    res = encrypt_stream(data, out, dk, salt, header, prefix, self.chunk_size,
                                         commit_plaintext=commit_plaintext)
                    out.finish()
                del dk, salt
                # an intent that names the ciphertext's hash (below) always has a durable key: recovery may re-log it
                key_saved.result()
                fields = {
                    "chain": session_id, "kind": "item", "session_id": session_id, "type": type,
                    "metadata": metadata or {}, "actor": actor_fields, "client_time": client_text,
                    "media_range": media_range, "candidate_id": candidate_id,
                    "object": {"key": object_key, "id": object_id, "version": None, "sha256": res.sha256,
                               "size": res.size, "plaintext_size": res.plaintext_size},
                    "commitment": res.commitment,
                    "enc": {"alg": STREAM_ALG, "chunk_size": self.chunk_size, "chunks": res.chunks,
                            "key_id": key_id, "kek_id": kek_id, "key_wrap": KEK_WRAP_ALG, "tag_size": TAG_SIZE},
                }
                intent.update(fields)
                spooled = self.spool_depth() > 0
                if spooled and time.monotonic() - self._last_drain >= self.drain_interval:
                    self._last_drain = time.monotonic()
                    with suppress(StoreUnavailable):
                        self.drain_spool()  # the store may be back: catch up first so order is kept
                    spooled = self.spool_depth() > 0
                version: str | None = None
                if not spooled:
                    try:
                        # placed under its key but not yet durable (filesystem); S3 returns once the server has it
                        stored = self.backend.put_file(object_key, staging, res.size, sync=False)
                        version = stored.version
                        waits.append(_SYNC.submit(self.backend.sync, stored))
                    except StoreUnavailable:
                        spooled = True
                if spooled:
                    with open(staging, "rb") as fh:
                        os.fdatasync(fh.fileno())
                    spool_name = f"{_spool_stamp()}-{object_id}"
                    os.replace(staging, self.dir / "spool" / f"{spool_name}.rte")
                    _write_json_durable(self.dir / "spool" / f"{spool_name}.json", {"key": object_key,
                                                                                    "sha256": res.sha256})
                    fsync_dir(self.dir / "spool")
                fields["object"]["version"] = version
                fields["spooled"] = spooled

                def build(st: LogState) -> dict[str, Any]:
                    head = st.heads.get(session_id)
                    if head is None or head.closed:
                        # the session was closed by someone else meanwhile: record the orphan, refuse the append
                        return _quarantine_entry(session_id, fields["object"],
                                                 "session closed before the item was logged")
                    return dict(fields)

                # The log line is written and synced while the object's data and directory entry are synced; the
                # append is acknowledged (returns) only once both are durable. The wrapped key and the intent are
                # durable before the line is written, so if the machine stops between the two syncs, recovery finds
                # the intent, checks the logged object's hash and logs a quarantine entry if it did not survive.
                idx, h, entry = self.log.append(build)
            finally:
                _wait_all(waits)  # every sync ends before the append returns or raises
            if entry["kind"] != "item":
                raise SessionError(f"session {session_id} was closed before the item could be logged")
        with suppress(FileNotFoundError):
            staging.unlink()
        return Receipt(idx, h, object_key, version, spooled)

    @contextmanager
    def _intent(self, object_key: str, fields: dict[str, Any]) -> Iterator[_Intent]:
        """A locked record of an in-flight append (written before the data key and the ciphertext exist), so recovery
        can tell an append in flight in a live process from one interrupted by a crash, re-log an object that was
        stored but not logged, and check an item that was logged but whose object may not have become durable.

        The append makes it durable (:meth:`_Intent.sync`, on a helper thread while it encrypts) before the log line
        is written; later updates are not synced: if a power loss takes them, recovery still finds the intent, or at
        least its object key, and through it the object. If the append fails, the intent stays for recovery."""
        slot = self._slots.take()
        try:
            slot.key = object_key
            slot.update(fields)
            yield slot
        except BaseException:
            slot.close()  # unlocked with its intent in it: recovery resolves it
            raise
        self._slots.give_back(slot)

    def _save_key(self, intent: _Intent, key_id: str, session_id: str, candidate_id: str | None, object_key: str,
                  dk: bytes, salt: bytes, kek_id: str) -> None:
        self.keys.put(key_id, session_id, candidate_id, object_key, dk, salt, kek_id)
        intent.sync()

    # ------------------------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------------------------
    def list_entries(self, session_id: str, include_related: bool = True) -> list[dict[str, Any]]:
        with self.log.locked() as st:
            idx = list(st.chains.get(session_id, []))
            if include_related:
                idx = sorted(idx + st.related.get(session_id, []))
            return [json.loads(line) for line in self.log.read_lines(idx)]

    def _item_entry(self, object_key: str) -> dict[str, Any]:
        with self.log.locked() as st:
            idx = st.objects.get(object_key)
            if idx is None:
                raise ObjectNotFound(f"no logged item has object key {object_key}")
            return self.log.entry(idx)

    def _open_object(self, object_key: str) -> BinaryIO:
        for meta in sorted((self.dir / "spool").glob("*.json")):
            with suppress(FileNotFoundError, ValueError):
                if json.loads(meta.read_text())["key"] == object_key:
                    return open(meta.with_suffix(".rte"), "rb")
        return self.backend.open(object_key)

    def read(self, object_ref: str | Receipt, reader: Actor, out: BinaryIO | None = None) -> bytes | None:
        """Decrypt one item, checking its ciphertext hash and plaintext commitment against the log, and log the read.
        Returns the plaintext (or writes it to ``out`` and returns None)."""
        object_key = object_ref.object_key if isinstance(object_ref, Receipt) else object_ref
        assert object_key
        e = self._item_entry(object_key)
        dk, salt = self.keys.get(e["enc"]["key_id"])
        sink = out if out is not None else io.BytesIO()
        hashing = _HashingReader(self._open_object(object_key))
        commit = _CommitWriter(salt, sink)
        try:
            decrypt_stream(hashing, dk, commit, expect={"object_id": e["object"]["id"], "session_id": e["session_id"],
                                                        "type": e["type"], "key_id": e["enc"]["key_id"]})
            hashing.drain()
        finally:
            hashing.close()
        if hashing.hexdigest() != e["object"]["sha256"]:
            raise IntegrityError(f"{object_key}: ciphertext hash differs from the log")
        if not commitment_matches(e["commitment"], salt, dk, commit.commitment()):
            raise IntegrityError(f"{object_key}: plaintext or data key differs from the logged commitment")
        self.log.append(lambda st: {"chain": SYSTEM_CHAIN, "kind": "read", "session_id": e["session_id"],
                                    "object": {"key": object_key}, "item_log_index": e["log_index"],
                                    "actor": _actor(reader)})
        return sink.getvalue() if out is None else None  # type: ignore[union-attr]

    # ------------------------------------------------------------------------------------------------------------
    # spool
    # ------------------------------------------------------------------------------------------------------------
    def spool_depth(self) -> int:
        return sum(1 for _ in (self.dir / "spool").glob("*.json"))

    def drain_spool(self) -> int:
        """Upload spooled objects in order; stop at the first failure. Returns how many were stored."""
        done = 0
        with self._spool_lock:
            fcntl.flock(self._spool_file.fileno(), fcntl.LOCK_EX)
            try:
                for meta in sorted((self.dir / "spool").glob("*.json")):
                    info = json.loads(meta.read_text())
                    blob = meta.with_suffix(".rte")
                    with self.log.locked() as st:
                        logged = info["key"] in st.objects or info["key"] in st.quarantined
                    if not logged:
                        break  # its append is still in flight (or recovery will log it): keep the order
                    try:
                        try:
                            stored = self.backend.put_file(info["key"], blob, blob.stat().st_size)
                            version = stored.version
                        except Exception as exc:
                            from .errors import ObjectExists

                            if not isinstance(exc, ObjectExists):
                                raise
                            version = self.backend.stat(info["key"]).version
                    except StoreUnavailable:
                        break
                    self.log.append(lambda st, k=info["key"], v=version: {
                        "chain": SYSTEM_CHAIN, "kind": "object_stored",
                        "session_id": k.split("/")[1], "object": {"key": k, "version": v},
                        "actor": _actor(SYSTEM_ACTOR)})
                    blob.unlink()
                    meta.unlink()
                    done += 1
                fsync_dir(self.dir / "spool")
            finally:
                fcntl.flock(self._spool_file.fileno(), fcntl.LOCK_UN)
        return done

    # ------------------------------------------------------------------------------------------------------------
    # recovery
    # ------------------------------------------------------------------------------------------------------------
    def recover(self, scan_store: bool = True) -> dict[str, Any]:
        """Reconcile after a crash: re-log objects whose append was interrupted after the object was stored,
        quarantine objects without entries and entries without objects, clear stale staging files.
        Everything found is logged (kind ``item`` with ``recovered``, or ``quarantine``); nothing is dropped
        silently."""
        report: dict[str, Any] = {"relogged": [], "quarantined": [], "abandoned": [], "missing": [], "deferred": []}
        pending = self.dir / "pending"
        for path in sorted(pending.glob("slot-*.intent")):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use by a live append (or another recovery)
                raw = os.pread(fd, os.fstat(fd).st_size, 0)
                payload = _slot_payload(raw)
                if payload is None:
                    continue  # idle
                key, body = payload
                try:
                    fields = json.loads(body)
                except ValueError:
                    # torn by a power cut while it was rewritten: the object key (first line) is intact
                    fields = None
                if self._resolve_intent(key, fields, report):
                    os.pwrite(fd, b" " * len(raw), 0)
            finally:
                os.close(fd)
        for path in sorted(pending.glob("*.json")):  # intents of the earlier layout: one file per append
            try:
                fh = open(path, "rb")
            except FileNotFoundError:
                continue  # its append just finished
            try:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in flight in a live process
                if not path.exists():
                    continue
                try:
                    fields = json.loads(path.read_bytes())
                except ValueError:
                    path.unlink()  # torn intent: written before the object, so nothing was stored under it
                    continue
                if self._resolve_intent(fields["object"]["key"], fields, report):
                    path.unlink()
            finally:
                fh.close()
        for creating in pending.glob("*.creating"):
            # an intent of the earlier layout still being created (or abandoned before anything was stored under
            # it): it is created and only then locked, so a young one may belong to a live append; remove stale ones
            with suppress(FileNotFoundError):
                if time.time() - creating.stat().st_mtime > 3600:
                    creating.unlink()
        # list the staging files first, then read the intents: an append writes its intent before it creates its
        # staging file, so every staging file listed here of an append still in flight has its intent visible below
        staged = list((self.dir / "staging").glob("*.rte"))
        in_flight = self._pending_object_ids()
        for tmp in staged:
            if tmp.stem not in in_flight:
                with suppress(FileNotFoundError):  # its append may be removing it too
                    tmp.unlink()
        if scan_store:
            self._scan_store(report)
        return report

    def _object_digest(self, key: str) -> str | None:
        """SHA-256 of a stored (or spooled) object, None if there is none."""
        try:
            with self._open_object(key) as fh:
                h = hashlib.sha256()
                while block := fh.read(1 << 20):
                    h.update(block)
                return h.hexdigest()
        except ObjectNotFound:
            return None

    def _quarantine(self, session_id: str, obj: dict[str, Any], reason: str) -> None:
        self.log.append(lambda st: _quarantine_entry(session_id, obj, reason))

    def _resolve_intent(self, key: str, fields: dict[str, Any] | None, report: dict[str, Any]) -> bool:
        """Resolve one interrupted append's intent; False if it must wait for the next recovery (store unreachable).
        ``fields`` is None when only the object key could be read (a torn intent)."""
        try:
            if self._check_logged_intent({"object": {"key": key}}, report):
                return True
            if fields is None:
                # not logged, and what it would have logged is unknown: the store scan quarantines the object if it
                # was stored; nothing was acknowledged
                report["abandoned"].append(key)
                return True
            if fields.get("state") == "encrypting":
                # crashed while encrypting: nothing was stored or acknowledged; drop the partial ciphertext
                with suppress(FileNotFoundError):
                    (self.dir / "staging" / f"{fields['object']['id']}.rte").unlink()
                self.keys.delete([fields["enc"]["key_id"]])
                report["abandoned"].append(key)
                return True
            self._recover_intent(fields, report)
            return True
        except StoreUnavailable:
            # cannot tell yet whether the object reached the store: keep the intent for the next run
            report.setdefault("deferred", []).append(key)
            return False

    def _pending_object_ids(self) -> set[str]:
        """Object ids of intents in flight or waiting for recovery (read without locks: the object key is the first
        line of a slot and never changes while the slot is in use)."""
        ids = set()
        for path in (self.dir / "pending").glob("slot-*.intent"):
            with suppress(OSError):
                payload = _slot_payload(path.read_bytes())
                if payload is not None:
                    ids.add(payload[0].rsplit("/", 1)[-1].removesuffix(".rte"))
        ids.update(p.stem for p in (self.dir / "pending").glob("*.json"))
        return ids

    def _check_logged_intent(self, fields: dict[str, Any], report: dict[str, Any]) -> bool:
        """An interrupted append whose entry is already logged (the log line is written while the object is synced,
        so a crash can leave the entry durable and the object not): check that the object has the logged hash and
        its data key exists; if not, log a quarantine entry saying so. Never deletes the key. Returns False if the
        intent's object is not logged (the caller recovers it)."""
        key = fields["object"]["key"]
        with self.log.locked() as st:
            idx = st.objects.get(key)
            if idx is None:
                return False
            if key in st.quarantined:
                return True  # already reported
            shredded = set(st.shredded)
        entry = self.log.entry(idx)
        problems = []
        digest = self._object_digest(key)
        if digest is None:
            problems.append("its object is missing")
        elif digest != entry["object"]["sha256"]:
            problems.append("its object's hash differs from the logged one")
        key_id = entry["enc"]["key_id"]
        if key_id not in shredded and not self.keys.exists(key_id):
            problems.append("its data key was not stored")
        if problems:
            sid = entry["session_id"]
            reason = ("append interrupted after its entry was logged: " + " and ".join(problems)
                      + "; it was never acknowledged")
            self._quarantine(sid, {"key": key, "sha256": digest}, reason)
            report["quarantined"].append(key)
        return True

    def _recover_intent(self, fields: dict[str, Any], report: dict[str, Any]) -> None:
        key = fields["object"]["key"]
        sid = fields["session_id"]
        with self.log.locked() as st:
            if key in st.quarantined:
                return  # already reported (e.g. its session was closed before it could be logged)
        staging = self.dir / "staging" / f"{fields['object']['id']}.rte"
        digest = self._object_digest(key)
        if digest is not None and digest != fields["object"]["sha256"]:
            # stored, but not completely (the crash came before its data was synced) or altered: keep it, say so
            self._quarantine(sid, {"key": key, "sha256": digest}, "interrupted append left an object whose hash "
                             "differs from the intended one; it was never acknowledged")
            report["quarantined"].append(key)
            return
        if not self.keys.exists(fields["enc"]["key_id"]):
            # an intent names the hash only once the key is durable, so this is damage, not a crash: say so
            self._quarantine(sid, {"key": key, "sha256": digest}, "interrupted append left an object whose data "
                             "key is missing; it was never acknowledged")
            report["quarantined"].append(key)
            return
        if digest is None:
            if staging.exists() and staging.stat().st_size == fields["object"]["size"] \
                    and sha256_file(staging) == fields["object"]["sha256"]:
                # the ciphertext is complete locally: spool it so it is logged and stored, not lost
                with open(staging, "rb") as fh:
                    os.fsync(fh.fileno())
                name = f"{_spool_stamp()}-{fields['object']['id']}"
                os.replace(staging, self.dir / "spool" / f"{name}.rte")
                _write_json_durable(self.dir / "spool" / f"{name}.json", {"key": key,
                                                                          "sha256": fields["object"]["sha256"]})
                fields["spooled"] = True
            else:
                self._quarantine(sid, {"key": key}, "append interrupted before the object was stored; it was "
                                 "never acknowledged")
                self.keys.delete([fields["enc"]["key_id"]])
                report["abandoned"].append(key)
                return
        fields = dict(fields, metadata=dict(fields.get("metadata") or {}, recovered=True))

        def build(st: LogState) -> dict[str, Any]:
            head = st.heads.get(sid)
            if head is None or head.closed:
                return _quarantine_entry(sid, fields["object"], "object stored but its session is closed")
            return fields

        _, _, entry = self.log.append(build)
        report["relogged" if entry["kind"] == "item" else "quarantined"].append(key)

    def _scan_store(self, report: dict[str, Any]) -> None:
        # Other processes keep appending meanwhile. Snapshot order: log size, then the spool, then the store listing;
        # an entry counts as missing only if it was logged before the snapshot and its object is neither listed nor
        # spooled (a spooled object drained after the spool was read is in the listing).
        with self.log.locked() as st:
            logged_before = st.tree.size
        spooled = set()
        for meta in (self.dir / "spool").glob("*.json"):
            with suppress(ValueError, FileNotFoundError):
                spooled.add(json.loads(meta.read_text())["key"])
        try:
            keys = set(self.backend.list_keys("sessions/"))
        except StoreUnavailable:
            report["store_unavailable"] = True
            return
        with self.log.locked() as st:
            pending = self._pending_object_ids()
            orphans = [k for k in sorted(keys) if k not in st.objects and k not in st.quarantined
                       and k.rsplit("/", 1)[-1].removesuffix(".rte") not in pending]
            missing = [k for k, idx in sorted(st.objects.items()) if idx < logged_before and k not in keys
                       and k not in spooled and k not in st.quarantined]
            for k in orphans:
                self._quarantine(k.split("/")[1], {"key": k}, "object in the store without a log entry")
                report["quarantined"].append(k)
            for k in missing:
                self._quarantine(k.split("/")[1], {"key": k}, "log entry whose object is missing from the store")
                report["missing"].append(k)

    # ------------------------------------------------------------------------------------------------------------
    # shredding and key rotation
    # ------------------------------------------------------------------------------------------------------------
    def shred_candidate(self, candidate_id: str, actor: Actor = SYSTEM_ACTOR,
                        reason: str = "end of retention or withdrawal of consent") -> list[Receipt]:
        """Destroy the data keys of every item of a candidate (crypto-shredding). A ``key_shred`` entry per session
        is logged first, then the keys are deleted; the log and the ciphertexts still verify."""
        _check_id(candidate_id, "candidate_id")
        _check_text(reason, "reason")
        _actor(actor)
        by_session: dict[str, list[str]] = {}
        for key_id, sid, _ in self.keys.keys_of_candidate(candidate_id):
            by_session.setdefault(sid, []).append(key_id)
        receipts = []
        for sid, key_ids in sorted(by_session.items()):
            idx, h, _ = self.log.append(lambda st, s=sid, k=key_ids: {
                "chain": SYSTEM_CHAIN, "kind": "key_shred", "session_id": s, "candidate_id": candidate_id,
                "key_ids": k, "reason": reason, "actor": _actor(actor)})
            self.keys.delete(key_ids)
            receipts.append(Receipt(idx, h))
        return receipts

    def rotate_kek(self, new_kek: bytes | None = None, new_kek_id: str | None = None,
                   actor: Actor = SYSTEM_ACTOR) -> dict[str, Any]:
        """Re-wrap every data key under a new KEK. Without ``new_kek`` one is generated and (development mode only)
        kept under the data dir; with a KEK from settings the operator must then set RTUK_EVIDENCE_KEK/_KEK_ID."""
        old = self.keys.ring.current_id
        new_kek = new_kek or secrets.token_bytes(32)
        if len(new_kek) != 32:
            raise ValueError("a KEK is 32 bytes")
        new_kek_id = new_kek_id or _next_kek_id(old, self.keys.ring.keys)
        if new_kek_id in self.keys.ring.keys:
            raise ValueError(f"KEK id {new_kek_id} is already in use")
        ring_file = self.dir / "keys" / "kek.json"
        if not self.kek_from_settings:
            ring = {"current": old, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.ring.keys.items()}}
            ring["keys"][new_kek_id] = base64.b64encode(new_kek).decode()
            _write_secret(ring_file, json.dumps(ring).encode())  # new key durable before anything uses it
        n = self.keys.rewrap_all(new_kek_id, new_kek)
        if not self.kek_from_settings:
            ring["current"] = new_kek_id
            _write_secret(ring_file, json.dumps(ring).encode())
        r = self.log.append(lambda st: {"chain": SYSTEM_CHAIN, "kind": "kek_rotate", "session_id": None,
                                        "old_kek_id": old, "new_kek_id": new_kek_id, "rewrapped": n,
                                        "actor": _actor(actor)})
        return {"old_kek_id": old, "new_kek_id": new_kek_id, "rewrapped": n, "log_index": r[0],
                "new_kek_b64": base64.b64encode(new_kek).decode() if self.kek_from_settings else None}

    # ------------------------------------------------------------------------------------------------------------
    # export
    # ------------------------------------------------------------------------------------------------------------
    def export_bundle(self, session_id: str, out_path: str | Path,
                      auditor_public_key: X25519PublicKey | bytes | None = None) -> Path:
        """Write the session's bundle (docs/BUNDLE-FORMAT.md) to ``out_path`` atomically."""
        if isinstance(auditor_public_key, bytes):
            auditor_public_key = load_x25519_public(auditor_public_key)
        out_path = Path(out_path)
        with self.log.locked() as st:
            if session_id not in st.heads:
                raise SessionError(f"unknown session {session_id}")
            cp = self.log.checkpoint()
            size = int(cp.split(b"\n")[1])
            indices = sorted(i for i in st.chains[session_id] + st.related.get(session_id, []) if i < size)
            lines = self.log.read_lines(indices)
            proofs = {i: st.tree.inclusion_proof(i, size) for i in indices}
        entries = [json.loads(line) for line in lines]
        files: dict[str, str] = {}
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            def add(name: str, data: bytes) -> None:
                zf.writestr(name, data)
                files[name] = hashlib.sha256(data).hexdigest()

            add("entries.jsonl", b"".join(line + b"\n" for line in lines))
            add("checkpoint", cp)
            add("verifier-key.txt", (str(self.signer.verifier_key) + "\n").encode())
            for i in indices:
                add(f"proofs/{i}.tlog-proof", format_tlog_proof(i, proofs[i], cp))
            wrapped: dict[str, Any] = {}
            for e in entries:
                if e["kind"] != "item" or e["chain"] != session_id:
                    continue
                key = e["object"]["key"]
                h = hashlib.sha256()
                info = zipfile.ZipInfo("objects/" + key, date_time=time.gmtime()[:6])
                with self._open_object(key) as src, zf.open(info, "w", force_zip64=True) as dst:
                    while block := src.read(1 << 20):
                        h.update(block)
                        dst.write(block)
                files["objects/" + key] = h.hexdigest()
                if auditor_public_key is not None:
                    try:
                        dk, salt = self.keys.get(e["enc"]["key_id"])
                    except KeyUnavailable:
                        continue
                    wrapped[e["enc"]["key_id"]] = wrap_for_auditor(auditor_public_key, e["enc"]["key_id"], dk, salt)
            if auditor_public_key is not None:
                add("keys.json", json.dumps(wrapped, sort_keys=True, indent=1).encode())
            manifest = {"format": BUNDLE_FORMAT, "session_id": session_id, "origin": self.signer.name,
                        "checkpoint_size": size, "verifier_key": str(self.signer.verifier_key),
                        "entries": len(lines), "auditor_wrap": AUDITOR_WRAP_ALG if auditor_public_key else None,
                        "files": dict(sorted(files.items()))}
            zf.writestr("manifest.json", json.dumps(manifest, sort_keys=True, indent=1).encode())
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
        return out_path

    # ------------------------------------------------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        return self.log.checkpoint()

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        with self.log.locked() as st:
            return st.tree.consistency_proof(old_size, new_size)

    def status(self) -> dict[str, Any]:
        with self.log.locked() as st:
            open_sessions = sorted(c for c, h in st.heads.items() if c != SYSTEM_CHAIN and not h.closed)
            cp = self.log.latest_checkpoint()
            return {
                "log_size": st.tree.size,
                "checkpoint_size": int(cp.split(b"\n")[1]) if cp else 0,
                "sessions": sum(1 for c in st.heads if c != SYSTEM_CHAIN),
                "open_sessions": open_sessions,
                "spool_depth": self.spool_depth(),
                "pending_appends": len(self._pending_object_ids()),
                "quarantined": len(st.quarantined),
                "shredded_keys": len(st.shredded),
                "data_keys": self.keys.count(),
                "backend": self.backend.name,
                "verifier_key": str(self.signer.verifier_key),
                "last_recovery": {k: len(v) if isinstance(v, list) else v for k, v in self.last_recovery.items()},
            }

    def describe_parameters(self) -> dict[str, Any]:
        """The real parameters in force, for the SOP dossier."""
        return {
            "backend": self.backend.name,
            "backend_details": self.backend.describe(),
            "object_lock_mode": self.extra_parameters.get("object_lock_mode"),
            "retention_days": self.extra_parameters.get("retention_days"),
            "legal_hold": self.extra_parameters.get("legal_hold"),
            "encryption": {"algorithm": STREAM_ALG, "cipher": "AES-256-GCM", "data_key_bits": 256,
                           "chunk_size_bytes": self.chunk_size, "tag_bytes": TAG_SIZE,
                           "nonce": "7-byte random prefix || uint32 chunk index || last-chunk flag (96 bits)",
                           "associated_data": "object header (object id, session id, type, key id, nonce prefix)",
                           "data_key": "fresh random per object", "key_wrap": KEK_WRAP_ALG,
                           "kek_id": self.keys.ring.current_id, "kek_bits": 256,
                           "kek_source": "settings" if self.kek_from_settings else "generated under the data dir"},
            "plaintext_commitment": {
                "commit_plaintext=True": "sha256-salted: SHA-256(32-byte random salt || plaintext)",
                "default": "sha256-salted-key: SHA-256(32-byte random salt || data key), binding the plaintext "
                           "together with the logged ciphertext SHA-256",
                "salt": "random per object, stored wrapped with the data key, destroyed by crypto-shredding"},
            "log": {"hashing": "RFC 9162 (SHA-256, leaf 0x00, node 0x01)",
                    "entry_encoding": "canonical JSON, one line per entry",
                    "checkpoint_format": "C2SP tlog-checkpoint / signed-note", "signature": "Ed25519",
                    "proof_format": "C2SP tlog-proof@v1", "origin": self.signer.name,
                    "checkpoint_every_entries": self.log.every_entries,
                    "checkpoint_every_seconds": self.log.every_seconds, "checkpoint_on_session_close": True},
            "verifier_key": str(self.signer.verifier_key),
            "auditor_key_wrap": AUDITOR_WRAP_ALG,
            "bundle_format": BUNDLE_FORMAT,
        }


# ----------------------------------------------------------------------------------------------------------------


class _HashingReader:
    def __init__(self, fh: BinaryIO):
        self.fh, self.h = fh, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        b = self.fh.read(n)
        self.h.update(b)
        return b

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self.h.hexdigest()

    def close(self) -> None:
        self.fh.close()


class _CommitWriter:
    def __init__(self, salt: bytes, sink: BinaryIO):
        self.h, self.sink = hashlib.sha256(salt), sink

    def write(self, b: bytes) -> int:
        self.h.update(b)
        return self.sink.write(b)

    def commitment(self) -> str:
        return "sha256-salted:" + self.h.hexdigest()


#: commits wrapped data keys while the caller encrypts
_KEYS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="evidence-keys")
#: object syncs run here while the caller writes the log line
_SYNC = ThreadPoolExecutor(max_workers=8, thread_name_prefix="evidence-objsync")
_stamp_lock = threading.Lock()
_last_stamp = [0]


def _spool_stamp() -> str:
    with _stamp_lock:
        t = max(time.time_ns(), _last_stamp[0] + 1)
        _last_stamp[0] = t
    return f"{t:020d}"


def _next_kek_id(current: str, existing: dict[str, bytes]) -> str:
    m = re.match(r"^(.*?)(\d+)$", current)
    base, n = (m.group(1), int(m.group(2))) if m else (current + "-", 1)
    while f"{base}{n}" in existing:
        n += 1
    return f"{base}{n}"


def _write_secret(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def load_or_create_signing_key(path: Path, create: bool) -> Ed25519PrivateKey:
    if path.exists():
        data = path.read_bytes()
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return key
        raw = data if len(data) == 32 else base64.b64decode(data.strip())
        return Ed25519PrivateKey.from_private_bytes(raw)
    if not create:
        raise FileNotFoundError(f"checkpoint signing key {path} does not exist")
    key = Ed25519PrivateKey.generate()
    _write_secret(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return key
