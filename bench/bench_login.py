"""p50/p95 latency of sign-in + dashboard with 50 concurrent clients, against the server `make run` starts.

Starts `python -m remote_tuk serve` on a free loopback port with a throwaway var/ directory (migrated and seeded with
the demo data plus 50 candidate accounts), then 50 client threads each repeat: GET /masuk, POST /masuk, GET /asesi/.
The login rate limit is raised for the run (all clients share 127.0.0.1); argon2id hashing is the real cost.

    .venv/bin/python bench/bench_login.py [--clients 50] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PASSWORD = "Bench-Sandi-2026!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict[str, str], clients: int) -> None:
    subprocess.run([PY, "-m", "remote_tuk", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    code = f"""
from remote_tuk import create_app
from remote_tuk.extensions import db
from remote_tuk.accounts.models import Role
from remote_tuk.accounts.services import create_user
app = create_app()
with app.app_context():
    for i in range({clients}):
        create_user(db.session, username=f"bench{{i}}", full_name=f"Bench {{i}}", role=Role.CANDIDATE,
                    password={PASSWORD!r}, created_by=None, nik=f"{{3200000000000000 + i}}")
    db.session.commit()
"""
    subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True)


def one_round(base: str, username: str) -> float:
    s = requests.Session()
    t0 = time.perf_counter()
    page = s.get(f"{base}/masuk", timeout=60).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = s.post(f"{base}/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, timeout=60)
    r.raise_for_status()
    d = s.get(f"{base}/asesi/", timeout=60)
    assert d.status_code == 200 and "Sesi asesmen saya" in d.text, d.status_code
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        env = {**os.environ, "RTUK_VAR_DIR": var, "RTUK_PORT": str(port), "RTUK_LOGIN_RATE_LIMIT": "100000 per minute"}
        prepare(env, args.clients)
        server = subprocess.Popen(
            [PY, "-m", "remote_tuk", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if requests.get(f"{base}/masuk", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients)

            def worker(i: int) -> None:
                barrier.wait()
                for _ in range(args.rounds):
                    try:
                        dt = one_round(base, f"bench{i}")
                        with lock:
                            latencies.append(dt)
                    except Exception as err:  # noqa: BLE001 - counted and reported
                        with lock:
                            errors.append(repr(err))

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"clients={args.clients} rounds={args.rounds} flows={len(latencies)} errors={len(errors)} "
        f"cores={os.cpu_count()}"
    )
    print(
        f"sign-in + dashboard (3 requests): p50={q[49] * 1000:.0f} ms  p95={q[94] * 1000:.0f} ms  "
        f"max={max(latencies) * 1000:.0f} ms  throughput={len(latencies) / wall:.1f} flows/s"
    )
    if errors:
        print("first error:", errors[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
