"""Envelope encryption: one random data key per object, AES-256-GCM in chunks (nonce = 7-byte random prefix ||
u32 chunk index || last-chunk flag, the object header as associated data of every chunk), data keys wrapped by a
key-encryption key (KEK) whose id is recorded, and data keys re-wrapped to an auditor's X25519 key for bundles.

Decryption lives in :mod:`evidence_store.verifier` so the auditor's copy and ours are the same code.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import queue
import struct
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import KeyUnavailable
from .verifier import (
    AUDITOR_WRAP_ALG,
    COMMITMENT_PREFIX,
    NONCE_PREFIX_SIZE,
    OBJECT_MAGIC,
    STREAM_ALG,
    _auditor_kek,
    canonical_json,
    chunk_nonce,
    key_commitment,
)

KEK_WRAP_ALG = "AES-256-GCM-KEYWRAP-v1"

#: plaintext is encrypted, written and hashed in blocks of this many bytes (whole chunks)
PIPELINE_BLOCK = 1 << 20
#: one task per stream writes its blocks behind the caller's thread (which encrypts and hashes); a stream has one
#: task at a time, so several streams (concurrent appends) write side by side. os.writev releases the GIL.
_WRITERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="evidence-write")
_END = object()
_FINISH = object()


def _write_behind(q: queue.Queue[Any], write: Callable[[list[bytes]], None],
                  finish: Callable[[], Any] | None) -> None:
    while (parts := q.get()) is not _END:
        if parts is _FINISH:  # the last item: complete the file and stop
            if finish is not None:
                finish()
            return
        write(parts)


def build_header(object_id: str, session_id: str, type_: str, key_id: str, chunk_size: int) -> tuple[bytes, bytes]:
    """Return (header bytes = magic || u32 length || canonical JSON, nonce prefix)."""
    prefix = os.urandom(NONCE_PREFIX_SIZE)
    fields = {"alg": STREAM_ALG, "chunk_size": chunk_size, "key_id": key_id,
              "nonce_prefix": base64.b64encode(prefix).decode(), "object_id": object_id,
              "session_id": session_id, "type": type_}
    raw = canonical_json(fields)
    return OBJECT_MAGIC + struct.pack(">I", len(raw)) + raw, prefix


@dataclass
class EncryptResult:
    sha256: str  # of the whole ciphertext object (header included)
    size: int  # ciphertext bytes
    plaintext_size: int
    commitment: str  # sha256-salted:<hex> of salt || plaintext, or sha256-salted-key:<hex> of salt || data key
    chunks: int


def _read_exact(src: BinaryIO, n: int) -> bytes:
    parts = []
    while n > 0:
        b = src.read(n)
        if not b:
            break
        parts.append(b)
        n -= len(b)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def encrypt_stream(src: BinaryIO | bytes, dst: BinaryIO, data_key: bytes, salt: bytes, header: bytes,
                   nonce_prefix: bytes, chunk_size: int, sync_every: int = 0,
                   commit_plaintext: bool = True) -> EncryptResult:
    """Encrypt ``src`` into ``dst`` in one pass, hashing the ciphertext and committing to the plaintext.

    Block by block (:data:`PIPELINE_BLOCK`): the caller's thread encrypts and hashes (and hashes the plaintext for
    the commitment). Each block is written by a helper thread a block behind when there is something to overlap (an
    item of more than one block, or a direct-I/O staging file), else in line: to a staging file through its
    ``write_parts`` (and ``finish`` at the end), to a raw file (``open(..., buffering=0)``) with one ``os.writev``,
    starting writeback every ``sync_every`` bytes (:func:`start_writeback`) so the caller's final sync has little
    left, or else with ``dst.write``. Without ``commit_plaintext`` the commitment is to the data key
    (:func:`verifier.key_commitment`), saving a SHA-256 pass.
    """
    aead = AESGCM(data_key)
    ct_hash = hashlib.sha256()
    commit = hashlib.sha256(salt)
    # a staging file (evidence_store.staging.StagingFile: direct I/O) takes whole blocks and is finished at the end
    write_parts = getattr(dst, "write_parts", None)
    finish = getattr(dst, "finish", None) if write_parts is not None else None
    fd = dst.fileno() if write_parts is None and hasattr(dst, "fileno") and _is_raw(dst) else None
    written = synced = 0  # bytes written, and handed to writeback

    def write(parts: list[bytes]) -> None:
        nonlocal written, synced
        if write_parts is not None:
            write_parts(parts)
            return
        if fd is None:
            for p in parts:
                dst.write(p)
            return
        total = sum(len(p) for p in parts)
        done = os.writev(fd, parts)
        if done != total:  # short write: finish it piecewise
            rest = b"".join(parts)[done:]
            while rest:
                rest = rest[os.write(fd, rest):]
        written += total
        if sync_every and written - synced >= sync_every:
            start_writeback(fd, synced, written - synced)
            synced = written

    if isinstance(src, bytes | bytearray | memoryview):
        src = io.BytesIO(src)
    block = max(chunk_size, PIPELINE_BLOCK // chunk_size * chunk_size)  # whole chunks
    current = _read_exact(src, block)
    nxt = _read_exact(src, block) if len(current) == block else b""
    # Writing happens on a helper thread, a block behind: the caller's thread encrypts block k, queues it and hashes
    # it while the helper writes it (the hash is the longest stage and its result is what the caller waits for). The
    # queue is bounded, so a slow disk holds the encryption back instead of piling blocks up in memory. A one-block
    # item going through the page cache is written in line: there is too little to overlap to pay for the hand-over
    # (measured both ways in bench/bench_evidence.py); a direct write waits for the disk, so it always overlaps.
    q: queue.Queue[Any] | None = None
    writer: Future[Any] | None = None
    if (write_parts is not None or fd is not None) and (nxt or getattr(dst, "direct", False)):
        q = queue.Queue(maxsize=4)
        writer = _WRITERS.submit(_write_behind, q, write, finish)

    def put(item: Any) -> None:
        if q is None or writer is None:  # written in line
            if item is _FINISH:
                if finish is not None:
                    finish()
            elif item is not _END:
                write(item)
            return
        while True:
            if writer.done():  # it stopped on a write error: raise that, do not wait on a queue nobody reads
                writer.result()
                raise OSError("the ciphertext writer stopped")
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    size = plain_size = index = 0
    try:
        ct_hash.update(header)
        size = len(header)
        first: list[bytes] = [header]  # written with the first block: one hand-over fewer
        while True:
            n = len(current)
            final_block = not nxt
            off = 0
            view = memoryview(current)
            parts = []
            while True:
                piece = view[off : off + chunk_size]
                off += len(piece)
                last = final_block and off >= n
                parts.append(aead.encrypt(chunk_nonce(nonce_prefix, index, last), piece, header))
                index += 1
                if off >= n:
                    break
            put(first + parts)
            first = []
            if final_block and finish is not None:
                put(_FINISH)  # the file is completed while the caller hashes
            for p in parts:
                ct_hash.update(p)
            if commit_plaintext:
                commit.update(current)
            size += sum(len(p) for p in parts)
            plain_size += n
            if final_block:
                break
            current = nxt
            nxt = _read_exact(src, block) if len(current) == block else b""
    finally:
        if q is not None and writer is not None:
            if not writer.done():
                with suppress(Exception):
                    put(_END)  # ends the writer unless _FINISH already has
            writer.result()  # raises the writer's error, if any
    if fd is not None and sync_every and written > synced:
        start_writeback(fd, synced, written - synced)
    commitment = COMMITMENT_PREFIX + commit.hexdigest() if commit_plaintext else key_commitment(salt, data_key)
    return EncryptResult(ct_hash.hexdigest(), size, plain_size, commitment, index)


def _load_sync_file_range() -> Any:
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        return fn
    except (OSError, AttributeError):
        return None


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a written range to disk without waiting (Linux ``sync_file_range``), so the final ``fdatasync``
    has little left to do; elsewhere fall back to ``fdatasync``. Durability still comes only from that final sync."""
    if _SYNC_FILE_RANGE is None or _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE) != 0:
        os.fdatasync(fd)


def _is_raw(f: Any) -> bool:
    """True for an unbuffered file (``open(..., buffering=0)``), whose fd we may write to directly."""
    return isinstance(f, io.FileIO)


# ----------------------------------------------------------------------------------------------------------------
# KEK wrapping (data key || commitment salt, bound to the key id and the KEK id)
# ----------------------------------------------------------------------------------------------------------------


def wrap_with_kek(kek: bytes, kek_id: str, key_id: str, data_key: bytes, salt: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, data_key + salt, f"{KEK_WRAP_ALG}|{kek_id}|{key_id}".encode())


def unwrap_with_kek(kek: bytes, kek_id: str, key_id: str, wrapped: bytes) -> tuple[bytes, bytes]:
    try:
        plain = AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], f"{KEK_WRAP_ALG}|{kek_id}|{key_id}".encode())
    except InvalidTag:
        raise KeyUnavailable(f"data key {key_id} does not unwrap with KEK {kek_id}") from None
    return plain[:32], plain[32:]


def wrap_for_auditor(recipient: X25519PublicKey, key_id: str, data_key: bytes, salt: bytes) -> dict[str, Any]:
    eph = X25519PrivateKey.generate()
    epk = eph.public_key().public_bytes_raw()
    rcpt = recipient.public_bytes_raw()
    kek = _auditor_kek(eph.exchange(recipient), epk, rcpt)
    nonce = os.urandom(12)
    ct = AESGCM(kek).encrypt(nonce, data_key + salt, key_id.encode())
    return {"alg": AUDITOR_WRAP_ALG, "ct": base64.b64encode(ct).decode(), "epk": base64.b64encode(epk).decode(),
            "nonce": base64.b64encode(nonce).decode()}


def load_x25519_public(data: bytes) -> X25519PublicKey:
    from cryptography.hazmat.primitives import serialization

    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, X25519PublicKey):
            raise ValueError("not an X25519 public key")
        return key
    raw = data if len(data) == 32 else base64.b64decode(data, validate=True)
    return X25519PublicKey.from_public_bytes(raw)
