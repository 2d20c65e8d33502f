"""C2SP signed notes and tlog checkpoints (Ed25519): the verifier key, parsing, and signature verification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .encoding import b64decode_strict
from .errors import VerificationError

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
