"""The global append-only log: ``entries.jsonl`` (one canonical JSON entry per line, Merkle leaf = SHA-256(0x00 ||
line)), per-chain hash chains (seq + prev), and signed C2SP checkpoints.

Many threads of one process and several processes may append at once: a thread lock plus an ``flock`` on
``log/lock`` serialise appends, and each holder first catches up with lines other processes appended. A line is
acknowledged only after ``fsync``; a torn last line (a crash mid-write, never acknowledged) is truncated by the next
lock holder.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .merkle import MerkleTree
from .verifier import VerifierKey, canonical_json, note_key_hash, parse_canonical

SYSTEM_CHAIN = "_system"
#: the log's name when nobody named it: says plainly that the LSP's domain was not set when the log began
DEFAULT_ORIGIN = "lsp-domain-not-set.invalid/evidence"
_ORIGIN_RE = re.compile(r"^[^\s+]+$")
#: the log's name (the checkpoints' origin line and the verifier key's name): fixed, or asked for while unnamed
Origin = str | Callable[[], str | None] | None


class OriginUnavailable(RuntimeError):
    """The name for a new log could not be found now (e.g. the database with the LSP's domain is unreachable);
    the checkpoint is written later rather than under a wrong name."""


def utc_now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9 // 1000:06d}Z"


class NoteSigner:
    """Ed25519 signer for C2SP signed notes; the key name is the log origin."""

    def __init__(self, name: str, key: Ed25519PrivateKey):
        self.name, self.key = name, key
        self.public = key.public_key().public_bytes_raw()
        self.key_hash = note_key_hash(name, self.public)

    @property
    def verifier_key(self) -> VerifierKey:
        return VerifierKey(self.name, self.key_hash, self.public)

    def sign(self, body: bytes) -> bytes:
        sig = self.key.sign(body)
        line = f"\u2014 {self.name} {base64.b64encode(self.key_hash + sig).decode()}\n"
        return body + b"\n" + line.encode("utf-8")


class _Request:
    __slots__ = ("build", "done", "error", "result")

    def __init__(self, build: Callable[[LogState], dict[str, Any]]):
        self.build = build
        self.done = False
        self.error: Exception | None = None
        self.result: tuple[int, str, dict[str, Any]] | None = None


@dataclass
class ChainHead:
    seq: int
    leaf: str
    closed: bool = False
    opened_at: str = ""
    count: int = 0


@dataclass
class LogState:
    offset: int = 0
    tree: MerkleTree = field(default_factory=MerkleTree)
    offsets: list[int] = field(default_factory=list)  # byte offset of each line
    heads: dict[str, ChainHead] = field(default_factory=dict)
    chains: dict[str, list[int]] = field(default_factory=dict)  # chain -> log indices
    related: dict[str, list[int]] = field(default_factory=dict)  # session id -> system-chain indices about it
    linked: dict[str, list[str]] = field(default_factory=dict)  # session chain -> chains whose opening links to it
    links: dict[str, list[str]] = field(default_factory=dict)  # linked chain -> the session chains it links to
    objects: dict[str, int] = field(default_factory=dict)  # object key -> log index of its item entry
    stored: dict[str, str | None] = field(default_factory=dict)  # object key -> version, from object_stored entries
    quarantined: set[str] = field(default_factory=set)
    shredded: set[str] = field(default_factory=set)


class TransparencyLog:
    """The log. Its name (origin) is given when its first checkpoint is written and kept for ever after: every
    checkpoint, proof and verifier key carries it, so renaming a log would orphan every bundle already handed out.
    ``origin`` is that name, or a function asked for it while the log has no checkpoint (the LSP's domain may be
    set after the process started), or None (:data:`DEFAULT_ORIGIN` for a new log)."""

    #: True for a log shared by several machines (:class:`evidence_store.pglog.PgTransparencyLog`)
    shared = False

    def __init__(self, directory: Path, signing_key: Ed25519PrivateKey, *, origin: Origin = None,
                 every_entries: int = 256, every_seconds: int = 60):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "checkpoints").mkdir(exist_ok=True)
        self.path = self.dir / "entries.jsonl"
        self.path.touch(exist_ok=True)
        self.key = signing_key
        self._origin = origin
        self._named: str | None = None
        self._signers: dict[str, NoteSigner] = {}
        self.every_entries, self.every_seconds = every_entries, every_seconds
        self.state = LogState()
        self._tlock = threading.RLock()
        self._qlock = threading.Lock()
        self._queue: list[_Request] = []
        self._lockfile = open(self.dir / "lock", "a+b")
        self._depth = 0
        #: group commit at work: how many syncs (commits) wrote how many entries, in this process
        self.stats = {"commits": 0, "entries": 0}
        with self.locked():
            pass

    def close(self) -> None:
        self._lockfile.close()

    # -- the log's name ------------------------------------------------------------------------------------------
    def name_on_disk(self) -> str | None:
        """The origin of the log's checkpoints, None while it has none."""
        if self._named is None:
            cp = self.latest_checkpoint()
            if cp:
                self._named = cp.split(b"\n", 1)[0].decode("utf-8")
        return self._named

    def preferred_name(self) -> str:
        """The name a new log would get now."""
        origin = self._origin
        try:
            name = origin() if callable(origin) else origin
        except Exception as exc:  # whatever the provider hit, no checkpoint is written under a guessed name
            raise OriginUnavailable(f"the log's name cannot be found now: {exc}") from exc
        name = name or DEFAULT_ORIGIN
        if not _ORIGIN_RE.match(name):
            raise ValueError(f"log origin {name!r} must not contain spaces or '+'")
        return name

    @property
    def origin(self) -> str:
        return self.name_on_disk() or self.preferred_name()

    @property
    def signer(self) -> NoteSigner:
        """The signer under the log's name (the name a new log would get, while it has no checkpoint)."""
        name = self.origin
        signer = self._signers.get(name)
        if signer is None:
            signer = self._signers[name] = NoteSigner(name, self.key)
        return signer

    # -- locking and catching up ---------------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[LogState]:
        with self._tlock:
            if self._depth == 0:
                fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                if self._depth == 1:
                    self._catch_up()
                yield self.state
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        st = self.state
        with open(self.path, "rb") as fh:
            fh.seek(st.offset)
            data = fh.read()
        if not data:
            return
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # a torn line: written by a process that died before fsync returned; never acknowledged
            os.truncate(self.path, st.offset + end)
            self._truncated_bytes = len(data) - end
        pos = 0
        while pos < end:
            nl = data.index(b"\n", pos)
            self._ingest(data[pos:nl], st.offset + pos)
            pos = nl + 1
        st.offset += end

    def _ingest(self, line: bytes, offset: int) -> None:
        st = self.state
        e = json.loads(line)
        idx = st.tree.size
        if e["log_index"] != idx:
            raise RuntimeError(f"log is corrupt: line at offset {offset} has log index {e['log_index']}, "
                               f"expected {idx}")
        leaf = st.tree.append(line)
        st.offsets.append(offset)
        chain = e["chain"]
        head = st.heads.get(chain)
        if head is None:
            head = st.heads[chain] = ChainHead(e["seq"], leaf.hex(), opened_at=e["server_time"])
        head.seq, head.leaf = e["seq"], leaf.hex()
        head.count += 1
        kind = e["kind"]
        if kind == "close":
            head.closed = True
        elif kind == "open" and e.get("links"):
            st.links[chain] = [link["chain"] for link in e["links"]]
            for target in st.links[chain]:
                st.linked.setdefault(target, []).append(chain)
        st.chains.setdefault(chain, []).append(idx)
        if chain == SYSTEM_CHAIN and e.get("session_id"):
            st.related.setdefault(e["session_id"], []).append(idx)
        obj = e.get("object")
        if kind == "item" and obj:
            st.objects[obj["key"]] = idx
        elif kind == "object_stored" and obj:
            st.stored[obj["key"]] = obj.get("version")
        elif kind == "quarantine" and obj:
            st.quarantined.add(obj["key"])
        elif kind == "key_shred":
            st.shredded.update(e.get("key_ids", []))

    # -- reading -------------------------------------------------------------------------------------------------
    def read_lines(self, indices: list[int]) -> list[bytes]:
        out = []
        with open(self.path, "rb") as fh:
            for i in indices:
                fh.seek(self.state.offsets[i])
                out.append(fh.readline().rstrip(b"\n"))
        return out

    def entry(self, index: int) -> dict[str, Any]:
        return json.loads(self.read_lines([index])[0])

    # -- appending -----------------------------------------------------------------------------------------------
    def append(self, build: Callable[[LogState], dict[str, Any]]) -> tuple[int, str, dict[str, Any]]:
        """Append one entry. ``build`` runs under the lock with the caught-up state and returns the entry fields
        (at least ``chain`` and ``kind``); it may raise to refuse. Returns (log index, entry hash hex, entry).

        Group commit: appends that queue up while another thread holds the lock are written together by the next
        holder with one ``fdatasync``; each caller returns only after the sync that covers its line."""
        req = _Request(build)
        with self._qlock:
            self._queue.append(req)
        with self.locked() as st:
            if not req.done:
                with self._qlock:
                    batch, self._queue = self._queue, []
                self._commit(batch, st)
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _commit(self, batch: list[_Request], st: LogState) -> None:
        lines: list[bytes] = []
        done: list[_Request] = []
        pos = st.offset
        force = False
        try:
            for r in batch:
                try:
                    e = r.build(st)
                except Exception as exc:  # noqa: BLE001 - the refusal goes back to that caller
                    r.error, r.done = exc, True
                    continue
                chain = e["chain"]
                head = st.heads.get(chain)
                e["v"] = 1
                e["log_index"] = st.tree.size
                e["seq"] = 0 if head is None else head.seq + 1
                e["prev"] = None if head is None else head.leaf
                e["server_time"] = utc_now()
                if e["kind"] == "close":
                    e["count"] = e["seq"]
                    e["last_hash"] = e["prev"]
                    force = True
                try:
                    line = canonical_json(e)
                    parse_canonical(line)  # never a line the verifier would refuse (floats, surrogates, ...)
                except (ValueError, TypeError) as exc:
                    r.error, r.done = ValueError(f"entry refused, not canonical JSON: {exc}"), True
                    continue
                self._ingest(line, pos)  # later builds in this batch see this entry (heads, objects, ...)
                pos += len(line) + 1
                lines.append(line)
                r.result = (e["log_index"], st.tree.leaf(e["log_index"]).hex(), e)
                done.append(r)
            if lines:
                data = b"".join(line + b"\n" for line in lines)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
                st.offset = pos
                self.stats["commits"] += 1
                self.stats["entries"] += len(lines)
        except BaseException as exc:
            # the in-memory state may be ahead of the file: rebuild it from the file (torn tail cut) and fail the batch
            self.state = LogState()
            self._catch_up()
            for r in done:
                r.result, r.error = None, exc if isinstance(exc, Exception) else RuntimeError(str(exc))
            for r in batch:
                r.done = True
            raise
        for r in batch:
            r.done = True
        if lines:
            self._maybe_checkpoint(force=force)

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def latest_checkpoint(self) -> bytes | None:
        try:
            return (self.dir / "checkpoint").read_bytes()
        except FileNotFoundError:
            return None

    def _latest_size_and_time(self) -> tuple[int, float]:
        p = self.dir / "checkpoint"
        try:
            text = p.read_bytes()
            return int(text.split(b"\n")[1]), p.stat().st_mtime
        except (FileNotFoundError, IndexError, ValueError):
            return 0, 0.0

    def _maybe_checkpoint(self, force: bool = False) -> None:
        size, at = self._latest_size_and_time()
        n = self.state.tree.size
        if n > size and (force or n - size >= self.every_entries or time.time() - at >= self.every_seconds):
            with contextlib.suppress(OriginUnavailable):  # a later checkpoint covers these entries
                self._write_checkpoint()

    def maybe_checkpoint(self) -> None:
        with self.locked():
            self._maybe_checkpoint()

    def checkpoint(self) -> bytes:
        """A signed checkpoint of the current tree (reusing the latest one if the tree has not grown)."""
        with self.locked() as st:
            size, _ = self._latest_size_and_time()
            if size == st.tree.size and size > 0:
                cp = self.latest_checkpoint()
                assert cp is not None
                return cp
            return self._write_checkpoint()

    def _write_checkpoint(self) -> bytes:
        st = self.state
        signer = self.signer
        body = f"{signer.name}\n{st.tree.size}\n{base64.b64encode(st.tree.root()).decode()}\n".encode()
        note = signer.sign(body)
        _atomic_write(self.dir / "checkpoints" / f"{st.tree.size}.note", note)
        _atomic_write(self.dir / "checkpoint", note)
        self._named = signer.name
        return note

    def checkpoint_sizes(self) -> list[int]:
        """The tree sizes of every checkpoint written, ascending."""
        return sorted(int(p.stem) for p in (self.dir / "checkpoints").glob("*.note"))

    def checkpoint_at(self, size: int) -> bytes | None:
        try:
            return (self.dir / "checkpoints" / f"{size}.note").read_bytes()
        except FileNotFoundError:
            return None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
