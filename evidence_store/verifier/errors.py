"""The verifier's one error type: a stable ``code`` for machines and a precise ``message`` for people."""

from __future__ import annotations


class VerificationError(Exception):
    """One precise reason why something does not verify. ``code`` is stable; ``message`` is for humans."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class DecryptionError(VerificationError):
    pass
