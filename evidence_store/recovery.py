"""Recovery at start-up (``EvidenceStore.recover``): every interrupted append is resolved from its intent and the
store is reconciled with the log. Whatever is found is logged (a re-logged ``item`` with ``recovered``, or a
``quarantine`` entry with the reason); nothing is dropped silently. docs/EVIDENCE.md describes each case."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from .errors import ObjectNotFound, StoreUnavailable
from .fields import quarantine_entry
from .intents import pending_object_ids, slot_payload
from .log import LogState, sha256_file

if TYPE_CHECKING:
    from .store import EvidenceStore


def recover(store: EvidenceStore, scan_store: bool = True) -> dict[str, Any]:
    """Reconcile after a crash: re-log objects whose append was interrupted after the object was stored,
    quarantine objects without entries and entries without objects, clear stale staging files.
    Everything found is logged (kind ``item`` with ``recovered``, or ``quarantine``); nothing is dropped
    silently."""
    report: dict[str, Any] = {"relogged": [], "quarantined": [], "abandoned": [], "missing": [], "deferred": []}
    pending = store.dir / "pending"
    for path in sorted(pending.glob("slot-*.intent")):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a live append (or another recovery)
            raw = os.pread(fd, os.fstat(fd).st_size, 0)
            payload = slot_payload(raw)
            if payload is None:
                continue  # idle
            key, body = payload
            try:
                fields = json.loads(body)
            except ValueError:
                # torn by a power cut while it was rewritten: the object key (first line) is intact
                fields = None
            if _resolve_intent(store, key, fields, report):
                os.pwrite(fd, b" " * len(raw), 0)
        finally:
            os.close(fd)
    for path in sorted(pending.glob("*.json")):  # intents of the earlier layout: one file per append
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            continue  # its append just finished
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in flight in a live process
            if not path.exists():
                continue
            try:
                fields = json.loads(path.read_bytes())
            except ValueError:
                path.unlink()  # torn intent: written before the object, so nothing was stored under it
                continue
            if _resolve_intent(store, fields["object"]["key"], fields, report):
                path.unlink()
        finally:
            fh.close()
    for creating in pending.glob("*.creating"):
        # an intent of the earlier layout still being created (or abandoned before anything was stored under
        # it): it is created and only then locked, so a young one may belong to a live append; remove stale ones
        with suppress(FileNotFoundError):
            if time.time() - creating.stat().st_mtime > 3600:
                creating.unlink()
    # list the staging files first, then read the intents: an append writes its intent before it creates its
    # staging file, so every staging file listed here of an append still in flight has its intent visible below
    staged = list((store.dir / "staging").glob("*.rte"))
    in_flight = pending_object_ids(store.dir / "pending")
    for tmp in staged:
        if tmp.stem not in in_flight:
            with suppress(FileNotFoundError):  # its append may be removing it too
                tmp.unlink()
    if scan_store and store.log.shared:
        # A log shared by several nodes: another node's append in flight (object stored, entry not yet committed)
        # or its spool (entry committed, object still on that node's disk) would look like an orphan or a missing
        # object here. Each node resolves its own interrupted appends from its intents (above); the store-wide
        # scan is left out (docs/EVIDENCE.md, "One log for all nodes").
        report["store_scan"] = "skipped: the log is shared by several nodes"
    elif scan_store:
        _scan_store(store, report)
    return report

def _object_digest(store: EvidenceStore, key: str) -> str | None:
    """SHA-256 of a stored (or spooled) object, None if there is none."""
    try:
        with store.open_object(key) as fh:
            h = hashlib.sha256()
            while block := fh.read(1 << 20):
                h.update(block)
            return h.hexdigest()
    except ObjectNotFound:
        return None

def _quarantine(store: EvidenceStore, session_id: str, obj: dict[str, Any], reason: str) -> None:
    store.log.append(lambda st: quarantine_entry(session_id, obj, reason))

def _resolve_intent(store: EvidenceStore, key: str, fields: dict[str, Any] | None, report: dict[str, Any]) -> bool:
    """Resolve one interrupted append's intent; False if it must wait for the next recovery (store unreachable).
    ``fields`` is None when only the object key could be read (a torn intent)."""
    try:
        if _check_logged_intent(store, {"object": {"key": key}}, report):
            return True
        if fields is None:
            # not logged, and what it would have logged is unknown: the store scan quarantines the object if it
            # was stored; nothing was acknowledged
            report["abandoned"].append(key)
            return True
        if fields.get("state") == "encrypting":
            # crashed while encrypting: nothing was stored or acknowledged; drop the partial ciphertext
            with suppress(FileNotFoundError):
                (store.dir / "staging" / f"{fields['object']['id']}.rte").unlink()
            store.keys.delete([fields["enc"]["key_id"]])
            report["abandoned"].append(key)
            return True
        _recover_intent(store, fields, report)
        return True
    except StoreUnavailable:
        # cannot tell yet whether the object reached the store: keep the intent for the next run
        report.setdefault("deferred", []).append(key)
        return False

def _check_logged_intent(store: EvidenceStore, fields: dict[str, Any], report: dict[str, Any]) -> bool:
    """An interrupted append whose entry is already logged (the log line is written while the object is synced,
    so a crash can leave the entry durable and the object not): check that the object has the logged hash and
    its data key exists; if not, log a quarantine entry saying so. Never deletes the key. Returns False if the
    intent's object is not logged (the caller recovers it)."""
    key = fields["object"]["key"]
    with store.log.locked() as st:
        idx = st.objects.get(key)
        if idx is None:
            return False
        if key in st.quarantined:
            return True  # already reported
        shredded = set(st.shredded)
    entry = store.log.entry(idx)
    problems = []
    digest = _object_digest(store, key)
    if digest is None:
        problems.append("its object is missing")
    elif digest != entry["object"]["sha256"]:
        problems.append("its object's hash differs from the logged one")
    key_id = entry["enc"]["key_id"]
    if key_id not in shredded and not store.keys.exists(key_id):
        problems.append("its data key was not stored")
    if problems:
        sid = entry["session_id"]
        reason = ("append interrupted after its entry was logged: " + " and ".join(problems)
                  + "; it was never acknowledged")
        _quarantine(store, sid, {"key": key, "sha256": digest}, reason)
        report["quarantined"].append(key)
    return True

def _recover_intent(store: EvidenceStore, fields: dict[str, Any], report: dict[str, Any]) -> None:
    key = fields["object"]["key"]
    sid = fields["session_id"]
    with store.log.locked() as st:
        if key in st.quarantined:
            return  # already reported (e.g. its session was closed before it could be logged)
    staging = store.dir / "staging" / f"{fields['object']['id']}.rte"
    digest = _object_digest(store, key)
    if digest is not None and digest != fields["object"]["sha256"]:
        # stored, but not completely (the crash came before its data was synced) or altered: keep it, say so
        _quarantine(store, sid, {"key": key, "sha256": digest}, "interrupted append left an object whose hash "
                         "differs from the intended one; it was never acknowledged")
        report["quarantined"].append(key)
        return
    if not store.keys.exists(fields["enc"]["key_id"]):
        # an intent names the hash only once the key is durable, so this is damage, not a crash: say so
        _quarantine(store, sid, {"key": key, "sha256": digest}, "interrupted append left an object whose data "
                         "key is missing; it was never acknowledged")
        report["quarantined"].append(key)
        return
    if digest is None:
        if staging.exists() and staging.stat().st_size == fields["object"]["size"] \
                and sha256_file(staging) == fields["object"]["sha256"]:
            # the ciphertext is complete locally: spool it so it is logged and stored, not lost
            store.spool.put(staging, fields["object"]["id"], key, fields["object"]["sha256"])
            fields["spooled"] = True
        else:
            _quarantine(store, sid, {"key": key}, "append interrupted before the object was stored; it was "
                             "never acknowledged")
            store.keys.delete([fields["enc"]["key_id"]])
            report["abandoned"].append(key)
            return
    fields = dict(fields, metadata=dict(fields.get("metadata") or {}, recovered=True))

    def build(st: LogState) -> dict[str, Any]:
        head = st.heads.get(sid)
        if head is None or head.closed:
            return quarantine_entry(sid, fields["object"], "object stored but its session is closed")
        return fields

    _, _, entry = store.log.append(build)
    report["relogged" if entry["kind"] == "item" else "quarantined"].append(key)

def _scan_store(store: EvidenceStore, report: dict[str, Any]) -> None:
    # Other processes keep appending meanwhile. Snapshot order: log size, then the spool, then the store listing;
    # an entry counts as missing only if it was logged before the snapshot and its object is neither listed nor
    # spooled (a spooled object drained after the spool was read is in the listing).
    with store.log.locked() as st:
        logged_before = st.tree.size
    spooled = store.spool.keys()
    try:
        keys = set(store.backend.list_keys("sessions/"))
    except StoreUnavailable:
        report["store_unavailable"] = True
        return
    with store.log.locked() as st:
        pending = pending_object_ids(store.dir / "pending")
        orphans = [k for k in sorted(keys) if k not in st.objects and k not in st.quarantined
                   and k.rsplit("/", 1)[-1].removesuffix(".rte") not in pending]
        missing = [k for k, idx in sorted(st.objects.items()) if idx < logged_before and k not in keys
                   and k not in spooled and k not in st.quarantined]
        for k in orphans:
            _quarantine(store, k.split("/")[1], {"key": k}, "object in the store without a log entry")
            report["quarantined"].append(k)
        for k in missing:
            _quarantine(store, k.split("/")[1], {"key": k}, "log entry whose object is missing from the store")
            report["missing"].append(k)
