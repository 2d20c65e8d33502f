"""Shared helpers for the evidence_store unit tests (a unique module name: test dirs are not packages)."""

from __future__ import annotations

from config.settings import EvidenceSettings
from evidence_store import EvidenceStore


def make_store(tmp_path, recover=True, **overrides):
    settings = EvidenceSettings(chunk_size=4096, checkpoint_every_entries=8, **overrides)
    return EvidenceStore.from_settings(settings, data_dir=tmp_path / "evidence", recover=recover)
