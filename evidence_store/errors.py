"""Domain errors of the evidence store. Vendor errors (minio, OS) are translated into these at the boundary."""

from __future__ import annotations


class EvidenceError(Exception):
    """Base class."""


class ObjectNotFound(EvidenceError):
    pass


class ObjectExists(EvidenceError):
    """Write-once: an object with this key already exists."""


class StoreUnavailable(EvidenceError):
    """The object store cannot be reached (network, server down). Appends spool locally."""


class ObjectStoreError(EvidenceError):
    """The object store refused or failed an operation for another reason."""


class RetentionViolation(ObjectStoreError):
    """The store refused to delete or overwrite a locked object version (object lock)."""


class SessionError(EvidenceError):
    """Unknown, already open, or closed session."""


class KeyUnavailable(EvidenceError):
    """The data key is gone (crypto-shredded) or cannot be unwrapped."""


class IntegrityError(EvidenceError):
    """Stored bytes do not match what the log says."""
