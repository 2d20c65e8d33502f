"""The S3 backend against SeaweedFS with object lock: ciphertext only, retention, refused deletes, outages."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from evidence_s3_helpers import ACCESS_KEY, PORTS, S3_ENDPOINT, SECRET_KEY, Proxy

from config.settings import EvidenceSettings
from evidence_store import EvidenceStore
from evidence_store.backends import S3Store
from evidence_store.errors import ObjectStoreError, RetentionViolation
from evidence_store.verifier import verify_bundle

pytestmark = pytest.mark.s3
MARKER = b"JAWABAN-RAHASIA-ASESI-"


def s3_store(tmp_path, endpoint=S3_ENDPOINT, **kw):
    settings = EvidenceSettings(backend="s3", s3_endpoint=endpoint, s3_access_key=ACCESS_KEY,
                                s3_secret_key=SECRET_KEY, s3_secure=False,
                                s3_bucket=kw.pop("bucket", f"ev-{uuid.uuid4().hex[:12]}"), retention_days=1,
                                chunk_size=4096, **kw)
    return EvidenceStore.from_settings(settings, data_dir=tmp_path / "evidence")


def test_only_ciphertext_reaches_the_server_and_retention_is_set(seaweed, tmp_path):
    store = s3_store(tmp_path)
    try:
        store.open_session("S3A")
        rc = store.append("S3A", "answer", MARKER * 2000, actor=("asesi", "c1"), candidate_id="c1")
        assert rc.object_version and not rc.spooled
        raw = seaweed.get_object(store.backend.bucket, rc.object_key).read()
        assert MARKER not in raw and raw.startswith(b"RTE1")
        entry = next(e for e in store.list_entries("S3A") if e["kind"] == "item")
        assert hashlib.sha256(raw).hexdigest() == entry["object"]["sha256"]
        assert entry["object"]["version"] == rc.object_version
        mode, until, hold = store.backend.retention(rc.object_key, rc.object_version)
        assert mode == "COMPLIANCE" and not hold
        assert until > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
        assert store.read(rc.object_key, ("asesor", "a1")) == MARKER * 2000
        params = store.describe_parameters()
        assert params["object_lock_mode"] == "COMPLIANCE" and params["retention_days"] == 1
    finally:
        store.close()


def test_deleting_a_locked_version_is_refused(seaweed, tmp_path):
    store = s3_store(tmp_path, legal_hold=True)
    try:
        store.open_session("S3B")
        rc = store.append("S3B", "photo", b"ktp", actor=("asesi", "c1"))
        _, _, hold = store.backend.retention(rc.object_key, rc.object_version)
        assert hold
        with pytest.raises(RetentionViolation):
            store.backend.delete(rc.object_key, rc.object_version)
        assert store.backend.stat(rc.object_key).version == rc.object_version
        assert store.read(rc.object_key, ("asesor", "a1")) == b"ktp"
    finally:
        store.close()


def test_wrong_credentials_are_refused(seaweed):
    bad = S3Store(S3_ENDPOINT, ACCESS_KEY, "wrong-secret", "ev-auth", secure=False)
    with pytest.raises(ObjectStoreError):
        bad.ensure_bucket()


def test_outage_spools_and_drains_in_order(seaweed, tmp_path):
    proxy = Proxy(PORTS["s3"] + 1, PORTS["s3"])
    proxy.start()
    auditor = X25519PrivateKey.generate()
    store = s3_store(tmp_path, endpoint=f"127.0.0.1:{PORTS['s3'] + 1}")
    try:
        store.open_session("OUT")
        before = [store.append("OUT", "chunk", f"b{i}".encode(), actor=("s", "x")) for i in range(2)]
        proxy.stop()
        during = [store.append("OUT", "chunk", f"d{i}".encode(), actor=("s", "x")) for i in range(4)]
        assert all(r.spooled for r in during) and store.status()["spool_depth"] == 4
        assert store.drain_spool() == 0  # still down: nothing lost, nothing reordered
        proxy.start()
        assert store.drain_spool() == 4 and store.spool_depth() == 0
        after = store.append("OUT", "chunk", b"after", actor=("s", "x"))
        assert not after.spooled
        stored = [e for e in store.list_entries("OUT") if e["kind"] == "object_stored"]
        assert [e["object"]["key"] for e in stored] == [r.object_key for r in during]
        for r in before + during + [after]:
            assert seaweed.stat_object(store.backend.bucket, r.object_key).size > 0
        store.close_session("OUT")
        report = verify_bundle(store.export_bundle("OUT", tmp_path / "out.zip", auditor.public_key()),
                               str(store.signer.verifier_key), auditor)
        assert report.ok and report.decrypted == 7, report.render()
    finally:
        proxy.stop()
        store.close()


def test_recovery_quarantines_an_unlogged_object_in_the_bucket(seaweed, tmp_path):
    import io

    bucket = f"ev-{uuid.uuid4().hex[:12]}"
    store = s3_store(tmp_path, bucket=bucket)
    store.open_session("REC")
    store.append("REC", "chunk", b"logged", actor=("s", "x"))
    store.close()
    seaweed.put_object(bucket, "sessions/REC/stray.rte", io.BytesIO(b"RTE1?"), 5)
    store = s3_store(tmp_path, bucket=bucket)
    try:
        assert store.last_recovery["quarantined"] == ["sessions/REC/stray.rte"]
        assert store.last_recovery["missing"] == []
    finally:
        store.close()


def test_object_store_stopped_during_appends_loses_nothing(private_seaweed, tmp_path):
    """The S3 server process is really stopped for a while, then restarted on the same data directory."""
    from minio import Minio

    auditor = X25519PrivateKey.generate()
    store = s3_store(tmp_path, endpoint=private_seaweed.endpoint)
    try:
        store.drain_interval = 3600  # drain explicitly below
        store.open_session("STOP")
        before = [store.append("STOP", "chunk", f"before {i}".encode(), actor=("s", "x")) for i in range(3)]
        private_seaweed.stop()
        during = [store.append("STOP", "chunk", f"during {i}".encode() * 100, actor=("s", "x")) for i in range(5)]
        assert all(r.spooled for r in during) and store.status()["spool_depth"] == 5
        assert store.read(during[2].object_key, ("asesor", "a")) == b"during 2" * 100  # served from the spool
        private_seaweed.start()
        assert store.drain_spool() == 5 and store.spool_depth() == 0
        after = store.append("STOP", "chunk", b"after", actor=("s", "x"))
        assert not after.spooled
        raw = Minio(private_seaweed.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
        for r in before + during + [after]:
            assert raw.stat_object(store.backend.bucket, r.object_key).size > 0
        stored = [e["object"]["key"] for e in store.list_entries("STOP") if e["kind"] == "object_stored"]
        assert stored == [r.object_key for r in during]
        store.close_session("STOP")
        report = verify_bundle(store.export_bundle("STOP", tmp_path / "stop.zip", auditor.public_key()),
                               str(store.signer.verifier_key), auditor)
        assert report.ok and report.decrypted == 9, report.render()
    finally:
        store.close()
