"""The verifier needs only the standard library and cryptography; the library never imports Flask."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PKG = ROOT / "evidence_store"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("." + (node.module or ""))
            else:
                names.add(node.module.split(".")[0])
    return names


def test_verifier_imports_only_stdlib_cryptography_and_its_own_modules():
    from evidence_store.verifier import MODULES

    files = sorted((PKG / "verifier").glob("*.py"))
    assert {p.stem for p in files} == set(MODULES) | {"__init__", "__main__"}
    for path in files:
        mods = imported_modules(path)
        ours = {m for m in mods if m.startswith(".")}
        assert ours <= {"." + m for m in MODULES} | {"."}, path
        assert mods - ours - set(sys.stdlib_module_names) <= {"cryptography"}, path


def test_loading_the_verifier_loads_nothing_else_of_ours():
    from evidence_store.verifier import MODULES

    code = ("import sys, evidence_store.verifier as v; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('config','minio','flask','evidence_store','urllib3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    expected = ["evidence_store", "evidence_store.verifier", *(f"evidence_store.verifier.{m}" for m in MODULES)]
    assert out.strip() == str(sorted(expected))


def test_library_imports_no_flask_and_only_config_from_the_project():
    for path in PKG.rglob("*.py"):
        mods = {m for m in imported_modules(path) if not m.startswith(".")}
        assert not mods & {"flask", "flask_socketio", "remote_tuk", "proctor", "sop"}, path
