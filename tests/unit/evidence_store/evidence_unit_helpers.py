"""Shared helpers for the evidence_store unit tests (a unique module name: test dirs are not packages)."""

from __future__ import annotations

import pytest

from config.settings import EvidenceSettings
from evidence_store import EvidenceStore

#: the tests of the log's behaviour run against both logs (the ``log_kind`` fixture in conftest.py): the file on one
#: machine and PostgreSQL (evidence_store/pglog.py, shared by every node)
BOTH_LOGS = pytest.mark.parametrize("log_kind", ["file", pytest.param("postgresql", marks=pytest.mark.postgres)])


def make_store(tmp_path, recover=True, origin=None, **overrides):
    settings = EvidenceSettings(chunk_size=4096, checkpoint_every_entries=8, **overrides)
    return EvidenceStore.from_settings(settings, data_dir=tmp_path / "evidence", recover=recover, origin=origin)


def leftover_intents(data_dir) -> list[dict]:
    """The intents interrupted appends left in ``pending/`` (slot files with content; legacy ``*.json`` files)."""
    import json
    from pathlib import Path

    out = []
    for path in sorted((Path(data_dir) / "pending").glob("slot-*.intent")):
        raw = path.read_bytes().strip()
        if raw:
            out.append(json.loads(raw.partition(b"\n")[2]))
    out += [json.loads(p.read_bytes()) for p in sorted((Path(data_dir) / "pending").glob("*.json"))]
    return out
