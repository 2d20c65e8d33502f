"""The auditor's one-file verifier: bundled from the verifier's modules, runnable alone, and it names decrypted items
with their real extension. (The fresh-venv test through the web page is tests/integration/test_standalone_verifier.)"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from evidence_bundle_tools import tamper

from evidence_store.standalone import BuildError, build, standalone_verifier
from evidence_store.verifier import extension_for, verify_bundle

#: what each kind of evidence the product stores starts with, and the extension an auditor's program expects
SAMPLES = {
    "recording.browser_full": (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(300), ".webm"),
    "recording.server_segment": (b"DKIF\x00\x00\x20\x00VP80" + bytes(300), ".ivf"),
    "identity.ktp_snapshot": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300), ".jpg"),
    "session.event": (json.dumps({"event": "page.joined", "data": {}}).encode(), ".json"),
    "sop_dossier_pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(300), ".pdf"),
    "sop_dossier_docx": (b"PK\x03\x04" + bytes(26) + b"[Content_Types].xml" + b"word/document.xml", ".docx"),
    "note": (b"Catatan asesor: langkah dijelaskan dengan baik.", ".txt"),
    "blob": (bytes(range(256)), ".bin"),
}


@pytest.fixture
def bundle(store, auditor, tmp_path):
    store.open_session("SES-1", {"scheme": "SKM-1"})
    for type_, (data, _ext) in SAMPLES.items():
        store.append("SES-1", type_, data, actor=("asesi", "c1"), candidate_id="c1")
    store.close_session("SES-1")
    return store.export_bundle("SES-1", tmp_path / "bundle.zip", auditor.public_key()), str(store.signer.verifier_key)


def test_extensions_come_from_the_bytes():
    for _type, (data, ext) in SAMPLES.items():
        assert extension_for(data[:65536], data) == ext, _type
    assert extension_for(b"\x1a\x45\xdf\xa3\x42\x82\x88matroska") == ".mkv"
    assert extension_for(b'{"a": 1', b'{"a": 1') == ".txt"  # looks like JSON, is not
    assert extension_for("teks dipotong di tengah huruf é".encode()[:-1]) == ".txt"


def test_extracted_items_carry_their_real_extension_and_an_index(bundle, auditor, tmp_path):
    path, vkey = bundle
    report = verify_bundle(path, vkey, auditor, plaintext_dir=tmp_path / "out")
    assert report.ok, report.render()
    folder = tmp_path / "out" / "sessions" / "SES-1"
    index = json.loads((folder / "index.json").read_text())
    assert [r["type"] for r in index] == list(SAMPLES)
    for record, (data, ext) in zip(index, SAMPLES.values(), strict=True):
        assert record["file"].endswith(ext), record
        assert (folder / record["file"]).read_bytes() == data
        assert record["plaintext_sha256"] == hashlib.sha256(data).hexdigest()
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.rte"))


def test_the_build_is_deterministic_and_names_its_sources():
    first, second = build(), build()
    assert first == second
    built = standalone_verifier()
    assert built.data == first and built.sha256 == hashlib.sha256(first).hexdigest()
    text = first.decode()
    assert "from ." not in text and "import evidence_store" not in text
    for module in ("bundle.py", "notes.py", "objects.py", "cli.py"):
        assert f"# {module}:" in text


def test_the_single_file_runs_alone_verifies_decrypts_and_refuses_a_tampered_bundle(bundle, tmp_path):
    path, vkey = bundle
    alone = tmp_path / "empty-folder"
    alone.mkdir()
    (alone / "rtuk_verify.py").write_bytes(standalone_verifier().data)
    (alone / "bundle.zip").write_bytes(Path(path).read_bytes())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # -I: no PYTHONPATH, no user site, not even the script's folder: only the stdlib and installed cryptography
        return subprocess.run([sys.executable, "-I", "rtuk_verify.py", *args], cwd=alone, capture_output=True,
                              text=True, timeout=120)

    keygen = run("keygen", "--out", "auditor")
    assert keygen.returncode == 0, keygen.stderr
    assert (alone / "auditor").stat().st_mode & 0o077 == 0

    ok = run("verify", "bundle.zip", "--pubkey", vkey)
    assert ok.returncode == 0 and "VERIFIED: session SES-1" in ok.stdout, ok.stdout + ok.stderr

    def flip(files):
        key = next(n for n in files if n.startswith("objects/"))
        blob = bytearray(files[key])
        blob[-3] ^= 1
        files[key] = bytes(blob)

    tamper(path, alone / "tampered.zip", flip)
    bad = run("verify", "tampered.zip", "--pubkey", vkey)
    assert bad.returncode == 1 and "FAIL object_hash_mismatch" in bad.stdout, bad.stdout


def test_the_single_file_decrypts_with_the_auditor_key_it_made(store, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "rtuk_verify.py").write_bytes(standalone_verifier().data)
    subprocess.run([sys.executable, "-I", "rtuk_verify.py", "keygen", "--out", "auditor"], cwd=alone, check=True,
                   capture_output=True)
    store.open_session("S2")
    store.append("S2", "identity.ktp_snapshot", SAMPLES["identity.ktp_snapshot"][0], actor=("asesi", "c1"))
    store.close_session("S2")
    store.export_bundle("S2", alone / "b.zip", (alone / "auditor.pub").read_bytes())
    out = subprocess.run([sys.executable, "-I", "rtuk_verify.py", "verify", "b.zip", "--pubkey",
                          str(store.signer.verifier_key), "--decrypt-with", "auditor", "--extract-to", "out"],
                         cwd=alone, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [p.name for p in (alone / "out" / "sessions" / "S2").glob("*.jpg")] == ["00001-identity.ktp_snapshot.jpg"]


def _package(tmp_path: Path, sources: dict[str, str]) -> tuple[tuple[str, ...], Path]:
    for name, text in sources.items():
        (tmp_path / f"{name}.py").write_text('"""doc."""\n\nfrom __future__ import annotations\n\n' + text)
    return tuple(sources), tmp_path


@pytest.mark.parametrize(("sources", "message"), [
    ({"a": "import requests\n"}, "imports requests"),
    ({"a": "def f():\n    pass\n", "b": "def f():\n    pass\n"}, "defines f, which a.py defines too"),
    ({"a": "X = 1\n", "b": "from .a import X as Y\n"}, "without renaming"),
    ({"a": "from .b import X\n", "b": "X = 1\n"}, "earlier in verifier.MODULES"),
    ({"a": "X = 1\n", "b": "from .a import Z\n"}, "defines no top-level Z"),
    ({"a": "from json import loads\n", "b": "from pickle import loads\n"}, "pickle.loads here and json.loads"),
    ({"a": "import json\n\njson = 3\n"}, "shadow imported names: json"),
])
def test_the_build_refuses_what_concatenation_would_change(tmp_path, sources, message):
    (tmp_path / "bundle.py").write_text('BUNDLE_FORMAT = "x"\n')
    modules, directory = _package(tmp_path, sources)
    with pytest.raises(BuildError, match=message):
        build(modules, directory)
