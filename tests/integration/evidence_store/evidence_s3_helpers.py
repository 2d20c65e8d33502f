"""Constants and a switchable loopback proxy for the S3 integration tests (unique module name)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ACCESS_KEY = "rtuk-test-access"
SECRET_KEY = "rtuk-test-secret-0123456789"
#: ``RTUK_TEST_S3_PORT_OFFSET`` shifts every port, so two checkouts can run their S3 tests on one machine at once.
_OFFSET = int(os.environ.get("RTUK_TEST_S3_PORT_OFFSET", "0"))
_BASE = {"s3": 18333, "master": 19333, "volume": 18080, "filer": 18888, "iceberg": 18181, "lance": 19101}
PORTS = {name: port + _OFFSET for name, port in _BASE.items()}
S3_ENDPOINT = f"127.0.0.1:{PORTS['s3']}"
#: a second, private server for the test that stops and restarts it
PORTS_2 = {name: port + 100 for name, port in PORTS.items()}


def weed_binary() -> str | None:
    local = Path(sys.executable).with_name("weed")
    return str(local) if local.exists() else shutil.which("weed")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Weed:
    """``weed mini`` on loopback with every port pinned (gRPC ports are the HTTP port + 10000)."""

    def __init__(self, binary: str, data: Path, ports: dict[str, int]):
        self.binary, self.data, self.ports = binary, data, ports
        self.endpoint = f"127.0.0.1:{ports['s3']}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 90) -> None:
        from minio import Minio

        p = self.ports
        cmd = [self.binary, "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3'] + 10000}",
               f"-master.port={p['master']}", f"-master.port.grpc={p['master'] + 10000}",
               f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume'] + 10000}",
               f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer'] + 10000}",
               f"-s3.port.iceberg={p['iceberg']}", f"-s3.port.lance={p['lance']}",
               "-admin.ui=false", "-webdav=false"]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        self._log = open(self.data / "weed.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        client = Minio(self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.data / 'weed.log').read_text()[-2000:]}")
            try:
                client.list_buckets()
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS did not become ready in {timeout} s") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        deadline = time.monotonic() + 10
        while any(port_open(port) for port in self.ports.values()) and time.monotonic() < deadline:
            time.sleep(0.1)


class Proxy:
    """A loopback TCP forwarder that can be switched off, to take the object store away and bring it back."""

    def __init__(self, listen_port: int, target_port: int):
        self.listen_port, self.target_port = listen_port, target_port
        self.conns: list[socket.socket] = []
        self.server: socket.socket | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.listen_port))
        srv.listen(64)
        self.server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self.server is not None:
            try:
                self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread and stops listening (Linux)
            except OSError:
                pass
            self.server.close()
            self.server = None
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns.clear()
