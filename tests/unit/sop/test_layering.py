"""sop/ imports only config from the project, and never the web layer."""

from __future__ import annotations

import ast
from pathlib import Path

SOP = Path(__file__).resolve().parents[3] / "sop"
FORBIDDEN = {"flask", "flask_socketio", "remote_tuk", "evidence_store", "proctor", "aiortc"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_sop_imports_only_config_from_the_project():
    files = sorted(SOP.rglob("*.py"))
    assert files
    for path in files:
        bad = _imports(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {bad}"
