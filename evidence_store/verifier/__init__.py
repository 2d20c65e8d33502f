"""The offline verifier for evidence bundles (docs/BUNDLE-FORMAT.md).

Its modules import only the Python standard library, ``cryptography`` and each other (``from .x import name``), so
that :mod:`evidence_store.standalone` can bundle them, in the order of :data:`MODULES`, into the one file an auditor
downloads and runs without our server, our settings or the rest of the project::

    python rtuk_verify.py verify BUNDLE.zip --pubkey 'origin+1a2b3c4d+AXsD...' [--decrypt-with auditor.key]

This package is the only source of that file. The numbered steps (STEP 1 ... STEP 10, in :mod:`.bundle`) are the ones
in docs/BUNDLE-FORMAT.md section "Verification"; every failure is reported with a stable code and a precise reason.
"""

from __future__ import annotations

from .auditor import AUDITOR_WRAP_ALG, AUDITOR_WRAP_INFO, auditor_kek, load_x25519_private, unwrap_for_auditor
from .bundle import BUNDLE_FORMAT, ENTRY_KINDS, MAX_BUNDLE_FILES, MAX_TEXT_FILE, verify_bundle
from .cli import main
from .encoding import b64decode_strict, canonical_json, is_text, no_duplicate_keys, parse_canonical
from .errors import DecryptionError, VerificationError
from .extract import PlaintextSink, item_stem
from .filetypes import extension_for
from .logs import (
    CONSISTENCY_HEADER,
    format_consistency_proof,
    verify_checkpoint_consistency,
    verify_log,
    verify_log_file,
)
from .notes import Checkpoint, VerifierKey, note_key_hash, parse_checkpoint_body, split_note, verify_checkpoint
from .objects import (
    COMMITMENT_PREFIX,
    KEY_COMMITMENT_PREFIX,
    MAX_HEADER,
    NONCE_PREFIX_SIZE,
    OBJECT_MAGIC,
    STREAM_ALG,
    TAG_SIZE,
    ObjectHeader,
    chunk_nonce,
    commitment_matches,
    decrypt_stream,
    key_commitment,
    read_object_header,
    salted_commitment,
)
from .proofs import (
    EMPTY_ROOT,
    TLOG_PROOF_HEADER,
    InclusionCache,
    TlogProof,
    format_tlog_proof,
    leaf_hash,
    node_hash,
    parse_tlog_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from .report import Report

#: the modules of the standalone file, each after those it imports from
MODULES = ("errors", "encoding", "proofs", "notes", "objects", "auditor", "report", "filetypes", "extract", "bundle",
           "logs", "cli")

__all__ = [
    "AUDITOR_WRAP_ALG", "AUDITOR_WRAP_INFO", "BUNDLE_FORMAT", "COMMITMENT_PREFIX", "CONSISTENCY_HEADER", "EMPTY_ROOT",
    "ENTRY_KINDS", "KEY_COMMITMENT_PREFIX", "MAX_BUNDLE_FILES", "MAX_HEADER", "MAX_TEXT_FILE", "MODULES",
    "NONCE_PREFIX_SIZE", "OBJECT_MAGIC", "STREAM_ALG", "TAG_SIZE", "TLOG_PROOF_HEADER", "Checkpoint",
    "DecryptionError", "InclusionCache", "ObjectHeader", "PlaintextSink", "Report", "TlogProof", "VerificationError",
    "VerifierKey", "auditor_kek", "b64decode_strict", "canonical_json", "chunk_nonce", "commitment_matches",
    "decrypt_stream", "extension_for", "format_consistency_proof", "format_tlog_proof", "is_text", "item_stem",
    "key_commitment", "leaf_hash", "load_x25519_private", "main", "no_duplicate_keys", "node_hash", "note_key_hash",
    "parse_canonical", "parse_checkpoint_body", "parse_tlog_proof", "read_object_header", "root_from_leaf_hashes",
    "salted_commitment", "split_note", "unwrap_for_auditor", "verify_bundle", "verify_checkpoint",
    "verify_checkpoint_consistency", "verify_consistency", "verify_inclusion", "verify_log", "verify_log_file",
]
