"""Key material on disk: the key-encryption keys (from settings, or generated under the data dir in development),
the checkpoint signing key, and how secrets are written (mode 0600, synced, atomically)."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .backends import fsync_dir
from .keystore import KekRing


def write_secret(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def kek_ring(evidence: Any, keys_dir: Path) -> tuple[KekRing, bool]:
    """The KEK ring from ``config.EvidenceSettings``: the KEK from settings (with older generated ones kept for
    reading), else the generated ring under ``keys_dir`` (created on first use). Returns (ring, from settings)."""
    ring_file = keys_dir / "kek.json"
    stored: dict[str, Any] = json.loads(ring_file.read_text()) if ring_file.exists() else {}
    keks = {k: base64.b64decode(v) for k, v in stored.get("keys", {}).items()}
    if evidence.kek:
        kek = base64.b64decode(evidence.kek, validate=True)
        if len(kek) != 32:
            raise ValueError("RTUK_EVIDENCE_KEK must be base64 of 32 bytes")
        keks[evidence.kek_id] = kek
        return KekRing(evidence.kek_id, keks), True
    if not stored:
        stored = {"current": evidence.kek_id,
                  "keys": {evidence.kek_id: base64.b64encode(secrets.token_bytes(32)).decode()}}
        write_secret(ring_file, json.dumps(stored).encode())
        keks = {k: base64.b64decode(v) for k, v in stored["keys"].items()}
    return KekRing(stored["current"], keks), False


def save_kek_ring(ring_file: Path, current: str, keys: dict[str, bytes]) -> None:
    write_secret(ring_file, json.dumps({"current": current,
                                        "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}).encode())


def next_kek_id(current: str, existing: dict[str, bytes]) -> str:
    m = re.match(r"^(.*?)(\d+)$", current)
    base, n = (m.group(1), int(m.group(2))) if m else (current + "-", 1)
    while f"{base}{n}" in existing:
        n += 1
    return f"{base}{n}"


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
    write_secret(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    return key
