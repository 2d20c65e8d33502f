"""EvidenceStore behaviour: concurrency, recovery, spool, shredding, KEK rotation, CLI, parameters."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from evidence_unit_helpers import BOTH_LOGS, leftover_intents, make_store

from evidence_store.errors import KeyUnavailable, SessionError, StoreUnavailable
from evidence_store.verifier import verify_bundle

ROOT = Path(__file__).resolve().parents[3]


@BOTH_LOGS
def test_append_read_and_entry_fields(store):
    store.open_session("S1", {"scheme": "SKM"})
    rc = store.append("S1", "recording", b"x" * 10000, metadata={"track": "video"}, actor=("asesi", "c1"),
                      client_time="2026-01-01T00:00:00Z", media_range=(1000, 3000), candidate_id="c1")
    e = next(x for x in store.list_entries("S1") if x["kind"] == "item")
    assert e["log_index"] == rc.log_index and e["seq"] == 1 and e["session_id"] == "S1"
    assert e["media_range"] == {"start_ms": 1000, "end_ms": 3000}
    assert e["actor"] == {"role": "asesi", "id": "c1"} and e["client_time"] == "2026-01-01T00:00:00Z"
    assert e["commitment"].startswith("sha256-salted-key:") and e["object"]["size"] > 10000
    assert e["enc"]["alg"] == "AES-256-GCM-STREAM-v1" and e["enc"]["kek_id"] == "kek-1"
    # the commitment is salted: not the bare hash of the plaintext
    import hashlib

    assert hashlib.sha256(b"x" * 10000).hexdigest() not in json.dumps(e)
    assert store.read(rc.object_key, ("asesor", "a1")) == b"x" * 10000
    answer = store.append("S1", "answer", b"B", actor=("asesi", "c1"), commit_plaintext=True)
    e2 = next(x for x in store.list_entries("S1") if x["log_index"] == answer.log_index)
    assert e2["commitment"].startswith("sha256-salted:")
    assert hashlib.sha256(b"B").hexdigest() not in json.dumps(e2)  # salted, never the bare hash of a guessable answer
    assert store.read(answer.object_key, ("asesor", "a1")) == b"B"
    reads = [x for x in store.list_entries("S1") if x["kind"] == "read"]
    assert reads[0]["actor"] == {"role": "asesor", "id": "a1"} and reads[0]["object"]["key"] == rc.object_key
    # the object on disk is ciphertext only
    raw = (store.dir / "objects" / rc.object_key).read_bytes()
    assert b"x" * 64 not in raw and raw.startswith(b"RTE1")


@BOTH_LOGS
def test_session_rules(store):
    with pytest.raises(SessionError):
        store.append("nope", "t", b"", actor=("a", "b"))
    store.open_session("S")
    with pytest.raises(SessionError):
        store.open_session("S")
    store.close_session("S")
    with pytest.raises(SessionError):
        store.append("S", "t", b"", actor=("a", "b"))
    with pytest.raises(ValueError):
        store.open_session("../etc")


@BOTH_LOGS
def test_many_threads_one_chain(store, auditor, tmp_path):
    store.open_session("T")
    receipts = []
    lock = threading.Lock()

    def work(n):
        for i in range(10):
            rc = store.append("T", "chunk", os.urandom(100 + i), actor=("system", f"t{n}"))
            with lock:
                receipts.append(rc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close_session("T")
    assert len({r.log_index for r in receipts}) == 60
    r = verify_bundle(store.export_bundle("T", tmp_path / "t.zip", auditor.public_key()),
                      str(store.signer.verifier_key), auditor)
    assert r.ok and r.items == 60 and r.decrypted == 60, r.render()


def run_cli(data_dir, *args, check=True):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "evidence_store", "--data-dir", str(data_dir), *args],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_cli_process_and_threads_append_concurrently(store, tmp_path):
    store.open_session("C")
    f = tmp_path / "f.bin"
    f.write_bytes(b"cli evidence")
    stop = threading.Event()
    count = [0]

    def work():
        while not stop.is_set():
            store.append("C", "chunk", b"thread", actor=("system", "t"))
            count[0] += 1

    t = threading.Thread(target=work)
    t.start()
    outs = [run_cli(store.dir, "append", "--session", "C", "--type", "doc", "--file", str(f),
                    "--actor", "asesor:7").stdout for _ in range(3)]
    stop.set()
    t.join()
    store.close_session("C")
    assert all(o.startswith("log_index=") for o in outs)
    items = [e for e in store.list_entries("C") if e["kind"] == "item"]
    assert len(items) == count[0] + 3
    assert sum(e["actor"]["id"] == "7" for e in items) == 3
    r = verify_bundle(store.export_bundle("C", tmp_path / "c.zip"), str(store.signer.verifier_key))
    assert r.ok, r.render()


def test_cli_end_to_end(tmp_path):
    d = tmp_path / "ev"
    f = tmp_path / "f.txt"
    f.write_bytes(b"jawaban")
    out = run_cli(d, "append", "--session", "X", "--type", "answer", "--file", str(f), "--open").stdout
    assert "log_index=1" in out and "entry_hash=" in out
    run_cli(d, "close", "--session", "X")
    run_cli(d, "auditor-keygen", "--out", str(tmp_path / "aud"))
    run_cli(d, "export", "--session", "X", "--out", str(tmp_path / "x.zip"), "--auditor-key", str(tmp_path / "aud.pub"))
    status = json.loads(run_cli(d, "status").stdout)
    assert status["spool_depth"] == 0 and status["log_size"] == 3
    ok = run_cli(d, "verify", str(tmp_path / "x.zip"), "--pubkey", status["verifier_key"],
                 "--decrypt-with", str(tmp_path / "aud"))
    assert "VERIFIED" in ok.stdout and "1 decrypted" in ok.stdout
    blob = bytearray((tmp_path / "x.zip").read_bytes())
    blob[len(blob) // 3] ^= 0xFF
    (tmp_path / "bad.zip").write_bytes(bytes(blob))
    bad = run_cli(d, "verify", str(tmp_path / "bad.zip"), "--pubkey", status["verifier_key"], check=False)
    assert bad.returncode == 1 and "FAIL" in bad.stdout
    params = json.loads(run_cli(d, "parameters").stdout)
    assert params["encryption"]["chunk_size_bytes"] == 64 * 1024


def test_recovery_relogs_interrupted_append(tmp_path):
    s = make_store(tmp_path)
    s.open_session("R")
    original = s.log.append

    def crash(build):
        raise KeyboardInterrupt("simulated crash between object write and log append")

    s.log.append = crash
    with pytest.raises(KeyboardInterrupt):
        s.append("R", "doc", b"precious", actor=("asesi", "c"))
    s.log.append = original
    s.close()
    s2 = make_store(tmp_path)
    assert len(s2.last_recovery["relogged"]) == 1
    items = [e for e in s2.list_entries("R") if e["kind"] == "item"]
    assert items[0]["metadata"] == {"recovered": True}
    assert s2.read(items[0]["object"]["key"], ("auditor", "x")) == b"precious"
    s2.close()


def test_recovery_quarantines_orphans_and_missing_objects(tmp_path):
    s = make_store(tmp_path)
    s.open_session("Q")
    rc = s.append("Q", "doc", b"one", actor=("a", "b"))
    s.close()
    objdir = tmp_path / "evidence" / "objects"
    (objdir / "sessions" / "Q" / "stray.rte").write_bytes(b"RTE1 not logged")
    os.chmod(objdir / rc.object_key, 0o644)
    (objdir / rc.object_key).unlink()
    s2 = make_store(tmp_path)
    assert s2.last_recovery["quarantined"] == ["sessions/Q/stray.rte"]
    assert s2.last_recovery["missing"] == [rc.object_key]
    reasons = {e["object"]["key"]: e["reason"] for e in s2.list_entries("Q") if e["kind"] == "quarantine"}
    assert "without a log entry" in reasons["sessions/Q/stray.rte"]
    assert "missing" in reasons[rc.object_key]
    s2.close()
    s3 = make_store(tmp_path)  # reported once, not again
    assert s3.last_recovery["quarantined"] == [] and s3.last_recovery["missing"] == []
    s3.close()


def test_torn_log_line_is_truncated(tmp_path):
    s = make_store(tmp_path)
    s.open_session("W")
    s.append("W", "doc", b"ok", actor=("a", "b"))
    s.close()
    with open(tmp_path / "evidence" / "log" / "entries.jsonl", "ab") as fh:
        fh.write(b'{"chain":"W","kind":"item","log_ind')
    s2 = make_store(tmp_path)
    s2.append("W", "doc", b"after", actor=("a", "b"))
    s2.close_session("W")
    r = verify_bundle(s2.export_bundle("W", tmp_path / "w.zip"), str(s2.signer.verifier_key))
    assert r.ok and r.items == 2, r.render()
    s2.close()


def crash_after_storing(tmp_path, session_id: str, data: bytes) -> None:
    """One append whose process dies after the object was stored and before its entry was logged."""
    s = make_store(tmp_path)
    s.open_session(session_id)

    def crash(build):
        raise KeyboardInterrupt("crash after the object was stored")

    s.log.append = crash
    with pytest.raises(KeyboardInterrupt):
        s.append(session_id, "doc", data, actor=("a", "b"))
    s.close()


class FlakyStore:
    """Wraps a backend; while ``down`` every call raises StoreUnavailable (as the S3 adapter does)."""

    def __init__(self, inner):
        self.inner, self.down, self.name = inner, False, inner.name
        self.put_order = []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)

        def call(*a, **kw):
            if self.down:
                raise StoreUnavailable("down")
            if name == "put_file":
                self.put_order.append(a[0])
            return attr(*a, **kw)

        return call


@BOTH_LOGS
def test_spool_during_outage_drains_in_order(store, auditor, tmp_path):
    flaky = FlakyStore(store.backend)
    store.backend = flaky
    store.drain_interval = 3600  # appends do not drain by themselves here: drain_spool() is called explicitly
    store.open_session("O")
    keys = [store.append("O", "chunk", f"c{i}".encode(), actor=("s", "x")).object_key for i in range(3)]
    flaky.down = True
    spooled = [store.append("O", "chunk", f"s{i}".encode(), actor=("s", "x")) for i in range(5)]
    assert all(r.spooled for r in spooled) and store.status()["spool_depth"] == 5
    assert store.read(spooled[0].object_key, ("asesor", "a")) == b"s0"  # readable from the spool
    assert store.drain_spool() == 0
    flaky.down = False
    more = store.append("O", "chunk", b"after", actor=("s", "x"))
    assert more.spooled  # order is kept: nothing overtakes the spool
    assert store.drain_spool() == 6 and store.status()["spool_depth"] == 0
    assert flaky.put_order == keys + [r.object_key for r in spooled] + [more.object_key]
    stored = [e for e in store.list_entries("O") if e["kind"] == "object_stored"]
    assert [e["object"]["key"] for e in stored] == [r.object_key for r in spooled] + [more.object_key]
    store.close_session("O")
    r = verify_bundle(store.export_bundle("O", tmp_path / "o.zip", auditor.public_key()),
                      str(store.signer.verifier_key), auditor)
    assert r.ok and r.decrypted == 9, r.render()


def test_shred_and_rotate(tmp_path, auditor):
    s = make_store(tmp_path)
    s.open_session("K")
    a = s.append("K", "face", b"biometric", actor=("s", "x"), candidate_id="cand1")
    b = s.append("K", "answer", b"other", actor=("s", "x"), candidate_id="cand2")
    rot = s.rotate_kek()
    assert rot["rewrapped"] == 2 and rot["new_kek_id"] == "kek-2"
    assert s.read(a.object_key, ("asesor", "1")) == b"biometric"
    rcs = s.shred_candidate("cand1", ("dpo", "1"))
    assert len(rcs) == 1
    with pytest.raises(KeyUnavailable):
        s.read(a.object_key, ("asesor", "1"))
    s.close_session("K")
    s.close()
    s2 = make_store(tmp_path)  # the rotated KEK was persisted (development mode)
    assert s2.read(b.object_key, ("asesor", "1")) == b"other"
    assert s2.describe_parameters()["encryption"]["kek_id"] == "kek-2"
    r = verify_bundle(s2.export_bundle("K", tmp_path / "k.zip", auditor.public_key()),
                      str(s2.signer.verifier_key), auditor)
    assert r.ok and r.shredded == [f"dk-{a.object_key.split('/')[-1][:-4]}"] and r.decrypted == 1, r.render()
    kinds = [e["kind"] for e in s2.list_entries("K")]
    assert "key_shred" in kinds
    s2.close()


def test_kek_from_settings_and_rotation_with_given_key(tmp_path):
    kek = base64.b64encode(os.urandom(32)).decode()
    s = make_store(tmp_path, kek=kek, kek_id="prod-1")
    s.open_session("P")
    rc = s.append("P", "doc", b"d", actor=("s", "x"))
    new = os.urandom(32)
    s.rotate_kek(new, "prod-2")
    s.close()
    assert not (tmp_path / "evidence" / "keys" / "kek.json").exists()
    s2 = make_store(tmp_path, kek=base64.b64encode(new).decode(), kek_id="prod-2")
    assert s2.read(rc.object_key, ("a", "b")) == b"d"
    s2.close()
    s3 = make_store(tmp_path, kek=kek, kek_id="prod-1")  # the old KEK alone no longer opens the keys
    with pytest.raises(KeyUnavailable):
        s3.read(rc.object_key, ("a", "b"))
    s3.close()


@BOTH_LOGS
def test_checkpoints_every_n_entries_and_consistency(store):
    from evidence_store.verifier import VerifierKey, verify_checkpoint, verify_consistency

    store.open_session("N")
    for i in range(20):
        store.append("N", "c", str(i).encode(), actor=("s", "x"))
    sizes = store.log.checkpoint_sizes()
    assert sizes == [1, 9, 17]  # the first entry of an empty log is checkpointed at once, then every 8
    key = VerifierKey.parse(str(store.signer.verifier_key))
    old = verify_checkpoint(store.log.checkpoint_at(9), key)
    new = verify_checkpoint(store.checkpoint(), key)
    assert new.size == 21
    assert verify_consistency(9, 21, old.root, new.root, store.consistency_proof(9, 21))
    assert not verify_consistency(9, 21, new.root, new.root, store.consistency_proof(9, 21))


@BOTH_LOGS
def test_describe_parameters(store):
    p = store.describe_parameters()
    assert p["encryption"]["cipher"] == "AES-256-GCM" and p["encryption"]["data_key_bits"] == 256
    assert p["encryption"]["chunk_size_bytes"] == 4096
    assert p["log"]["checkpoint_every_entries"] == 8 and p["log"]["signature"] == "Ed25519"
    assert p["backend"] == "filesystem" and p["retention_days"] is None and p["object_lock_mode"] is None
    assert p["verifier_key"].startswith("lsp-domain-not-set.invalid/evidence+")  # nobody named this log
    json.dumps(p)


@BOTH_LOGS
def test_append_drains_the_spool_first_when_the_store_is_back(store):
    flaky = FlakyStore(store.backend)
    store.backend = flaky
    store.drain_interval = 0
    store.open_session("D")
    flaky.down = True
    spooled = [store.append("D", "chunk", b"s", actor=("s", "x")) for _ in range(3)]
    assert all(r.spooled for r in spooled)
    flaky.down = False
    direct = store.append("D", "chunk", b"d", actor=("s", "x"))
    assert not direct.spooled and store.spool_depth() == 0
    assert flaky.put_order == [r.object_key for r in spooled] + [direct.object_key]


def test_recovery_defers_when_the_store_is_unreachable(tmp_path):
    from evidence_store.backends import FilesystemStore

    class Down(FilesystemStore):
        def open(self, key, version=None):
            raise StoreUnavailable("down")

        def list_keys(self, prefix=""):
            raise StoreUnavailable("down")

    crash_after_storing(tmp_path, "U", b"kept")
    s2 = make_store(tmp_path, recover=False)
    s2.backend = Down(s2.dir / "objects")
    report = s2.recover()  # cannot reach the store: neither crash nor decide
    assert report["deferred"] and report["store_unavailable"] is True and not report["relogged"]
    assert s2.status()["pending_appends"] == 1
    s2.close()
    s3 = make_store(tmp_path)  # the store is back: the item is re-logged, not lost
    assert len(s3.last_recovery["relogged"]) == 1
    item = next(e for e in s3.list_entries("U") if e["kind"] == "item")
    assert s3.read(item["object"]["key"], ("a", "b")) == b"kept"
    s3.close()


@BOTH_LOGS
def test_group_commit_batch_isolates_a_refused_entry(store):
    from evidence_store.log import _Request

    store.open_session("G")

    def ok(st):
        return {"chain": "G", "kind": "read", "session_id": "G", "actor": {"role": "a", "id": "b"}}

    def refuse(st):
        raise SessionError("refused")

    batch = [_Request(ok), _Request(refuse), _Request(ok)]
    with store.log.locked() as st:
        store.log._commit(batch, st)
    assert [r.done for r in batch] == [True, True, True]
    assert isinstance(batch[1].error, SessionError) and batch[1].result is None
    assert batch[0].result[0] + 1 == batch[2].result[0]
    entries = store.list_entries("G")
    assert [e["seq"] for e in entries] == [0, 1, 2] and entries[2]["prev"] == batch[0].result[1]


@BOTH_LOGS
def test_group_commit_refuses_an_entry_that_is_not_canonical_json(store):
    """The log's last guard: a line the verifier would refuse (a float, a lone surrogate) is never written; the rest
    of the batch is."""
    from evidence_store.log import _Request

    store.open_session("N")

    def entry(value):
        return lambda st: {"chain": "N", "kind": "read", "session_id": "N", "actor": {"role": "a", "id": "b"},
                           "note": value}

    batch = [_Request(entry("ok")), _Request(entry(1.5)), _Request(entry("\ud800")), _Request(entry("ok"))]
    with store.log.locked() as st:
        store.log._commit(batch, st)
    assert all(r.done for r in batch)
    assert [type(r.error) for r in batch] == [type(None), ValueError, ValueError, type(None)]
    assert "surrogate" in str(batch[2].error) and "float" in str(batch[1].error)
    entries = store.list_entries("N")
    assert [e.get("note") for e in entries] == [None, "ok", "ok"] and [e["seq"] for e in entries] == [0, 1, 2]


def test_recovery_quarantines_an_incompletely_stored_object(tmp_path):
    crash_after_storing(tmp_path, "I", b"z" * 20000)
    obj = next((tmp_path / "evidence" / "objects" / "sessions" / "I").iterdir())
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as fh:
        fh.truncate(5000)  # what a power cut before the data sync can leave
    s2 = make_store(tmp_path)
    key = f"sessions/I/{obj.name}"
    assert s2.last_recovery["quarantined"] == [key] and not s2.last_recovery["relogged"]
    q = next(e for e in s2.list_entries("I") if e["kind"] == "quarantine")
    assert "hash differs" in q["reason"]
    s2.close()
    s3 = make_store(tmp_path)  # not reported twice
    assert s3.last_recovery["quarantined"] == []
    s3.close()


def test_object_sync_failure_after_the_entry_was_logged_is_quarantined_by_recovery(tmp_path):
    """The log line is synced while the object is: a crash can leave the entry durable and the object torn. The
    append did not return (not acknowledged); recovery finds the intent and logs a quarantine entry for it."""
    s = make_store(tmp_path)
    s.open_session("T")
    kept = s.append("T", "doc", b"before", actor=("a", "b"))
    real_sync = s.backend.sync
    torn: list[str] = []

    def crash(stored):
        path = s.backend.root / stored.key
        os.chmod(path, 0o644)
        with open(path, "r+b") as fh:
            fh.truncate(100)  # what a power cut before the object's data sync can leave
        torn.append(stored.key)
        raise KeyboardInterrupt("power cut while the object was being synced")

    s.backend.sync = crash
    with pytest.raises(KeyboardInterrupt):
        s.append("T", "doc", b"z" * 20000, actor=("a", "b"))
    s.backend.sync = real_sync
    logged = [e for e in s.list_entries("T") if e["kind"] == "item"]
    assert [e["object"]["key"] for e in logged] == [kept.object_key, torn[0]]  # the entry did reach the log
    s.close()
    s2 = make_store(tmp_path)
    assert s2.last_recovery["quarantined"] == torn and not s2.last_recovery["abandoned"]
    q = next(e for e in s2.list_entries("T") if e["kind"] == "quarantine")
    assert q["object"]["key"] == torn[0]
    assert q["reason"].startswith("append interrupted after its entry was logged: its object's hash differs")
    assert s2.status()["pending_appends"] == 0
    assert s2.read(kept.object_key, ("a", "b")) == b"before"
    s2.close()
    s3 = make_store(tmp_path)  # reported once
    assert s3.last_recovery["quarantined"] == []
    s3.close_session("T")
    report = verify_bundle(s3.export_bundle("T", tmp_path / "t.zip"), str(s3.signer.verifier_key))
    # the auditor sees the damaged item and the quarantine entry that explains it
    assert not report.ok and "hash" in report.render()
    s3.close()


@pytest.mark.parametrize("layout", ["slot", "json"])
def test_stale_intent_of_a_logged_item_never_deletes_its_key(tmp_path, layout):
    """After a power cut the intent can reappear in its first state ("encrypting") although the item was logged
    and acknowledged (its later updates and its blanking were not synced): recovery must keep the data key. Both the
    slot layout and the earlier one-file-per-append layout are recovered."""
    s = make_store(tmp_path)
    s.open_session("P")
    r = s.append("P", "doc", b"acknowledged", actor=("a", "b"))
    oid = r.object_key.rsplit("/", 1)[1].removesuffix(".rte")
    entry = next(e for e in s.list_entries("P") if e["kind"] == "item")
    s.close()
    stale = {"state": "encrypting", "session_id": "P", "object": {"key": r.object_key, "id": oid},
             "enc": {"key_id": entry["enc"]["key_id"]}}
    pending = tmp_path / "evidence" / "pending"
    if layout == "slot":
        [slot] = pending.glob("slot-*.intent")  # the one slot the append used, blanked after it
        assert not slot.read_bytes().strip()
        slot.write_bytes((r.object_key + "\n" + json.dumps(stale)).encode().ljust(4096))
    else:
        (pending / f"{oid}.json").write_text(json.dumps(stale))
    s2 = make_store(tmp_path)
    assert s2.last_recovery["abandoned"] == [] and s2.last_recovery["quarantined"] == []
    assert s2.read(r.object_key, ("a", "b")) == b"acknowledged"
    assert s2.status()["pending_appends"] == 0
    s2.close()


def test_a_torn_intent_still_names_its_object(tmp_path):
    """A power cut while an intent was rewritten can tear its JSON; the object key on the first line survives, so a
    logged item whose object did not survive is still reported."""
    s = make_store(tmp_path)
    s.open_session("R")
    r = s.append("R", "doc", b"x" * 9000, actor=("a", "b"))
    s.close()
    [slot] = (tmp_path / "evidence" / "pending").glob("slot-*.intent")
    slot.write_bytes((r.object_key + '\n{"state": "encr').encode().ljust(4096))
    obj = tmp_path / "evidence" / "objects" / r.object_key
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as fh:
        fh.truncate(100)
    s2 = make_store(tmp_path)
    assert s2.last_recovery["quarantined"] == [r.object_key]
    q = next(e for e in s2.list_entries("R") if e["kind"] == "quarantine")
    assert "append interrupted after its entry was logged" in q["reason"]
    s2.close()


def test_intent_slots_are_reused_not_created_per_append(tmp_path):
    s = make_store(tmp_path)
    s.open_session("U")
    for i in range(20):
        s.append("U", "doc", f"{i}".encode(), actor=("a", "b"))
    s.close()
    pending = tmp_path / "evidence" / "pending"
    assert len(list(pending.glob("slot-*.intent"))) == 1 and not list(pending.glob("*.json"))
    s2 = make_store(tmp_path)  # a later process adopts the idle slot
    s2.open_session("V")
    s2.append("V", "doc", b"again", actor=("a", "b"))
    s2.close()
    assert len(list(pending.glob("slot-*.intent"))) == 1


def test_recovery_does_not_relog_an_object_whose_key_is_missing(tmp_path):
    """A stored but unlogged object is re-logged only if its data key exists: an item no one can decrypt would
    otherwise enter the chain as if it were sound (the kill -9 test once caught exactly that)."""
    crash_after_storing(tmp_path, "K", b"no key")
    [intent] = leftover_intents(tmp_path / "evidence")
    s2 = make_store(tmp_path, recover=False)
    s2.keys.delete([intent["enc"]["key_id"]])
    report = s2.recover()
    assert report["quarantined"] == [intent["object"]["key"]] and report["relogged"] == []
    q = next(e for e in s2.list_entries("K") if e["kind"] == "quarantine")
    assert "data key is missing" in q["reason"]
    assert [e["kind"] for e in s2.list_entries("K", include_related=False)] == ["open"]
    s2.close()


def test_recovery_in_another_process_does_not_disturb_live_appends(store, tmp_path):
    """Each CLI start runs recovery while this process appends: no false quarantine, no failed append."""
    store.open_session("LIVE")
    stop = threading.Event()
    errors: list[BaseException] = []

    def work():
        try:
            while not stop.is_set():
                store.append("LIVE", "chunk", os.urandom(5000), actor=("s", "x"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        outs = [run_cli(store.dir, "status", check=False) for _ in range(8)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert all(p.returncode == 0 for p in outs), [p.stderr for p in outs if p.returncode]
    assert store.status()["quarantined"] == 0
    assert all(json.loads(p.stdout)["last_recovery"] == {"relogged": 0, "quarantined": 0, "abandoned": 0,
                                                          "missing": 0, "deferred": 0} for p in outs)
    store.close_session("LIVE")
    r = verify_bundle(store.export_bundle("LIVE", tmp_path / "live.zip"), str(store.signer.verifier_key))
    assert r.ok, r.render()


def test_consistency_between_checkpoints_via_cli(store, tmp_path):
    store.open_session("CC")
    for i in range(12):
        store.append("CC", "c", str(i).encode(), actor=("s", "x"))
    store.close_session("CC")
    old = sorted(int(p.stem) for p in (store.dir / "log" / "checkpoints").glob("*.note"))[1]
    out = tmp_path / "cons"
    run_cli(store.dir, "consistency", "--old-size", str(old), "--out-dir", str(out))
    new = store.log.state.tree.size
    vkey = str(store.signer.verifier_key)
    args = [str(out / f"checkpoint-{old}"), str(out / f"checkpoint-{new}"), str(out / f"consistency-{old}-{new}.txt")]
    cmd = [sys.executable, "-m", "evidence_store.verifier", "verify-consistency", *args, "--pubkey", vkey]
    ok = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "only grew" in ok.stdout, ok.stdout + ok.stderr
    from evidence_store.verifier import verify_checkpoint_consistency

    proof = (out / f"consistency-{old}-{new}.txt").read_bytes()
    lines = proof.split(b"\n")
    lines[3] = b"A" * 43 + b"="
    old_cp, new_cp = (out / f"checkpoint-{old}").read_bytes(), (out / f"checkpoint-{new}").read_bytes()
    r = verify_checkpoint_consistency(old_cp, new_cp, b"\n".join(lines), vkey)
    assert r.codes() == {"consistency_failed"}


def test_append_refuses_metadata_the_verifier_would_refuse(tmp_path):
    """A float in an entry would make the whole bundle unverifiable later: it is refused at append, nothing logged."""
    from config import load_settings
    from evidence_store.store import EvidenceStore

    settings = load_settings(var_dir=tmp_path)
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as store:
        store.open_session("s-float")
        before = store.list_entries("s-float")
        for bad in ({"duration_s": 6.5}, {"nested": [{"x": float("nan")}]}, {1: "int key"}, {"obj": object()}):
            with pytest.raises(ValueError):
                store.append("s-float", "t", b"data", metadata=bad, actor=("system", "t"))
        assert store.list_entries("s-float") == before
        store.append("s-float", "t", b"data", metadata={"duration_ms": 6500, "ok": [1, "a", None, True]},
                     actor=("system", "t"))


def test_entries_refuse_text_that_is_not_unicode_and_the_log_chain_id(tmp_path):
    """An unpaired surrogate (which JSON can carry as an escape) anywhere in an entry is refused before any work is
    done, like a session named after the log's own chain; nothing is logged."""
    from config import load_settings
    from evidence_store.store import EvidenceStore

    settings = load_settings(var_dir=tmp_path)
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as store:
        with pytest.raises(ValueError, match="log's own chain"):
            store.open_session("_system")
        with pytest.raises(ValueError, match=r"meta\.note holds an unpaired surrogate"):
            store.open_session("s-text", {"note": "a\ud800"})
        store.open_session("s-text")
        before = store.list_entries("s-text")
        size = store.log.state.tree.size
        bad_calls = [
            dict(metadata={"q": "\udfff"}), dict(metadata={"\ud800": 1}), dict(actor=("asesi", "c\ud800")),
            dict(actor=("\ud800", "c1")), dict(client_time="2026\ud800"), dict(media_range=(1, 2, 3)),
            dict(media_range=("a", 2)), dict(media_range={"start_ms": 1.5, "end_ms": 2}),
        ]
        for kw in bad_calls:
            kw = {"actor": ("system", "t"), **kw}
            with pytest.raises(ValueError):
                store.append("s-text", "t", b"data", **kw)
        with pytest.raises(ValueError, match="reason holds an unpaired surrogate"):
            store.shred_candidate("c1", reason="x\ud800")
        assert store.list_entries("s-text") == before and store.log.state.tree.size == size
        assert not list((store.dir / "staging").iterdir())  # refused before anything was encrypted
        store.append("s-text", "t", b"data", actor=("asesi", "c\u00e9 \U0001f600"), client_time="t\u00e9",
                     media_range=(1000, 2000))
        assert store.list_entries("s-text")[-1]["actor"]["id"] == "c\u00e9 \U0001f600"

