"""Chains linked to a session (an appeal, an assessment record) are in the session's bundle, each verified as a chain
of its own with its link into the session's chain; removing, altering or reordering any of their entries fails."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_bundle_tools import lines, read_bundle, set_lines, tamper

from evidence_store.errors import SessionError
from evidence_store.log import NoteSigner
from evidence_store.merkle import MerkleTree
from evidence_store.standalone import build
from evidence_store.verifier import canonical_json, format_tlog_proof, leaf_hash, verify_bundle

ACTOR = ("asesi", "c1")


@pytest.fixture
def linked(store, auditor, tmp_path):
    """Session S (closed), then an appeal chain linked to S, a schedule report linked to S and T, an appeal still
    open, and an unrelated chain U."""
    store.open_session("S", {"scheme": "SKM-1"})
    store.open_session("T")
    for i in range(3):
        store.append("S", "answer", f"answer {i}".encode() * 300, actor=ACTOR, candidate_id="c1")
        store.append("T", "answer", f"other {i}".encode(), actor=("asesi", "c2"), candidate_id="c2")
    store.close_session("S")
    store.open_session("banding-S-1", {"kind": "appeal", "form": "FR.AK.04", "session": "S"}, actor=ACTOR,
                       link_to=["S"])
    r = store.append("banding-S-1", "appeal.submitted", b'{"reasons": "tidak adil"}', actor=ACTOR,
                     candidate_id="c1", commit_plaintext=True)
    store.append("banding-S-1", "appeal.assigned", b'{"reviewer": 7}', actor=("lsp_admin", "1"))
    store.append("banding-S-1", "appeal.decided", b'{"outcome": "rejected"}', actor=("asesor", "7"))
    store.close_session("banding-S-1", actor=("asesor", "7"))
    store.read(r.object_key, ("asesor", "7"))  # a read of a linked chain's item: in the session's bundle too
    store.open_session("frak05-jadwal-1-v1", {"form": "FR.AK.05"}, actor=("lsp_admin", "1"), link_to=["S", "T"])
    store.append("frak05-jadwal-1-v1", "assessment.fr_ak_05", b"%PDF-1.7 report", actor=("lsp_admin", "1"))
    store.close_session("frak05-jadwal-1-v1", actor=("lsp_admin", "1"))
    store.open_session("banding-S-2", {"kind": "appeal", "session": "S"}, actor=ACTOR, link_to=["S"])
    store.append("banding-S-2", "appeal.submitted", b'{"reasons": "lagi"}', actor=ACTOR, candidate_id="c1")
    store.open_session("U")
    store.append("U", "answer", b"unrelated", actor=("asesi", "c3"))
    store.close_session("U")
    path = store.export_bundle("S", tmp_path / "s.zip", auditor.public_key())
    return path, str(store.signer.verifier_key)


def entries_of(files, chain):
    return [(k, json.loads(x)) for k, x in enumerate(lines(files)) if json.loads(x)["chain"] == chain]


def test_linked_chains_are_in_the_bundle_and_verify(linked, store, auditor, tmp_path):
    path, vkey = linked
    files = read_bundle(path)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "rtuk-evidence-bundle/2"
    assert manifest["linked_chains"] == ["banding-S-1", "frak05-jadwal-1-v1"]
    assert manifest["linked_open"] == ["banding-S-2"]  # still open: named, comes in a later bundle
    chains = {json.loads(x)["chain"] for x in lines(files)}
    assert chains == {"S", "banding-S-1", "frak05-jadwal-1-v1", "_system"}
    opening = entries_of(files, "banding-S-1")[0][1]
    s_entries = [e for _, e in entries_of(files, "S")]
    assert opening["links"] == [{"chain": "S", "seq": s_entries[-1]["seq"], "log_index": s_entries[-1]["log_index"],
                                 "hash": leaf_hash(lines(files)[entries_of(files, "S")[-1][0]]).hex()}]
    r = verify_bundle(path, vkey, auditor, plaintext_dir=tmp_path / "plain")
    assert r.ok, r.render()
    assert r.items == 3 + 3 + 1 and r.decrypted == 7
    assert [x.split(" ")[0] for x in r.linked] == ["banding-S-1", "frak05-jadwal-1-v1"]
    assert "FR.AK.04 appeal" in r.linked[0] and "5 entries, 3 items" in r.linked[0]
    assert any("also links to 'T'" in n for n in r.notes)
    out = r.render()
    assert "LINKED banding-S-1" in out and "STEP 7a 2 linked chain(s)" in out
    assert (tmp_path / "plain" / "sessions" / "banding-S-1").is_dir()
    reads = [json.loads(x) for x in lines(files) if json.loads(x)["kind"] == "read"]
    assert [e["session_id"] for e in reads] == ["banding-S-1"]
    # and the store lists them for the evidence page
    assert store.linked_chains("S") == ["banding-S-1", "frak05-jadwal-1-v1", "banding-S-2"]
    listed = {e["chain"] for e in store.list_entries("S", include_linked=True)}
    assert listed == {"S", "banding-S-1", "frak05-jadwal-1-v1", "banding-S-2", "_system"}


def test_the_one_file_verifier_checks_linked_chains(linked, tmp_path):
    path, vkey = linked
    ns: dict = {}
    exec(compile(build(), "rtuk_verify.py", "exec"), ns)
    r = ns["verify_bundle"](path, vkey)
    assert r.ok, r.render()
    assert len(r.linked) == 2
    bad = tamper(path, tmp_path / "t.zip", lambda files: _drop(files, "banding-S-1", 2))
    assert "chain_gap" in ns["verify_bundle"](bad, vkey).codes()


def _drop(files, chain, seq):
    ls = lines(files)
    k = next(k for k, e in entries_of(files, chain) if e["seq"] == seq)
    del ls[k]
    set_lines(files, ls)


def test_a_removed_linked_entry_fails(linked, tmp_path):
    path, vkey = linked
    r = verify_bundle(tamper(path, tmp_path / "t.zip", lambda f: _drop(f, "banding-S-1", 2)), vkey)
    assert "chain_gap" in r.codes()
    assert any(f.message.startswith("linked chain 'banding-S-1': ") and "1 entry is missing" in f.message
               for f in r.failures), r.render()


def test_a_removed_linked_close_fails(linked, tmp_path):
    path, vkey = linked
    r = verify_bundle(tamper(path, tmp_path / "t.zip", lambda f: _drop(f, "banding-S-1", 4)), vkey)
    assert r.codes() == {"chain_not_closed"}
    assert "banding-S-1" in r.failures[0].message


def test_a_removed_linked_opening_fails(linked, tmp_path):
    path, vkey = linked
    r = verify_bundle(tamper(path, tmp_path / "t.zip", lambda f: _drop(f, "banding-S-1", 0)), vkey)
    assert {"linked_chain_missing", "entry_foreign_session"} <= r.codes()


def test_a_whole_linked_chain_removed_against_the_manifest_fails(linked, tmp_path):
    path, vkey = linked

    def fn(files):
        set_lines(files, [x for x in lines(files) if json.loads(x)["chain"] != "frak05-jadwal-1-v1"])

    r = verify_bundle(tamper(path, tmp_path / "t.zip", fn), vkey)
    assert r.codes() == {"linked_chain_missing"}


def test_an_altered_linked_entry_fails(linked, tmp_path):
    path, vkey = linked

    def fn(files):
        ls = lines(files)
        k, e = entries_of(files, "banding-S-1")[1]
        e["actor"] = {"role": "asesi", "id": "c9"}
        ls[k] = canonical_json(e)
        set_lines(files, ls)

    r = verify_bundle(tamper(path, tmp_path / "t.zip", fn), vkey)
    assert {"inclusion_failed", "chain_broken"} <= r.codes()


def test_reordered_linked_entries_fail(linked, tmp_path):
    path, vkey = linked

    def fn(files):
        ls = lines(files)
        (i, _), (j, _) = entries_of(files, "banding-S-1")[1:3]
        ls[i], ls[j] = ls[j], ls[i]
        set_lines(files, ls)

    r = verify_bundle(tamper(path, tmp_path / "t.zip", fn), vkey)
    assert {"entries_out_of_order", "chain_order"} <= r.codes()


def test_an_altered_linked_object_fails(linked, tmp_path):
    path, vkey = linked

    def fn(files):
        _, e = entries_of(files, "frak05-jadwal-1-v1")[1]
        name = "objects/" + e["object"]["key"]
        blob = bytearray(files[name])
        blob[-3] ^= 1
        files[name] = bytes(blob)

    r = verify_bundle(tamper(path, tmp_path / "t.zip", fn), vkey)
    assert r.codes() == {"object_hash_mismatch"}


def _forge(store, path, tmp_path, edit):
    """The operator edits the log (``edit`` on the linked opening), rechains, rebuilds the tree and signs it with
    another key: the verifier's link check is what is left to catch it."""
    all_lines = (store.dir / "log" / "entries.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
    prev = None
    for k, line in enumerate(all_lines):
        e = json.loads(line)
        if e["chain"] == "banding-S-1":
            if e["seq"] == 0:
                edit(e, [json.loads(x) for x in all_lines])
            else:
                e["prev"] = prev
                if e["kind"] == "close":
                    e["last_hash"] = prev
            all_lines[k] = canonical_json(e)
            prev = leaf_hash(all_lines[k]).hex()
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

    forged = tamper(path, tmp_path / "forged.zip", fn)
    return verify_bundle(forged, str(forger.verifier_key))


def test_a_link_to_an_entry_with_another_hash_fails(linked, store, tmp_path):
    path, _ = linked

    def edit(e, _all):
        e["links"][0]["hash"] = "0" * 64

    r = _forge(store, path, tmp_path, edit)
    assert r.codes() == {"link_broken"}
    assert "hash differs" in r.failures[0].message


def test_a_link_to_an_entry_the_session_does_not_hold_fails(linked, store, tmp_path):
    path, _ = linked

    def edit(e, _all):
        e["links"][0]["seq"] += 5

    r = _forge(store, path, tmp_path, edit)
    assert r.codes() == {"link_broken"}


def test_a_link_to_an_older_entry_than_the_head_fails(linked, store, tmp_path):
    path, _ = linked

    def edit(e, all_entries):
        first = next(x for x in all_entries if x["chain"] == "S" and x["seq"] == 1)
        line = canonical_json(first)
        e["links"][0].update(seq=1, log_index=first["log_index"], hash=leaf_hash(line).hex())

    r = _forge(store, path, tmp_path, edit)
    assert r.codes() == {"link_not_head"}


def test_links_are_taken_by_the_store_and_refused_when_wrong(store):
    store.open_session("S")
    with pytest.raises(SessionError):
        store.open_session("L", link_to=["missing"])
    store.open_session("L", link_to=["S"])
    with pytest.raises(SessionError):  # no chain of chains
        store.open_session("M", link_to=["L"])
    with pytest.raises(SessionError):
        store.open_session("N", link_to=["_system"])


def test_a_linked_opening_moved_after_its_entries_fails_cleanly(linked, tmp_path):
    path, vkey = linked

    def fn(files):
        ls = lines(files)
        (i, _), (j, _) = entries_of(files, "banding-S-1")[0:2]
        ls[i], ls[j] = ls[j], ls[i]
        set_lines(files, ls)

    r = verify_bundle(tamper(path, tmp_path / "t.zip", fn), vkey)
    assert {"entries_out_of_order", "chain_order"} <= r.codes() and "bundle_unreadable" not in r.codes()
