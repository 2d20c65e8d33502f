"""`python -m sop build` without --inputs takes its facts from the installation the settings point at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config import load_settings
from remote_tuk.migrate import upgrade
from tests.components import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def installation(tmp_path):
    require(shutil.which("dot") is not None, "graphviz (dot)", "apt-get install graphviz")
    url = f"sqlite:///{tmp_path / 'rtuk.sqlite3'}"
    upgrade(url)
    env = {**os.environ, "RTUK_DATABASE_URL": url, "RTUK_VAR_DIR": str(tmp_path / "var")}
    return url, env, tmp_path


def _sop(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "sop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_empty_installation_lists_missing_facts_and_writes_nothing(installation):
    _url, env, tmp = installation
    out = tmp / "dossier.pdf"
    result = _sop(env, "build", "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert "lsp.name" in result.stdout + result.stderr
    assert not out.exists()


def test_demo_installation_builds_a_signed_dossier(installation):
    url, env, tmp = installation
    from remote_tuk import create_app
    from remote_tuk.demo import seed
    from remote_tuk.extensions import db

    app = create_app(load_settings(database_url=url, var_dir=tmp / "var"))
    with app.app_context():
        seed(db.session, tmp / "var" / "demo-credentials.json")
    app.extensions["rtuk_db"].dispose()
    out, docx = tmp / "dossier.pdf", tmp / "dossier.docx"
    result = _sop(env, "build", "--out", str(out), "--docx", str(docx))
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes().startswith(b"%PDF") and docx.stat().st_size > 0
    check = _sop(env, "verify", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
