"""A session's bundle (docs/BUNDLE-FORMAT.md): its entries, the entries of every chain linked to it (appeals,
assessment records) and the system entries about them, one inclusion proof per entry against one signed checkpoint,
the ciphertexts byte for byte, optionally the data keys wrapped to an auditor's X25519 key, and a manifest of SHA-256
sums. Written to a temporary name and renamed, so it appears whole or not."""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from .crypto import load_x25519_public, wrap_for_auditor
from .errors import KeyUnavailable, SessionError
from .verifier import AUDITOR_WRAP_ALG, BUNDLE_FORMAT, format_tlog_proof

if TYPE_CHECKING:
    from .store import EvidenceStore


def export_bundle(store: EvidenceStore, session_id: str, out_path: str | Path,
                  auditor_public_key: X25519PublicKey | bytes | None = None) -> Path:
    if isinstance(auditor_public_key, bytes):
        auditor_public_key = load_x25519_public(auditor_public_key)
    out_path = Path(out_path)
    with store.log.locked() as st:
        if session_id not in st.heads:
            raise SessionError(f"unknown session {session_id}")
        cp = store.log.checkpoint()
        size = int(cp.split(b"\n")[1])
        # every chain linked to the session (docs/BUNDLE-FORMAT.md §4.6) that was closed at this checkpoint, whole;
        # one still open (an appeal under review) is named in the manifest and comes in a later bundle
        linked, linked_open = [], []
        for chain in st.linked.get(session_id, []):
            whole = st.heads[chain].closed and st.chains[chain][-1] < size
            (linked if whole else linked_open).append(chain)
        chains = [session_id, *linked]
        indices = sorted(i for c in chains for i in st.chains[c] + st.related.get(c, []) if i < size)
        lines = store.log.read_lines(indices)
        proofs = {i: st.tree.inclusion_proof(i, size) for i in indices}
    signer = store.signer  # the name the checkpoint above carries
    entries = [json.loads(line) for line in lines]
    files: dict[str, str] = {}
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        def add(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            files[name] = hashlib.sha256(data).hexdigest()

        add("entries.jsonl", b"".join(line + b"\n" for line in lines))
        add("checkpoint", cp)
        add("verifier-key.txt", (str(signer.verifier_key) + "\n").encode())
        for i in indices:
            add(f"proofs/{i}.tlog-proof", format_tlog_proof(i, proofs[i], cp))
        wrapped: dict[str, Any] = {}
        for e in entries:
            if e["kind"] != "item" or e["chain"] not in chains:
                continue
            key = e["object"]["key"]
            h = hashlib.sha256()
            info = zipfile.ZipInfo("objects/" + key, date_time=time.gmtime()[:6])
            with store.open_object(key) as src, zf.open(info, "w", force_zip64=True) as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
            files["objects/" + key] = h.hexdigest()
            if auditor_public_key is not None:
                try:
                    dk, salt = store.keys.get(e["enc"]["key_id"])
                except KeyUnavailable:
                    continue
                wrapped[e["enc"]["key_id"]] = wrap_for_auditor(auditor_public_key, e["enc"]["key_id"], dk, salt)
        if auditor_public_key is not None:
            add("keys.json", json.dumps(wrapped, sort_keys=True, indent=1).encode())
        manifest = {"format": BUNDLE_FORMAT, "session_id": session_id, "origin": signer.name,
                    "checkpoint_size": size, "verifier_key": str(signer.verifier_key),
                    "entries": len(lines), "linked_chains": linked, "linked_open": linked_open,
                    "auditor_wrap": AUDITOR_WRAP_ALG if auditor_public_key else None,
                    "files": dict(sorted(files.items()))}
        zf.writestr("manifest.json", json.dumps(manifest, sort_keys=True, indent=1).encode())
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out_path)
    return out_path
