"""The whole log (an export of ``entries.jsonl`` with a checkpoint): every chain and one root over every leaf; and
consistency proofs between two checkpoints (the log only grew)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

from .encoding import b64decode_strict
from .errors import VerificationError
from .notes import VerifierKey, verify_checkpoint
from .proofs import root_from_leaf_hashes, verify_consistency
from .report import Report

CONSISTENCY_HEADER = "rtuk-evidence/consistency-proof@v1"


def verify_log(entries: BinaryIO, checkpoint: bytes, verifier_key: str | VerifierKey) -> Report:
    """Verify a complete log: every line's leaf under the signed root (the root recomputed over all leaves proves
    inclusion of every entry at once), log indices 0..n-1, and every chain's seq/prev links."""
    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        cp = verify_checkpoint(checkpoint, key)
        report.checkpoint_size = cp.size
        heads: dict[str, tuple[int, str]] = {}
        hashes: list[bytes] = []
        sha = hashlib.sha256
        loads = json.loads
        for lineno, raw_line in enumerate(entries, 1):
            if len(hashes) == cp.size:
                break
            line = raw_line.rstrip(b"\n")
            e = loads(line)
            leaf = sha(b"\x00" + line).digest()
            if e["log_index"] != lineno - 1:
                report.fail("entries_out_of_order", f"line {lineno} has log index {e['log_index']}")
            chain = e["chain"]
            head = heads.get(chain)
            if head is None:
                if e["seq"] != 0 or e["prev"] is not None:
                    report.fail("chain_no_open", f"line {lineno}: chain {chain!r} starts at seq {e['seq']}")
            elif e["seq"] != head[0] + 1 or e["prev"] != head[1]:
                report.fail("chain_broken", f"line {lineno}: chain {chain!r} seq {e['seq']} does not link to "
                            f"seq {head[0]}")
            heads[chain] = (e["seq"], leaf.hex())
            hashes.append(leaf)
        if len(hashes) < cp.size:
            report.fail("entries_truncated", f"log has {len(hashes)} entries, the checkpoint covers {cp.size}")
        elif root_from_leaf_hashes(hashes) != cp.root:
            report.fail("root_mismatch", "the Merkle root over the entries is not the signed root")
        report.entries = len(hashes)
    except VerificationError as exc:
        report.failures.append(exc)
    except (ValueError, KeyError, TypeError) as exc:
        report.fail("entry_malformed", f"{type(exc).__name__}: {exc}")
    return report


def format_consistency_proof(old_size: int, new_size: int, proof: list[bytes]) -> bytes:
    lines = [CONSISTENCY_HEADER, f"old {old_size}", f"new {new_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n").encode()


def verify_checkpoint_consistency(old_note: bytes, new_note: bytes, proof_text: bytes,
                                  verifier_key: str | VerifierKey) -> Report:
    """Two signed checkpoints of the same log and an RFC 9162 consistency proof between them: the newer tree
    contains the older one unchanged (the log was only appended to)."""
    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        old = verify_checkpoint(old_note, key)
        new = verify_checkpoint(new_note, key)
        report.steps.append(f"STEP 1 both checkpoints signed by {key.name}: sizes {old.size} and {new.size}")
        try:
            lines = proof_text.decode("ascii").rstrip("\n").split("\n")
            if lines[0] != CONSISTENCY_HEADER or not lines[1].startswith("old ") or not lines[2].startswith("new "):
                raise ValueError("bad header")
            old_size, new_size = int(lines[1][4:]), int(lines[2][4:])
            path = [b64decode_strict(x) for x in lines[3:]]
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise VerificationError("consistency_malformed", f"consistency proof: {exc}") from None
        if (old_size, new_size) != (old.size, new.size):
            raise VerificationError("consistency_sizes", f"the proof is for sizes {old_size} -> {new_size}, the "
                                    f"checkpoints are {old.size} -> {new.size}")
        if not verify_consistency(old.size, new.size, old.root, new.root, path):
            raise VerificationError("consistency_failed", f"the tree of size {new.size} does not extend the tree of "
                                    f"size {old.size}: the log was rewritten, or the proof is wrong")
        report.steps.append("STEP 2 RFC 9162 consistency proof holds: the log only grew")
        report.entries = new.size
    except VerificationError as exc:
        report.failures.append(exc)
    return report


def _scan_segment(path: str, start: int, end: int) -> tuple[int | None, int, bytes, dict[str, list[Any]], list[str]]:
    """Worker for :func:`verify_log_file`: leaf hashes and chain links of whole lines in [start, end)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    sha = hashlib.sha256
    loads = json.loads
    leaves = bytearray()
    chains: dict[str, list[Any]] = {}  # chain -> [first seq, first prev, last seq, last leaf hex]
    failures: list[str] = []
    first_index: int | None = None
    count = 0
    for line in data.split(b"\n")[:-1]:
        try:
            e = loads(line)
            idx, chain, seq, prev = e["log_index"], e["chain"], e["seq"], e["prev"]
            if type(idx) is not int or type(chain) is not str or type(seq) is not int \
                    or not (prev is None or type(prev) is str):
                raise TypeError("log_index and seq must be integers, chain a string, prev a string or null")
        except (ValueError, KeyError, TypeError) as exc:
            failures.append(f"entry_malformed|entry at byte {start}+: {type(exc).__name__}: {exc}")
            idx, chain, seq, prev = -1, None, -1, None
        if first_index is None:
            first_index = idx
        elif idx != first_index + count:
            failures.append(f"entries_out_of_order|log index {idx} where {first_index + count} was expected")
        leaf = sha(b"\x00" + line).digest()
        leaves += leaf
        count += 1
        if chain is None:
            continue
        c = chains.get(chain)
        if c is None:
            chains[chain] = [seq, prev, seq, leaf.hex()]
        else:
            if seq != c[2] + 1 or prev != c[3]:
                failures.append(f"chain_broken|chain {chain!r} seq {seq} (log index {idx}) does not link to seq {c[2]}")
            c[2], c[3] = seq, leaf.hex()
    return first_index, count, bytes(leaves), chains, failures


def verify_log_file(path: str | Path, checkpoint: bytes, verifier_key: str | VerifierKey,
                    workers: int | None = None, min_parallel_bytes: int = 8 << 20) -> Report:
    """:func:`verify_log` for a file, split over processes (one per CPU): each hashes the leaves and checks the chain
    links of a contiguous range of lines; the ranges are then stitched and one root is computed over all leaves."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    report = Report()
    try:
        key = verifier_key if isinstance(verifier_key, VerifierKey) else VerifierKey.parse(verifier_key)
        cp = verify_checkpoint(checkpoint, key)
        report.checkpoint_size = cp.size
        path = str(path)
        size = os.path.getsize(path)
        workers = workers or os.cpu_count() or 1
        if size < min_parallel_bytes:
            workers = 1
        bounds = [0]
        with open(path, "rb") as fh:
            for k in range(1, workers):
                fh.seek(max(size * k // workers, bounds[-1]))
                fh.readline()
                bounds.append(min(fh.tell(), size))
        bounds.append(size)
        ranges = [(bounds[k], bounds[k + 1]) for k in range(workers) if bounds[k + 1] > bounds[k]]
        if len(ranges) > 1:
            with ProcessPoolExecutor(len(ranges)) as pool:
                parts = list(pool.map(_scan_segment, [path] * len(ranges), *zip(*ranges, strict=True)))
        else:
            parts = [_scan_segment(path, *ranges[0])] if ranges else []
        heads: dict[str, list[Any]] = {}
        total = 0
        leaves = []
        for first_index, count, blob, chains, failures in parts:
            for f in failures:
                code, _, msg = f.partition("|")
                report.fail(code, msg)
            if count and first_index != total:
                report.fail("entries_out_of_order", f"log index {first_index} where {total} was expected")
            for chain, (fs, fp, ls, ll) in chains.items():
                head = heads.get(chain)
                if head is None:
                    if fs != 0 or fp is not None:
                        report.fail("chain_no_open", f"chain {chain!r} starts at seq {fs}")
                elif fs != head[0] + 1 or fp != head[1]:
                    report.fail("chain_broken", f"chain {chain!r} seq {fs} does not link to seq {head[0]}")
                heads[chain] = [ls, ll]
            total += count
            leaves.append(blob)
        allleaves = b"".join(leaves)
        if total < cp.size:
            report.fail("entries_truncated", f"log has {total} entries, the checkpoint covers {cp.size}")
        else:
            hashes = (allleaves[32 * i : 32 * i + 32] for i in range(cp.size))
            if root_from_leaf_hashes(hashes) != cp.root:
                report.fail("root_mismatch", "the Merkle root over the entries is not the signed root")
        report.entries = total
    except VerificationError as exc:
        report.failures.append(exc)
    except (OSError, ValueError) as exc:
        report.fail("log_unreadable", f"{type(exc).__name__}: {exc}")
    return report
