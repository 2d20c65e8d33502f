"""Object-store backends behind one interface: a write-once filesystem store and MinIO/S3 with object lock.

Vendor errors are translated here (``S3Error(NoSuchKey)`` -> :class:`ObjectNotFound`, connection failures ->
:class:`StoreUnavailable`, a refused delete of a locked version -> :class:`RetentionViolation`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import ObjectExists, ObjectNotFound, ObjectStoreError, RetentionViolation, StoreUnavailable


@dataclass(frozen=True)
class StoredObject:
    key: str
    version: str | None
    size: int


class ObjectStore(Protocol):
    name: str

    def put_file(self, key: str, path: Path, size: int, *, sync: bool = True) -> StoredObject:
        """Store a write-once object. With ``sync=False`` the object may not be durable until :meth:`sync`."""
        ...
    def sync(self, obj: StoredObject) -> None:
        """Make an object put with ``sync=False`` durable (a no-op where every put is durable on return)."""
        ...
    def open(self, key: str, version: str | None = None) -> BinaryIO: ...
    def stat(self, key: str) -> StoredObject: ...
    def list_keys(self, prefix: str = "") -> Iterator[str]: ...
    def delete(self, key: str, version: str | None = None) -> None: ...
    def describe(self) -> dict[str, object]: ...


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}")


def _fdatasync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStore:
    """Write-once objects under ``root``: written to a temporary file, fsynced, then hard-linked into place (which
    fails if the key exists), made read-only, and the directory fsynced."""

    name = "filesystem"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key

    def put_file(self, key: str, path: Path, size: int, *, sync: bool = True) -> StoredObject:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except FileExistsError:
            raise ObjectExists(key) from None
        except OSError:
            # a different file system: copy, fsync, then link
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                    out.flush()
                    os.fsync(out.fileno())
                try:
                    os.link(tmp, dest)
                except FileExistsError:
                    raise ObjectExists(key) from None
            finally:
                os.unlink(tmp)
        os.chmod(dest, 0o444)
        stored = StoredObject(key, None, size)
        if sync:
            self.sync(stored)
        return stored

    def sync(self, obj: StoredObject) -> None:
        """The data, then the directory entry; returns once both are durable."""
        dest = self._path(obj.key)
        _fdatasync_path(dest)
        fsync_dir(dest.parent)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def open_range(self, key: str, offset: int, length: int) -> BinaryIO:
        fh = self.open(key)
        fh.seek(offset)
        return fh

    def stat(self, key: str) -> StoredObject:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        return StoredObject(key, None, st.st_size)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                if f.startswith(".tmp-"):
                    continue
                key = os.path.relpath(os.path.join(dirpath, f), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    yield key

    def delete(self, key: str, version: str | None = None) -> None:
        raise RetentionViolation(f"the filesystem store is write-once: {key} cannot be deleted through the API")

    def describe(self) -> dict[str, object]:
        return {"backend": "filesystem", "root": str(self.root), "write_once": True, "object_lock": None}


class S3Store:
    """MinIO / S3 via the ``minio`` SDK. The bucket is created with object lock; every object is put with a
    retention (COMPLIANCE or GOVERNANCE) of ``retention_days`` and, if asked, a legal hold."""

    name = "s3"

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *, secure: bool = True,
                 region: str = "us-east-1", lock_mode: str = "COMPLIANCE", retention_days: int = 1825,
                 legal_hold: bool = False, timeout: float = 10.0, retries: int = 1):
        import urllib3
        from minio import Minio

        self.bucket, self.lock_mode = bucket, lock_mode
        self.retention_days, self.legal_hold = retention_days, legal_hold
        self.endpoint, self.secure = endpoint, secure
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            retries=urllib3.Retry(total=retries, backoff_factor=0.1, status_forcelist=[502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region,
                            http_client=http)
        self._bucket_ready = False

    # -- error translation ---------------------------------------------------------------------------------------
    def _translate(self, exc: BaseException, key: str = "", deleting: bool = False) -> Exception:
        import urllib3
        from minio.error import S3Error, ServerError

        if isinstance(exc, S3Error):
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject"):
                return ObjectNotFound(key)
            if deleting and exc.code in ("AccessDenied", "ObjectLocked", "InvalidRequest"):
                return RetentionViolation(f"{key}: {exc.code}: {exc.message}")
            return ObjectStoreError(f"{exc.code}: {exc.message}")
        if isinstance(exc, ServerError):
            return StoreUnavailable(f"S3 server error {exc.status_code}")
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError | OSError):
            return StoreUnavailable(f"{self.endpoint}: {type(exc).__name__}")
        return ObjectStoreError(str(exc))

    def ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=True)
        except Exception as exc:
            raise self._translate(exc) from exc
        self._bucket_ready = True

    def put_file(self, key: str, path: Path, size: int, *, sync: bool = True) -> StoredObject:
        # durable (as far as the server guarantees) once the PUT returns: ``sync`` changes nothing here
        from minio.commonconfig import COMPLIANCE, GOVERNANCE
        from minio.retention import Retention

        _check_key(key)
        self.ensure_bucket()
        until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=self.retention_days)
        mode = COMPLIANCE if self.lock_mode == "COMPLIANCE" else GOVERNANCE
        try:
            # write-once: refuse if the key already has a version
            try:
                self.client.stat_object(self.bucket, key)
                raise ObjectExists(key)
            except ObjectExists:
                raise
            except Exception as exc:
                err = self._translate(exc, key)
                if not isinstance(err, ObjectNotFound):
                    raise err from exc
            with open(path, "rb") as fh:
                res = self.client.put_object(self.bucket, key, fh, size, content_type="application/octet-stream",
                                             retention=Retention(mode, until), legal_hold=self.legal_hold,
                                             part_size=64 << 20)
        except (ObjectExists, StoreUnavailable, ObjectStoreError):
            raise
        except Exception as exc:
            raise self._translate(exc, key) from exc
        return StoredObject(key, res.version_id, size)

    def sync(self, obj: StoredObject) -> None:
        return None

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        self.ensure_bucket()
        try:
            resp = self.client.get_object(self.bucket, key, version_id=version)
        except Exception as exc:
            raise self._translate(exc, key) from exc
        return _Response(resp)  # type: ignore[return-value]

    def open_range(self, key: str, offset: int, length: int) -> BinaryIO:
        """A ranged GET: only the bytes asked for leave the store."""
        self.ensure_bucket()
        try:
            resp = self.client.get_object(self.bucket, key, offset=offset, length=length)
        except Exception as exc:
            raise self._translate(exc, key) from exc
        return _Response(resp)  # type: ignore[return-value]

    def stat(self, key: str) -> StoredObject:
        self.ensure_bucket()
        try:
            st = self.client.stat_object(self.bucket, key)
        except Exception as exc:
            raise self._translate(exc, key) from exc
        return StoredObject(key, st.version_id, st.size or 0)

    def retention(self, key: str, version: str | None = None) -> tuple[str | None, dt.datetime | None, bool]:
        try:
            r = self.client.get_object_retention(self.bucket, key, version_id=version)
        except Exception as exc:
            raise self._translate(exc, key) from exc
        try:
            hold = self.client.is_object_legal_hold_enabled(self.bucket, key, version_id=version)
        except Exception as exc:
            from minio.error import S3Error

            if not (isinstance(exc, S3Error) and exc.code == "NoSuchObjectLegalHold"):
                raise self._translate(exc, key) from exc
            hold = False
        return (r.mode if r else None), (r.retain_until_date if r else None), hold

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        self.ensure_bucket()
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.object_name:
                    yield obj.object_name
        except Exception as exc:
            raise self._translate(exc) from exc

    def delete(self, key: str, version: str | None = None) -> None:
        try:
            self.client.remove_object(self.bucket, key, version_id=version)
        except Exception as exc:
            raise self._translate(exc, key, deleting=True) from exc

    def describe(self) -> dict[str, object]:
        return {"backend": "s3", "endpoint": self.endpoint, "bucket": self.bucket, "tls": self.secure,
                "object_lock": self.lock_mode, "retention_days": self.retention_days, "legal_hold": self.legal_hold}


class _Response:
    """File-like wrapper around a urllib3 response that releases the connection on close."""

    def __init__(self, resp):
        self._resp = resp

    def read(self, n: int = -1) -> bytes:
        return self._resp.read(None if n is None or n < 0 else n)

    def close(self) -> None:
        self._resp.close()
        self._resp.release_conn()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
