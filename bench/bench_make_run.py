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


def _time_to_serve(clone: Path, env: dict[str, str], port: int, url: str, limit: float) -> tuple[float | None, str]:
    """Run `make run` in *clone*; seconds until *url* answers 200 (None if it never did), and the output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    served = None
    while proc.poll() is None and time.perf_counter() - t0 < limit:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    served = time.perf_counter() - t0
                    break
        except OSError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    out = proc.communicate(timeout=30)[0].decode(errors="replace")
    return served, out


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
        url = f"http://127.0.0.1:{port}/masuk"
        served, out = _time_to_serve(clone, env, port, url, limit=900)
        if served is None:
            print(out[-3000:])
            raise SystemExit("make run did not serve")
        second, _ = _time_to_serve(clone, env, port, url, limit=300)
    print(f"clean clone -> serving with `make run`: {served:.1f} s (pip cache: {'off' if args.no_cache else 'on'})")
    print(f"second `make run` (already set up, data kept): {second:.1f} s" if second else "second run did not serve")


if __name__ == "__main__":
    main()
