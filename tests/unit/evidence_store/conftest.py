from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from config.settings import EvidenceSettings
from evidence_store import EvidenceStore


def make_store(tmp_path, **overrides):
    settings = EvidenceSettings(chunk_size=4096, checkpoint_every_entries=8, **overrides)
    return EvidenceStore.from_settings(settings, data_dir=tmp_path / "evidence")


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path)
    yield s
    s.close()


@pytest.fixture
def auditor():
    return X25519PrivateKey.generate()
