"""Typed inputs: the evidence facts accept the evidence library's plain dict; JSON round trip; the diagram source."""

from __future__ import annotations

from config.settings import EvidenceSettings
from sop.diagram import architecture_dot
from sop.inputs import DossierInputs, EvidenceFacts


def test_evidence_facts_accept_a_plain_dict_of_algorithm_names():
    facts = EvidenceFacts.model_validate(
        {
            "hash": "SHA-256",
            "aead": "AES-256-GCM",
            "key_wrap": "AES-256-KW",
            "signature": "Ed25519",
            "chunk_size": 65536,
            "object_lock_mode": "compliance",
            "tree_hash": "RFC 9162",
        }
    )
    assert facts.hash_algorithm == "SHA-256"
    assert facts.encryption_algorithm == "AES-256-GCM"
    assert facts.encryption_key_bits == 256  # read from the algorithm's name
    assert facts.key_wrap_algorithm == "AES-256-KW"
    assert facts.signature_algorithm == "Ed25519"
    assert facts.object_lock_mode == "COMPLIANCE"
    assert facts.other_parameters() == {"tree_hash": "RFC 9162"}


def test_evidence_facts_from_settings_take_the_enforced_values():
    settings = EvidenceSettings(
        backend="s3", retention_days=3650, checkpoint_every_entries=128, checkpoint_every_seconds=30,
        chunk_size=1024 * 1024, object_lock_mode="GOVERNANCE", s3_bucket="bukti",
    )  # fmt: skip
    facts = EvidenceFacts.from_settings(settings, hash="SHA-256", aead="AES-128-GCM")
    assert (facts.retention_days, facts.checkpoint_every_entries, facts.checkpoint_every_seconds) == (3650, 128, 30)
    assert (facts.chunk_size, facts.object_lock_mode, facts.bucket) == (1024 * 1024, "GOVERNANCE", "bukti")
    assert facts.encryption_key_bits == 128
    fs = EvidenceFacts.from_settings(EvidenceSettings(backend="filesystem"))
    assert fs.object_lock_mode == "NONE" and fs.backend == "filesystem"


def test_inputs_round_trip_through_json(inputs):
    again = DossierInputs.model_validate_json(inputs.model_dump_json())
    assert again == inputs


def test_diagram_is_drawn_from_the_configuration(inputs):
    dot = architecture_dot(inputs)
    assert "turn:turn.lsp-tdn.example:3478" in dot
    assert "object lock COMPLIANCE, retensi 1825 hari" in dot
    assert '"rekaman"' in dot  # recording is a capability of this system

    inputs.deployment.ice_servers = []
    inputs.capabilities.session_recording = False
    inputs.evidence.backend = "filesystem"
    inputs.evidence.storage_location = "Disk server aplikasi, Bandung"
    dot = architecture_dot(inputs)
    assert "STUN/TURN" not in dot
    assert "object lock" not in dot
    assert "Penyimpanan berkas" in dot
    assert '"rekaman"' not in dot


def test_deployment_from_settings_never_copies_credentials():
    from config.settings import Settings
    from sop.inputs import Deployment

    settings = Settings(
        database_url="postgresql+psycopg://app:geheim@db.lsp:5432/rtuk",
        behind_tls=True,
        socketio_message_queue="redis://:geheim@redis.lsp:6379/0",
        rtc={"ice_servers": [{"urls": ["turn:turn.lsp:3478"], "username": "u", "credential": "geheim"}]},
    )
    dep = Deployment.from_settings(settings, server_location="Jakarta", app_nodes=2)
    assert (dep.database, dep.tls, dep.ice_servers) == ("PostgreSQL", True, ["turn:turn.lsp:3478"])
    assert dep.message_queue == "redis://redis.lsp:6379"
    assert dep.server_location == "Jakarta" and dep.app_nodes == 2
    assert "geheim" not in dep.model_dump_json()


def test_evidence_facts_accept_the_evidence_librarys_nested_describe_parameters():
    described = {  # the shape of evidence_store's Store.describe_parameters() with the filesystem backend
        "backend": "filesystem",
        "backend_details": {"backend": "filesystem", "root": "/srv/var/evidence", "write_once": True,
                            "object_lock": None},
        "object_lock_mode": None,
        "retention_days": None,
        "legal_hold": None,
        "encryption": {"algorithm": "AES-256-GCM-STREAM-v1", "cipher": "AES-256-GCM", "data_key_bits": 256,
                       "chunk_size_bytes": 131072, "key_wrap": "AES-256-GCM-KEYWRAP-v1", "kek_id": "kek-7",
                       "kek_bits": 256, "kek_source": "generated under the data dir", "future_field": "x"},
        "log": {"hashing": "RFC 9162 (SHA-256, leaf 0x00, node 0x01)", "signature": "Ed25519", "origin": "o/e",
                "checkpoint_every_entries": 512, "checkpoint_every_seconds": 30, "checkpoint_on_session_close": True},
        "verifier_key": "o/e+1234+AAAA",
        "bundle_format": "rtuk-evidence-bundle/1",
    }  # fmt: skip
    facts = EvidenceFacts.from_settings(EvidenceSettings(backend="filesystem", retention_days=2000), **described)
    assert facts.hash_algorithm == "SHA-256"  # from the log's hashing
    assert (facts.encryption_algorithm, facts.encryption_key_bits, facts.chunk_size) == ("AES-256-GCM", 256, 131072)
    assert (facts.key_wrap_algorithm, facts.kek_id, facts.signature_algorithm) == (
        "AES-256-GCM-KEYWRAP-v1",
        "kek-7",
        "Ed25519",
    )
    assert (facts.checkpoint_every_entries, facts.checkpoint_every_seconds) == (512, 30)
    assert facts.checkpoint_on_session_close is True
    assert facts.retention_days == 2000  # the library reported none: the setting stands
    assert facts.object_lock_mode == "NONE"
    assert facts.log_origin == "o/e"
    assert "/srv/var/evidence" not in facts.model_dump_json()  # server paths are not dossier facts
    assert facts.other_parameters() == {"encryption.future_field": "x"}
