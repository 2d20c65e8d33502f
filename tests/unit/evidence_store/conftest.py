from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from evidence_unit_helpers import make_store

from tests.pg_evidence_log import fresh_log_database


@pytest.fixture
def log_kind() -> str:
    """Which evidence log the ``store`` fixture uses; tests marked :data:`BOTH_LOGS` run with each."""
    return "file"


@pytest.fixture
def log_url(log_kind):
    if log_kind == "file":
        yield None
        return
    with fresh_log_database() as url:
        yield url


@pytest.fixture
def store(tmp_path, log_url):
    s = make_store(tmp_path, log_url=log_url or "")
    yield s
    s.close()


@pytest.fixture
def auditor():
    return X25519PrivateKey.generate()
