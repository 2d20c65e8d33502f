"""Wrapped data keys (and commitment salts) in SQLite, with ``secure_delete`` so shredded keys are overwritten.

Keys live apart from the write-once objects precisely so they can be destroyed (crypto-shredding).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .crypto import unwrap_with_kek, wrap_with_kek
from .errors import KeyUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    candidate_id TEXT,
    object_key TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS data_keys_candidate ON data_keys(candidate_id);
"""


class KekRing:
    """The current key-encryption key and any older ones still needed to unwrap."""

    def __init__(self, current_id: str, keys: dict[str, bytes]):
        if current_id not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("the KEK ring needs a current 32-byte key")
        self.current_id, self.keys = current_id, dict(keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


class KeyStore:
    def __init__(self, path: Path, ring: KekRing):
        self.path, self.ring = Path(path), ring
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA journal_mode=WAL")  # one fsync per commit; shredding checkpoints the WAL away
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        return db

    def put(self, key_id: str, session_id: str, candidate_id: str | None, object_key: str, data_key: bytes,
            salt: bytes, kek_id: str | None = None) -> str:
        """Store a data key wrapped by the KEK ``kek_id`` (default: the current one); durable on return."""
        kek_id = kek_id or self.ring.current_id
        if kek_id not in self.ring.keys:
            raise KeyUnavailable(f"KEK {kek_id} is not configured")
        wrapped = wrap_with_kek(self.ring.keys[kek_id], kek_id, key_id, data_key, salt)
        db = self._db()
        db.execute("INSERT INTO data_keys VALUES (?,?,?,?,?,?,?)",
                   (key_id, session_id, candidate_id, object_key, kek_id, wrapped, time.time()))
        return kek_id

    def get(self, key_id: str) -> tuple[bytes, bytes]:
        row = self._db().execute("SELECT kek_id, wrapped FROM data_keys WHERE key_id=?", (key_id,)).fetchone()
        if row is None:
            raise KeyUnavailable(f"data key {key_id} does not exist (crypto-shredded or never stored)")
        kek_id, wrapped = row
        if kek_id not in self.ring.keys:
            raise KeyUnavailable(f"data key {key_id} is wrapped by KEK {kek_id}, which is not configured")
        return unwrap_with_kek(self.ring.keys[kek_id], kek_id, key_id, wrapped)

    def exists(self, key_id: str) -> bool:
        return self._db().execute("SELECT 1 FROM data_keys WHERE key_id=?", (key_id,)).fetchone() is not None

    def keys_of_candidate(self, candidate_id: str) -> list[tuple[str, str, str]]:
        rows = self._db().execute("SELECT key_id, session_id, object_key FROM data_keys WHERE candidate_id=? "
                                  "ORDER BY created", (candidate_id,)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def delete(self, key_ids: list[str]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM data_keys WHERE key_id=?", [(k,) for k in key_ids])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        # the deleted pages (overwritten by secure_delete) must also leave the write-ahead log
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def rewrap_all(self, new_id: str, new_kek: bytes) -> int:
        """Re-wrap every data key under a new KEK in one transaction. Returns the number of keys re-wrapped."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute("SELECT key_id, kek_id, wrapped FROM data_keys").fetchall()
            for key_id, kek_id, wrapped in rows:
                if kek_id not in self.ring.keys:
                    raise KeyUnavailable(f"data key {key_id} is wrapped by unknown KEK {kek_id}")
                dk, salt = unwrap_with_kek(self.ring.keys[kek_id], kek_id, key_id, wrapped)
                db.execute("UPDATE data_keys SET kek_id=?, wrapped=? WHERE key_id=?",
                           (new_id, wrap_with_kek(new_kek, new_id, key_id, dk, salt), key_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.ring = KekRing(new_id, {**self.ring.keys, new_id: new_kek})
        return len(rows)

    def count(self) -> dict[str, int]:
        rows = self._db().execute("SELECT kek_id, COUNT(*) FROM data_keys GROUP BY kek_id").fetchall()
        return {r[0]: r[1] for r in rows}
