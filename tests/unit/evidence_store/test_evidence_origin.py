"""A log is named after the LSP's domain when it begins, and keeps that name: every checkpoint and verifier key
carries it, so renaming a log would orphan the bundles already handed out."""

from __future__ import annotations

import pytest
from evidence_unit_helpers import make_store

from evidence_store.log import DEFAULT_ORIGIN
from evidence_store.verifier import verify_bundle


def _one_session(store, sid="S1"):
    store.open_session(sid)
    store.append(sid, "note", b"isi", actor=("asesor", "a1"))
    store.close_session(sid)


def test_a_new_log_takes_the_name_the_provider_gives_at_its_first_checkpoint(tmp_path):
    domain = {"value": None}
    store = make_store(tmp_path, origin=lambda: domain["value"] and f"{domain['value']}/evidence")
    try:
        assert store.status()["origin"] == DEFAULT_ORIGIN and not store.status()["origin_fixed"]
        domain["value"] = "lsp-tdn.example"  # the admin fills the profile after the process started
        _one_session(store)
        assert store.checkpoint().startswith(b"lsp-tdn.example/evidence\n")
        assert str(store.signer.verifier_key).startswith("lsp-tdn.example/evidence+")
        assert store.status()["origin_fixed"]
        domain["value"] = "other.example"  # a later change does not rename the log
        assert store.signer.name == "lsp-tdn.example/evidence"
        bundle = store.export_bundle("S1", tmp_path / "b.zip")
        assert verify_bundle(bundle, str(store.signer.verifier_key)).ok
    finally:
        store.close()
    reopened = make_store(tmp_path, origin=lambda: "third.example/evidence")
    try:
        assert reopened.signer.name == "lsp-tdn.example/evidence"
        _one_session(reopened, "S2")
        assert reopened.checkpoint().startswith(b"lsp-tdn.example/evidence\n")
    finally:
        reopened.close()


def test_a_configured_name_that_differs_from_the_logs_is_refused(tmp_path):
    store = make_store(tmp_path, log_origin="first.example/evidence")
    _one_session(store)
    store.close()
    with pytest.raises(ValueError, match="a log keeps its name"):
        make_store(tmp_path, log_origin="second.example/evidence")
    again = make_store(tmp_path)  # unset: the log's own name
    assert again.signer.name == "first.example/evidence"
    again.close()


def test_no_checkpoint_is_signed_under_a_guessed_name(tmp_path):
    state = {"up": False}

    def provider():
        if not state["up"]:
            raise ConnectionError("database unreachable")
        return "lsp-tdn.example/evidence"

    store = make_store(tmp_path, origin=provider)
    try:
        store.open_session("S1")
        store.append("S1", "note", b"isi", actor=("asesor", "a1"))  # appended and durable, not yet checkpointed
        store.close_session("S1")
        assert store.log.latest_checkpoint() is None
        state["up"] = True
        assert store.checkpoint().startswith(b"lsp-tdn.example/evidence\n3\n")
    finally:
        store.close()


def test_an_unnamed_log_says_so(tmp_path):
    store = make_store(tmp_path)
    try:
        _one_session(store)
        assert store.checkpoint().startswith(DEFAULT_ORIGIN.encode() + b"\n")
    finally:
        store.close()
