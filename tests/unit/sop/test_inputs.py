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
