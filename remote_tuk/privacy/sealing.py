"""Personal data kept in database columns, sealed with a data key per candidate (docs/PRIVACY.md).

A column typed :class:`SealedText` stores ``rtuk-seal:1:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext)>``; the
Python side stays a plain ``str``. The key id names a per-candidate data key in the evidence keystore
(:mod:`remote_tuk.privacy.keys`), so shredding a candidate's evidence keys (``EvidenceStore.shred_candidate``) also
makes these columns unreadable: they then read as :data:`ERASED` (``"[dihapus]"``).

Which candidate a row belongs to is decided at flush time (:mod:`remote_tuk.privacy.subjects` wraps each new value in
:class:`Sealed`, which carries the candidate's id); a plain ``str`` that reaches a sealed column any other way is
refused, so personal data is never written in clear by accident. Equality queries on a sealed column cannot work (the
ciphertext is randomised): look up through a keyed hash column instead (``users.nik_hash``).

This module imports nothing of the application, so every model module can use the column type.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from sqlalchemy import Engine, Text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

PREFIX = "rtuk-seal:1:"


class Marker(str):
    """A value shown in place of personal data that cannot be shown (a ``str``, so templates and JSON need nothing)."""

    __slots__ = ()


#: What a sealed column reads as once its candidate's key was shredded (erasure).
ERASED = Marker("[dihapus]")
#: What it reads as when its key is missing without a logged shredding, or its ciphertext was altered.
UNREADABLE = Marker("[tidak terbaca]")


def is_marker(value: Any) -> bool:
    return isinstance(value, Marker)


class Sealed(str):
    """A value for a sealed column together with the candidate whose data it is (``subject``: a user id, or None
    while that user is being inserted; the row is then sealed right after its INSERT)."""

    subject: int | None

    def __new__(cls, value: str, subject: int | None) -> Sealed:
        obj = super().__new__(cls, value)
        obj.subject = subject
        return obj


class UnsealedValue(ValueError):
    """A plain ``str`` reached a sealed column without saying whose personal data it is."""


class Keys(Protocol):
    def seal(self, plaintext: str, subject: int, context: str) -> str: ...

    def open(self, token: str, context: str) -> str: ...

    def lookup_hash(self, purpose: str, value: str) -> str: ...


_KEYS: weakref.WeakKeyDictionary[Any, Keys] = weakref.WeakKeyDictionary()


def bind_keys(engine: Engine, keys: Keys) -> None:
    """Seal and open this engine's sealed columns with *keys* (``create_app`` does it for the app's engine)."""
    _KEYS[engine.dialect] = keys


def lookup_hash(db: Session, purpose: str, value: str) -> str:
    """The keyed hash of *value* for a lookup column (e.g. ``User.nik_hash == lookup_hash(db, "nik", nik)``)."""
    return keys_for(db.get_bind().dialect).lookup_hash(purpose, value)


def keys_for(dialect: Any) -> Keys:
    keys = _KEYS.get(dialect)
    if keys is None:
        raise UnsealedValue(
            "no keys are bound to this database engine: personal data columns can be neither written nor read "
            "(use the app's engine, or remote_tuk.privacy.sealing.bind_keys)"
        )
    return keys


class SealedText(TypeDecorator[str]):
    """Text sealed with the candidate's data key; *context* (e.g. ``"chat_messages.text"``) is bound into the
    ciphertext, so a value cannot be moved to another column unnoticed."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        if isinstance(value, Marker):
            raise UnsealedValue(f"{self.context}: a placeholder ({value}) cannot be written as personal data")
        if isinstance(value, Sealed):
            if value.subject is None:
                return None  # the row's own id is not known yet: sealed right after the INSERT
            return keys_for(dialect).seal(str(value), value.subject, self.context)
        if value.startswith(PREFIX):
            return value  # an already sealed value copied as is
        raise UnsealedValue(f"{self.context}: personal data must be sealed for its candidate (see privacy.subjects)")

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        return keys_for(dialect).open(value, self.context)
