"""Encodings the bundle format fixes: canonical base64 (RFC 4648 section 4) and canonical JSON (sorted keys, no
whitespace, ASCII with \\u escapes; integers, strings, booleans, null, arrays and objects only)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


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


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
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
    obj = json.loads(text, object_pairs_hook=no_duplicate_keys, parse_float=_reject_float, parse_constant=_reject_float)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if canonical_json(obj) != line:
        raise ValueError("not in canonical form (sorted keys, no whitespace, ASCII)")
    if b"\\ud" in line and _lone_surrogate(obj):  # the escape of every surrogate starts so (canonical: lower case)
        raise ValueError("a string holds an unpaired UTF-16 surrogate escape, which is not Unicode text")
    return obj
