"""Intent slots (``pending/slot-<hex>.intent``): the durable record of each append in flight, so that recovery can
tell an append of a live process from one a crash interrupted. Slots are created once and reused, so an append
creates, renames and removes no file; each intent costs one data sync of one block."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from .backends import fsync_dir

#: an intent slot's size: intents are written over the whole slot (padded with spaces), so a slot keeps its size and a
#: data sync of it flushes one block and no metadata
SLOT_SIZE = 4096


def slot_payload(raw: bytes) -> tuple[str, bytes] | None:
    """(object key, JSON) of a slot's content, or None for an empty slot. The object key is the first line, the same
    in every version of the intent, so it survives a torn write of the JSON."""
    raw = raw.strip()
    if not raw:
        return None
    key, _, body = raw.partition(b"\n")
    return key.decode("utf-8", "replace"), body


class Intent:
    """One intent slot (``pending/slot-<hex>.intent``): a file that is created once and reused by append after
    append. While an append uses it, it is ``flock``-ed and holds ``<object key>\n<JSON>`` padded with spaces; when
    the append is done it is blanked. So no file is created, renamed or removed per append, and its directory entry
    is synced once, when the slot is created."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path
        self.key = ""
        self.size = os.fstat(fd).st_size

    def acquire(self) -> bool:
        """Lock a pooled slot for an append: False if another process holds it, it was removed, or it holds the
        intent of an interrupted append that recovery has not resolved yet."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        st = os.fstat(self.fd)
        if st.st_nlink == 0 or slot_payload(os.pread(self.fd, st.st_size, 0)) is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            return False
        self.size = st.st_size
        return True

    def update(self, obj: dict[str, Any]) -> None:
        data = self.key.encode() + b"\n" + json.dumps(obj, sort_keys=True).encode()
        length = max(self.size, -(-(len(data) + 1) // SLOT_SIZE) * SLOT_SIZE)
        os.pwrite(self.fd, data.ljust(length), 0)  # overwrites the whole slot: nothing of an older intent is left
        self.size = length

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def blank(self) -> None:
        os.pwrite(self.fd, b" " * self.size, 0)

    def close(self) -> None:
        os.close(self.fd)  # also releases the lock


class IntentSlots:
    """The pool of this process's idle intent slots. Like the rest of :class:`EvidenceStore` (its helper thread
    pools), not to be carried across ``fork``: open the store in the process that uses it."""

    def __init__(self, directory: Path):
        self.dir = directory
        self._idle: list[Intent] = []
        self._lock = threading.Lock()
        self._adopted = False

    def take(self) -> Intent:
        with self._lock:
            adopt, self._adopted = not self._adopted, True
        if adopt:  # reuse the idle slots earlier processes left behind
            found = []
            for path in sorted(self.dir.glob("slot-*.intent")):
                with suppress(FileNotFoundError):
                    found.append(Intent(os.open(path, os.O_RDWR | os.O_CLOEXEC), path))
            with self._lock:
                self._idle.extend(found)
        while True:
            with self._lock:
                slot = self._idle.pop() if self._idle else None
            if slot is None:
                return self._create()
            if slot.acquire():
                return slot
            slot.close()  # busy in another process or waiting for recovery: not ours to reuse

    def _create(self) -> Intent:
        path = self.dir / f"slot-{uuid.uuid4().hex}.intent"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b" " * SLOT_SIZE, 0)
        os.fsync(fd)
        fsync_dir(self.dir)  # the slot's name is durable once; each intent is then one data sync
        return Intent(fd, path)

    def give_back(self, slot: Intent) -> None:
        slot.blank()
        fcntl.flock(slot.fd, fcntl.LOCK_UN)
        with self._lock:
            self._idle.append(slot)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for slot in idle:
            slot.close()


def pending_object_ids(directory: Path) -> set[str]:
    """Object ids of intents in flight or waiting for recovery (read without locks: the object key is the first line
    of a slot and never changes while the slot is in use)."""
    ids = set()
    for path in directory.glob("slot-*.intent"):
        with suppress(OSError):
            payload = slot_payload(path.read_bytes())
            if payload is not None:
                ids.add(payload[0].rsplit("/", 1)[-1].removesuffix(".rte"))
    ids.update(p.stem for p in directory.glob("*.json"))
    return ids
