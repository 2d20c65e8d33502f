#!/usr/bin/env python3
"""Backups of what Remote TUK keeps (docs/DEPLOYMENT.md "Backups and restore"), using the components' own tools.

    python deploy/backup.py pg         --url postgresql://rtuk@db:5432/rtuk --out rtuk.dump
    python deploy/backup.py pg-restore --url postgresql://rtuk@db:5432/rtuk_restored --file rtuk.dump
    python deploy/backup.py evidence   --data-dir /var/lib/rtuk/evidence --out /backup/evidence-2026-12-04
    python deploy/backup.py bucket     --endpoint s3.lsp:9000 --bucket rtuk-evidence --to-endpoint backup.lsp:9000 \
                                       --to-bucket rtuk-evidence-copy [--insecure]   (keys: RTUK_BACKUP_S3_* env)

* PostgreSQL: ``pg_dump -Fc`` (a consistent snapshot while the app runs) and ``pg_restore`` into an empty database.
* The evidence data directory (log, checkpoints, wrapped data keys, spool, intents): copied while holding the log's
  ``flock`` (``log/lock``), which every append takes, so the copy is one consistent cut of the log; the key store
  (SQLite in WAL mode) is copied with SQLite's online backup API. Appends wait for the copy (seconds).
* The objects (ciphertexts): copied object by object into another bucket created with object lock, each with the
  retention mode, retain-until date and legal hold it has at the source. The log holds their SHA-256, so a copy is
  checked by the verifier, not trusted.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path


def _pg_tool(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name))
    if found:
        return str(found[-1])
    return shutil.which(name) or name


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` (SQLAlchemy) → ``postgresql://`` (libpq)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def pg_dump(url: str, out: Path) -> None:
    subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out), "--dbname",  # noqa: S603
                    libpq_url(url)], check=True)


def pg_restore(url: str, dump: Path) -> None:
    subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", libpq_url(url),  # noqa: S603
                    str(dump)], check=True)


def evidence_copy(data_dir: Path, out: Path) -> dict[str, int]:
    """Copy the evidence data directory while holding the log lock (no append can run meanwhile)."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"backup: {out} is not empty")
    counts = {"files": 0, "bytes": 0}
    lock_path = data_dir / "log" / "lock"
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            for src in sorted(data_dir.rglob("*")):
                rel = src.relative_to(data_dir)
                dst = out / rel
                if src.is_dir():
                    dst.mkdir(parents=True, exist_ok=True)
                    continue
                if rel == Path("log/lock") or src.name.endswith(("-wal", "-shm")) or src.parent.name == "staging":
                    continue  # the lock itself, SQLite's side files (the backup API folds them in), partial writes
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.suffix in (".sqlite3", ".sqlite", ".db"):
                    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
                        s.backup(d)
                else:
                    shutil.copy2(src, dst)
                os.chmod(dst, src.stat().st_mode & 0o777)
                counts["files"] += 1
                counts["bytes"] += dst.stat().st_size
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return counts


def bucket_copy(src_client, src_bucket: str, dst_client, dst_bucket: str) -> int:
    """Copy every object (newest version) with its retention and legal hold into a bucket with object lock."""
    from minio.retention import Retention

    if not dst_client.bucket_exists(dst_bucket):
        dst_client.make_bucket(dst_bucket, object_lock=True)
    copied = 0
    for obj in src_client.list_objects(src_bucket, recursive=True):
        name = obj.object_name
        resp = src_client.get_object(src_bucket, name)
        try:
            data = resp.read()
        finally:
            resp.close()
            resp.release_conn()
        retention = src_client.get_object_retention(src_bucket, name)
        hold = _legal_hold(src_client, src_bucket, name)
        dst_client.put_object(
            dst_bucket, name, io.BytesIO(data), len(data),
            retention=Retention(retention.mode, retention.retain_until_date) if retention else None,
            legal_hold=bool(hold),
        )
        copied += 1
    return copied


def _legal_hold(client, bucket: str, name: str) -> bool:
    """Whether the object is under legal hold (an object that never had one is answered with an error code)."""
    from minio.error import S3Error

    try:
        return bool(client.is_object_legal_hold_enabled(bucket, name))
    except S3Error as err:
        if err.code == "NoSuchObjectLegalHold":
            return False
        raise


def _minio(endpoint: str, prefix: str, secure: bool):
    from minio import Minio

    return Minio(endpoint, access_key=os.environ[f"{prefix}_ACCESS_KEY"],
                 secret_key=os.environ[f"{prefix}_SECRET_KEY"], secure=secure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pg")
    p.add_argument("--url", required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("pg-restore")
    p.add_argument("--url", required=True)
    p.add_argument("--file", type=Path, required=True)
    p = sub.add_parser("evidence")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("bucket")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--to-endpoint")
    p.add_argument("--to-bucket", required=True)
    p.add_argument("--insecure", action="store_true", help="plain HTTP to the S3 servers (loopback only)")
    args = parser.parse_args(argv)
    if args.command == "pg":
        pg_dump(args.url, args.out)
    elif args.command == "pg-restore":
        pg_restore(args.url, args.file)
    elif args.command == "evidence":
        counts = evidence_copy(args.data_dir, args.out)
        print(f"backup: {counts['files']} files, {counts['bytes']} bytes -> {args.out}")
    else:
        src = _minio(args.endpoint, "RTUK_BACKUP_S3", not args.insecure)
        dst_prefix = "RTUK_BACKUP_S3_TO" if os.environ.get("RTUK_BACKUP_S3_TO_ACCESS_KEY") else "RTUK_BACKUP_S3"
        dst = _minio(args.to_endpoint or args.endpoint, dst_prefix, not args.insecure)
        print(f"backup: {bucket_copy(src, args.bucket, dst, args.to_bucket)} objects copied", file=sys.stderr)


if __name__ == "__main__":
    main()
