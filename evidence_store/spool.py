"""The local spool: ciphertexts that could not reach the object store (``spool/<stamp>-<id>.rte`` + ``.json``),
kept durable and uploaded later in the order they were logged."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

from .backends import ObjectStore, fsync_dir
from .errors import ObjectExists, StoreUnavailable
from .fields import SYSTEM_ACTOR, actor_fields
from .log import SYSTEM_CHAIN, TransparencyLog

_stamp_lock = threading.Lock()
_last_stamp = [0]


def spool_stamp() -> str:
    """A name prefix that sorts in the order items were spooled, across threads of this process."""
    with _stamp_lock:
        t = max(time.time_ns(), _last_stamp[0] + 1)
        _last_stamp[0] = t
    return f"{t:020d}"


def write_json_durable(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(json.dumps(obj, sort_keys=True).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class Spool:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = open(self.dir / ".lock", "a+b")

    def close(self) -> None:
        self._file.close()

    def depth(self) -> int:
        return sum(1 for _ in self.dir.glob("*.json"))

    def keys(self) -> set[str]:
        out = set()
        for meta in self.dir.glob("*.json"):
            with suppress(ValueError, FileNotFoundError):
                out.add(json.loads(meta.read_text())["key"])
        return out

    def open(self, object_key: str) -> BinaryIO | None:
        """The spooled ciphertext of ``object_key``, or None if it is not in the spool."""
        for meta in sorted(self.dir.glob("*.json")):
            with suppress(FileNotFoundError, ValueError):
                if json.loads(meta.read_text())["key"] == object_key:
                    return open(meta.with_suffix(".rte"), "rb")
        return None

    def put(self, ciphertext: Path, object_id: str, object_key: str, sha256: str) -> None:
        """Move a complete ciphertext into the spool, durably (data, then its name, then its description)."""
        with open(ciphertext, "rb") as fh:
            os.fdatasync(fh.fileno())
        name = f"{spool_stamp()}-{object_id}"
        os.replace(ciphertext, self.dir / f"{name}.rte")
        write_json_durable(self.dir / f"{name}.json", {"key": object_key, "sha256": sha256})
        fsync_dir(self.dir)

    def drain(self, backend: ObjectStore, log: TransparencyLog) -> int:
        """Upload spooled objects in order; stop at the first failure, or at an object whose append is still in
        flight (keeps the order). Logs an ``object_stored`` entry for each. Returns how many were stored."""
        done = 0
        with self._lock:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            try:
                for meta in sorted(self.dir.glob("*.json")):
                    info = json.loads(meta.read_text())
                    blob = meta.with_suffix(".rte")
                    with log.locked() as st:
                        logged = info["key"] in st.objects or info["key"] in st.quarantined
                    if not logged:
                        break  # its append is still in flight (or recovery will log it): keep the order
                    try:
                        try:
                            version = backend.put_file(info["key"], blob, blob.stat().st_size).version
                        except ObjectExists:
                            version = backend.stat(info["key"]).version
                    except StoreUnavailable:
                        break
                    log.append(_stored_entry(info["key"], version))
                    blob.unlink()
                    meta.unlink()
                    done += 1
                fsync_dir(self.dir)
            finally:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        return done


def _stored_entry(key: str, version: str | None) -> Callable[[Any], dict[str, Any]]:
    return lambda st: {"chain": SYSTEM_CHAIN, "kind": "object_stored", "session_id": key.split("/")[1],
                       "object": {"key": key, "version": version}, "actor": actor_fields(SYSTEM_ACTOR)}
