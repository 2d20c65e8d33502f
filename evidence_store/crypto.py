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
import struct
from collections.abc import Callable, Iterator
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
    TAG_SIZE,
    auditor_kek,
    canonical_json,
    chunk_nonce,
    key_commitment,
)

KEK_WRAP_ALG = "AES-256-GCM-KEYWRAP-v1"

#: plaintext is encrypted, hashed and handed to the writer in blocks of this many bytes (whole chunks)
PIPELINE_BLOCK = 1 << 20


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


def _blocks(src: BinaryIO | bytes | bytearray | memoryview, block: int) -> Iterator[tuple[memoryview, bool]]:
    """The plaintext in blocks of ``block`` bytes, each with whether it is the last (an empty source is one empty
    last block). Bytes are sliced, not copied; a buffered stream is read into two reused buffers, the next block
    read before the current one is handed out (to know which is last); the consumer is done with a block when it
    asks for the next."""
    if isinstance(src, bytes | bytearray | memoryview):
        view = memoryview(src).cast("B")
        if not view:
            yield view, True
        for off in range(0, len(view), block):
            yield view[off : off + block], off + block >= len(view)
        return
    reusable = isinstance(src, io.BufferedIOBase | io.RawIOBase)
    bufs = [memoryview(bytearray(block)), memoryview(bytearray(block))] if reusable else []

    def fill(i: int) -> memoryview:
        if not reusable:
            return memoryview(_read_exact(src, block))
        got = 0
        while got < block:
            n = src.readinto(bufs[i][got:])  # type: ignore[union-attr]
            if not n:
                break
            got += n
        return bufs[i][:got]

    cur, i = fill(0), 0
    while True:
        if len(cur) < block:
            yield cur, True
            return
        nxt = fill(1 - i)
        if not nxt:
            yield cur, True
            return
        yield cur, False
        cur, i = nxt, 1 - i


def encrypt_stream(src: BinaryIO | bytes, dst: Any, data_key: bytes, salt: bytes, header: bytes,
                   nonce_prefix: bytes, chunk_size: int, commit_plaintext: bool = True) -> EncryptResult:
    """Encrypt ``src`` into ``dst`` in one pass, hashing the ciphertext and committing to the plaintext.

    Block by block (:data:`PIPELINE_BLOCK`), in the caller's thread: each chunk is encrypted straight into the
    destination's buffer when it lends one (a :class:`evidence_store.staging.StagingFile`: ``region`` /
    ``commit``, whose helper thread then writes the block while this thread hashes it), else into a fresh buffer
    handed to ``dst.write``. Without ``commit_plaintext`` the commitment is to the data key
    (:func:`verifier.key_commitment`), saving a SHA-256 pass over the plaintext.
    """
    aead = AESGCM(data_key)
    ct_hash = hashlib.sha256(header)
    commit = hashlib.sha256(salt)
    block = max(chunk_size, PIPELINE_BLOCK // chunk_size * chunk_size)  # whole chunks
    region = getattr(dst, "region", None)
    limit = getattr(dst, "region_limit", 0)
    if region is not None and block + block // chunk_size * TAG_SIZE + len(header) > limit:
        region = None  # chunks too large for the lent buffer: encrypt into fresh buffers and copy them in
    if region is None:  # a staging file takes parts; anything else, ``write``
        parts = getattr(dst, "write_parts", None)
        put: Callable[[memoryview | bytes], Any] = (lambda b: parts([b])) if parts is not None else dst.write
    size, plain_size, index = len(header), 0, 0
    pending_header = True
    for plain, final in _blocks(src, block):
        n = len(plain)
        ct_len = n + max(1, -(-n // chunk_size)) * TAG_SIZE
        lead = len(header) if pending_header else 0
        if region is not None:
            view = region(lead + ct_len)
            view[:lead] = header[:lead]  # the header goes with the first block
        else:
            if lead:
                put(header)
            view, lead = memoryview(bytearray(ct_len)), 0
        out = view[lead:]
        pos = off = 0
        while True:
            piece = plain[off : off + chunk_size]
            off += len(piece)
            end = pos + len(piece) + TAG_SIZE
            aead.encrypt_into(chunk_nonce(nonce_prefix, index, final and off >= n), piece, header, out[pos:end])
            pos = end
            index += 1
            if off >= n:
                break
        if region is not None:
            dst.commit(lead + ct_len, final=final)  # written by a helper thread while this one hashes
        else:
            put(out)
        ct_hash.update(out)
        if commit_plaintext:
            commit.update(plain)
        out.release()
        view.release()
        size += ct_len
        plain_size += n
        pending_header = False
    commitment = COMMITMENT_PREFIX + commit.hexdigest() if commit_plaintext else key_commitment(salt, data_key)
    return EncryptResult(ct_hash.hexdigest(), size, plain_size, commitment, index)


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
    kek = auditor_kek(eph.exchange(recipient), epk, rcpt)
    nonce = os.urandom(12)
    ct = AESGCM(kek).encrypt(nonce, data_key + salt, key_id.encode())
    return {"alg": AUDITOR_WRAP_ALG, "ct": base64.b64encode(ct).decode(), "epk": base64.b64encode(epk).decode(),
            "nonce": base64.b64encode(nonce).decode()}


def load_x25519_public(data: bytes) -> X25519PublicKey:
    from cryptography.hazmat.primitives import serialization

    if len(data) == 32:  # raw: any byte may be one that strip() would cut
        return X25519PublicKey.from_public_bytes(data)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, X25519PublicKey):
            raise ValueError("not an X25519 public key")
        return key
    raw = data if len(data) == 32 else base64.b64decode(data, validate=True)
    return X25519PublicKey.from_public_bytes(raw)
