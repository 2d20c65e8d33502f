"""Every tampering is detected, each with its own precise failure code."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_bundle_tools import lines, read_bundle, set_lines, tamper, write_bundle

from evidence_store.log import NoteSigner
from evidence_store.merkle import MerkleTree
from evidence_store.verifier import TAG_SIZE, canonical_json, format_tlog_proof, leaf_hash, verify_bundle

CS = 4096


@pytest.fixture
def bundle(store, auditor, tmp_path):
    store.open_session("A", {"scheme": "SKM-1"})
    store.open_session("B")
    for i in range(4):
        store.append("A", "answer", f"answer {i}".encode() * 1500, metadata={"q": i}, actor=("asesi", "c1"),
                     client_time=f"t{i}", candidate_id="c1", commit_plaintext=i % 2 == 0)
        store.append("B", "answer", f"other {i}".encode(), metadata={"q": i}, actor=("asesi", "c2"), candidate_id="c2")
    store.close_session("A")
    store.close_session("B")
    a = store.export_bundle("A", tmp_path / "a.zip", auditor.public_key())
    b = store.export_bundle("B", tmp_path / "b.zip", auditor.public_key())
    return a, b, str(store.signer.verifier_key)


def check(path, vkey, auditor=None):
    return verify_bundle(path, vkey, auditor)


def test_clean_bundle_verifies_and_decrypts(bundle, auditor, tmp_path):
    a, _, vkey = bundle
    r = check(a, vkey, auditor)
    assert r.ok, r.render()
    assert r.items == 4 and r.decrypted == 4 and r.objects_checked == 4
    kinds = sorted(json.loads(x)["commitment"].split(":")[0] for x in lines(read_bundle(a)) if b'"item"' in x)
    assert kinds == ["sha256-salted", "sha256-salted", "sha256-salted-key", "sha256-salted-key"]
    r = verify_bundle(a, vkey, auditor, plaintext_dir=tmp_path / "plain")
    files = sorted((tmp_path / "plain" / "sessions" / "A").glob("*-answer.txt"))
    assert {f.read_bytes() for f in files} == {f"answer {i}".encode() * 1500 for i in range(4)}


def first_item(files):
    for i, line in enumerate(lines(files)):
        e = json.loads(line)
        if e["kind"] == "item":
            return i, e
    raise AssertionError


def test_flipped_byte_in_object(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        _, e = first_item(files)
        blob = bytearray(files["objects/" + e["object"]["key"]])
        blob[-5] ^= 0x01
        files["objects/" + e["object"]["key"]] = bytes(blob)

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert r.codes() == {"object_hash_mismatch"}


def test_flipped_byte_without_fixing_manifest(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        _, e = first_item(files)
        blob = bytearray(files["objects/" + e["object"]["key"]])
        blob[-5] ^= 0x01
        files["objects/" + e["object"]["key"]] = bytes(blob)

    r = check(tamper(a, tmp_path / "t.zip", fn, fix_manifest=False), vkey)
    assert "file_hash_mismatch" in r.codes() and "object_hash_mismatch" in r.codes()


def test_flipped_byte_in_entry(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        ls = lines(files)
        i, _ = first_item(files)
        ls[i] = ls[i].replace(b'"client_time":"t0"', b'"client_time":"t9"')
        set_lines(files, ls)

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert "inclusion_failed" in r.codes()
    assert "chain_broken" in r.codes()  # the next entry's prev no longer matches


def test_deleted_entry(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        ls = lines(files)
        i, _ = first_item(files)
        del ls[i + 1]
        set_lines(files, ls)

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert "chain_gap" in r.codes()
    assert any("1 entry is missing" in f.message for f in r.failures)


def test_reordered_entries(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        ls = lines(files)
        i, _ = first_item(files)
        ls[i], ls[i + 1] = ls[i + 1], ls[i]
        set_lines(files, ls)

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert {"entries_out_of_order", "chain_order"} <= r.codes()


def rechain(ls: list[bytes], session: str) -> list[bytes]:
    prev = None
    out = []
    for line in ls:
        e = json.loads(line)
        if e["chain"] == session:
            if prev is not None:
                e["prev"] = prev
                if e["kind"] == "close":
                    e["last_hash"] = prev
            line = canonical_json(e)
            prev = leaf_hash(line).hex()
        out.append(line)
    return out


def test_entry_replaced_with_all_hashes_recomputed(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        ls = lines(files)
        i, e = first_item(files)
        e["metadata"]["q"] = 99
        ls[i] = canonical_json(e)
        set_lines(files, rechain(ls, "A"))

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert "chain_broken" not in r.codes()  # the forger made the chain consistent ...
    assert "inclusion_failed" in r.codes()  # ... but the signed tree holds the original entries


def test_entries_swapped_between_sessions(bundle, tmp_path):
    a, b, vkey = bundle
    other = read_bundle(b)

    def fn(files):
        ls = lines(files)
        i, _ = first_item(files)
        j, eb = first_item(other)
        ls[i] = lines(other)[j]
        files[f"proofs/{eb['log_index']}.tlog-proof"] = other[f"proofs/{eb['log_index']}.tlog-proof"]
        set_lines(files, ls)

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert "entry_foreign_session" in r.codes()


def test_old_chunk_replayed_in_object(bundle, auditor, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        _, e = first_item(files)
        name = "objects/" + e["object"]["key"]
        blob = files[name]
        hlen = 8 + int.from_bytes(blob[4:8], "big")
        seg = CS + TAG_SIZE
        assert len(blob) > hlen + seg
        files[name] = blob[: hlen + seg] + blob[hlen : hlen + seg] + blob[hlen + 2 * seg :]

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey, auditor)
    assert {"object_hash_mismatch", "object_chunk_replayed"} <= r.codes()


def test_truncated_tail(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        ls = [x for x in lines(files) if json.loads(x)["kind"] != "close"]
        set_lines(files, ls[:-1])

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert r.codes() == {"chain_not_closed"}


def test_entries_file_cut_mid_line(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        files["entries.jsonl"] = files["entries.jsonl"][:-40]

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert {"entries_truncated", "entry_malformed", "chain_not_closed"} <= r.codes()


def test_log_rechained_and_resigned_after_edit(bundle, store, tmp_path):
    """The operator edits an entry, rechains, rebuilds the whole tree and signs a new checkpoint with another key."""
    a, _, vkey = bundle
    all_lines = (store.dir / "log" / "entries.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
    for k, line in enumerate(all_lines):
        e = json.loads(line)
        if e["kind"] == "item" and e["chain"] == "A":
            e["metadata"]["q"] = 42
            all_lines[k] = canonical_json(e)
            break
    all_lines = rechain(all_lines, "A")
    tree = MerkleTree()
    for line in all_lines:
        tree.append(line)
    forger = NoteSigner(store.signer.name, Ed25519PrivateKey.generate())
    cp = forger.sign(f"{forger.name}\n{tree.size}\n{base64.b64encode(tree.root()).decode()}\n".encode())

    def fn(files):
        keep = [json.loads(x)["log_index"] for x in lines(files)]
        set_lines(files, [all_lines[i] for i in keep])
        files["checkpoint"] = cp
        for i in keep:
            files[f"proofs/{i}.tlog-proof"] = format_tlog_proof(i, tree.inclusion_proof(i), cp)

    forged = tamper(a, tmp_path / "t.zip", fn)
    r = check(forged, vkey)
    assert r.codes() == {"checkpoint_wrong_key"}
    # with the forger's own key everything is consistent: which is why the auditor must pin the LSP's key
    assert check(forged, str(forger.verifier_key)).ok


def test_forged_checkpoint_signature(bundle, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        cp = files["checkpoint"]
        body, sig = cp.split(b"\n\n")
        parts = body.split(b"\n")
        parts[1] = str(int(parts[1]) + 1).encode()
        files["checkpoint"] = b"\n".join(parts) + b"\n\n" + sig

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey)
    assert r.codes() == {"checkpoint_bad_signature"}


def test_wrong_verifier_key(bundle, tmp_path):
    a, _, _ = bundle
    other = NoteSigner("remote-tuk.example/evidence", Ed25519PrivateKey.generate())
    r = check(a, str(other.verifier_key))
    assert r.codes() == {"checkpoint_wrong_key"}


def test_unlisted_and_unsafe_files(bundle, tmp_path):
    a, _, vkey = bundle
    files = read_bundle(a)
    files["extra.txt"] = b"hi"
    r = check(write_bundle(tmp_path / "t.zip", files, fix_manifest=False), vkey)
    assert r.codes() == {"file_unlisted"}
    files = read_bundle(a)
    files["../evil"] = b"x"
    r = check(write_bundle(tmp_path / "t2.zip", files, fix_manifest=False), vkey)
    assert r.codes() == {"bundle_malformed"}


def test_shredded_items_still_verify(bundle, store, auditor, tmp_path):
    store.shred_candidate("c1", ("dpo", "x"))
    path = store.export_bundle("A", tmp_path / "shred.zip", auditor.public_key())
    r = check(path, str(store.signer.verifier_key), auditor)
    assert r.ok, r.render()
    assert len(r.shredded) == 4 and r.decrypted == 0


def test_whole_log_verifies_and_any_edit_is_caught(bundle, store, tmp_path):
    import io
    import subprocess
    import sys

    from evidence_store.verifier import verify_log

    log = (store.dir / "log" / "entries.jsonl").read_bytes()
    cp = store.checkpoint()
    vkey = str(store.signer.verifier_key)
    assert verify_log(io.BytesIO(log), cp, vkey).ok
    edited = log.replace(b'"client_time":"t1"', b'"client_time":"t2"', 1)
    assert edited != log
    assert "root_mismatch" in verify_log(io.BytesIO(edited), cp, vkey).codes()
    lines_ = log.split(b"\n")
    assert "entries_truncated" in verify_log(io.BytesIO(b"\n".join(lines_[:-3]) + b"\n"), cp, vkey).codes()
    (tmp_path / "cp").write_bytes(cp)
    (tmp_path / "log.jsonl").write_bytes(log)
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-m", "evidence_store.verifier", "verify-log", str(tmp_path / "log.jsonl"),
                          str(tmp_path / "cp"), "--pubkey", vkey], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0 and "VERIFIED" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("workers", [1, 3])
def test_whole_log_file_in_parallel_segments(store, tmp_path, workers):
    from evidence_store.verifier import verify_log_file

    for s in ("P", "Q"):
        store.open_session(s)
    for i in range(30):
        store.append("P" if i % 3 else "Q", "c", str(i).encode(), actor=("s", "x"))
    cp = store.checkpoint()
    vkey = str(store.signer.verifier_key)
    path = store.dir / "log" / "entries.jsonl"
    r = verify_log_file(path, cp, vkey, workers=workers, min_parallel_bytes=0)
    assert r.ok and r.entries == 32, r.render()
    all_lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    del all_lines[17]  # a deleted entry, in the middle segment when split in three
    (tmp_path / "cut.jsonl").write_bytes(b"".join(x + b"\n" for x in all_lines))
    r = verify_log_file(tmp_path / "cut.jsonl", cp, vkey, workers=workers, min_parallel_bytes=0)
    assert {"entries_out_of_order", "chain_broken", "entries_truncated"} <= r.codes()


def test_malformed_auditor_keys_are_clean_failures(bundle, auditor, tmp_path):
    a, _, vkey = bundle

    def fn(files):
        keys = json.loads(files["keys.json"])
        first = sorted(keys)[0]
        keys[first] = 5
        files["keys.json"] = json.dumps(keys).encode()

    r = check(tamper(a, tmp_path / "t.zip", fn), vkey, auditor)
    assert r.codes() == {"auditor_key_malformed"} and r.decrypted == 3
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    r = check(a, vkey, X25519PrivateKey.generate())
    assert r.codes() == {"auditor_key_wrong"}


# -- the container rules of BUNDLE-FORMAT §2 ---------------------------------------------------------------------


def _rezip(src: Path, dst: Path, compression: int = 0, extra: list[tuple[str, bytes]] = ()) -> Path:
    import zipfile

    files = read_bundle(src)
    with zipfile.ZipFile(dst, "w", compression=compression) as zf:
        for n, d in files.items():
            zf.writestr(n, d)
        for n, d in extra:
            zf.writestr(zipfile.ZipInfo(n), d)
    return dst


@pytest.mark.parametrize("method", ["bzip2", "lzma"])
def test_compression_other_than_stored_or_deflated_is_refused(bundle, tmp_path, method):
    import zipfile

    a, _, vkey = bundle
    assert check(_rezip(a, tmp_path / "deflated.zip", zipfile.ZIP_DEFLATED), vkey).ok
    r = check(_rezip(a, tmp_path / "t.zip", getattr(zipfile, f"ZIP_{method.upper()}")), vkey)
    assert r.codes() == {"bundle_malformed"} and "only stored or deflated" in r.failures[0].message


def test_member_name_with_a_nul_byte_is_refused(bundle, tmp_path):
    """zipfile cuts a name at NUL; the check must see the name as stored."""
    a, _, vkey = bundle
    evil = b"checkpoint\x00/../../../tmp/pwned"
    placeholder = b"checkpointX/" + b"A" * (len(evil) - 12)
    files = read_bundle(a)
    files[placeholder.decode()] = files.pop("checkpoint")
    path = write_bundle(tmp_path / "t.zip", files, fix_manifest=False)
    raw = path.read_bytes()
    assert raw.count(placeholder) == 2  # local header and central directory
    path.write_bytes(raw.replace(placeholder, evil))
    r = check(path, vkey)
    assert r.codes() == {"bundle_malformed"} and "unsafe file name" in r.failures[0].message


def test_directory_members_must_be_safe_and_empty(bundle, tmp_path):
    a, _, vkey = bundle
    assert check(_rezip(a, tmp_path / "empty-dir.zip", extra=[("objects/", b"")]), vkey).ok  # ignored, per §2
    r = check(_rezip(a, tmp_path / "data-dir.zip", extra=[("objects/", b"X" * 1000)]), vkey)
    assert r.codes() == {"bundle_malformed"} and "holds data" in r.failures[0].message
    r = check(_rezip(a, tmp_path / "evil-dir.zip", extra=[("../../tmp/evil/", b"")]), vkey)
    assert r.codes() == {"bundle_malformed"} and "unsafe file name" in r.failures[0].message


def test_corrupt_compressed_data_is_a_clean_failure(bundle, tmp_path):
    import io
    import zipfile

    a, _, vkey = bundle
    _rezip(a, tmp_path / "d.zip", zipfile.ZIP_DEFLATED)
    data = bytearray((tmp_path / "d.zip").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("entries.jsonl")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 5, start + 25):
        data[k] ^= 0x5A
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    r = check(tmp_path / "bad.zip", vkey)  # zlib.error used to escape verify_bundle
    assert not r.ok and r.codes() <= {"bundle_unreadable", "file_hash_mismatch"}, r.render()


def test_cli_prints_names_it_cannot_encode(bundle, tmp_path):
    """A manifest naming the session "\\ud800" (valid JSON, not text): the CLI reports, it does not crash."""
    import subprocess
    import sys

    a, _, vkey = bundle

    def fn(files):
        m = json.loads(files["manifest.json"])
        m["session_id"] = "\ud800"
        files["manifest.json"] = json.dumps(m).encode()

    path = tamper(a, tmp_path / "t.zip", fn)
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-m", "evidence_store.verifier", "verify", str(path), "--pubkey", vkey],
                         capture_output=True, text=True, cwd=root, env={"PYTHONIOENCODING": "utf-8", "PATH": ""})
    assert out.returncode == 1 and "NOT VERIFIED" in out.stdout and "\\ud800" in out.stdout, out.stdout + out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("edit", [(b'"chain":"P"', b'"chain":["P"]'), (b'"seq":1,', b'"seq":"1",'),
                                  (b'"log_index":1,', b'"log_index":"1",')])
def test_whole_log_file_with_wrong_types_is_a_clean_failure(store, tmp_path, edit):
    from evidence_store.verifier import verify_log_file

    store.open_session("P")
    store.append("P", "c", b"x", actor=("s", "x"))
    cp = store.checkpoint()
    log = (store.dir / "log" / "entries.jsonl").read_bytes()
    assert edit[0] in log
    (tmp_path / "e.jsonl").write_bytes(log.replace(edit[0], edit[1], 1))
    r = verify_log_file(tmp_path / "e.jsonl", cp, str(store.signer.verifier_key))
    assert "entry_malformed" in r.codes() and "root_mismatch" in r.codes(), r.render()


def test_lone_surrogates_are_not_canonical_text():
    from evidence_store.verifier import parse_canonical

    pair = canonical_json({"a": "\U0001f600"})
    assert pair == b'{"a":"\\ud83d\\ude00"}' and parse_canonical(pair) == {"a": "\U0001f600"}
    for bad in ({"a": "\ud800"}, {"a": ["x\udfff"]}, {"\udc00": 1}):
        with pytest.raises(ValueError, match="surrogate"):
            parse_canonical(canonical_json(bad))


def test_raw_x25519_keys_whatever_their_bytes():
    """A raw 32-byte key may begin or end with a byte that looks like white space; it is never trimmed."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from evidence_store.crypto import load_x25519_public
    from evidence_store.verifier import load_x25519_private

    for _ in range(50):
        priv = X25519PrivateKey.generate()
        raw = priv.private_bytes_raw()
        if raw[0] in b" \t\n\r\x0b\x0c" or raw[-1] in b" \t\n\r\x0b\x0c":
            break
    else:
        raw = b" " + X25519PrivateKey.generate().private_bytes_raw()[1:-1] + b"\n"
        priv = X25519PrivateKey.from_private_bytes(raw)
    pub = priv.public_key().public_bytes_raw()
    assert load_x25519_private(raw).private_bytes_raw() == raw
    spaced_pub = b" " + pub[1:]
    assert load_x25519_public(spaced_pub).public_bytes_raw() == spaced_pub
    assert load_x25519_public(base64.b64encode(pub) + b"\n").public_bytes_raw() == pub
