"""Encrypted objects: ``RTE1`` header + AES-256-GCM chunks, nonce = prefix (7 bytes) || chunk index (u32 BE) ||
last-chunk flag (1 byte), the header as associated data of every chunk; and the salted commitments the log holds."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .encoding import parse_canonical
from .errors import DecryptionError

OBJECT_MAGIC = b"RTE1"
STREAM_ALG = "AES-256-GCM-STREAM-v1"
COMMITMENT_PREFIX = "sha256-salted:"
KEY_COMMITMENT_PREFIX = "sha256-salted-key:"
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
MAX_HEADER = 64 * 1024


def chunk_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


@dataclass(frozen=True)
class ObjectHeader:
    fields: dict[str, Any]
    aad: bytes  # magic || u32 length || header JSON: bound to every chunk as associated data
    nonce_prefix: bytes
    chunk_size: int


def read_object_header(stream: BinaryIO) -> ObjectHeader:
    start = stream.read(8)
    if len(start) != 8 or start[:4] != OBJECT_MAGIC:
        raise DecryptionError("object_malformed", "object does not start with the RTE1 magic")
    (length,) = struct.unpack(">I", start[4:])
    if length > MAX_HEADER:
        raise DecryptionError("object_malformed", "object header is too large")
    raw = stream.read(length)
    if len(raw) != length:
        raise DecryptionError("object_malformed", "object header is truncated")
    try:
        fields = parse_canonical(raw)
        if fields.get("alg") != STREAM_ALG:
            raise ValueError(f"unknown algorithm {fields.get('alg')!r}")
        prefix = base64.b64decode(fields["nonce_prefix"], validate=True)
        chunk_size = fields["chunk_size"]
        if len(prefix) != NONCE_PREFIX_SIZE or not isinstance(chunk_size, int) or not 1 <= chunk_size <= 1 << 26:
            raise ValueError("bad nonce prefix or chunk size")
        for name in ("object_id", "session_id", "type", "key_id"):
            if not isinstance(fields.get(name), str):
                raise ValueError(f"header field {name} missing")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise DecryptionError("object_malformed", f"object header: {exc}") from None
    return ObjectHeader(fields, start + raw, prefix, chunk_size)


def decrypt_stream(stream: BinaryIO, data_key: bytes, out: BinaryIO | None = None,
                   expect: dict[str, str] | None = None) -> tuple[ObjectHeader, int]:
    """Decrypt an object, writing plaintext to ``out``. Returns (header, plaintext size).

    Raises DecryptionError with a precise reason: wrong key, altered chunk, chunk replayed from another position,
    reordered chunks, or truncation (the last chunk present is not marked final).
    """
    header = read_object_header(stream)
    if expect:
        for name, value in expect.items():
            if header.fields.get(name) != value:
                raise DecryptionError("object_header_mismatch", f"object header {name} is "
                                      f"{header.fields.get(name)!r}, the log says {value!r}")
    aead = AESGCM(data_key)
    seg = header.chunk_size + TAG_SIZE
    index = 0
    total = 0
    history: list[bytes] = []  # the first few ciphertext segments, to name a replayed chunk
    current = stream.read(seg)
    while True:
        following = stream.read(seg) if len(current) == seg else b""
        last = not following
        if len(current) < TAG_SIZE:
            raise DecryptionError("object_truncated", f"chunk {index} is shorter than an authentication tag")
        try:
            plain = aead.decrypt(chunk_nonce(header.nonce_prefix, index, last), current, header.aad)
        except InvalidTag:
            raise _diagnose(aead, header, current, index, last, history) from None
        if out is not None:
            out.write(plain)
        total += len(plain)
        if last:
            return header, total
        if len(history) < 64:
            history.append(current)
        index += 1
        current = following


def _diagnose(aead: AESGCM, header: ObjectHeader, seg: bytes, index: int, last: bool,
              history: list[bytes]) -> DecryptionError:
    def opens(i: int, is_last: bool) -> bool:
        try:
            aead.decrypt(chunk_nonce(header.nonce_prefix, i, is_last), seg, header.aad)
            return True
        except InvalidTag:
            return False

    if last and opens(index, False):
        return DecryptionError("object_truncated", f"object is truncated: chunk {index} is the last one present "
                               "but was not encrypted as the final chunk")
    if not last and opens(index, True):
        return DecryptionError("object_extended", f"chunk {index} was encrypted as the final chunk but more data "
                               "follows")
    if seg in history:
        return DecryptionError("object_chunk_replayed", f"chunk {index} is a replay of chunk {history.index(seg)}")
    for i in range(min(index + 64, 1 << 20)):
        if i != index and (opens(i, False) or opens(i, True)):
            return DecryptionError("object_chunk_reordered",
                                   f"chunk at position {index} was encrypted for position {i}")
    return DecryptionError("object_chunk_altered", f"chunk {index} fails authentication (altered, from another "
                           "object, or wrong key)")


def key_commitment(salt: bytes, data_key: bytes) -> str:
    """Commitment to the data key. With the logged SHA-256 of the ciphertext it binds the plaintext too: under one key
    an AES-GCM ciphertext opens to exactly one plaintext, and no other key can match the commitment."""
    return KEY_COMMITMENT_PREFIX + hashlib.sha256(salt + data_key).hexdigest()


def commitment_matches(logged: Any, salt: bytes, data_key: bytes, plaintext_commitment: str) -> bool:
    if isinstance(logged, str) and logged.startswith(KEY_COMMITMENT_PREFIX):
        return logged == key_commitment(salt, data_key)
    return logged == plaintext_commitment


def salted_commitment(salt: bytes, plaintext_chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256(salt)
    for c in plaintext_chunks:
        h.update(c)
    return COMMITMENT_PREFIX + h.hexdigest()
