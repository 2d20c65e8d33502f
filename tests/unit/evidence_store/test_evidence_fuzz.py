"""Fuzzing the bundle parser and verifier (hypothesis): any input gives clean failures, never a crash."""

from __future__ import annotations

import io
import zipfile

import pytest
from evidence_bundle_tools import read_bundle, write_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_store.verifier import (
    VerificationError,
    VerifierKey,
    decrypt_stream,
    parse_canonical,
    parse_tlog_proof,
    split_note,
    verify_bundle,
    verify_checkpoint,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from evidence_unit_helpers import make_store

    tmp = tmp_path_factory.mktemp("fuzz")
    store = make_store(tmp)
    store.open_session("F")
    for i in range(3):
        store.append("F", "answer", bytes([i]) * 5000, actor=("asesi", "c"), candidate_id="c")
    store.close_session("F")
    aud = X25519PrivateKey.generate()
    path = store.export_bundle("F", tmp / "f.zip", aud.public_key())
    data = path.read_bytes()
    vkey = str(store.signer.verifier_key)
    store.close()
    assert verify_bundle(io.BytesIO(data), vkey, aud).ok
    return data, vkey, aud, read_bundle(path)


@FUZZ
@given(st.data())
def test_mutated_zip_bytes(sample, data):
    blob, vkey, aud, _ = sample
    b = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(b) - 1))
        b[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(b)))
    report = verify_bundle(io.BytesIO(bytes(b[:cut] if data.draw(st.booleans()) else b)), vkey, aud)
    assert all(isinstance(f, VerificationError) and f.code and f.message for f in report.failures)


@FUZZ
@given(st.data())
def test_mutated_members(sample, tmp_path_factory, data):
    _, vkey, aud, files = sample
    names = sorted(files)
    name = data.draw(st.sampled_from(names))
    content = bytearray(files[name])
    mode = data.draw(st.sampled_from(["flip", "truncate", "replace", "insert"]))
    if mode == "flip" and content:
        pos = data.draw(st.integers(0, len(content) - 1))
        content[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif mode == "truncate":
        content = content[: data.draw(st.integers(0, len(content)))]
    elif mode == "replace":
        content = bytearray(data.draw(st.binary(max_size=300)))
    else:
        pos = data.draw(st.integers(0, len(content)))
        content[pos:pos] = data.draw(st.binary(min_size=1, max_size=40))
    out = io.BytesIO()
    fixed = dict(files, **{name: bytes(content)})
    tmp = tmp_path_factory.mktemp("m") / "m.zip"
    write_bundle(tmp, fixed, fix_manifest=name != "manifest.json" and data.draw(st.booleans()))
    out = tmp.read_bytes()
    report = verify_bundle(io.BytesIO(out), vkey, aud)
    # the signed and hashed parts: any change at all must be noticed (the manifest, keys.json and verifier-key.txt
    # are unsigned conveniences; an equivalent re-serialisation of them is not tampering)
    if bytes(content) != files[name] and (name in ("entries.jsonl", "checkpoint") or name.startswith(("proofs/",
                                                                                                      "objects/"))):
        assert not report.ok, f"{mode} of {name} went unnoticed"
    assert all(isinstance(f, VerificationError) for f in report.failures)


@FUZZ
@given(st.binary(max_size=600))
def test_parsers_raise_only_verification_errors(raw):
    for fn in (parse_tlog_proof, split_note, lambda b: verify_checkpoint(b, VerifierKey.parse(
            "remote-tuk.example/evidence+00000000+" + "A" * 44))):
        try:
            fn(raw)
        except VerificationError:
            pass
    try:
        parse_canonical(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        decrypt_stream(io.BytesIO(raw), b"k" * 32, io.BytesIO())
    except VerificationError:
        pass


@FUZZ
@given(st.text(max_size=200))
def test_verifier_key_parser(text):
    try:
        VerifierKey.parse(text)
    except VerificationError:
        pass


def test_not_a_zip(sample):
    _, vkey, _, _ = sample
    r = verify_bundle(io.BytesIO(b"PK\x03\x04garbage"), vkey)
    assert r.codes() == {"bundle_unreadable"}
    with zipfile.ZipFile(buf := io.BytesIO(), "w") as zf:
        zf.writestr("hello", b"x")
    assert verify_bundle(io.BytesIO(buf.getvalue()), vkey).codes() == {"manifest_missing"}
