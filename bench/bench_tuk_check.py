"""Remote TUK check figures, measured through Debian Chromium against the real server:

* the time a full candidate check takes (consent to results; target under 30 s), and the assessor's own check;
* bandwidth measured by the check against the truth, at 0.5, 1 and 2 Mbit/s: Chromium throttled by DevTools
  (``BANDWIDTH set …``), and Chromium on a kernel-throttled link (tc in a network namespace) behind Debian nginx with
  its buffering defaults (``PROXY set …``; needs root, nginx and iproute2, else that test is skipped).

It runs the end-to-end tests that carry these measurements and prints their figures with the ratio measured/set:

    .venv/bin/python bench/bench_tuk_check.py [--rates 0.5,1,2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURE = re.compile(
    r"^set (\d+) kbps(?: behind nginx)?: upload measured ([\d.]+) kbps, download measured ([\d.]+) kbps"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="0.5,1,2")
    args = ap.parse_args()
    env = {**os.environ, "RTUK_BENCH_RATES": args.rates}
    tests = [
        "tests/e2e_tuk/test_check_page.py",
        "tests/e2e_tuk/test_bandwidth_figures.py",
        "tests/e2e_tuk/test_bandwidth_behind_proxy.py",
    ]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-rs", "-p", "no:cacheprovider", *tests],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(f"cores={os.cpu_count()}")
    kind = ""
    shown = 0
    for line in result.stdout.splitlines():
        if line in ("BANDWIDTH", "PROXY"):
            kind = "DevTools throttle   " if line == "BANDWIDTH" else "tc throttle + nginx "
        elif line.startswith(("FULL CHECK", "ASSESSOR CHECK")):
            print(line[:160])
            shown += 1
        elif m := FIGURE.match(line):
            rate, up, down = float(m[1]), float(m[2]), float(m[3])
            print(f"{kind} set {rate:6.0f} kbps: upload {up:8.1f} kbps ({up / rate:.2f}x), "
                  f"download {down:8.1f} kbps ({down / rate:.2f}x)")
            shown += 1
        elif line.startswith("SKIPPED"):
            print(line)
    if not shown:
        print(result.stdout[-3000:])
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
        raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
