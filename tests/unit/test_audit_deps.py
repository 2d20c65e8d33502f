"""Issue 12 #13: the dependency audit fails loudly — on a range instead of a pin, on a known vulnerability, on a
dependency that could not be audited — and never reports an audit that did not happen as a clean one."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / ".ci" / "audit_deps.py")
audit = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit  # dataclasses look their module up there
_spec.loader.exec_module(audit)


def _tree(tmp_path: Path, runtime: str, dev: str = "-r requirements.txt\npytest==9.2.0\n") -> Path:
    (tmp_path / "requirements.txt").write_text(runtime)
    (tmp_path / "requirements-dev.txt").write_text(dev)
    return tmp_path


class _Server:
    """A local HTTP server answering every request with one status code."""

    def __init__(self, status: int):
        code = status

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def unreachable():
    """URLs where nothing listens (a closed local port) for both services."""
    server = _Server(200)
    url = server.url
    server.close()
    server.httpd.server_close()
    return ["--osv-url", url + "/v1/query", "--pypi-url", url + "/pypi/{name}/{version}/json"]


def test_the_projects_requirements_are_all_pinned():
    pins, problems = [], []
    for name in audit.REQUIREMENTS:
        more, more_problems = audit.read_pins(ROOT / name)
        pins += more
        problems += more_problems
    assert problems == []
    assert any(p.name == "redis" for p in pins)


def test_a_range_fails_and_names_the_line(tmp_path, capsys, unreachable):
    """The requirement that was a range before this fix (``redis>=5,<7``) fails the audit."""
    root = _tree(tmp_path, "flask==3.1.3\nredis>=5,<7\n")
    assert audit.main(["--root", str(root), *unreachable]) == 1
    out = capsys.readouterr().out
    assert "requirements.txt:2: 'redis>=5,<7' is not pinned" in out


def test_no_service_is_a_banner_not_a_clean_audit(tmp_path, capsys, unreachable):
    root = _tree(tmp_path, "flask==3.1.3\n")
    assert audit.main(["--root", str(root), *unreachable]) == 0
    out = capsys.readouterr().out
    assert "DEPENDENCY AUDIT NOT RUN" in out and "NOT checked" in out
    assert "no known vulnerabilities" not in out
    assert audit.main(["--root", str(root), "--strict", *unreachable]) == 3


def test_strict_mode_from_the_environment(tmp_path, unreachable):
    root = _tree(tmp_path, "flask==3.1.3\n")
    cmd = [sys.executable, str(ROOT / ".ci" / "audit_deps.py"), "--root", str(root), *unreachable]
    assert subprocess.run(cmd, capture_output=True, env={"RTUK_AUDIT_STRICT": "1"}).returncode == 3


def test_probe_picks_the_service_that_answers():
    pin = audit.Pin("flask", "3.1.3")
    ok, missing = _Server(200), _Server(404)
    try:
        assert audit.probe(pin, osv_url=ok.url, pypi_url=missing.url + "/{name}/{version}")[0] == "osv"
        service, said = audit.probe(pin, osv_url=missing.url, pypi_url=ok.url + "/{name}/{version}")
        assert service == "pypi" and said == {"OSV": "HTTP 404"}
        service, said = audit.probe(pin, osv_url=missing.url, pypi_url=missing.url + "/{name}/{version}")
        assert service is None and said == {"OSV": "HTTP 404", "PyPI per-version JSON": "HTTP 404"}
    finally:
        ok.close()
        missing.close()


REPORT = {
    "dependencies": [
        {"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"]}]},
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ]
}


def test_vulnerabilities_and_unaudited_dependencies_fail(tmp_path, capsys, monkeypatch):
    server = _Server(200)
    monkeypatch.setattr(audit, "run_pip_audit", lambda service: REPORT)
    try:
        root = _tree(tmp_path, "flask==3.1.3\n")
        assert audit.main(["--root", str(root), "--osv-url", server.url]) == 2
    finally:
        server.close()
    out = capsys.readouterr().out
    assert "VULNERABLE  jinja2 2.10: PYSEC-2019-217 (fixed in: 2.10.1)" in out
    assert "NOT AUDITED private-pkg" in out


def test_no_report_is_a_failure(tmp_path, capsys, monkeypatch):
    server = _Server(200)
    nothing = {"dependencies": [], "error": "pip-audit gave no report"}
    monkeypatch.setattr(audit, "run_pip_audit", lambda service: nothing)
    try:
        assert audit.main(["--root", str(_tree(tmp_path, "flask==3.1.3\n")), "--osv-url", server.url]) == 2
    finally:
        server.close()
    assert "NOT AUDITED (everything): pip-audit gave no report" in capsys.readouterr().out


def test_a_clean_report_passes(tmp_path, capsys, monkeypatch):
    server = _Server(200)
    monkeypatch.setattr(audit, "run_pip_audit", lambda service: {"dependencies": [REPORT["dependencies"][1]]})
    try:
        root = _tree(tmp_path, "flask==3.1.3\n")
        assert audit.main(["--root", str(root), "--osv-url", server.url]) == 0
    finally:
        server.close()
    assert "no known vulnerabilities (pip-audit, osv)" in capsys.readouterr().out
