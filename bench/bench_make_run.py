"""Time from a clean clone to serving with `make run` (venv, install, migrate, seed, serve).

Clones this repository's HEAD into a temporary directory, runs `make run` on a free port and polls until the sign-in
page answers 200. pip's download cache is whatever this machine has; pass --no-cache to measure a cold install.

    .venv/bin/python bench/bench_make_run.py [--no-cache]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RTUK_", "VIRTUAL_ENV"))}
        env["PORT"] = str(port)
        if args.no_cache:
            env["PIP_NO_CACHE_DIR"] = "1"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/masuk"
        served = None
        while proc.poll() is None and time.perf_counter() - t0 < 900:
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        served = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
        if served is None:
            print(out[-3000:])
            raise SystemExit("make run did not serve")
        t1 = time.perf_counter()
        proc2 = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        second = None
        while proc2.poll() is None and time.perf_counter() - t1 < 300:
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        second = time.perf_counter() - t1
                        break
            except OSError:
                time.sleep(0.2)
        os.killpg(proc2.pid, signal.SIGTERM)
        proc2.wait(30)
    print(f"clean clone -> serving with `make run`: {served:.1f} s (pip cache: {'off' if args.no_cache else 'on'})")
    print(f"second `make run` (already set up, data kept): {second:.1f} s" if second else "second run did not serve")


if __name__ == "__main__":
    main()
