"""Bundle verification, STEP 1 to STEP 10 of docs/BUNDLE-FORMAT.md section "Verification". Every failure is
reported with a stable code and a precise reason; the bundle verifies only if there is none."""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .auditor import load_x25519_private, unwrap_for_auditor
from .encoding import no_duplicate_keys, parse_canonical
from .errors import VerificationError
from .extract import PlaintextSink, index_record, item_stem, write_index
from .notes import VerifierKey, verify_checkpoint
from .objects import commitment_matches, decrypt_stream
from .proofs import InclusionCache, leaf_hash, parse_tlog_proof
from .report import Report

BUNDLE_FORMAT = "rtuk-evidence-bundle/2"
#: /1 bundles (before linked chains) hold no linked chain and verify by the same steps
ACCEPTED_FORMATS = ("rtuk-evidence-bundle/1", BUNDLE_FORMAT)
MAX_LINKS = 500
MAX_BUNDLE_FILES = 2_000_000
MAX_TEXT_FILE = 512 * 1024 * 1024
ENTRY_KINDS = {"open", "item", "close", "read", "key_shred", "object_stored", "quarantine", "kek_rotate"}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _entry_problem(e: dict[str, Any]) -> str | None:
    """Return why an entry is structurally invalid, or None."""
    required = {"v": int, "log_index": int, "chain": str, "seq": int, "kind": str, "server_time": str}
    for name, typ in required.items():
        if not isinstance(e.get(name), typ) or isinstance(e.get(name), bool):
            return f"field {name!r} is missing or not {typ.__name__}"
    if e["v"] != 1:
        return f"unknown entry version {e['v']}"
    if e["kind"] not in ENTRY_KINDS:
        return f"unknown kind {e['kind']!r}"
    prev = e.get("prev")
    if not (prev is None or (isinstance(prev, str) and _HEX64.match(prev))):
        return "field 'prev' is not null or 64 hex digits"
    if "links" in e:
        links = e["links"]
        if e["kind"] != "open" or not isinstance(links, list) or not 0 < len(links) <= MAX_LINKS:
            return f"'links' must be a list of 1 to {MAX_LINKS} links on an opening entry"
        for link in links:
            if not isinstance(link, dict) or not isinstance(link.get("chain"), str) \
                    or not isinstance(link.get("hash"), str) or not _HEX64.match(link["hash"]) \
                    or any(not isinstance(link.get(k), int) or isinstance(link.get(k), bool)
                           for k in ("seq", "log_index")):
                return "a link is not {chain, seq, log_index, hash}"
    if e["kind"] == "item":
        obj = e.get("object")
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not isinstance(obj.get("size"), int) \
                or not isinstance(obj.get("sha256"), str) or not _HEX64.match(obj["sha256"]):
            return "item entry has no valid 'object' (key, size, sha256)"
        enc = e.get("enc")
        if not isinstance(enc, dict) or not isinstance(enc.get("key_id"), str):
            return "item entry has no valid 'enc' (key_id)"
    return None


def _iter_lines(data: bytes) -> Iterator[bytes]:
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start:end]
        start = end + 1


def verify_bundle(path: str | Path | BinaryIO, verifier_key: str | VerifierKey,
                  decrypt_with: X25519PrivateKey | bytes | None = None, plaintext_dir: Path | None = None) -> Report:
    """Verify a bundle; never raises for bad input, returns a Report whose ``failures`` say exactly what is wrong."""
    report = Report()
    try:
        _verify_bundle(path, verifier_key, decrypt_with, plaintext_dir, report)
    except VerificationError as exc:
        report.failures.append(exc)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError, KeyError, TypeError, AttributeError, struct.error, UnicodeDecodeError, RecursionError,
            zlib.error, lzma.LZMAError) as exc:
        # a damaged zip container can fail in many ways inside zipfile; each becomes one clean failure
        report.fail("bundle_unreadable", f"{type(exc).__name__}: {exc}")
    return report


def _verify_bundle(path: str | Path | BinaryIO, verifier_key: str | VerifierKey,
                   decrypt_with: X25519PrivateKey | bytes | None, plaintext_dir: Path | None, report: Report) -> None:
    key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
    if isinstance(decrypt_with, bytes):
        decrypt_with = load_x25519_private(decrypt_with)

    # STEP 1: open the zip; refuse unsafe or duplicate member names, compression other than stored or deflated,
    # and directory members that are not empty.
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_BUNDLE_FILES:
            raise VerificationError("bundle_malformed", "bundle has too many files")
        names: set[str] = set()
        for info in infos:
            # the name as stored: zipfile cuts ``filename`` at a NUL byte
            stored_name = info.orig_filename
            is_dir = stored_name.endswith("/")
            plain = stored_name[:-1] if is_dir else stored_name
            if not _SAFE_NAME.match(plain) or ".." in plain.split("/"):
                raise VerificationError("bundle_malformed", f"unsafe file name in bundle: {stored_name!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise VerificationError("bundle_malformed", f"{stored_name}: compression method "
                                        f"{info.compress_type} (only stored or deflated members are allowed)")
            if is_dir:
                if info.file_size:
                    raise VerificationError("bundle_malformed", f"directory member {stored_name!r} holds data")
                continue
            if info.filename in names:
                raise VerificationError("bundle_malformed", f"duplicate file in bundle: {info.filename}")
            names.add(info.filename)
        report.steps.append("STEP 1 bundle opened")

        def read(name: str, limit: int = MAX_TEXT_FILE) -> bytes:
            info = zf.getinfo(name)
            if info.file_size > limit:
                raise VerificationError("bundle_malformed", f"{name} is larger than {limit} bytes")
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
            if len(data) > limit:
                raise VerificationError("bundle_malformed", f"{name} is larger than {limit} bytes")
            return data

        # STEP 2: manifest: format, and the SHA-256 of every file; no file missing, none unlisted.
        if "manifest.json" not in names:
            raise VerificationError("manifest_missing", "bundle has no manifest.json")
        try:
            manifest = json.loads(read("manifest.json", 64 << 20), object_pairs_hook=no_duplicate_keys)
        except ValueError as exc:
            raise VerificationError("manifest_malformed", f"manifest.json: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") not in ACCEPTED_FORMATS:
            raise VerificationError("manifest_malformed", f"manifest format is not {' or '.join(ACCEPTED_FORMATS)}")
        files = manifest.get("files")
        session_id = manifest.get("session_id")
        if not isinstance(files, dict) or not isinstance(session_id, str):
            raise VerificationError("manifest_malformed", "manifest has no 'files' object or 'session_id'")
        report.session_id = session_id
        for name, digest in sorted(files.items()):
            if name not in names:
                report.fail("file_missing", f"{name} is listed in the manifest but missing from the bundle")
                continue
            h = hashlib.sha256()
            with zf.open(name) as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            if h.hexdigest() != digest:
                report.fail("file_hash_mismatch", f"{name}: SHA-256 differs from the manifest")
        for name in sorted(names - set(files) - {"manifest.json"}):
            report.fail("file_unlisted", f"{name} is in the bundle but not in the manifest")
        report.steps.append("STEP 2 manifest file hashes checked")

        # STEP 3: the checkpoint must carry a valid Ed25519 signature by the key the auditor trusts.
        bundle_key = read("verifier-key.txt", 4096).decode("utf-8", "replace").strip() \
            if "verifier-key.txt" in names else ""
        if bundle_key and bundle_key != str(key):
            report.notes.append(f"the bundle names verifier key {bundle_key}, you trust {key}; only yours counts")
        if "checkpoint" not in names:
            raise VerificationError("checkpoint_missing", "bundle has no checkpoint")
        cp = verify_checkpoint(read("checkpoint", 1 << 20), key)
        report.checkpoint_size = cp.size
        report.steps.append(f"STEP 3 checkpoint signature valid: {cp.origin} size {cp.size}")

        # STEP 4: parse entries.jsonl: canonical JSON, one entry per line; leaf = SHA-256(0x00 || line).
        if "entries.jsonl" not in names:
            raise VerificationError("entries_missing", "bundle has no entries.jsonl")
        raw = read("entries.jsonl")
        if raw and not raw.endswith(b"\n"):
            report.fail("entries_truncated", "entries.jsonl does not end with a newline (cut mid-line)")
        entries: list[tuple[dict[str, Any], bytes, int]] = []
        for lineno, line in enumerate(_iter_lines(raw), 1):
            try:
                e = parse_canonical(line)
            except (ValueError, UnicodeDecodeError) as exc:
                report.fail("entry_malformed", f"entries.jsonl line {lineno}: {exc}")
                continue
            problem = _entry_problem(e)
            if problem:
                report.fail("entry_malformed", f"entries.jsonl line {lineno}: {problem}")
                continue
            entries.append((e, leaf_hash(line), lineno))
        report.entries = len(entries)
        report.steps.append(f"STEP 4 {len(entries)} entries parsed")

        # STEP 5: every entry is in the signed tree: its tlog-proof leads from its leaf hash to the checkpoint root.
        cache = InclusionCache(cp.size, cp.root)
        for e, leaf, lineno in entries:
            idx = e["log_index"]
            pname = f"proofs/{idx}.tlog-proof"
            if pname not in names:
                report.fail("proof_missing", f"entry log index {idx} (line {lineno}) has no {pname}")
                continue
            try:
                proof = parse_tlog_proof(read(pname, 1 << 20))
            except VerificationError as exc:
                report.fail(exc.code, f"{pname}: {exc.message}")
                continue
            if proof.index != idx:
                report.fail("proof_index_mismatch", f"{pname} proves index {proof.index}, the entry says {idx}")
                continue
            if proof.checkpoint != cp.text:
                report.fail("proof_checkpoint_mismatch", f"{pname} is against a different checkpoint than the bundle's")
                continue
            if idx >= cp.size:
                report.fail("entry_after_checkpoint", f"entry log index {idx} is not covered by the checkpoint "
                            f"(size {cp.size})")
                continue
            if not cache.verify(leaf, idx, proof.path):
                report.fail("inclusion_failed", f"entry log index {idx} (line {lineno}): inclusion proof does not "
                            "lead to the signed root (entry altered, or not the entry the log holds at that index)")
        report.steps.append("STEP 5 inclusion proofs checked against the signed root")

        # STEP 6: entries appear in strictly increasing log order.
        last_idx = -1
        for e, _, lineno in entries:
            if e["log_index"] <= last_idx:
                report.fail("entries_out_of_order", f"entries.jsonl line {lineno}: log index {e['log_index']} does "
                            f"not follow {last_idx} (entries reordered or duplicated)")
            last_idx = max(last_idx, e["log_index"])
        report.steps.append("STEP 6 log order checked")

        # STEP 7: the session's hash chain: open at seq 0, consecutive seq, prev = previous entry's leaf hash,
        #         close last, stating the count and the last hash.
        chain = [(e, leaf, ln) for e, leaf, ln in entries if e["chain"] == session_id]
        _check_chain(chain, session_id, report)
        report.steps.append(f"STEP 7 hash chain of session {session_id} checked ({len(chain)} entries)")

        # STEP 7a: linked chains: a chain whose opening entry (seq 0) links to the session is checked as a chain of
        #          its own (as STEP 7), and its link must name an entry of the session's chain by seq, log index and
        #          hash, the chain's head when the linked chain was opened.
        linked: dict[str, list[tuple[dict[str, Any], bytes, int]]] = {}
        openings: dict[str, dict[str, Any]] = {}
        for e, _, _ in entries:
            if e["chain"] != session_id and e["seq"] == 0 and e["kind"] == "open" \
                    and any(link["chain"] == session_id for link in e.get("links", [])):
                linked.setdefault(e["chain"], [])
                openings.setdefault(e["chain"], e)
        for e, leaf, ln in entries:
            if e["chain"] in linked:
                linked[e["chain"]].append((e, leaf, ln))
        by_seq = {e["seq"]: e for e, _, _ in chain}
        leaf_of = {e["log_index"]: leaf for e, leaf, _ in chain}
        for name, members in linked.items():
            _check_chain(members, name, report, what=f"linked chain {name!r}: ")
            opening = openings[name]
            for link in opening["links"]:
                if link["chain"] != session_id:
                    report.notes.append(f"linked chain {name!r} also links to {link['chain']!r} (seq {link['seq']}),"
                                        " which this bundle does not hold")
                    continue
                _check_link(name, opening, link, by_seq, leaf_of, report)
            metadata = opening.get("metadata") if isinstance(opening.get("metadata"), dict) else {}
            what = " ".join(str(metadata[k]) for k in ("form", "kind") if isinstance(metadata.get(k), str))
            report.linked.append(f"{name} ({what or 'linked'}): {len(members)} entries, "
                                 f"{sum(1 for e, _, _ in members if e['kind'] == 'item')} items")
        listed = manifest.get("linked_chains", [])
        if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
            report.fail("manifest_malformed", "manifest 'linked_chains' is not a list of chain names")
            listed = []
        for name in listed:
            if name not in linked:
                report.fail("linked_chain_missing", f"the manifest names linked chain {name!r}, but the bundle holds "
                            "no opening entry of it linking to the session (its entries were removed)")
        for name in sorted(set(linked) - set(listed)):
            report.fail("linked_chain_unlisted", f"linked chain {name!r} is in entries.jsonl but not in the "
                        "manifest's 'linked_chains'")
        # every entry concerns the session or one of its linked chains
        ours = {session_id, *linked}
        for e, _, lineno in entries:
            if e["chain"] not in ours and e.get("session_id") not in ours:
                report.fail("entry_foreign_session", f"entries.jsonl line {lineno}: entry belongs to session "
                            f"{e.get('session_id')!r} (chain {e['chain']!r}), the bundle is for {session_id!r} "
                            "and the chains linked to it")
            if e["chain"] in ours and e.get("session_id") != e["chain"]:
                report.fail("entry_foreign_session", f"entries.jsonl line {lineno}: entry in chain {e['chain']!r} "
                            f"names session {e.get('session_id')!r}")
        report.steps.append(f"STEP 7a {len(linked)} linked chain(s) checked, each linked into the session's chain")

        # STEP 8: ciphertexts: present, size and SHA-256 as logged (no keys needed).
        items = [e for e, _, _ in chain if e["kind"] == "item"]
        items += sorted((e for members in linked.values() for e, _, _ in members if e["kind"] == "item"),
                        key=lambda e: e["log_index"])
        report.items = len(items)
        for e in items:
            obj = e["object"]
            oname = "objects/" + obj["key"]
            if oname not in names:
                report.fail("object_missing", f"object {obj['key']} (log index {e['log_index']}) is not in the bundle")
                continue
            h = hashlib.sha256()
            size = 0
            with zf.open(oname) as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
                    size += len(block)
            if size != obj["size"]:
                report.fail("object_size_mismatch", f"object {obj['key']} is {size} bytes, the log says {obj['size']}")
            elif h.hexdigest() != obj["sha256"]:
                report.fail("object_hash_mismatch", f"object {obj['key']} (log index {e['log_index']}): ciphertext "
                            "SHA-256 differs from the logged hash (object altered)")
            else:
                report.objects_checked += 1
        report.steps.append(f"STEP 8 {report.objects_checked}/{len(items)} ciphertexts match the log")

        # STEP 9: shredded keys are stated by key_shred entries that are themselves in the log.
        shredded = set()
        for e, _, _ in entries:
            if e["kind"] == "key_shred":
                shredded.update(k for k in e.get("key_ids", []) if isinstance(k, str))
        report.shredded = [e["enc"]["key_id"] for e in items if e["enc"]["key_id"] in shredded]
        report.steps.append(f"STEP 9 {len(report.shredded)} item(s) crypto-shredded by logged key_shred entries")

        # STEP 10 (with --decrypt-with): unwrap data keys, decrypt, check headers and plaintext commitments.
        if decrypt_with is None:
            report.steps.append("STEP 10 skipped: no auditor key given, contents not decrypted")
            return
        keys: dict[str, Any] = {}
        if "keys.json" in names:
            try:
                keys = json.loads(read("keys.json", 256 << 20), object_pairs_hook=no_duplicate_keys)
            except ValueError as exc:
                raise VerificationError("keys_malformed", f"keys.json: {exc}") from None
        if not isinstance(keys, dict):
            raise VerificationError("keys_malformed", "keys.json is not an object")
        extracted: dict[Path, list[dict[str, Any]]] = {}
        for e in items:
            kid = e["enc"]["key_id"]
            obj = e["object"]
            if kid in shredded:
                continue
            if kid not in keys:
                report.fail("key_missing", f"no wrapped data key {kid} for object {obj['key']}")
                continue
            oname = "objects/" + obj["key"]
            if oname not in names:
                continue
            try:
                dk, salt = unwrap_for_auditor(keys[kid], kid, decrypt_with)
            except VerificationError as exc:
                report.fail(exc.code, f"object {obj['key']}: {exc.message}")
                continue
            # the object key is a safe relative path (its member name passed STEP 1): sessions/<session>/<id>.rte
            sink = PlaintextSink(salt, plaintext_dir / Path(obj["key"]).parent if plaintext_dir else None,
                                 item_stem(e))
            try:
                with zf.open(oname) as fh:
                    decrypt_stream(fh, dk, sink, expect={"object_id": obj.get("id", ""), "session_id": e["chain"],
                                                         "type": e.get("type", ""), "key_id": kid})
            except VerificationError as exc:
                sink.discard()
                report.fail(exc.code, f"object {obj['key']}: {exc.message}")
                continue
            if not commitment_matches(e.get("commitment"), salt, dk, sink.commitment()):
                sink.discard()
                report.fail("commitment_mismatch", f"object {obj['key']}: the plaintext (or data key) does not match "
                            "the logged salted commitment")
                continue
            path = sink.finish()
            if path is not None:
                extracted.setdefault(path.parent, []).append(index_record(e, path, sink))
            report.decrypted += 1
        for directory, records in extracted.items():
            write_index(directory, records)
            report.notes.append(f"{len(records)} decrypted item(s) written to {directory} (index.json there says "
                                "which entry each file is)")
        report.steps.append(f"STEP 10 {report.decrypted} objects decrypted and matched their commitments; "
                            f"{len(report.shredded)} crypto-shredded")


def _check_link(name: str, opening: dict[str, Any], link: dict[str, Any], by_seq: dict[int, dict[str, Any]],
                leaf_of: dict[int, bytes], report: Report) -> None:
    """A linked chain's link names the session chain's head when it was opened: that entry is in the session's chain
    with the same log index and entry hash, before the opening, and the session's next entry (if any) after it."""
    target = by_seq.get(link["seq"])
    where = f"linked chain {name!r} links to seq {link['seq']} (log index {link['log_index']})"
    if target is None or target["log_index"] != link["log_index"]:
        report.fail("link_broken", f"{where}, which the session's chain does not hold")
    elif leaf_of[target["log_index"]].hex() != link["hash"]:
        report.fail("link_broken", f"{where}, but that entry's hash differs from the link's (the entry or the link "
                    "was altered)")
    elif target["log_index"] >= opening["log_index"]:
        report.fail("link_broken", f"{where}, which comes after the linked chain's opening")
    else:
        following = by_seq.get(link["seq"] + 1)
        if following is not None and following["log_index"] < opening["log_index"]:
            report.fail("link_not_head", f"{where}, but seq {link['seq'] + 1} was logged before the linked chain "
                        "was opened: the link does not name the session's head at that time")


def _check_chain(chain: list[tuple[dict[str, Any], bytes, int]], session_id: str, report: Report,
                 what: str = "") -> None:
    """One hash chain (STEP 7); ``what`` starts each failure's message (which chain, when it is not the session's)."""
    if not chain:
        report.fail("chain_empty", f"the bundle holds no entry of session {session_id!r}")
        return

    def fail(code: str, message: str) -> None:
        report.fail(code, what + message)

    prev_leaf: bytes | None = None
    expected_seq = 0
    closed = False
    for e, leaf, lineno in chain:
        if closed:
            fail("chain_after_close", f"entries.jsonl line {lineno}: seq {e['seq']} follows the close entry")
        if e["seq"] != expected_seq:
            if e["seq"] > expected_seq:
                fail("chain_gap", f"entries.jsonl line {lineno}: seq {e['seq']} follows seq {expected_seq - 1}; "
                     f"{e['seq'] - expected_seq} entr{'y is' if e['seq'] - expected_seq == 1 else 'ies are'} "
                     "missing (deleted)")
            else:
                fail("chain_order", f"entries.jsonl line {lineno}: seq {e['seq']} after seq "
                     f"{expected_seq - 1} (entries reordered or duplicated)")
        expected_seq = e["seq"] + 1
        if e["seq"] == 0:
            if e["kind"] != "open" or e.get("prev") is not None:
                fail("chain_no_open", f"entries.jsonl line {lineno}: seq 0 is not an opening entry")
        elif prev_leaf is not None and e.get("prev") != prev_leaf.hex():
            fail("chain_broken", f"entries.jsonl line {lineno}: prev hash of seq {e['seq']} is not the hash "
                 "of the entry before it (an entry was altered, replaced or removed)")
        if e["kind"] == "close":
            closed = True
            if e.get("count") != e["seq"]:
                fail("close_count_mismatch", f"close entry states {e.get('count')} entries, the chain has "
                     f"{e['seq']} before it")
            if e.get("last_hash") != e.get("prev"):
                fail("close_hash_mismatch", "close entry's last_hash is not the hash of the entry before it")
        prev_leaf = leaf
    if chain[0][0]["seq"] != 0:
        fail("chain_no_open", f"the chain starts at seq {chain[0][0]['seq']}, the opening entry is missing")
    if not closed:
        fail("chain_not_closed", f"the chain ends at seq {expected_seq - 1} without a close entry "
             "(truncated tail, or the session is still open)")

