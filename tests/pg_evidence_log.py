"""A fresh PostgreSQL database for a shared evidence log (evidence_store/pglog.py), dropped afterwards.

Like the app's PostgreSQL tests: the server at ``RTUK_TEST_PG_URL`` (default 127.0.0.1:5432, user postgres); a test
that needs it fails on CI and is skipped elsewhere when it is missing (:func:`tests.components.require`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.components import require

PG_ADMIN_URL = os.environ.get("RTUK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _admin_url() -> str:
    _scheme, _, rest = PG_ADMIN_URL.partition("://")
    return "postgresql://" + rest


def pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(_admin_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@contextmanager
def fresh_log_database() -> Iterator[str]:
    """Yields the URL of a new, empty database; drops it (closing any connection left) afterwards."""
    import psycopg

    require(pg_available(), "PostgreSQL", f"start PostgreSQL reachable at {PG_ADMIN_URL} (or set RTUK_TEST_PG_URL)")
    name = f"rtuk_evlog_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _admin_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
