"""Data keys wrapped to an auditor's X25519 key (``keys.json`` in a bundle), and the auditor's own key pair."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import DecryptionError

AUDITOR_WRAP_ALG = "X25519-HKDF-SHA256-AES-256-GCM-v1"
AUDITOR_WRAP_INFO = b"rtuk-evidence/auditor-wrap/v1"


def auditor_kek(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
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
        plain = AESGCM(auditor_kek(shared, epk, recipient)).decrypt(nonce, ct, key_id.encode())
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


def write_auditor_key_pair(out: Path) -> tuple[Path, Path]:
    """Make an X25519 key pair: ``out`` holds the private key (base64, mode 0600, never sent anywhere) and
    ``out.pub`` the public key the LSP wraps the bundle's data keys to."""
    key = X25519PrivateKey.generate()
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(key.private_bytes_raw()) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(base64.b64encode(key.public_key().public_bytes_raw()) + b"\n")
    return out, pub
