"""The data keys behind sealed columns: one per candidate, kept in the evidence keystore.

Each key is a row of the evidence store's keystore (``EvidenceStore.keys``), wrapped by the same key-encryption key
as the evidence data keys, stored with the candidate's id and the keystore session field ``db-columns``. So:

* ``EvidenceStore.shred_candidate(candidate)`` destroys it together with the candidate's evidence keys, and logs a
  ``key_shred`` entry for it (session ``db-columns``) next to those of the sessions;
* ``rotate_kek`` re-wraps it with the others; the keystore's ``secure_delete`` overwrites it when it is deleted;
* a copy of the database alone (a dump, a backup) does not hold the keys.

One more keystore row, ``db-lookup-1`` (no candidate), is the HMAC key of lookup hashes (``users.nik_hash``), so a
NIK can be found without being stored in clear, and a stolen database cannot be searched by guessing NIKs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence_store.errors import KeyUnavailable
from remote_tuk.privacy.sealing import ERASED, PREFIX, UNREADABLE

log = logging.getLogger(__name__)

#: The keystore's session field for database keys; ``shred_candidate`` names it in its ``key_shred`` entry.
KEY_SESSION = "db-columns"
KEY_OBJECT = "db/columns"
LOOKUP_KEY_ID = "db-lookup-1"


def _aad(key_id: str, context: str) -> bytes:
    return f"{PREFIX}{key_id}:{context}".encode()


class SubjectKeys:
    """Seals and opens sealed column values for one evidence store (``store()`` returns it, opened on first use)."""

    def __init__(self, store: Callable[[], Any]) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._ids: dict[int, str] = {}  # candidate id -> key id (the key itself is read from the keystore each time)
        self._shredded: set[str] = set()
        self._lookup: bytes | None = None

    @property
    def _keystore(self) -> Any:
        return self._store().keys

    # --- keys -----------------------------------------------------------------------------------------------------

    def key_id_of(self, subject: int) -> str | None:
        """The id of the candidate's current database key, if there is one."""
        cached = self._ids.get(subject)
        if cached is not None:
            return cached
        found = None
        for key_id, session_id, _object in self._keystore.keys_of_candidate(str(subject)):
            if session_id == KEY_SESSION:
                found = key_id  # ordered by creation: the newest wins
        if found is not None:
            self._ids[subject] = found
        return found

    def _data_key(self, subject: int) -> tuple[str, bytes]:
        with self._lock:
            key_id = self.key_id_of(subject)
            if key_id is not None:
                try:
                    return key_id, self._keystore.get(key_id)[0]
                except KeyUnavailable:
                    self._ids.pop(subject, None)  # shredded (perhaps by another process): new data gets a new key
            key_id = f"db-{subject}-{secrets.token_hex(8)}"
            data_key = secrets.token_bytes(32)
            self._keystore.put(key_id, KEY_SESSION, str(subject), KEY_OBJECT, data_key, secrets.token_bytes(32))
            self._ids[subject] = key_id
            return key_id, data_key

    def forget(self, subject: int) -> None:
        """Drop what this process remembers of the candidate's key (after shredding)."""
        with self._lock:
            self._ids.pop(subject, None)

    # --- sealing --------------------------------------------------------------------------------------------------

    def seal(self, plaintext: str, subject: int, context: str) -> str:
        key_id, data_key = self._data_key(subject)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(data_key).encrypt(nonce, plaintext.encode(), _aad(key_id, context))
        return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, context: str) -> str:
        try:
            key_id, blob = token[len(PREFIX) :].split(":", 1)
            raw = base64.urlsafe_b64decode(blob.encode())
        except (ValueError, binascii.Error):
            log.error("sealed value in %s is malformed", context)
            return UNREADABLE
        try:
            data_key = self._keystore.get(key_id)[0]
        except KeyUnavailable:
            if self.was_shredded(key_id):
                return ERASED
            log.error("the key %s of a sealed value in %s is missing and was never shredded", key_id, context)
            return UNREADABLE
        try:
            return AESGCM(data_key).decrypt(raw[:12], raw[12:], _aad(key_id, context)).decode()
        except (InvalidTag, ValueError):
            log.error("sealed value in %s does not open with its key %s (altered or moved)", context, key_id)
            return UNREADABLE

    def was_shredded(self, key_id: str) -> bool:
        """Whether a logged ``key_shred`` entry destroyed this key (remembered once seen: shredding is final)."""
        if key_id in self._shredded:
            return True
        with self._store().log.locked() as st:
            hit = key_id in st.shredded
        if hit:
            self._shredded.add(key_id)
        return hit

    # --- lookup hashes --------------------------------------------------------------------------------------------

    def lookup_hash(self, purpose: str, value: str) -> str:
        """A keyed hash to find a sealed value by equality (e.g. a NIK), without storing it in clear."""
        return hmac.new(self._lookup_key(), f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()

    def _lookup_key(self) -> bytes:
        with self._lock:
            if self._lookup is None:
                ks = self._keystore
                if not ks.exists(LOOKUP_KEY_ID):
                    try:
                        ks.put(
                            LOOKUP_KEY_ID,
                            KEY_SESSION,
                            None,
                            "db/lookup",
                            secrets.token_bytes(32),
                            secrets.token_bytes(32),
                        )
                    except sqlite3.IntegrityError:
                        pass  # another process created it first
                self._lookup = ks.get(LOOKUP_KEY_ID)[0]
            return self._lookup
