"""The evidence log in PostgreSQL: one log for every app and media node, on every machine (docs/EVIDENCE.md,
"One log for all nodes").

The design is Trillian's: the log's sequencing and storage are a database. :class:`PgTransparencyLog` is the same log
as :class:`~evidence_store.log.TransparencyLog` (same entries, same RFC 9162 tree, same C2SP checkpoints, same
``build`` callbacks) with ``entries.jsonl`` and its ``flock`` replaced by tables in the schema ``rtuk_evidence``:

- ``entries``: one row per entry; ``line`` holds exactly the canonical JSON bytes whose RFC 9162 leaf hash is in
  ``leaf``. The database itself refuses a row that breaks the log: the global index is the primary key and every row
  but the first references the row before it (no gap, no duplicate); (chain, seq) is unique and every entry but a
  chain's first references its predecessor's (chain, seq, leaf) through ``prev`` (a chain cannot fork or skip);
  ``leaf`` must be SHA-256(0x00 || line) and the JSON's ``log_index``/``chain``/``seq``/``prev`` must equal the
  columns.
- ``head``: one row holding the tree size and the verifier key. An append locks it (``SELECT ... FOR UPDATE``): that
  row lock is the log's single sequencer, held from the moment the appender reads the size until its COMMIT.
- ``checkpoints``: the signed C2SP checkpoints, by tree size. Any node may write one; a transaction-scoped advisory
  lock keeps two nodes from signing the same size at once.

An append is acknowledged (returns) only after its COMMIT, so only once PostgreSQL has made it durable; a process
killed before that leaves nothing visible (the transaction is rolled back). Group commit: each process gathers the
appends that arrive while one of its transactions is in flight, or while it waits for the sequencer lock, and writes
them in one transaction, with one COMMIT (one WAL flush) for all of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .log import LogState, Origin, OriginUnavailable, TransparencyLog, _Request, utc_now
from .verifier import canonical_json, parse_canonical

SCHEMA = "rtuk_evidence"
#: the advisory lock (key pair) that serialises checkpoint writers and schema creation across nodes
_LOCK_CLASS = 0x52545545  # "RTUE"
_LOCK_CHECKPOINT, _LOCK_SCHEMA = 1, 2

_DDL = """
CREATE SCHEMA IF NOT EXISTS rtuk_evidence;
CREATE TABLE IF NOT EXISTS rtuk_evidence.head (
    id smallint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    public_key bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS rtuk_evidence.entries (
    idx bigint PRIMARY KEY CHECK (idx >= 0),
    prev_idx bigint GENERATED ALWAYS AS (NULLIF(idx, 0) - 1) STORED REFERENCES rtuk_evidence.entries (idx),
    chain text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 0),
    prev_seq bigint GENERATED ALWAYS AS (NULLIF(seq, 0) - 1) STORED,
    prev bytea,
    leaf bytea NOT NULL,
    line bytea NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain, seq),
    UNIQUE (chain, seq, leaf),
    CHECK ((seq = 0) = (prev IS NULL)),
    CHECK (leaf = sha256('\\x00'::bytea || line)),
    CHECK ((convert_from(line, 'UTF8')::jsonb ->> 'log_index') = idx::text),
    CHECK ((convert_from(line, 'UTF8')::jsonb ->> 'chain') = chain),
    CHECK ((convert_from(line, 'UTF8')::jsonb ->> 'seq') = seq::text),
    CHECK ((convert_from(line, 'UTF8')::jsonb ->> 'prev') IS NOT DISTINCT FROM encode(prev, 'hex')),
    FOREIGN KEY (chain, prev_seq, prev) REFERENCES rtuk_evidence.entries (chain, seq, leaf)
);
CREATE TABLE IF NOT EXISTS rtuk_evidence.checkpoints (
    size bigint PRIMARY KEY CHECK (size > 0),
    note bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


#: a batch's rows and the log's new size, in one statement
_INSERT = """
WITH ins AS (
    INSERT INTO rtuk_evidence.entries (idx, chain, seq, prev, leaf, line)
    SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bytea[], %s::bytea[], %s::bytea[])
)
UPDATE rtuk_evidence.head SET size = %s WHERE id = 1
"""


def normalize_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("the evidence log URL must be postgresql://user@host:port/database")
    return "postgresql://" + rest


class PgTransparencyLog(TransparencyLog):
    """The evidence log kept in PostgreSQL (see the module docstring). Same interface as the file log."""

    shared = True

    def __init__(self, url: str, signing_key: Ed25519PrivateKey, *, origin: Origin = None,
                 every_entries: int = 256, every_seconds: int = 60, page: int = 5000):
        import threading

        self.url = normalize_url(url)
        self.dir = None  # type: ignore[assignment]
        self.key = signing_key
        self._origin = origin
        self._named: str | None = None
        self._signers = {}
        self.every_entries, self.every_seconds = every_entries, every_seconds
        self.page = page
        self.state = LogState()
        self._tlock = threading.RLock()
        self._qlock = threading.Lock()
        self._queue: list[_Request] = []
        self._depth = 0
        self.stats = {"commits": 0, "entries": 0}
        #: (size, time) of the latest checkpoint this process has seen or written
        self._cp_seen: tuple[int, float] = (0, 0.0)
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        public = signing_key.public_key().public_bytes_raw()
        with self._tlock:
            conn = self._connection()
            try:
                # a plain read first: it waits for no lock, so a node starts while others are appending
                row = conn.execute("SELECT public_key FROM rtuk_evidence.head WHERE id = 1").fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row is None:  # a new log: its tables, and its head naming the signing key, once
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_SCHEMA))
                    conn.execute(_DDL)
                    conn.execute("INSERT INTO rtuk_evidence.head (id, size, public_key) VALUES (1, 0, %s) "
                                 "ON CONFLICT (id) DO NOTHING", (public,))
                    row = conn.execute("SELECT public_key FROM rtuk_evidence.head WHERE id = 1").fetchone()
            if row is None or bytes(row[0]) != public:
                self.close()
                raise ValueError("the shared evidence log was begun with another signing key: every node must sign "
                                 "checkpoints with the same key (RTUK_EVIDENCE_SIGNING_KEY_FILE)")
        with self.locked():
            pass

    # -- the connection ------------------------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise RuntimeError("the evidence log is closed")
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            self._conn = conn = psycopg.connect(self.url, autocommit=True, application_name="rtuk-evidence-log",
                                                connect_timeout=10)
        return conn

    def ping(self) -> None:
        """Raises unless the database answers (readiness probes), on a connection of its own: the log's connection
        may be busy with a batch."""
        with psycopg.connect(self.url, connect_timeout=3) as conn:
            conn.execute("SELECT size FROM rtuk_evidence.head WHERE id = 1")

    def close(self) -> None:
        with self._tlock:
            self._closed = True
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def _reset(self) -> None:
        """Forget the in-memory state (it may be ahead of the database after a failed COMMIT) and reload it."""
        if self._conn is not None and (self._conn.broken or self._conn.closed):
            self._conn = None
        self.state = LogState()
        with contextlib.suppress(psycopg.Error):
            self._catch_up()

    # -- locking and catching up ---------------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[LogState]:
        """The state caught up with every committed entry, under this process's lock. Other processes keep
        appending meanwhile (the state is a consistent prefix of the log; appends serialise in the database)."""
        with self._tlock:
            self._depth += 1
            try:
                if self._depth == 1:
                    try:
                        self._catch_up()
                    except psycopg.Error:
                        self._reset()
                        self._catch_up()
                yield self.state
            finally:
                self._depth -= 1

    def _catch_up(self) -> None:
        conn = self._connection()
        st = self.state
        while True:
            rows = conn.execute("SELECT idx, line FROM rtuk_evidence.entries WHERE idx >= %s ORDER BY idx LIMIT %s",
                                (st.tree.size, self.page)).fetchall()
            for idx, line in rows:
                self._ingest(bytes(line), idx)
            if len(rows) < self.page:
                return

    # -- reading -------------------------------------------------------------------------------------------------
    def read_lines(self, indices: list[int]) -> list[bytes]:
        if not indices:
            return []
        with self._tlock:
            rows = self._connection().execute("SELECT idx, line FROM rtuk_evidence.entries WHERE idx = ANY(%s)",
                                              (list(indices),)).fetchall()
        by_idx = {i: bytes(line) for i, line in rows}
        return [by_idx[i] for i in indices]

    # -- appending -----------------------------------------------------------------------------------------------
    def append(self, build: Any) -> tuple[int, str, dict[str, Any]]:
        """As :meth:`TransparencyLog.append`: queued, and written by whichever thread of this process takes the
        lock next, together with every append queued meanwhile (one transaction, one COMMIT). The catch-up with
        other nodes happens inside that transaction, under the sequencer lock."""
        req = _Request(build)
        with self._qlock:
            self._queue.append(req)
        with self._tlock:
            self._depth += 1
            try:
                if not req.done:
                    self._commit_queue()
            finally:
                self._depth -= 1
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _commit(self, batch: list[_Request], st: LogState) -> None:
        """The file log's entry point (the caller holds the lock): these requests, with whatever else is queued."""
        with self._qlock:
            self._queue.extend(batch)
        self._commit_queue()

    def _commit_queue(self) -> None:
        """Write every queued append of this process in one transaction. The queue is taken once the sequencer lock
        is held, so the appends that arrived while this process waited for another node's COMMIT go in too."""
        batch: list[_Request] = []
        done: list[_Request] = []
        force, wrote = False, 0
        try:
            for attempt in (1, 2):
                started = False  # True once the batch was taken: from then on it is never tried again
                try:
                    conn = self._connection()
                    with conn.transaction():
                        row = conn.execute("SELECT size FROM rtuk_evidence.head WHERE id = 1 FOR UPDATE").fetchone()
                        started = True
                        with self._qlock:
                            batch, self._queue = self._queue, []
                        force, wrote = self._write_batch(conn, batch, done, row)
                    break
                except psycopg.OperationalError:
                    # the connection was lost (PostgreSQL restarted, a network cut) before anything of this batch
                    # was sent: connect again and take the lock once more; after that, the batch fails
                    if started or attempt == 2:
                        raise
                    self._conn = None
            # COMMIT returned: every entry of the batch is durable in PostgreSQL
            if wrote:
                self.stats["commits"] += 1
                self.stats["entries"] += wrote
        except BaseException as exc:
            # nothing of this transaction is acknowledged; the in-memory state may be ahead of the database
            if not batch:  # failed before the queue was taken: the appends waiting in it fail with this error
                with self._qlock:
                    batch, self._queue = self._queue, []
                done = list(batch)
            self._reset()
            for r in done:
                r.result, r.error = None, exc if isinstance(exc, Exception) else RuntimeError(str(exc))
            for r in batch:
                r.done = True
            raise
        for r in batch:
            r.done = True
        if wrote:
            with contextlib.suppress(psycopg.Error):  # a later append or the background thread checkpoints
                self._maybe_checkpoint(force=force)

    def _write_batch(self, conn: psycopg.Connection[Any], batch: list[_Request], done: list[_Request],
                     row: tuple[Any, ...] | None) -> tuple[bool, int]:
        """Inside the transaction, holding the sequencer lock: build, insert. Returns (force a checkpoint, how many
        entries were written)."""
        force = False
        # the sequencer: the head row stays locked until COMMIT, so indices are handed out one writer
        # at a time across every process and machine
        if row is None or int(row[0]) != self.state.tree.size:
            self._catch_up()  # other nodes appended since this process last looked
        st = self.state
        if st.tree.size != (0 if row is None else int(row[0])):
            raise RuntimeError(f"evidence log: {st.tree.size} entries stored but the head says {row}")
        rows: list[tuple[int, str, int, bytes | None, bytes, bytes]] = []
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
                parse_canonical(line)
            except (ValueError, TypeError) as exc:
                r.error, r.done = ValueError(f"entry refused, not canonical JSON: {exc}"), True
                continue
            idx = e["log_index"]
            self._ingest(line, idx)
            leaf = st.tree.leaf(idx)
            rows.append((idx, chain, e["seq"], None if e["prev"] is None else bytes.fromhex(e["prev"]),
                         leaf, line))
            r.result = (idx, leaf.hex(), e)
            done.append(r)
        if rows:
            # the batch's rows and the new size in one statement (one round trip)
            cols = list(zip(*rows, strict=True))
            conn.execute(_INSERT, (list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]),
                                   list(cols[4]), list(cols[5]), st.tree.size))
        return force, len(rows)

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def latest_checkpoint(self) -> bytes | None:
        with self._tlock:
            row = self._connection().execute(
                "SELECT note FROM rtuk_evidence.checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else bytes(row[0])

    def _latest_size_and_time(self) -> tuple[int, float]:
        row = self._connection().execute(
            "SELECT size, extract(epoch FROM created_at) FROM rtuk_evidence.checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        seen = (0, 0.0) if row is None else (int(row[0]), float(row[1]))
        self._cp_seen = max(self._cp_seen, seen)
        return seen

    def checkpoint_sizes(self) -> list[int]:
        with self._tlock:
            rows = self._connection().execute("SELECT size FROM rtuk_evidence.checkpoints ORDER BY size").fetchall()
        return [int(r[0]) for r in rows]

    def checkpoint_at(self, size: int) -> bytes | None:
        with self._tlock:
            row = self._connection().execute("SELECT note FROM rtuk_evidence.checkpoints WHERE size = %s",
                                             (size,)).fetchone()
        return None if row is None else bytes(row[0])

    def checkpoint(self) -> bytes:
        """A signed checkpoint of the log as committed now (the latest one if the log has not grown); the state
        is caught up to at least its size, so proofs against it can be computed from ``state.tree``."""
        with self.locked() as st:
            while True:
                size, _ = self._latest_size_and_time()
                if size > st.tree.size:  # another node signed a bigger tree meanwhile: catch up with it
                    self._catch_up()
                    st = self.state
                    continue
                if size == st.tree.size and size > 0:
                    cp = self.checkpoint_at(size)
                    assert cp is not None
                    return cp
                return self._write_checkpoint()

    def _write_checkpoint(self) -> bytes:
        """Sign the tree as this process has it (a prefix of the committed log, computed from the stored leaves) and
        store the note; a node that finds the size already signed returns the stored note."""
        st = self.state
        signer = self.signer
        body = f"{signer.name}\n{st.tree.size}\n{_b64(st.tree.root())}\n".encode()
        note = signer.sign(body)
        conn = self._connection()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_CHECKPOINT))
            row = conn.execute("SELECT note FROM rtuk_evidence.checkpoints ORDER BY size DESC LIMIT 1").fetchone()
            if row is not None:
                latest = bytes(row[0])
                name = latest.split(b"\n", 1)[0].decode("utf-8")
                if name != signer.name:
                    # the log was named by another node meanwhile: sign under that name
                    self._named = name
                    signer = self.signer
                    note = signer.sign(f"{signer.name}\n{st.tree.size}\n{_b64(st.tree.root())}\n".encode())
            conn.execute("INSERT INTO rtuk_evidence.checkpoints (size, note) VALUES (%s, %s) "
                         "ON CONFLICT (size) DO NOTHING", (st.tree.size, note))
            stored = conn.execute("SELECT note FROM rtuk_evidence.checkpoints WHERE size = %s",
                                  (st.tree.size,)).fetchone()
        self._named = signer.name
        self._cp_seen = max(self._cp_seen, (st.tree.size, time.time()))
        return bytes(stored[0]) if stored is not None else note

    def _maybe_checkpoint(self, force: bool = False) -> None:
        n = self.state.tree.size
        size, at = self._cp_seen
        if not (n > size and (force or n - size >= self.every_entries or time.time() - at >= self.every_seconds)):
            return  # not due even by what this process saw last (other nodes only make it less due)
        size, at = self._latest_size_and_time()
        if n > size and (force or n - size >= self.every_entries or time.time() - at >= self.every_seconds):
            with contextlib.suppress(OriginUnavailable):  # a later checkpoint covers these entries
                self._write_checkpoint()

    def maybe_checkpoint(self) -> None:
        with self.locked():
            self._maybe_checkpoint()


def _b64(b: bytes) -> str:
    import base64

    return base64.b64encode(b).decode()
