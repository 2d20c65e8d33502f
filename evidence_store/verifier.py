"""Offline verifier for evidence bundles (docs/BUNDLE-FORMAT.md).

This module imports only the Python standard library and ``cryptography`` so that an auditor can copy this one file
and run it without our server, our settings, or the rest of the project::

    python verifier.py verify BUNDLE.zip --pubkey 'origin+1a2b3c4d+AXsD...' [--decrypt-with auditor.key]

The numbered steps below (STEP 1 ... STEP 10) are the ones in docs/BUNDLE-FORMAT.md section "Verification".
Every failure is reported with a stable code and a precise reason; the bundle verifies only if there is none.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import io
import json
import lzma
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BUNDLE_FORMAT = "rtuk-evidence-bundle/1"
OBJECT_MAGIC = b"RTE1"
STREAM_ALG = "AES-256-GCM-STREAM-v1"
AUDITOR_WRAP_ALG = "X25519-HKDF-SHA256-AES-256-GCM-v1"
AUDITOR_WRAP_INFO = b"rtuk-evidence/auditor-wrap/v1"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
COMMITMENT_PREFIX = "sha256-salted:"
KEY_COMMITMENT_PREFIX = "sha256-salted-key:"
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
MAX_HEADER = 64 * 1024
MAX_BUNDLE_FILES = 2_000_000
MAX_TEXT_FILE = 512 * 1024 * 1024
ENTRY_KINDS = {"open", "item", "close", "read", "key_shred", "object_stored", "quarantine", "kek_rotate"}


# ----------------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------------


def b64decode_strict(text: str | bytes) -> bytes:
    """Standard base64 (RFC 4648 section 4), padded, and canonical: re-encoding gives the same text."""
    try:
        if isinstance(text, bytes):
            text = text.decode("ascii")
        raw = base64.b64decode(text, validate=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise binascii.Error(str(exc)) from None
    if base64.b64encode(raw).decode() != text:
        raise binascii.Error("non-canonical base64")
    return raw


class VerificationError(Exception):
    """One precise reason why something does not verify. ``code`` is stable; ``message`` is for humans."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class DecryptionError(VerificationError):
    pass


# ----------------------------------------------------------------------------------------------------------------
# Canonical JSON (sorted keys, no whitespace, ASCII with \\u escapes, integers/strings/bools/null/lists/objects)
# ----------------------------------------------------------------------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_float(text: str) -> Any:
    raise ValueError(f"floating-point number {text!r} is not allowed in canonical JSON")


def is_text(value: str) -> bool:
    """False if ``value`` holds a UTF-16 surrogate (what JSON's ``\\uD800``-``\\uDFFF`` escape decodes to outside a
    valid pair): not Unicode text, and no UTF-8 encoding exists for it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate(value: Any) -> bool:
    """True if a string in ``value`` (keys included) is not Unicode text (:func:`is_text`)."""
    if isinstance(value, str):
        return not is_text(value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def parse_canonical(line: bytes) -> dict[str, Any]:
    """Parse one canonical JSON object; raise ValueError unless ``line`` is exactly its canonical serialisation."""
    text = line.decode("ascii")
    obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_reject_float, parse_constant=_reject_float)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if canonical_json(obj) != line:
        raise ValueError("not in canonical form (sorted keys, no whitespace, ASCII)")
    if b"\\ud" in line and _lone_surrogate(obj):  # the escape of every surrogate starts so (canonical: lower case)
        raise ValueError("a string holds an unpaired UTF-16 surrogate escape, which is not Unicode text")
    return obj


# ----------------------------------------------------------------------------------------------------------------
# RFC 9162 Merkle tree hashing (section 2.1) and proof verification (2.1.3.2, 2.1.4.2)
# ----------------------------------------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes, computed bottom-up with a stack of perfect subtrees (equivalent to RFC 9162 2.1.1)."""
    stack: list[tuple[int, bytes]] = []  # (height, hash), strictly decreasing heights
    sha = hashlib.sha256
    n = 0
    for h in hashes:
        n += 1
        height = 0
        while stack and stack[-1][0] == height:
            h = sha(b"\x01" + stack.pop()[1] + h).digest()
            height += 1
        stack.append((height, h))
    if n == 0:
        return EMPTY_ROOT
    r = stack.pop()[1]
    while stack:
        r = sha(b"\x01" + stack.pop()[1] + r).digest()
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


class InclusionCache:
    """Verifies many inclusion proofs against one tree, computing each interior node once.

    A node (level, position) that an earlier proof already carried to the signed root is known-good: a later proof
    that reaches the same node with the same hash is verified from there on. Any mismatch falls back to the full walk.
    """

    def __init__(self, size: int, root: bytes):
        self.size, self.root = size, root
        self.known: dict[tuple[int, int], bytes] = {}

    def verify(self, leaf: bytes, index: int, path: list[bytes]) -> bool:
        """Same result as :func:`verify_inclusion`; every path element is checked, hashing only where needed."""
        if index < 0 or index >= self.size:
            return False
        fn, sn, r, level = index, self.size - 1, leaf, 0
        trusted = False
        visited: list[tuple[tuple[int, int], bytes]] = []
        known = self.known
        for p in path:
            if sn == 0:
                return False
            if fn == sn and not fn & 1:
                while not fn & 1 and fn != 0:  # a right-edge node without a sibling moves up unchanged
                    fn >>= 1
                    sn >>= 1
                    level += 1
            left = bool(fn & 1)
            node_key, sib_key = (level, fn), (level, fn ^ 1)
            if not trusted:
                k = known.get(node_key)
                if k is not None:
                    if k != r:
                        return False
                    trusted = True
            if trusted:
                if known.get(sib_key) != p:
                    return False
            else:
                visited.append((node_key, r))
                visited.append((sib_key, p))
                r = node_hash(p, r) if left else node_hash(r, p)
            fn >>= 1
            sn >>= 1
            level += 1
        if sn != 0:
            return False
        if not trusted:
            if r != self.root:
                return False
            self._remember(visited)
        return True

    def _remember(self, visited: list[tuple[tuple[int, int], bytes]]) -> None:
        for key, value in visited:
            self.known[key] = value


# ----------------------------------------------------------------------------------------------------------------
# C2SP signed-note and tlog-checkpoint (Ed25519)
# ----------------------------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[^\s+]+$")


def note_key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_hash: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        text = text.strip()
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise VerificationError("verifier_key_malformed", "verifier key must be name+keyhash+base64(0x01||key)")
        name, hexhash, b64 = parts
        if not name or not _NAME_RE.match(name):
            raise VerificationError("verifier_key_malformed", "verifier key name is empty or contains spaces or '+'")
        try:
            key_hash = bytes.fromhex(hexhash)
            raw = b64decode_strict(b64)
        except (ValueError, binascii.Error) as exc:
            raise VerificationError("verifier_key_malformed", f"verifier key encoding: {exc}") from None
        if len(key_hash) != 4 or len(raw) != 33 or raw[0] != 0x01:
            raise VerificationError("verifier_key_malformed", "verifier key is not an Ed25519 (type 0x01) note key")
        if note_key_hash(name, raw[1:]) != key_hash:
            raise VerificationError("verifier_key_malformed", "verifier key hash does not match its name and key")
        return cls(name, key_hash, raw[1:])

    def __str__(self) -> str:
        encoded = base64.b64encode(b"\x01" + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]
    body: bytes  # the signed text, up to and including the newline before the blank line
    text: bytes  # the whole note


def parse_checkpoint_body(body: bytes) -> tuple[str, int, bytes, tuple[str, ...]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("checkpoint_malformed", "checkpoint is not UTF-8") from None
    if not text.endswith("\n"):
        raise VerificationError("checkpoint_malformed", "checkpoint body does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError("checkpoint_malformed", "checkpoint body has fewer than three lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin:
        raise VerificationError("checkpoint_malformed", "checkpoint origin line is empty")
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size_s):
        raise VerificationError("checkpoint_malformed", f"checkpoint tree size {size_s!r} is not a decimal number")
    try:
        root = b64decode_strict(root_s)
    except binascii.Error:
        raise VerificationError("checkpoint_malformed", "checkpoint root hash is not base64") from None
    if len(root) != 32:
        raise VerificationError("checkpoint_malformed", "checkpoint root hash is not 32 bytes")
    if any(line == "" for line in lines[3:]):
        raise VerificationError("checkpoint_malformed", "checkpoint has an empty extension line")
    return origin, int(size_s), root, tuple(lines[3:])


def split_note(note: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Split a signed note into (body, [(key name, base64-decoded signature blob)])."""
    sep = note.find(b"\n\n")
    if sep < 0:
        raise VerificationError("checkpoint_malformed", "signed note has no blank line before its signatures")
    body, sig_text = note[: sep + 1], note[sep + 2 :]
    if not sig_text.endswith(b"\n"):
        raise VerificationError("checkpoint_malformed", "signed note does not end with a newline")
    sigs: list[tuple[str, bytes]] = []
    for raw_line in sig_text[:-1].split(b"\n"):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("checkpoint_malformed", "signature line is not UTF-8") from None
        if not line.startswith("\u2014 "):
            raise VerificationError("checkpoint_malformed", f"signature line does not start with an em dash: {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise VerificationError("checkpoint_malformed", "signature line is not '— name base64'")
        try:
            blob = b64decode_strict(parts[1])
        except binascii.Error:
            raise VerificationError("checkpoint_malformed", "signature is not base64") from None
        if len(blob) < 5:
            raise VerificationError("checkpoint_malformed", "signature is too short")
        sigs.append((parts[0], blob))
    if not sigs:
        raise VerificationError("checkpoint_malformed", "signed note has no signature lines")
    return body, sigs


def verify_checkpoint(note: bytes, key: VerifierKey) -> Checkpoint:
    """Parse a signed checkpoint and require a valid Ed25519 signature by ``key`` (C2SP signed-note)."""
    body, sigs = split_note(note)
    origin, size, root, ext = parse_checkpoint_body(body)
    matching = [blob for name, blob in sigs if name == key.name and blob[:4] == key.key_hash]
    if not matching:
        names = ", ".join(sorted({f"{n}+{b[:4].hex()}" for n, b in sigs}))
        raise VerificationError(
            "checkpoint_wrong_key", f"checkpoint is not signed by the trusted key {key.name}+{key.key_hash.hex()} "
            f"(signed by: {names})"
        )
    pub = Ed25519PublicKey.from_public_bytes(key.public_key)
    for blob in matching:
        try:
            pub.verify(blob[4:], body)
            break
        except InvalidSignature:
            continue
    else:
        raise VerificationError("checkpoint_bad_signature", "checkpoint signature by the trusted key does not verify "
                                "(the checkpoint text or signature was altered or forged)")
    if origin != key.name:
        raise VerificationError("checkpoint_origin", f"checkpoint origin {origin!r} is not the key name {key.name!r}")
    return Checkpoint(origin, size, root, ext, body, note)


# ----------------------------------------------------------------------------------------------------------------
# C2SP tlog-proof
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    index: int
    path: list[bytes]
    extra: bytes | None
    checkpoint: bytes


def parse_tlog_proof(data: bytes) -> TlogProof:
    sep = data.find(b"\n\n")
    if sep < 0:
        raise VerificationError("proof_malformed", "tlog-proof has no blank line before the checkpoint")
    head, checkpoint = data[:sep], data[sep + 2 :]
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise VerificationError("proof_malformed", "tlog-proof header is not ASCII") from None
    if not lines or lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError("proof_malformed", f"tlog-proof does not start with {TLOG_PROOF_HEADER}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        try:
            extra = b64decode_strict(lines[pos][6:])
        except binascii.Error:
            raise VerificationError("proof_malformed", "tlog-proof extra is not base64") from None
        pos += 1
    if pos >= len(lines) or not re.fullmatch(r"index (0|[1-9][0-9]{0,19})", lines[pos]):
        raise VerificationError("proof_malformed", "tlog-proof has no valid 'index N' line")
    index = int(lines[pos][6:])
    path: list[bytes] = []
    for line in lines[pos + 1 :]:
        try:
            h = b64decode_strict(line)
        except binascii.Error:
            raise VerificationError("proof_malformed", "tlog-proof hash line is not base64") from None
        if len(h) != 32:
            raise VerificationError("proof_malformed", "tlog-proof hash is not 32 bytes")
        path.append(h)
    if len(path) > 64:
        raise VerificationError("proof_malformed", "tlog-proof has more than 64 hashes")
    return TlogProof(index, path, extra, checkpoint)


def format_tlog_proof(index: int, path: list[bytes], checkpoint: bytes, extra: bytes | None = None) -> bytes:
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines.extend(base64.b64encode(h).decode() for h in path)
    return ("\n".join(lines) + "\n\n").encode() + checkpoint


# ----------------------------------------------------------------------------------------------------------------
# Encrypted objects: header + AES-256-GCM chunks, nonce = prefix(7) || chunk index (u32 BE) || last flag (1 byte)
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Data keys wrapped to an auditor's X25519 key
# ----------------------------------------------------------------------------------------------------------------


def _auditor_kek(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(SHA256(), 32, salt=epk + recipient, info=AUDITOR_WRAP_INFO).derive(shared)


def unwrap_for_auditor(record: dict[str, Any], key_id: str, private_key: X25519PrivateKey) -> tuple[bytes, bytes]:
    """Return (data key, commitment salt) from a keys.json record."""
    try:
        if not isinstance(record, dict):
            raise ValueError("not an object")
        if record.get("alg") != AUDITOR_WRAP_ALG:
            raise ValueError("unknown wrapping algorithm")
        epk = base64.b64decode(record["epk"], validate=True)
        nonce = base64.b64decode(record["nonce"], validate=True)
        ct = base64.b64decode(record["ct"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise DecryptionError("auditor_key_malformed", f"wrapped key {key_id}: {exc}") from None
    recipient = private_key.public_key().public_bytes_raw()
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        plain = AESGCM(_auditor_kek(shared, epk, recipient)).decrypt(nonce, ct, key_id.encode())
    except (ValueError, InvalidTag):
        raise DecryptionError("auditor_key_wrong", f"data key {key_id} is not wrapped to this auditor key") from None
    if len(plain) != 64:
        raise DecryptionError("auditor_key_malformed", f"data key {key_id} has the wrong length")
    return plain[:32], plain[32:]


def load_x25519_private(data: bytes) -> X25519PrivateKey:
    if len(data) == 32:  # raw: any byte may be one that strip() would cut
        return X25519PrivateKey.from_private_bytes(data)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, X25519PrivateKey):
            raise ValueError("not an X25519 private key")
        return key
    raw = base64.b64decode(data, validate=True) if len(data) != 32 else data
    return X25519PrivateKey.from_private_bytes(raw)


# ----------------------------------------------------------------------------------------------------------------
# Bundle verification
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    session_id: str | None = None
    entries: int = 0
    items: int = 0
    objects_checked: int = 0
    decrypted: int = 0
    shredded: list[str] = field(default_factory=list)
    failures: list[VerificationError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    checkpoint_size: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, code: str, message: str) -> None:
        self.failures.append(VerificationError(code, message))

    def codes(self) -> set[str]:
        return {f.code for f in self.failures}

    def render(self) -> str:
        lines = [*self.steps]
        lines += [f"NOTE {n}" for n in self.notes]
        lines += [f"FAIL {f.code}: {f.message}" for f in self.failures]
        verdict = "VERIFIED" if self.ok else f"NOT VERIFIED ({len(self.failures)} failure(s))"
        lines.append(f"{verdict}: session {self.session_id}, {self.entries} entries, {self.items} items, "
                     f"{self.objects_checked} ciphertexts checked, {self.decrypted} decrypted, "
                     f"{len(self.shredded)} shredded")
        return "\n".join(lines)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _entry_problem(e: dict[str, Any]) -> str | None:
    """Return why an entry is structurally invalid, or None."""
    required = {"v": int, "log_index": int, "chain": str, "seq": int, "kind": str, "server_time": str}
    for name, typ in required.items():
        if not isinstance(e.get(name), typ) or isinstance(e.get(name), bool):
            return f"field {name!r} is missing or not {typ.__name__}"
    if e["v"] != 1:
        return f"unknown entry version {e['v']}"
    if e["kind"] not in ENTRY_KINDS:
        return f"unknown kind {e['kind']!r}"
    prev = e.get("prev")
    if not (prev is None or (isinstance(prev, str) and _HEX64.match(prev))):
        return "field 'prev' is not null or 64 hex digits"
    if e["kind"] == "item":
        obj = e.get("object")
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not isinstance(obj.get("size"), int) \
                or not isinstance(obj.get("sha256"), str) or not _HEX64.match(obj["sha256"]):
            return "item entry has no valid 'object' (key, size, sha256)"
        enc = e.get("enc")
        if not isinstance(enc, dict) or not isinstance(enc.get("key_id"), str):
            return "item entry has no valid 'enc' (key_id)"
    return None


def _iter_lines(data: bytes) -> Iterator[bytes]:
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start:end]
        start = end + 1


def verify_bundle(path: str | Path | BinaryIO, verifier_key: str | VerifierKey,
                  decrypt_with: X25519PrivateKey | bytes | None = None, plaintext_dir: Path | None = None) -> Report:
    """Verify a bundle; never raises for bad input, returns a Report whose ``failures`` say exactly what is wrong."""
    report = Report()
    try:
        _verify_bundle(path, verifier_key, decrypt_with, plaintext_dir, report)
    except VerificationError as exc:
        report.failures.append(exc)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError, KeyError, TypeError, AttributeError, struct.error, UnicodeDecodeError, RecursionError,
            zlib.error, lzma.LZMAError) as exc:
        # a damaged zip container can fail in many ways inside zipfile; each becomes one clean failure
        report.fail("bundle_unreadable", f"{type(exc).__name__}: {exc}")
    return report


def _verify_bundle(path: str | Path | BinaryIO, verifier_key: str | VerifierKey,
                   decrypt_with: X25519PrivateKey | bytes | None, plaintext_dir: Path | None, report: Report) -> None:
    key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
    if isinstance(decrypt_with, bytes):
        decrypt_with = load_x25519_private(decrypt_with)

    # STEP 1: open the zip; refuse unsafe or duplicate member names, compression other than stored or deflated,
    # and directory members that are not empty.
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_BUNDLE_FILES:
            raise VerificationError("bundle_malformed", "bundle has too many files")
        names: set[str] = set()
        for info in infos:
            # the name as stored: zipfile cuts ``filename`` at a NUL byte
            stored_name = info.orig_filename
            is_dir = stored_name.endswith("/")
            plain = stored_name[:-1] if is_dir else stored_name
            if not _SAFE_NAME.match(plain) or ".." in plain.split("/"):
                raise VerificationError("bundle_malformed", f"unsafe file name in bundle: {stored_name!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise VerificationError("bundle_malformed", f"{stored_name}: compression method "
                                        f"{info.compress_type} (only stored or deflated members are allowed)")
            if is_dir:
                if info.file_size:
                    raise VerificationError("bundle_malformed", f"directory member {stored_name!r} holds data")
                continue
            if info.filename in names:
                raise VerificationError("bundle_malformed", f"duplicate file in bundle: {info.filename}")
            names.add(info.filename)
        report.steps.append("STEP 1 bundle opened")

        def read(name: str, limit: int = MAX_TEXT_FILE) -> bytes:
            info = zf.getinfo(name)
            if info.file_size > limit:
                raise VerificationError("bundle_malformed", f"{name} is larger than {limit} bytes")
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
            if len(data) > limit:
                raise VerificationError("bundle_malformed", f"{name} is larger than {limit} bytes")
            return data

        # STEP 2: manifest: format, and the SHA-256 of every file; no file missing, none unlisted.
        if "manifest.json" not in names:
            raise VerificationError("manifest_missing", "bundle has no manifest.json")
        try:
            manifest = json.loads(read("manifest.json", 64 << 20), object_pairs_hook=_no_duplicates)
        except ValueError as exc:
            raise VerificationError("manifest_malformed", f"manifest.json: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise VerificationError("manifest_malformed", f"manifest format is not {BUNDLE_FORMAT}")
        files = manifest.get("files")
        session_id = manifest.get("session_id")
        if not isinstance(files, dict) or not isinstance(session_id, str):
            raise VerificationError("manifest_malformed", "manifest has no 'files' object or 'session_id'")
        report.session_id = session_id
        for name, digest in sorted(files.items()):
            if name not in names:
                report.fail("file_missing", f"{name} is listed in the manifest but missing from the bundle")
                continue
            h = hashlib.sha256()
            with zf.open(name) as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            if h.hexdigest() != digest:
                report.fail("file_hash_mismatch", f"{name}: SHA-256 differs from the manifest")
        for name in sorted(names - set(files) - {"manifest.json"}):
            report.fail("file_unlisted", f"{name} is in the bundle but not in the manifest")
        report.steps.append("STEP 2 manifest file hashes checked")

        # STEP 3: the checkpoint must carry a valid Ed25519 signature by the key the auditor trusts.
        bundle_key = read("verifier-key.txt", 4096).decode("utf-8", "replace").strip() \
            if "verifier-key.txt" in names else ""
        if bundle_key and bundle_key != str(key):
            report.notes.append(f"the bundle names verifier key {bundle_key}, you trust {key}; only yours counts")
        if "checkpoint" not in names:
            raise VerificationError("checkpoint_missing", "bundle has no checkpoint")
        cp = verify_checkpoint(read("checkpoint", 1 << 20), key)
        report.checkpoint_size = cp.size
        report.steps.append(f"STEP 3 checkpoint signature valid: {cp.origin} size {cp.size}")

        # STEP 4: parse entries.jsonl: canonical JSON, one entry per line; leaf = SHA-256(0x00 || line).
        if "entries.jsonl" not in names:
            raise VerificationError("entries_missing", "bundle has no entries.jsonl")
        raw = read("entries.jsonl")
        if raw and not raw.endswith(b"\n"):
            report.fail("entries_truncated", "entries.jsonl does not end with a newline (cut mid-line)")
        entries: list[tuple[dict[str, Any], bytes, int]] = []
        for lineno, line in enumerate(_iter_lines(raw), 1):
            try:
                e = parse_canonical(line)
            except (ValueError, UnicodeDecodeError) as exc:
                report.fail("entry_malformed", f"entries.jsonl line {lineno}: {exc}")
                continue
            problem = _entry_problem(e)
            if problem:
                report.fail("entry_malformed", f"entries.jsonl line {lineno}: {problem}")
                continue
            entries.append((e, leaf_hash(line), lineno))
        report.entries = len(entries)
        report.steps.append(f"STEP 4 {len(entries)} entries parsed")

        # STEP 5: every entry is in the signed tree: its tlog-proof leads from its leaf hash to the checkpoint root.
        cache = InclusionCache(cp.size, cp.root)
        for e, leaf, lineno in entries:
            idx = e["log_index"]
            pname = f"proofs/{idx}.tlog-proof"
            if pname not in names:
                report.fail("proof_missing", f"entry log index {idx} (line {lineno}) has no {pname}")
                continue
            try:
                proof = parse_tlog_proof(read(pname, 1 << 20))
            except VerificationError as exc:
                report.fail(exc.code, f"{pname}: {exc.message}")
                continue
            if proof.index != idx:
                report.fail("proof_index_mismatch", f"{pname} proves index {proof.index}, the entry says {idx}")
                continue
            if proof.checkpoint != cp.text:
                report.fail("proof_checkpoint_mismatch", f"{pname} is against a different checkpoint than the bundle's")
                continue
            if idx >= cp.size:
                report.fail("entry_after_checkpoint", f"entry log index {idx} is not covered by the checkpoint "
                            f"(size {cp.size})")
                continue
            if not cache.verify(leaf, idx, proof.path):
                report.fail("inclusion_failed", f"entry log index {idx} (line {lineno}): inclusion proof does not "
                            "lead to the signed root (entry altered, or not the entry the log holds at that index)")
        report.steps.append("STEP 5 inclusion proofs checked against the signed root")

        # STEP 6: entries appear in strictly increasing log order.
        last_idx = -1
        for e, _, lineno in entries:
            if e["log_index"] <= last_idx:
                report.fail("entries_out_of_order", f"entries.jsonl line {lineno}: log index {e['log_index']} does "
                            f"not follow {last_idx} (entries reordered or duplicated)")
            last_idx = max(last_idx, e["log_index"])
        report.steps.append("STEP 6 log order checked")

        # STEP 7: the session's hash chain: open at seq 0, consecutive seq, prev = previous entry's leaf hash,
        #         close last, stating the count and the last hash. Other-chain entries must concern this session.
        chain = [(e, leaf, ln) for e, leaf, ln in entries if e["chain"] == session_id]
        for e, _, lineno in entries:
            if e["chain"] != session_id and e.get("session_id") != session_id:
                report.fail("entry_foreign_session", f"entries.jsonl line {lineno}: entry belongs to session "
                            f"{e.get('session_id')!r} (chain {e['chain']!r}), the bundle is for {session_id!r}")
            if e["chain"] == session_id and e.get("session_id") != session_id:
                report.fail("entry_foreign_session", f"entries.jsonl line {lineno}: entry in chain {session_id!r} "
                            f"names session {e.get('session_id')!r}")
        _check_chain(chain, session_id, report)
        report.steps.append(f"STEP 7 hash chain of session {session_id} checked ({len(chain)} entries)")

        # STEP 8: ciphertexts: present, size and SHA-256 as logged (no keys needed).
        items = [e for e, _, _ in chain if e["kind"] == "item"]
        report.items = len(items)
        for e in items:
            obj = e["object"]
            oname = "objects/" + obj["key"]
            if oname not in names:
                report.fail("object_missing", f"object {obj['key']} (log index {e['log_index']}) is not in the bundle")
                continue
            h = hashlib.sha256()
            size = 0
            with zf.open(oname) as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
                    size += len(block)
            if size != obj["size"]:
                report.fail("object_size_mismatch", f"object {obj['key']} is {size} bytes, the log says {obj['size']}")
            elif h.hexdigest() != obj["sha256"]:
                report.fail("object_hash_mismatch", f"object {obj['key']} (log index {e['log_index']}): ciphertext "
                            "SHA-256 differs from the logged hash (object altered)")
            else:
                report.objects_checked += 1
        report.steps.append(f"STEP 8 {report.objects_checked}/{len(items)} ciphertexts match the log")

        # STEP 9: shredded keys are stated by key_shred entries that are themselves in the log.
        shredded = set()
        for e, _, _ in entries:
            if e["kind"] == "key_shred":
                shredded.update(k for k in e.get("key_ids", []) if isinstance(k, str))
        report.shredded = [e["enc"]["key_id"] for e in items if e["enc"]["key_id"] in shredded]
        report.steps.append(f"STEP 9 {len(report.shredded)} item(s) crypto-shredded by logged key_shred entries")

        # STEP 10 (with --decrypt-with): unwrap data keys, decrypt, check headers and plaintext commitments.
        if decrypt_with is None:
            report.steps.append("STEP 10 skipped: no auditor key given, contents not decrypted")
            return
        keys: dict[str, Any] = {}
        if "keys.json" in names:
            try:
                keys = json.loads(read("keys.json", 256 << 20), object_pairs_hook=_no_duplicates)
            except ValueError as exc:
                raise VerificationError("keys_malformed", f"keys.json: {exc}") from None
        if not isinstance(keys, dict):
            raise VerificationError("keys_malformed", "keys.json is not an object")
        for e in items:
            kid = e["enc"]["key_id"]
            obj = e["object"]
            if kid in shredded:
                continue
            if kid not in keys:
                report.fail("key_missing", f"no wrapped data key {kid} for object {obj['key']}")
                continue
            oname = "objects/" + obj["key"]
            if oname not in names:
                continue
            try:
                dk, salt = unwrap_for_auditor(keys[kid], kid, decrypt_with)
                sink = _CommitSink(salt, plaintext_dir / obj["key"] if plaintext_dir else None)
                with zf.open(oname) as fh:
                    decrypt_stream(fh, dk, sink, expect={"object_id": obj.get("id", ""), "session_id": session_id,
                                                         "type": e.get("type", ""), "key_id": kid})
                sink.close()
            except VerificationError as exc:
                report.fail(exc.code, f"object {obj['key']}: {exc.message}")
                continue
            if not commitment_matches(e.get("commitment"), salt, dk, sink.commitment()):
                report.fail("commitment_mismatch", f"object {obj['key']}: the plaintext (or data key) does not match "
                            "the logged salted commitment")
                continue
            report.decrypted += 1
        report.steps.append(f"STEP 10 {report.decrypted} objects decrypted and matched their commitments; "
                            f"{len(report.shredded)} crypto-shredded")


class _CommitSink(io.RawIOBase):
    def __init__(self, salt: bytes, path: Path | None):
        self.h = hashlib.sha256(salt)
        self.fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "wb")
        self.size = 0

    def write(self, b: Any) -> int:
        self.h.update(b)
        if self.fh is not None:
            self.fh.write(b)
        return len(b)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def commitment(self) -> str:
        return COMMITMENT_PREFIX + self.h.hexdigest()


def _check_chain(chain: list[tuple[dict[str, Any], bytes, int]], session_id: str, report: Report) -> None:
    if not chain:
        report.fail("chain_empty", f"the bundle holds no entry of session {session_id!r}")
        return
    prev_leaf: bytes | None = None
    expected_seq = 0
    closed = False
    for e, leaf, lineno in chain:
        if closed:
            report.fail("chain_after_close", f"entries.jsonl line {lineno}: seq {e['seq']} follows the close entry")
        if e["seq"] != expected_seq:
            if e["seq"] > expected_seq:
                report.fail("chain_gap", f"entries.jsonl line {lineno}: seq {e['seq']} follows seq {expected_seq - 1}; "
                            f"{e['seq'] - expected_seq} entr{'y is' if e['seq'] - expected_seq == 1 else 'ies are'} "
                            "missing (deleted)")
            else:
                report.fail("chain_order", f"entries.jsonl line {lineno}: seq {e['seq']} after seq "
                            f"{expected_seq - 1} (entries reordered or duplicated)")
        expected_seq = e["seq"] + 1
        if e["seq"] == 0:
            if e["kind"] != "open" or e.get("prev") is not None:
                report.fail("chain_no_open", f"entries.jsonl line {lineno}: seq 0 is not an opening entry")
        elif prev_leaf is not None and e.get("prev") != prev_leaf.hex():
            report.fail("chain_broken", f"entries.jsonl line {lineno}: prev hash of seq {e['seq']} is not the hash "
                        "of the entry before it (an entry was altered, replaced or removed)")
        if e["kind"] == "close":
            closed = True
            if e.get("count") != e["seq"]:
                report.fail("close_count_mismatch", f"close entry states {e.get('count')} entries, the chain has "
                            f"{e['seq']} before it")
            if e.get("last_hash") != e.get("prev"):
                report.fail("close_hash_mismatch", "close entry's last_hash is not the hash of the entry before it")
        prev_leaf = leaf
    if chain[0][0]["seq"] != 0:
        report.fail("chain_no_open", f"the chain starts at seq {chain[0][0]['seq']}, the opening entry is missing")
    if not closed:
        report.fail("chain_not_closed", f"the chain ends at seq {expected_seq - 1} without a close entry "
                    "(truncated tail, or the session is still open)")


# ----------------------------------------------------------------------------------------------------------------
# Whole-log verification (an export of the complete log): chains + one root over every leaf
# ----------------------------------------------------------------------------------------------------------------


def verify_log(entries: BinaryIO, checkpoint: bytes, verifier_key: str | VerifierKey) -> Report:
    """Verify a complete log: every line's leaf under the signed root (the root recomputed over all leaves proves
    inclusion of every entry at once), log indices 0..n-1, and every chain's seq/prev links."""
    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        cp = verify_checkpoint(checkpoint, key)
        report.checkpoint_size = cp.size
        heads: dict[str, tuple[int, str]] = {}
        hashes: list[bytes] = []
        sha = hashlib.sha256
        loads = json.loads
        for lineno, raw_line in enumerate(entries, 1):
            if len(hashes) == cp.size:
                break
            line = raw_line.rstrip(b"\n")
            e = loads(line)
            leaf = sha(b"\x00" + line).digest()
            if e["log_index"] != lineno - 1:
                report.fail("entries_out_of_order", f"line {lineno} has log index {e['log_index']}")
            chain = e["chain"]
            head = heads.get(chain)
            if head is None:
                if e["seq"] != 0 or e["prev"] is not None:
                    report.fail("chain_no_open", f"line {lineno}: chain {chain!r} starts at seq {e['seq']}")
            elif e["seq"] != head[0] + 1 or e["prev"] != head[1]:
                report.fail("chain_broken", f"line {lineno}: chain {chain!r} seq {e['seq']} does not link to "
                            f"seq {head[0]}")
            heads[chain] = (e["seq"], leaf.hex())
            hashes.append(leaf)
        if len(hashes) < cp.size:
            report.fail("entries_truncated", f"log has {len(hashes)} entries, the checkpoint covers {cp.size}")
        elif root_from_leaf_hashes(hashes) != cp.root:
            report.fail("root_mismatch", "the Merkle root over the entries is not the signed root")
        report.entries = len(hashes)
    except VerificationError as exc:
        report.failures.append(exc)
    except (ValueError, KeyError, TypeError) as exc:
        report.fail("entry_malformed", f"{type(exc).__name__}: {exc}")
    return report


CONSISTENCY_HEADER = "rtuk-evidence/consistency-proof@v1"


def format_consistency_proof(old_size: int, new_size: int, proof: list[bytes]) -> bytes:
    lines = [CONSISTENCY_HEADER, f"old {old_size}", f"new {new_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n").encode()


def verify_checkpoint_consistency(old_note: bytes, new_note: bytes, proof_text: bytes,
                                  verifier_key: str | VerifierKey) -> Report:
    """Two signed checkpoints of the same log and an RFC 9162 consistency proof between them: the newer tree
    contains the older one unchanged (the log was only appended to)."""
    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        old = verify_checkpoint(old_note, key)
        new = verify_checkpoint(new_note, key)
        report.steps.append(f"STEP 1 both checkpoints signed by {key.name}: sizes {old.size} and {new.size}")
        try:
            lines = proof_text.decode("ascii").rstrip("\n").split("\n")
            if lines[0] != CONSISTENCY_HEADER or not lines[1].startswith("old ") or not lines[2].startswith("new "):
                raise ValueError("bad header")
            old_size, new_size = int(lines[1][4:]), int(lines[2][4:])
            path = [b64decode_strict(x) for x in lines[3:]]
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise VerificationError("consistency_malformed", f"consistency proof: {exc}") from None
        if (old_size, new_size) != (old.size, new.size):
            raise VerificationError("consistency_sizes", f"the proof is for sizes {old_size} -> {new_size}, the "
                                    f"checkpoints are {old.size} -> {new.size}")
        if not verify_consistency(old.size, new.size, old.root, new.root, path):
            raise VerificationError("consistency_failed", f"the tree of size {new.size} does not extend the tree of "
                                    f"size {old.size}: the log was rewritten, or the proof is wrong")
        report.steps.append("STEP 2 RFC 9162 consistency proof holds: the log only grew")
        report.entries = new.size
    except VerificationError as exc:
        report.failures.append(exc)
    return report


def _scan_segment(path: str, start: int, end: int) -> tuple[int | None, int, bytes, dict[str, list[Any]], list[str]]:
    """Worker for :func:`verify_log_file`: leaf hashes and chain links of whole lines in [start, end)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    sha = hashlib.sha256
    loads = json.loads
    leaves = bytearray()
    chains: dict[str, list[Any]] = {}  # chain -> [first seq, first prev, last seq, last leaf hex]
    failures: list[str] = []
    first_index: int | None = None
    count = 0
    for line in data.split(b"\n")[:-1]:
        try:
            e = loads(line)
            idx, chain, seq, prev = e["log_index"], e["chain"], e["seq"], e["prev"]
            if type(idx) is not int or type(chain) is not str or type(seq) is not int \
                    or not (prev is None or type(prev) is str):
                raise TypeError("log_index and seq must be integers, chain a string, prev a string or null")
        except (ValueError, KeyError, TypeError) as exc:
            failures.append(f"entry_malformed|entry at byte {start}+: {type(exc).__name__}: {exc}")
            idx, chain, seq, prev = -1, None, -1, None
        if first_index is None:
            first_index = idx
        elif idx != first_index + count:
            failures.append(f"entries_out_of_order|log index {idx} where {first_index + count} was expected")
        leaf = sha(b"\x00" + line).digest()
        leaves += leaf
        count += 1
        if chain is None:
            continue
        c = chains.get(chain)
        if c is None:
            chains[chain] = [seq, prev, seq, leaf.hex()]
        else:
            if seq != c[2] + 1 or prev != c[3]:
                failures.append(f"chain_broken|chain {chain!r} seq {seq} (log index {idx}) does not link to seq {c[2]}")
            c[2], c[3] = seq, leaf.hex()
    return first_index, count, bytes(leaves), chains, failures


def verify_log_file(path: str | Path, checkpoint: bytes, verifier_key: str | VerifierKey,
                    workers: int | None = None, min_parallel_bytes: int = 8 << 20) -> Report:
    """:func:`verify_log` for a file, split over processes (one per CPU): each hashes the leaves and checks the chain
    links of a contiguous range of lines; the ranges are then stitched and one root is computed over all leaves."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        cp = verify_checkpoint(checkpoint, key)
        report.checkpoint_size = cp.size
        path = str(path)
        size = os.path.getsize(path)
        workers = workers or os.cpu_count() or 1
        if size < min_parallel_bytes:
            workers = 1
        bounds = [0]
        with open(path, "rb") as fh:
            for k in range(1, workers):
                fh.seek(max(size * k // workers, bounds[-1]))
                fh.readline()
                bounds.append(min(fh.tell(), size))
        bounds.append(size)
        ranges = [(bounds[k], bounds[k + 1]) for k in range(workers) if bounds[k + 1] > bounds[k]]
        if len(ranges) > 1:
            with ProcessPoolExecutor(len(ranges)) as pool:
                parts = list(pool.map(_scan_segment, [path] * len(ranges), *zip(*ranges, strict=True)))
        else:
            parts = [_scan_segment(path, *ranges[0])] if ranges else []
        heads: dict[str, list[Any]] = {}
        total = 0
        leaves = []
        for first_index, count, blob, chains, failures in parts:
            for f in failures:
                code, _, msg = f.partition("|")
                report.fail(code, msg)
            if count and first_index != total:
                report.fail("entries_out_of_order", f"log index {first_index} where {total} was expected")
            for chain, (fs, fp, ls, ll) in chains.items():
                head = heads.get(chain)
                if head is None:
                    if fs != 0 or fp is not None:
                        report.fail("chain_no_open", f"chain {chain!r} starts at seq {fs}")
                elif fs != head[0] + 1 or fp != head[1]:
                    report.fail("chain_broken", f"chain {chain!r} seq {fs} does not link to seq {head[0]}")
                heads[chain] = [ls, ll]
            total += count
            leaves.append(blob)
        allleaves = b"".join(leaves)
        if total < cp.size:
            report.fail("entries_truncated", f"log has {total} entries, the checkpoint covers {cp.size}")
        else:
            hashes = (allleaves[32 * i : 32 * i + 32] for i in range(cp.size))
            if root_from_leaf_hashes(hashes) != cp.root:
                report.fail("root_mismatch", "the Merkle root over the entries is not the signed root")
        report.entries = total
    except VerificationError as exc:
        report.failures.append(exc)
    except (OSError, ValueError) as exc:
        report.fail("log_unreadable", f"{type(exc).__name__}: {exc}")
    return report


# ----------------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------------


def _read_key_arg(value: str) -> str:
    p = Path(value)
    if p.is_file():
        return p.read_text(encoding="utf-8").strip()
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifier", description="Verify an evidence bundle offline.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="verify a bundle")
    v.add_argument("bundle")
    v.add_argument("--pubkey", required=True, help="note verifier key (name+hash+base64) or a file holding it")
    v.add_argument("--decrypt-with", help="auditor X25519 private key file (raw, base64 or PEM)")
    v.add_argument("--extract-to", help="with --decrypt-with: write decrypted plaintexts below this directory")
    c = sub.add_parser("verify-consistency", help="check that a newer checkpoint extends an older one")
    c.add_argument("old_checkpoint")
    c.add_argument("new_checkpoint")
    c.add_argument("proof")
    c.add_argument("--pubkey", required=True)
    g = sub.add_parser("verify-log", help="verify a complete log (entries.jsonl + checkpoint)")
    g.add_argument("entries")
    g.add_argument("checkpoint")
    g.add_argument("--pubkey", required=True)
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # names and ids from a bundle are printed: never fail on what they hold
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        vkey = VerifierKey.parse(_read_key_arg(args.pubkey))
    except VerificationError as exc:
        print(f"FAIL {exc.code}: {exc.message}")
        return 2
    if args.cmd == "verify-consistency":
        report = verify_checkpoint_consistency(Path(args.old_checkpoint).read_bytes(),
                                               Path(args.new_checkpoint).read_bytes(), Path(args.proof).read_bytes(),
                                               vkey)
        print(report.render())
        return 0 if report.ok else 1
    if args.cmd == "verify-log":
        report = verify_log_file(args.entries, Path(args.checkpoint).read_bytes(), vkey)
        print(report.render())
        return 0 if report.ok else 1
    priv = None
    if args.decrypt_with:
        try:
            priv = load_x25519_private(Path(args.decrypt_with).read_bytes())
        except (OSError, ValueError, binascii.Error) as exc:
            print(f"FAIL auditor_key_unreadable: {exc}")
            return 2
    report = verify_bundle(args.bundle, vkey, priv, Path(args.extract_to) if args.extract_to else None)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
