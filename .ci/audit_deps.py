#!/usr/bin/env python3
"""Dependency audit for ``make test`` / CI (issue 12 #13); docs/SECURITY.md, "Dependency audit", says why.

1. Every requirement in requirements*.txt is pinned with ``==`` (checked offline, always): a range is a failure.
2. One probe asks whether a vulnerability service answers from here (OSV, then PyPI's per-version JSON, which is
   what ``pip-audit -s pypi`` reads). If one does, ``pip-audit --strict`` audits the installed environment against it
   and any known vulnerability — or any dependency it could not audit — fails the run, naming it.
3. If none answers, the audit did not happen and the output says so in a banner. That is a failure only in strict
   mode (``--strict`` or ``RTUK_AUDIT_STRICT=1``): a machine that cannot reach any service (this one) would otherwise
   never pass, while a CI that can reach one should set strict so an outage is not mistaken for a clean audit.

Exit codes: 0 audited and clean (or not auditable and not strict), 1 unpinned requirement, 2 vulnerabilities or
unaudited dependencies found by pip-audit, 3 no service reachable in strict mode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
OSV_URL = "https://api.osv.dev/v1/query"
PYPI_URL = "https://pypi.org/pypi/{name}/{version}/json"
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?==(?P<version>[A-Za-z0-9.!+_-]+)\s*(;.*)?$"
)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str


def read_pins(path: Path) -> tuple[list[Pin], list[str]]:
    """The pinned requirements of *path* (following ``-r``) and a message per line that is not pinned exactly."""
    pins: list[Pin] = []
    problems: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            more, more_problems = read_pins(path.parent / line.split(None, 1)[1])
            pins += more
            problems += more_problems
            continue
        match = _PIN.match(line)
        if match is None:
            problems.append(f"{path.name}:{number}: '{line}' is not pinned to one version (use name==version)")
        else:
            pins.append(Pin(match["name"].lower(), match["version"]))
    return pins, problems


def _answers(request: urllib.request.Request, timeout: float) -> str | None:
    """None when the service answered 200, else why not."""
    if not request.full_url.startswith(("https://", "http://")):
        return "not an http(s) URL"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http(s) checked above
            return None if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return f"unreachable ({getattr(err, 'reason', err)})"


def probe(pin: Pin, *, osv_url: str, pypi_url: str, timeout: float = 15) -> tuple[str | None, dict[str, str]]:
    """Which pip-audit service answers for one known pin ('osv', 'pypi' or None), and what each one said."""
    said: dict[str, str] = {}
    body = json.dumps({"package": {"name": pin.name, "ecosystem": "PyPI"}, "version": pin.version}).encode()
    osv = urllib.request.Request(osv_url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    if (why := _answers(osv, timeout)) is None:
        return "osv", said
    said["OSV"] = why
    pypi = urllib.request.Request(pypi_url.format(name=pin.name, version=pin.version))  # noqa: S310
    if (why := _answers(pypi, timeout)) is None:
        return "pypi", said
    said["PyPI per-version JSON"] = why
    return None, said


def summarise(report: dict) -> tuple[list[str], list[str]]:
    """From pip-audit's JSON report: one line per known vulnerability, one per dependency it could not audit."""
    found, skipped = [], []
    if report.get("error"):
        skipped.append(f"(everything): {report['error']}")
    for dep in report.get("dependencies", []):
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            found.append(f"{dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in: {fixes})")
        if dep.get("skip_reason"):
            skipped.append(f"{dep['name']}: {dep['skip_reason']}")
    return found, skipped


def run_pip_audit(service: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [sys.executable, "-m", "pip_audit", "-s", service, "-l", "-f", "json", "-o", str(out)]
        cmd += ["--progress-spinner", "off"]
        subprocess.run(cmd, check=False, cwd=ROOT)  # noqa: S603 - our own interpreter and fixed arguments
        if not out.exists():
            return {"dependencies": [], "error": "pip-audit gave no report"}
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", default=os.environ.get("RTUK_AUDIT_STRICT", "") == "1")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--osv-url", default=OSV_URL)
    parser.add_argument("--pypi-url", default=PYPI_URL)
    args = parser.parse_args(argv)

    pins: list[Pin] = []
    problems: list[str] = []
    for name in REQUIREMENTS:
        more, more_problems = read_pins(args.root / name)
        pins += [p for p in more if p not in pins]
        problems += [p for p in more_problems if p not in problems]
    if problems:
        print("DEPENDENCY AUDIT FAILED: requirements not pinned to one version:", *problems, sep="\n  ")
        return 1
    print(f"dependency audit: {len(pins)} requirements, all pinned")
    if not pins:
        return 0

    service, said = probe(pins[0], osv_url=args.osv_url, pypi_url=args.pypi_url)
    if service is None:
        why = "; ".join(f"{k}: {v}" for k, v in said.items())
        print("=" * 100)
        print("DEPENDENCY AUDIT NOT RUN: no vulnerability service answers from here")
        print(f"  ({why})")
        print(f"  {len(pins)} pinned requirements and their dependencies were NOT checked for known vulnerabilities.")
        print("  Run `make audit` where OSV or PyPI answers; set RTUK_AUDIT_STRICT=1 there to make this a failure.")
        print("=" * 100)
        return 3 if args.strict else 0

    found, skipped = summarise(run_pip_audit(service))
    if found or skipped:
        print(f"DEPENDENCY AUDIT FAILED (pip-audit, {service}):")
        for line in found:
            print(f"  VULNERABLE  {line}")
        for line in skipped:
            print(f"  NOT AUDITED {line}")
        return 2
    print(f"dependency audit: no known vulnerabilities (pip-audit, {service})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
