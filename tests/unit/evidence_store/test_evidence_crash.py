"""kill -9 of a writer process in the middle of appends: every acknowledged item is present and verifies."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from evidence_unit_helpers import leftover_intents, make_store

from evidence_store.verifier import leaf_hash, verify_bundle

ROOT = Path(__file__).resolve().parents[3]

WRITER = r"""
import hashlib, json, sys
from pathlib import Path
from config.settings import EvidenceSettings
from evidence_store import EvidenceStore
from evidence_store.errors import SessionError
store = EvidenceStore.from_settings(EvidenceSettings(chunk_size=4096, checkpoint_every_entries=8),
                                    data_dir=Path(sys.argv[1]))
try:
    store.open_session("K9")
except SessionError:
    pass
print(json.dumps({"ready": True}), flush=True)
i = int(sys.argv[2])
while True:
    data = hashlib.sha256(str(i).encode()).digest() * (1 + i % 300)
    rc = store.append("K9", "chunk", data, metadata={"i": i}, actor=("system", "writer"))
    print(json.dumps({"i": i, "log_index": rc.log_index, "hash": rc.entry_hash, "key": rc.object_key}), flush=True)
    i += 1
"""


def payload(i: int) -> bytes:
    import hashlib

    return hashlib.sha256(str(i).encode()).digest() * (1 + i % 300)


def test_kill_9_during_appends_loses_nothing_acknowledged(tmp_path, auditor):
    data_dir = tmp_path / "evidence"
    rng = random.Random(1234)
    acked: list[dict] = []
    next_i = 0
    interrupted = 0  # kills that landed inside an append (an in-flight intent was left behind)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(20):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), str(next_i)], stdout=subprocess.PIPE,
                             env=env, cwd=ROOT)
        assert p.stdout is not None
        assert json.loads(p.stdout.readline())["ready"]
        want = rng.randint(1, 12)
        got = 0
        while got < want:
            line = p.stdout.readline()
            assert line, "writer died on its own"
            acked.append(json.loads(line))
            got += 1
        time.sleep(rng.random() * 0.004)  # land somewhere inside the next append
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        interrupted += bool(leftover_intents(data_dir))
        # receipts printed before the kill landed were acknowledged too
        for line in p.stdout.read().splitlines():
            acked.append(json.loads(line))
        p.stdout.close()
        next_i = acked[-1]["i"] + 1000  # fresh numbers: a recovered half-append keeps its own payload
    assert interrupted >= 1, "no kill landed inside an append; the test did not exercise recovery"
    store = make_store(tmp_path)
    try:
        entries = {e["log_index"]: e for e in store.list_entries("K9")}
        lines = dict(zip(sorted(entries), store.log.read_lines(sorted(entries)), strict=True))
        for a in acked:
            assert a["log_index"] in entries, f"acknowledged item {a['i']} is missing"
            assert leaf_hash(lines[a["log_index"]]).hex() == a["hash"]
            assert store.read(a["key"], ("auditor", "kill9")) == payload(a["i"])
        store.close_session("K9")
        report = verify_bundle(store.export_bundle("K9", tmp_path / "k9.zip", auditor.public_key()),
                               str(store.signer.verifier_key), auditor)
        assert report.ok, report.render()
        assert report.items >= len(acked) and report.decrypted == report.items
    finally:
        store.close()
