"""EvidenceStore: the library the web app, the media thread and the operator CLI call. See docs/EVIDENCE.md.

The store itself is here: sessions, the durable append, reads, shredding, KEK rotation and what it reports about
itself. Its parts live beside it: :mod:`.fields` (what an entry may hold), :mod:`.intents` (the record of appends in
flight), :mod:`.spool` (objects waiting for the object store), :mod:`.recovery` (start-up reconciliation),
:mod:`.export` (bundles), :mod:`.keyfiles` (keys on disk), :mod:`.log` (the Merkle log), :mod:`.crypto` and
:mod:`.verifier`.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import threading
import time
import uuid
from base64 import b64encode
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from . import export, ranges, recovery
from .backends import FilesystemStore, ObjectStore, S3Store
from .crypto import KEK_WRAP_ALG, build_header, encrypt_stream
from .errors import IntegrityError, ObjectNotFound, SessionError, StoreUnavailable
from .fields import (
    SYSTEM_ACTOR,
    Actor,
    Receipt,
    actor_fields,
    check_canonical,
    check_id,
    check_text,
    quarantine_entry,
)
from .intents import Intent, IntentSlots, pending_object_ids
from .keyfiles import kek_ring, load_or_create_signing_key, next_kek_id, save_kek_ring
from .keystore import KekRing, KeyStore
from .log import SYSTEM_CHAIN, LogState, NoteSigner, Origin, TransparencyLog
from .spool import Spool
from .staging import DIRECT_MIN_BYTES, StagingFile
from .verifier import (
    AUDITOR_WRAP_ALG,
    BUNDLE_FORMAT,
    STREAM_ALG,
    TAG_SIZE,
    commitment_matches,
    decrypt_stream,
)

#: how many session chains one chain may link to (a schedule's report links to each of its sessions)
MAX_LINKS = 500

__all__ = ["SYSTEM_ACTOR", "Actor", "EvidenceStore", "Receipt", "load_or_create_signing_key"]


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


class EvidenceStore:
    def __init__(self, data_dir: Path, backend: ObjectStore, ring: KekRing, signing_key: Ed25519PrivateKey, *,
                 origin: Origin = None, chunk_size: int = 64 * 1024, checkpoint_every_entries: int = 256,
                 checkpoint_every_seconds: int = 60, kek_from_settings: bool = False,
                 extra_parameters: dict[str, Any] | None = None, recover: bool = True, log_url: str | None = None):
        self.dir = Path(data_dir)
        for sub in ("staging", "spool", "pending", "keys"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.chunk_size = chunk_size
        self.kek_from_settings = kek_from_settings
        self.keys = KeyStore(self.dir / "keys" / "keystore.sqlite3", ring)
        self._slots = IntentSlots(self.dir / "pending")
        if log_url:
            # one log for every node (evidence_store/pglog.py): sequencing and storage in PostgreSQL
            from .pglog import PgTransparencyLog

            self.log: TransparencyLog = PgTransparencyLog(log_url, signing_key, origin=origin,
                                                          every_entries=checkpoint_every_entries,
                                                          every_seconds=checkpoint_every_seconds)
        else:
            self.log = TransparencyLog(self.dir / "log", signing_key, origin=origin,
                                       every_entries=checkpoint_every_entries, every_seconds=checkpoint_every_seconds)
        named = self.log.name_on_disk()
        if isinstance(origin, str) and named is not None and named != origin:
            self.log.close()
            raise ValueError(f"the evidence log is named {named!r} (every checkpoint and verifier key carries that "
                             f"name) but {origin!r} was configured: a log keeps its name; configure {named!r} or "
                             "leave the origin unset")
        self.extra_parameters = extra_parameters or {}
        self.spool = Spool(self.dir / "spool")
        self._headers = ranges.HeaderCache()
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
    def from_settings(cls, evidence: Any, data_dir: Path | None = None, origin: Origin = None,
                      **kw: Any) -> EvidenceStore:
        """Build from ``config.EvidenceSettings``. ``data_dir`` defaults to ``evidence.dir`` (absolute) or var/.
        The log's name is ``evidence.log_origin`` when set, else ``origin`` (e.g. a function returning the LSP's
        domain, asked until the log's first checkpoint), else the name the log already has."""
        if data_dir is None:
            from config import load_settings

            data_dir = load_settings(evidence=evidence).evidence_dir
        data_dir = Path(data_dir)
        keys_dir = data_dir / "keys"
        keys_dir.mkdir(parents=True, exist_ok=True)
        # key-encryption keys: from settings, else generated and kept under the data dir (development)
        ring, from_settings = kek_ring(evidence, keys_dir)
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
        return cls(data_dir, backend, ring, signing, origin=evidence.log_origin or origin,
                   chunk_size=evidence.chunk_size, checkpoint_every_entries=evidence.checkpoint_every_entries,
                   checkpoint_every_seconds=evidence.checkpoint_every_seconds, kek_from_settings=from_settings,
                   # retention and legal hold exist only where the object store enforces them (S3 object lock);
                   # the filesystem store is write-once through this API but enforces no retention
                   extra_parameters={"retention_days": evidence.retention_days if evidence.backend == "s3" else None,
                                     "object_lock_mode": evidence.object_lock_mode if evidence.backend == "s3"
                                     else None,
                                     "legal_hold": evidence.legal_hold if evidence.backend == "s3" else None},
                   log_url=evidence.log_url or None, **kw)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the process is stopping): background work should stop, not retry."""
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        if self._bg is not None:
            self._bg.join(timeout=10)
        self.log.close()
        self.spool.close()
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
                     actor: Actor = SYSTEM_ACTOR, link_to: Sequence[str] = ()) -> Receipt:
        """Open a chain. ``link_to`` names session chains this one belongs to (an appeal, an assessment record):
        its opening then carries, per session, a link to that chain's head at this moment (seq, log index, entry
        hash), taken under the log's lock, and the session's bundle includes this chain (docs/BUNDLE-FORMAT.md §4.6).
        """
        check_id(session_id, "session_id")
        if session_id == SYSTEM_CHAIN:
            raise ValueError(f"{SYSTEM_CHAIN!r} is the log's own chain, not a session id")
        check_canonical(meta or {}, "meta")
        targets = list(dict.fromkeys(link_to))
        if len(targets) > MAX_LINKS:
            raise ValueError(f"a chain links to at most {MAX_LINKS} sessions")
        for target in targets:
            check_id(target, "link_to")

        def build(st: LogState) -> dict[str, Any]:
            if session_id in st.heads:
                raise SessionError(f"session {session_id} already exists")
            links = []
            for target in targets:
                head = st.heads.get(target)
                if head is None or target == SYSTEM_CHAIN or target == session_id:
                    raise SessionError(f"cannot link to {target}: no such session chain")
                if target in st.links:
                    raise SessionError(f"cannot link to {target}: it is itself a linked chain")
                links.append({"chain": target, "seq": head.seq, "log_index": st.chains[target][-1],
                              "hash": head.leaf})
            entry = {"chain": session_id, "kind": "open", "session_id": session_id, "metadata": meta or {},
                     "actor": actor_fields(actor)}
            if links:
                entry["links"] = links
            return entry

        idx, h, _ = self.log.append(build)
        return Receipt(idx, h)

    def close_session(self, session_id: str, actor: Actor = SYSTEM_ACTOR) -> Receipt:
        def build(st: LogState) -> dict[str, Any]:
            self._require_open(st, session_id)
            return {"chain": session_id, "kind": "close", "session_id": session_id, "actor": actor_fields(actor)}

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
        check_id(session_id, "session_id")
        check_id(type, "type")
        check_canonical(metadata or {})
        if candidate_id is not None:
            check_id(candidate_id, "candidate_id")
        # everything that goes into the entry is checked before any work is done
        actor_entry = actor_fields(actor)
        client_text = None if client_time is None else check_text(str(client_time), "client_time")
        if isinstance(media_range, tuple | list):
            if len(media_range) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in media_range):
                raise ValueError("media_range must be (start_ms, end_ms), two integers")
            media_range = {"start_ms": media_range[0], "end_ms": media_range[1]}
        check_canonical(media_range, "media_range")
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
                    "metadata": metadata or {}, "actor": actor_entry, "client_time": client_text,
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
                    self.spool.put(staging, object_id, object_key, res.sha256)
                fields["object"]["version"] = version
                fields["spooled"] = spooled

                def build(st: LogState) -> dict[str, Any]:
                    head = st.heads.get(session_id)
                    if head is None or head.closed:
                        # the session was closed by someone else meanwhile: record the orphan, refuse the append
                        return quarantine_entry(session_id, fields["object"],
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
    def _intent(self, object_key: str, fields: dict[str, Any]) -> Iterator[Intent]:
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

    def _save_key(self, intent: Intent, key_id: str, session_id: str, candidate_id: str | None, object_key: str,
                  dk: bytes, salt: bytes, kek_id: str) -> None:
        self.keys.put(key_id, session_id, candidate_id, object_key, dk, salt, kek_id)
        intent.sync()

    # ------------------------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------------------------
    def list_entries(self, session_id: str, include_related: bool = True,
                     include_linked: bool = False) -> list[dict[str, Any]]:
        """The chain's entries in log order; with ``include_related`` the system entries about it (reads, ...);
        with ``include_linked`` also the entries of every chain linked to it and the system entries about those."""
        with self.log.locked() as st:
            chains = [session_id, *(st.linked.get(session_id, []) if include_linked else [])]
            idx = [i for c in chains for i in st.chains.get(c, [])]
            if include_related:
                idx += [i for c in chains for i in st.related.get(c, [])]
            return [json.loads(line) for line in self.log.read_lines(sorted(idx))]

    def linked_chains(self, session_id: str) -> list[str]:
        """The chains whose opening links to this session's chain, in the order they were opened."""
        with self.log.locked() as st:
            return list(st.linked.get(session_id, []))

    def _item_entry(self, object_key: str) -> dict[str, Any]:
        with self.log.locked() as st:
            idx = st.objects.get(object_key)
            if idx is None:
                raise ObjectNotFound(f"no logged item has object key {object_key}")
            return self.log.entry(idx)

    def open_object(self, object_key: str) -> BinaryIO:
        """The stored ciphertext of an object (from the spool while it waits there)."""
        spooled = self.spool.open(object_key)
        return spooled if spooled is not None else self.backend.open(object_key)

    def read(self, object_ref: str | Receipt, reader: Actor, out: BinaryIO | None = None) -> bytes | None:
        """Decrypt one item, checking its ciphertext hash and plaintext commitment against the log, and log the read.
        Returns the plaintext (or writes it to ``out`` and returns None)."""
        object_key = object_ref.object_key if isinstance(object_ref, Receipt) else object_ref
        assert object_key
        e = self._item_entry(object_key)
        dk, salt = self.keys.get(e["enc"]["key_id"])
        sink = out if out is not None else io.BytesIO()
        hashing = _HashingReader(self.open_object(object_key))
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
                                    "actor": actor_fields(reader)})
        return sink.getvalue() if out is None else None  # type: ignore[union-attr]

    # ------------------------------------------------------------------------------------------------------------
    # ranged reads (evidence_store/ranges.py): a player seeking in a recording of any length
    # ------------------------------------------------------------------------------------------------------------
    def plain_object(self, object_key: str) -> ranges.PlainObject:
        """The logged item's header and plaintext size, for :meth:`read_range`. Raises ObjectNotFound."""
        e = self._item_entry(object_key)
        header = self._headers.get(object_key)
        if header is None:
            spooled = self.spool.open(object_key)
            stream = ranges.open_range(self.backend, spooled, object_key, 0, 8 + ranges.MAX_HEADER)
            try:
                header, _ = ranges.read_header(stream)
            finally:
                stream.close()
            if header.fields.get("object_id") != e["object"]["id"] or header.fields.get("type") != e["type"]:
                raise IntegrityError(f"{object_key}: object header differs from the log")
            self._headers.put(object_key, header)
        return ranges.PlainObject(object_key, header, len(header.aad), int(e["enc"]["chunks"]),
                                  int(e["object"]["plaintext_size"]), e["type"])

    def read_range(self, obj: ranges.PlainObject, start: int, stop: int) -> Iterator[bytes]:
        """The plaintext bytes ``[start, stop)`` of a logged item, decrypted chunk by chunk (nothing is logged:
        the caller logs one read per viewing with :meth:`log_read`)."""
        dk, _salt = self.keys.get(obj.header.fields["key_id"])

        def opener(offset: int, length: int) -> BinaryIO:
            return ranges.open_range(self.backend, self.spool.open(obj.object_key), obj.object_key, offset, length)

        return ranges.plaintext_chunks(obj, dk, opener, start, stop)

    def log_read(self, object_key: str, reader: Actor) -> int:
        """Log that *reader* viewed an item without :meth:`read` (e.g. a recording streamed in ranges)."""
        e = self._item_entry(object_key)
        idx, _h, _ = self.log.append(lambda st: {"chain": SYSTEM_CHAIN, "kind": "read", "session_id": e["session_id"],
                                                 "object": {"key": object_key}, "item_log_index": e["log_index"],
                                                 "actor": actor_fields(reader)})
        return int(idx)

    # ------------------------------------------------------------------------------------------------------------
    # spool
    # ------------------------------------------------------------------------------------------------------------
    def spool_depth(self) -> int:
        return self.spool.depth()

    def drain_spool(self) -> int:
        """Upload spooled objects in order; stop at the first failure. Returns how many were stored."""
        return self.spool.drain(self.backend, self.log)

    # ------------------------------------------------------------------------------------------------------------
    # recovery (evidence_store/recovery.py)
    # ------------------------------------------------------------------------------------------------------------
    def recover(self, scan_store: bool = True) -> dict[str, Any]:
        """Reconcile after a crash: re-log objects whose append was interrupted after the object was stored,
        quarantine objects without entries and entries without objects, clear stale staging files. Everything
        found is logged (kind ``item`` with ``recovered``, or ``quarantine``); nothing is dropped silently."""
        return recovery.recover(self, scan_store)

    # ------------------------------------------------------------------------------------------------------------
    # shredding and key rotation
    # ------------------------------------------------------------------------------------------------------------
    def shred_candidate(self, candidate_id: str, actor: Actor = SYSTEM_ACTOR,
                        reason: str = "end of retention or withdrawal of consent") -> list[Receipt]:
        """Destroy the data keys of every item of a candidate (crypto-shredding). A ``key_shred`` entry per session
        is logged first, then the keys are deleted; the log and the ciphertexts still verify."""
        check_id(candidate_id, "candidate_id")
        check_text(reason, "reason")
        actor_fields(actor)
        by_session: dict[str, list[str]] = {}
        for key_id, sid, _ in self.keys.keys_of_candidate(candidate_id):
            by_session.setdefault(sid, []).append(key_id)
        receipts = []
        for sid, key_ids in sorted(by_session.items()):
            idx, h, _ = self.log.append(lambda st, s=sid, k=key_ids: {
                "chain": SYSTEM_CHAIN, "kind": "key_shred", "session_id": s, "candidate_id": candidate_id,
                "key_ids": k, "reason": reason, "actor": actor_fields(actor)})
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
        new_kek_id = new_kek_id or next_kek_id(old, self.keys.ring.keys)
        if new_kek_id in self.keys.ring.keys:
            raise ValueError(f"KEK id {new_kek_id} is already in use")
        ring_file = self.dir / "keys" / "kek.json"
        if not self.kek_from_settings:
            keks = {**self.keys.ring.keys, new_kek_id: new_kek}
            save_kek_ring(ring_file, old, keks)  # the new key is durable before anything uses it
        n = self.keys.rewrap_all(new_kek_id, new_kek)
        if not self.kek_from_settings:
            save_kek_ring(ring_file, new_kek_id, keks)
        r = self.log.append(lambda st: {"chain": SYSTEM_CHAIN, "kind": "kek_rotate", "session_id": None,
                                        "old_kek_id": old, "new_kek_id": new_kek_id, "rewrapped": n,
                                        "actor": actor_fields(actor)})
        return {"old_kek_id": old, "new_kek_id": new_kek_id, "rewrapped": n, "log_index": r[0],
                "new_kek_b64": b64encode(new_kek).decode() if self.kek_from_settings else None}

    # ------------------------------------------------------------------------------------------------------------
    # export (evidence_store/export.py)
    # ------------------------------------------------------------------------------------------------------------
    def export_bundle(self, session_id: str, out_path: str | Path,
                      auditor_public_key: X25519PublicKey | bytes | None = None) -> Path:
        """Write the session's bundle (docs/BUNDLE-FORMAT.md) to ``out_path`` atomically."""
        return export.export_bundle(self, session_id, out_path, auditor_public_key)

    # ------------------------------------------------------------------------------------------------------------
    # introspection
    # ------------------------------------------------------------------------------------------------------------
    @property
    def signer(self) -> NoteSigner:
        """Signs checkpoints under the log's name (see :class:`TransparencyLog`)."""
        return self.log.signer

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
                "pending_appends": len(pending_object_ids(self.dir / "pending")),
                "quarantined": len(st.quarantined),
                "shredded_keys": len(st.shredded),
                "data_keys": self.keys.count(),
                "backend": self.backend.name,
                "verifier_key": str(self.signer.verifier_key),
                # a log is named by its first checkpoint; until then the name is the one it would get now
                "origin": self.signer.name,
                "origin_fixed": self.log.name_on_disk() is not None,
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
                    "storage": "PostgreSQL, shared by every node" if self.log.shared else "a file on this machine",
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
