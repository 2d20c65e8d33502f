"""One evidence log for every node (evidence_store/pglog.py) on a real PostgreSQL: several processes with several
threads each append at once; a process killed with SIGKILL inside its transaction leaves nothing visible; the
database refuses rows that would break the log; a session's bundle verifies with the offline verifier."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_store.backends import FilesystemStore
from evidence_store.keyfiles import kek_ring
from evidence_store.pglog import PgTransparencyLog
from evidence_store.store import EvidenceStore
from evidence_store.verifier import leaf_hash, verify_bundle
from tests.pg_evidence_log import fresh_log_database

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]

#: a node: its own data dir (keys, intents, spool), the shared object store and the shared log. argv: log url,
#: node dir, objects dir, signing key file, threads, appends per thread (0: until killed), hold (1: the first
#: transaction that inserts rows stops before its COMMIT and says so)
NODE = r"""
import json, sys, threading, time
from pathlib import Path
from config.settings import EvidenceSettings
from evidence_store.backends import FilesystemStore
from evidence_store.keyfiles import kek_ring, load_or_create_signing_key
from evidence_store.store import EvidenceStore

url, node, objects, keyfile, threads, per_thread, hold = sys.argv[1:8]
node = Path(node)
(node / "keys").mkdir(parents=True, exist_ok=True)
ring, _ = kek_ring(EvidenceSettings(), node / "keys")
store = EvidenceStore(node, FilesystemStore(Path(objects)), ring, load_or_create_signing_key(Path(keyfile), False),
                      chunk_size=4096, checkpoint_every_entries=16, log_url=url)
out = threading.Lock()
def say(obj):
    with out:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

if hold == "1":
    real = store.log._connection
    class Holding:
        def __init__(self, conn):
            self.conn = conn
        def __getattr__(self, name):
            return getattr(self.conn, name)
        def execute(self, query, *args, **kw):
            result = self.conn.execute(query, *args, **kw)
            if "UPDATE rtuk_evidence.head" in str(query):
                say({"holding": True})
                time.sleep(120)  # inside the transaction, rows inserted, before COMMIT: the test kills us here
            return result
    store.log._connection = lambda: Holding(real())

def writer(t):
    i = 0
    while int(per_thread) == 0 or i < int(per_thread):
        sid = f"S{(t + i) % 3}"
        data = (f"{node.name}-{t}-{i}-".encode()) * (50 + i % 200)
        rc = store.append(sid, "chunk", data, metadata={"node": node.name, "t": t, "i": i}, actor=("system", "w"))
        say({"node": node.name, "t": t, "i": i, "session": sid, "log_index": rc.log_index, "hash": rc.entry_hash,
             "key": rc.object_key})
        i += 1

say({"ready": True})
go = Path(sys.argv[8])
while not go.exists():  # every node starts appending at the same moment
    time.sleep(0.01)
ts = [threading.Thread(target=writer, args=(t,)) for t in range(int(threads))]
for th in ts:
    th.start()
for th in ts:
    th.join()
store.close()
say({"done": True})
"""


@pytest.fixture
def log_url():
    with fresh_log_database() as url:
        yield url


@pytest.fixture
def shared(tmp_path, log_url):
    """The shared pieces (signing key file, object dir) and a coordinator store that opens the sessions."""
    key = Ed25519PrivateKey.generate()
    keyfile = tmp_path / "checkpoint-ed25519.pem"
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    objects = tmp_path / "objects"
    objects.mkdir()
    node = tmp_path / "coordinator"
    (node / "keys").mkdir(parents=True)
    from config.settings import EvidenceSettings

    ring, _ = kek_ring(EvidenceSettings(), node / "keys")
    store = EvidenceStore(node, FilesystemStore(objects), ring, key, chunk_size=4096, checkpoint_every_entries=16,
                          log_url=log_url)
    for sid in ("S0", "S1", "S2"):
        store.open_session(sid)
    procs: list[subprocess.Popen] = []
    yield {"url": log_url, "keyfile": keyfile, "objects": objects, "store": store, "tmp": tmp_path, "procs": procs}
    for p in procs:  # a failed test leaves no node running
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    store.close()


def start_node(shared, name: str, threads: int, per_thread: int, hold: bool = False) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-c", NODE, shared["url"], str(shared["tmp"] / name), str(shared["objects"]),
                          str(shared["keyfile"]), str(threads), str(per_thread), "1" if hold else "0",
                          str(shared["tmp"] / "go")],
                         stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    shared["procs"].append(p)
    assert p.stdout is not None
    assert json.loads(p.stdout.readline()) == {"ready": True}
    return p


def read_acks(p: subprocess.Popen) -> list[dict]:
    assert p.stdout is not None
    return [json.loads(line) for line in p.stdout.read().splitlines() if '"log_index"' in line]


def check_log(url: str) -> list[tuple]:
    """The whole log as stored: one gap-free global sequence; per chain a gap-free seq whose prev is the leaf of the
    entry before; each leaf the RFC 9162 hash of the stored line; the JSON agreeing with the columns."""
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for both queries
        rows = conn.execute("SELECT idx, chain, seq, prev, leaf, line FROM rtuk_evidence.entries "
                            "ORDER BY idx").fetchall()
        size = conn.execute("SELECT size FROM rtuk_evidence.head").fetchone()[0]
    assert [r[0] for r in rows] == list(range(len(rows))) and size == len(rows)
    heads: dict[str, tuple[int, bytes]] = {}
    for idx, chain, seq, prev, leaf, line in rows:
        line = bytes(line)
        assert bytes(leaf) == leaf_hash(line)
        e = json.loads(line)
        assert (e["log_index"], e["chain"], e["seq"]) == (idx, chain, seq)
        if chain in heads:
            assert seq == heads[chain][0] + 1 and bytes(prev) == heads[chain][1] and e["prev"] == bytes(prev).hex()
        else:
            assert seq == 0 and prev is None and e["prev"] is None
        heads[chain] = (seq, bytes(leaf))
    return rows


def test_two_processes_with_threads_share_one_log(shared):
    """2 processes x 4 threads x 15 appends (+ the coordinator's): one gap-free sequence, gap-free chains with the
    right prev hashes, every acknowledged receipt in the log, and each session's bundle verifies offline."""
    nodes = [start_node(shared, f"node{n}", threads=4, per_thread=15) for n in range(2)]
    (shared["tmp"] / "go").touch()
    acks = [a for p in nodes for a in read_acks(p)]
    for p in nodes:
        assert p.wait(timeout=120) == 0
    assert len(acks) == 2 * 4 * 15
    rows = check_log(shared["url"])
    by_idx = {r[0]: r for r in rows}
    assert len({a["log_index"] for a in acks}) == len(acks)
    for a in acks:
        assert bytes(by_idx[a["log_index"]][4]).hex() == a["hash"] and by_idx[a["log_index"]][1] == a["session"]
    # the processes' transactions really interleaved (not one process after the other)
    order = [json.loads(bytes(r[5]))["metadata"].get("node") for r in rows if json.loads(bytes(r[5]))["kind"] == "item"]
    switches = sum(1 for x, y in itertools.pairwise(order) if x != y)
    assert switches >= 3, order
    store = shared["store"]
    for sid in ("S0", "S1", "S2"):
        store.close_session(sid)
    for sid in ("S0", "S1", "S2"):
        report = verify_bundle(store.export_bundle(sid, shared["tmp"] / f"{sid}.zip"), str(store.signer.verifier_key))
        assert report.ok, report.failures
        assert report.items == sum(1 for a in acks if a["session"] == sid)
    # checkpoints were written by several nodes, all under one name and key; each one is a tree of the stored leaves
    cps = store.log.checkpoint_sizes()
    assert len(cps) >= 3 and cps[-1] == len(check_log(shared["url"]))
    # the operator's CLI on a third node dumps the whole log, and the verifier checks it (root, every chain)
    env = dict(os.environ, PYTHONPATH=str(ROOT), RTUK_EVIDENCE_LOG_URL=shared["url"],
               RTUK_EVIDENCE_SIGNING_KEY_FILE=str(shared["keyfile"]))
    dump = shared["tmp"] / "dump"
    subprocess.run([sys.executable, "-m", "evidence_store", "--data-dir", str(shared["tmp"] / "cli"), "dump-log",
                    "--out-dir", str(dump)], env=env, cwd=ROOT, check=True, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "evidence_store.verifier", "verify-log", str(dump / "entries.jsonl"),
                           str(dump / "checkpoint"), "--pubkey", str(store.signer.verifier_key)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_process_killed_inside_its_transaction_leaves_nothing_visible(shared):
    """A node stops (SIGKILL) after inserting its batch's rows and before COMMIT: nobody ever sees those rows, the
    sequencer lock is released, the other node's appends carry on gap-free and the bundles verify."""
    url = shared["url"]
    before = len(check_log(url))
    (shared["tmp"] / "go").touch()
    holder = start_node(shared, "holder", threads=3, per_thread=0, hold=True)
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert json.loads(line) == {"holding": True}
    time.sleep(0.3)  # the other threads' appends queue up behind the held batch
    with psycopg.connect(url) as conn:  # the inserted, uncommitted rows are invisible
        assert conn.execute("SELECT count(*) FROM rtuk_evidence.entries").fetchone()[0] == before
    other = start_node(shared, "other", threads=2, per_thread=0)  # blocks on the sequencer row lock
    time.sleep(0.5)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    holder_acks = [json.loads(x) for x in holder.stdout.read().splitlines() if '"log_index"' in x]
    assert holder_acks == [], (holder_acks, line)  # nothing of the killed batch was acknowledged
    deadline = time.monotonic() + 30
    while len(check_log(url)) < before + 20:  # the other node gets the lock and goes on
        assert time.monotonic() < deadline, "the sequencer stayed locked after the holder died"
        time.sleep(0.2)
    other.send_signal(signal.SIGKILL)
    other.wait(timeout=10)
    other_acks = read_acks(other)
    rows = check_log(url)
    by_idx = {r[0]: r for r in rows}
    nodes = {json.loads(bytes(r[5]))["metadata"].get("node") for r in rows}
    assert "holder" not in nodes  # no row of the killed transaction, ever
    for a in other_acks:  # and everything acknowledged to the other node is there (killed too, mid-append)
        assert bytes(by_idx[a["log_index"]][4]).hex() == a["hash"]
    store = shared["store"]
    store.close_session("S1")
    report = verify_bundle(store.export_bundle("S1", shared["tmp"] / "s1.zip"), str(store.signer.verifier_key))
    assert report.ok, report.failures


def test_repeated_kills_lose_nothing_acknowledged(shared):
    """SIGKILL at random moments of a 4-thread node, three times: every acknowledged append is in the log with the
    acknowledged hash, and the log stays one valid sequence."""
    import random

    rng = random.Random(7)
    (shared["tmp"] / "go").touch()
    acks: list[dict] = []
    for n in range(3):
        p = start_node(shared, f"k{n}", threads=4, per_thread=0)
        time.sleep(rng.uniform(0.3, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        acks += read_acks(p)
    rows = check_log(shared["url"])
    by_idx = {r[0]: r for r in rows}
    assert acks
    for a in acks:
        assert bytes(by_idx[a["log_index"]][4]).hex() == a["hash"]
    store = shared["store"]
    store.close_session("S2")
    report = verify_bundle(store.export_bundle("S2", shared["tmp"] / "s2.zip"), str(store.signer.verifier_key))
    assert report.ok, report.failures


def test_the_database_refuses_rows_that_break_the_log(log_url):
    """The constraints hold on their own, whoever writes: a gap, a duplicate index, a second entry at one chain
    position, a wrong prev, a leaf that is not the hash of the line, a JSON that disagrees with its columns."""
    log = PgTransparencyLog(log_url, Ed25519PrivateKey.generate())
    log.append(lambda st: {"chain": "C", "kind": "open", "session_id": "C"})
    log.append(lambda st: {"chain": "C", "kind": "note", "session_id": "C"})
    with log.locked() as st:
        leaf1 = st.tree.leaf(1)

    def row(idx: int, seq: int, prev: bytes | None, **over) -> tuple:
        e = {"chain": "C", "kind": "note", "log_index": idx, "seq": seq, "prev": None if prev is None else prev.hex()}
        e.update(over)
        line = json.dumps(e, sort_keys=True, separators=(",", ":")).encode()
        return (idx, "C", seq, prev, leaf_hash(line), line)

    insert = "INSERT INTO rtuk_evidence.entries (idx, chain, seq, prev, leaf, line) VALUES (%s, %s, %s, %s, %s, %s)"
    bad = {
        "gap": row(3, 2, leaf1),
        "duplicate index": row(1, 2, leaf1),
        "fork of the chain": row(2, 1, leaf1),
        "wrong prev": row(2, 2, b"\x00" * 32),
        "JSON disagrees": row(2, 2, leaf1, log_index=7),
    }
    wrong_leaf = list(row(2, 2, leaf1))
    wrong_leaf[4] = b"\x11" * 32
    bad["leaf is not the line's hash"] = tuple(wrong_leaf)
    with psycopg.connect(log_url, autocommit=True) as conn:
        for what, values in bad.items():
            with pytest.raises(psycopg.errors.IntegrityError):
                conn.execute(insert, values)
                pytest.fail(f"accepted: {what}")
        conn.execute(insert, row(2, 2, leaf1))  # the right row goes in
        conn.execute("UPDATE rtuk_evidence.head SET size = 3")
    log.close()
    check_log(log_url)


def test_a_lost_connection_is_not_an_outage(log_url):
    """PostgreSQL drops the log's connection (a restart, a network cut) between appends: the next append connects
    again by itself and the log goes on without a gap."""
    log = PgTransparencyLog(log_url, Ed25519PrivateKey.generate())
    log.append(lambda st: {"chain": "R", "kind": "open", "session_id": "R"})
    with psycopg.connect(log_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = 'rtuk-evidence-log' AND datname = current_database()")
    idx, _, e = log.append(lambda st: {"chain": "R", "kind": "note", "session_id": "R"})
    assert (idx, e["seq"]) == (1, 1)
    log.close()
    check_log(log_url)
