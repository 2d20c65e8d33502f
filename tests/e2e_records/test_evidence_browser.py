"""Through the real pages in Chromium: the browser's formatter speaks like the server (the LSP's zone, the page's
decimal separator), and an auditor downloads the verifier and a bundle from the evidence page, then verifies and
decrypts it with nothing but that one file and a fresh virtual environment holding only ``cryptography``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.components import require
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def test_format_js_speaks_like_the_server(records_server, page):
    from remote_tuk.views import Formatter, Zone

    server, _ = records_server
    page.goto(f"{server.url()}/masuk")  # any page: base.html carries the page data and format.js
    page.wait_for_function("() => window.RtukFormat !== undefined")
    at = datetime(2026, 12, 4, 7, 5, 9, tzinfo=UTC)
    expected = Formatter("id", Zone.named("Asia/Makassar"))
    got = page.evaluate("""(iso) => ({
        dateTime: RtukFormat.dateTime(iso), time: RtukFormat.time(iso, {seconds: true}),
        plain: RtukFormat.time(iso, {zone: false}), number: RtukFormat.number(9474.194, 1),
        big: RtukFormat.number(1234567), mbps: RtukFormat.mbps(9474194), duration: RtukFormat.duration(3725),
        short: RtukFormat.duration(45), bad: RtukFormat.dateTime("not a time"), zone: RtukFormat.zoneLabel})""",
                        at.isoformat())
    # the browser runs in UTC: every time below is in the LSP's zone (WITA) because format.js says so
    assert got == {
        "dateTime": expected.datetime(at),
        "time": expected.time(at), "plain": expected.time(at, seconds=False, zone=False),
        "number": expected.number(9474.194, 1), "big": expected.number(1234567), "mbps": "9,5 Mbit/s",
        "duration": expected.duration(3725), "short": expected.duration(45), "bad": "–", "zone": "WITA",
    }
    assert got["dateTime"] == "04 Des 2026 15:05 WITA" and got["number"] == "9.474,2"

    with page.expect_navigation():
        page.click("button[name=lang]")  # to English
    page.wait_for_function("() => document.documentElement.lang === 'en' && window.RtukFormat !== undefined")
    english = Formatter("en", Zone.named("Asia/Makassar"))
    got = page.evaluate("(iso) => [RtukFormat.dateTime(iso), RtukFormat.number(9474.194, 1), "
                        "RtukFormat.duration(3725)]", at.isoformat())
    assert got[:2] == [english.datetime(at), english.number(9474.194, 1)]
    assert got == ["04 Dec 2026 15:05 WITA", "9,474.2", "1 h 2 min"]  # the unit words come from the English page


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding only cryptography (and what it needs), from PyPI or the local pip cache."""
    import cryptography

    venv = tmp_path_factory.mktemp("auditor") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"cryptography=={cryptography.__version__}"],
                         capture_output=True, text=True, timeout=600)
    require(pip.returncode == 0, "PyPI (or a pip cache holding cryptography)", pip.stderr[-500:])
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True).stdout
    assert {p["name"].lower() for p in json.loads(listed)} <= {"cryptography", "cffi", "pycparser", "pip",
                                                              "setuptools"}
    return venv


def test_the_auditor_verifies_a_bundle_from_the_page_with_the_one_file_alone(records_server, page, fresh_venv,
                                                                             tmp_path):
    server, written = records_server
    folder = tmp_path / "auditor-desk"  # an empty folder: only what the auditor downloads goes here
    folder.mkdir()
    python = str(fresh_venv / "bin" / "python")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-I", "rtuk_verify.py", *args], cwd=folder, capture_output=True, text=True,
                              timeout=300)

    sign_in(page, server.url(), "auditor_a")
    page.goto(f"{server.url()}/sesi/{server.cast.session_a}/bukti")
    shown_hash = page.inner_text("[data-verifier-sha256]").strip()
    vkey = page.inner_text("[data-verifier-key]").strip()
    assert vkey.startswith("lsp-uji.example/evidence+")
    assert "(WITA)" in page.inner_text("thead")

    with page.expect_download() as dl:
        page.click("[data-verifier-download]")
    dl.value.save_as(folder / dl.value.suggested_filename)
    assert dl.value.suggested_filename == "rtuk_verify.py"
    assert hashlib.sha256((folder / "rtuk_verify.py").read_bytes()).hexdigest() == shown_hash

    keygen = run("keygen", "--out", "auditor")
    assert keygen.returncode == 0, keygen.stdout + keygen.stderr
    page.fill("textarea[name=auditor_key]", (folder / "auditor.pub").read_text().strip())
    with page.expect_download() as dl:
        page.click("[data-bundle-download]")
    bundle = folder / dl.value.suggested_filename
    dl.value.save_as(bundle)
    assert bundle.name == f"bukti-{server.cast.session_a}.zip"

    result = run("verify", bundle.name, "--pubkey", vkey, "--decrypt-with", "auditor", "--extract-to", "hasil")
    assert result.returncode == 0 and "VERIFIED" in result.stdout, result.stdout + result.stderr
    out = folder / "hasil" / "sessions" / server.cast.session_a
    index = {r["type"]: r for r in json.loads((out / "index.json").read_text())}
    assert index["identity.ktp_snapshot"]["file"].endswith(".jpg")
    assert index["recording.browser_full"]["file"].endswith(".webm")
    assert index["session.event"]["file"].endswith(".json")
    for type_, data in written.items():
        assert (out / index[type_]["file"]).read_bytes() == data
    assert json.loads((out / index["session.event"]["file"]).read_text())["event"] == "page.joined"

    tampered = folder / "tampered.zip"
    flipped = False
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("objects/") and not flipped:  # one bit of one evidence file
                data, flipped = data[:-1] + bytes([data[-1] ^ 1]), True
            dst.writestr(info, data)
    bad = run("verify", tampered.name, "--pubkey", vkey)
    assert bad.returncode == 1 and "NOT VERIFIED" in bad.stdout and "FAIL file_hash_mismatch" in bad.stdout, \
        bad.stdout
    wrong_key = run("verify", bundle.name, "--pubkey", vkey.replace("lsp-uji.example", "lain.example", 1))
    assert wrong_key.returncode == 2 and "verifier_key_malformed" in wrong_key.stdout
