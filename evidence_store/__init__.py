"""Encrypted, Merkle-logged evidence with an offline verifier (see docs/EVIDENCE.md).

Imports are lazy so that ``python -m evidence_store.verifier`` loads only the standard library and ``cryptography``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvidenceStore", "Receipt", "verify_bundle"]


def __getattr__(name: str) -> Any:
    if name in ("EvidenceStore", "Receipt"):
        from . import store

        return getattr(store, name)
    if name == "verify_bundle":
        from .verifier import verify_bundle

        return verify_bundle
    raise AttributeError(name)
