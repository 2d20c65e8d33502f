"""Remote TUK check figures, measured through Debian Chromium against the real server:

* the time a full candidate check takes (consent to results; target under 30 s), and the assessor's own check;
* bandwidth measured by the check against the truth: Chromium throttled (DevTools protocol) to 0.5, 1 and 2 Mbps.

It runs the end-to-end tests that carry these measurements and prints their figures:

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="0.5,1,2")
    args = ap.parse_args()
    env = {**os.environ, "RTUK_BENCH_RATES": args.rates}
    tests = ["tests/e2e_tuk/test_check_page.py", "tests/e2e_tuk/test_bandwidth_figures.py"]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *tests], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=False)
    figures = [line for line in result.stdout.splitlines()
               if re.match(r"^(FULL CHECK|ASSESSOR CHECK|set \d+ kbps)", line)]
    print(f"cores={os.cpu_count()}")
    print("\n".join(figures) if figures else result.stdout[-3000:])
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
        raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
