"""Backups and restore, tested once on the running stack (deploy/backup.py, docs/DEPLOYMENT.md):
pg_dump -> restore into a fresh database -> the app reads it; the evidence data directory (copied under the log lock)
and the bucket (copied with its retention into a new locked bucket) -> the verifier passes on the restored store.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]
ROOT = Path(__file__).resolve().parents[3]
BACKUP = [sys.executable, str(ROOT / "deploy" / "backup.py")]


def _stack_settings(st, **overrides):
    from config import load_settings

    env = st.stack.app_env()
    settings = load_settings(
        env="testing",
        secret_key=env["RTUK_SECRET_KEY"],
        database_url=env["RTUK_DATABASE_URL"],
        var_dir=Path(env["RTUK_VAR_DIR"]),
        evidence={
            "backend": "s3", "dir": Path(env["RTUK_EVIDENCE_DIR"]), "s3_endpoint": env["RTUK_EVIDENCE_S3_ENDPOINT"],
            "s3_access_key": env["RTUK_EVIDENCE_S3_ACCESS_KEY"], "s3_secret_key": env["RTUK_EVIDENCE_S3_SECRET_KEY"],
            "s3_bucket": env["RTUK_EVIDENCE_S3_BUCKET"], "s3_secure": False, "retention_days": 1,
            "kek": env["RTUK_EVIDENCE_KEK"], "signing_key_file": env["RTUK_EVIDENCE_SIGNING_KEY_FILE"],
            "log_origin": env["RTUK_EVIDENCE_LOG_ORIGIN"],
        },
    )
    for key, value in overrides.items():
        target = settings.evidence if key.startswith("evidence_") else settings
        setattr(target, key.removeprefix("evidence_"), value)
    return settings


def test_postgresql_dump_restores_into_a_fresh_database_the_app_reads(running_stack, tmp_path):
    st = running_stack
    src_url = st.stack.db_url
    dump = tmp_path / "rtuk.dump"
    subprocess.run([*BACKUP, "pg", "--url", src_url, "--out", str(dump)], check=True, timeout=120)
    assert dump.stat().st_size > 1000
    admin = dict(host="127.0.0.1", port=st.stack.port("pg"), user="postgres")
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS rtuk_restored")
        conn.execute("CREATE DATABASE rtuk_restored OWNER rtuk")
    restored = src_url.rsplit("/", 1)[0] + "/rtuk_restored"
    subprocess.run([*BACKUP, "pg-restore", "--url", restored, "--file", str(dump)], check=True, timeout=120)

    with psycopg.connect(**admin, dbname="rtuk") as a, psycopg.connect(**admin, dbname="rtuk_restored") as b:
        for table in ("users", "assessment_sessions", "audit_events", "alembic_version"):
            q = f"SELECT count(*) FROM {table}"
            assert a.execute(q).fetchone() == b.execute(q).fetchone(), table
    # the app on the restored database: the candidate signs in and sees the schedule
    from remote_tuk import create_app

    settings = _stack_settings(st, database_url=restored, var_dir=tmp_path / "var")
    app = create_app(settings)
    try:
        client = app.test_client()
        page = client.get("/masuk")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
        resp = client.post("/masuk", data={"username": "asesi", "password": st.demo_password("asesi"),
                                           "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
        home = client.get("/asesi", follow_redirects=True)
        assert home.status_code == 200 and "Uji Kompetensi Jarak Jauh" in home.get_data(as_text=True)
    finally:
        app.extensions["rtuk_db"].dispose()


def test_evidence_directory_and_bucket_copies_verify(running_stack, tmp_path):
    from evidence_store.store import EvidenceStore
    from evidence_store.verifier import verify_bundle, verify_log

    st = running_stack
    settings = _stack_settings(st)
    # a third process appending next to the two app nodes, as the operator CLI would
    store = EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir)
    try:
        store.open_session("SES-backup", {"purpose": "backup test"})
        for i in range(3):
            store.append("SES-backup", "note", f"bukti {i}".encode() * 1000, actor=("system", "test"))
        store.close_session("SES-backup")
        verifier_key = store.status()["verifier_key"]
    finally:
        store.close()

    copy = tmp_path / "evidence-copy"
    subprocess.run([*BACKUP, "evidence", "--data-dir", str(settings.evidence_dir), "--out", str(copy)],
                   check=True, timeout=120)
    env = {"RTUK_BACKUP_S3_ACCESS_KEY": settings.evidence.s3_access_key,
           "RTUK_BACKUP_S3_SECRET_KEY": settings.evidence.s3_secret_key, "PATH": "/usr/bin:/bin"}
    subprocess.run([*BACKUP, "bucket", "--endpoint", settings.evidence.s3_endpoint, "--bucket",
                    settings.evidence.s3_bucket, "--to-bucket", "rtuk-evidence-restored", "--insecure"],
                   check=True, timeout=300, env=env)

    # the copied log verifies against its checkpoint on its own
    report = verify_log((copy / "log" / "entries.jsonl").open("rb"), (copy / "log" / "checkpoint").read_bytes(),
                        verifier_key)
    assert report.ok, report.render()
    # the restored store (copied directory + copied bucket) exports a bundle the verifier accepts
    restored = _stack_settings(st, evidence_s3_bucket="rtuk-evidence-restored")
    store = EvidenceStore.from_settings(restored.evidence, data_dir=copy)
    try:
        store.export_bundle("SES-backup", tmp_path / "SES-backup.zip")
    finally:
        store.close()
    report = verify_bundle(tmp_path / "SES-backup.zip", verifier_key)
    assert report.ok, report.render()
    # and the restored bucket holds the objects under COMPLIANCE retention, as the original does
    from minio import Minio

    client = Minio(settings.evidence.s3_endpoint, access_key=settings.evidence.s3_access_key,
                   secret_key=settings.evidence.s3_secret_key, secure=False)
    names = [o.object_name for o in client.list_objects("rtuk-evidence-restored", prefix="sessions/SES-backup/",
                                                        recursive=True)]
    assert len(names) == 3
    assert all(client.get_object_retention("rtuk-evidence-restored", n).mode == "COMPLIANCE" for n in names)
