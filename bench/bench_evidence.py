"""Evidence store benchmarks (issue 3): run ``.venv/bin/python bench/bench_evidence.py [--entries N]``.

1. Ingest: EvidenceStore.append (encrypt + hash + commit + store + log, fsynced) on the filesystem backend against plain
   SHA-256 of the same bytes, in the same run; ratio = SHA-256 time / append time (1.0 = as fast as hashing alone).
   Both commitment kinds (default key commitment; ``commit_plaintext=True``), the staging file written through the
   page cache instead of O_DIRECT (``ratio_page_cache_staging``), and the encryption pipeline alone.
   Beside it, the durable floor: SHA-256 + write a new file + fdatasync + one log line + fdatasync, with no
   encryption or bookkeeping, i.e. what any append that syncs each item before acknowledging it must wait for on
   this disk. The protocol floor: a stripped model of the full durable protocol (wrapped key + intent synced, AES-GCM,
   one direct write into a pre-written pack file, SHA-256, entry line synced) with no Merkle tree, recovery or
   per-object files: what a Python implementation of the protocol can reach here at best. The software ceiling:
   the same append on a RAM file system (tmpfs, no disk cost). And several writers at once (the server's case:
   every candidate uploads), against one-thread SHA-256.
2. Verifying a log of N entries (default 1,000,000): chains + one RFC 9162 root over every leaf from the entries file
   (``verifier.verify_log_file``, one process per CPU, and ``verify_log``, one process), and N individual inclusion
   proofs (held in memory, not parsed from text) + chains as a bundle verifier checks them.
   Also a realistic session bundle (2,000 items appended through the store): export, verify, verify + decrypt.
3. Checkpoint signing and verification rates (C2SP signed note, Ed25519).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import mmap
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import EvidenceSettings
from evidence_store import EvidenceStore, staging
from evidence_store.crypto import build_header, encrypt_stream
from evidence_store.log import NoteSigner
from evidence_store.merkle import MerkleTree
from evidence_store.verifier import (
    InclusionCache,
    VerifierKey,
    canonical_json,
    leaf_hash,
    verify_bundle,
    verify_checkpoint,
    verify_log,
)


def bench_ingest(size: int, reps: int, workdir: Path) -> dict:
    data = os.urandom(size)
    store = EvidenceStore.from_settings(EvidenceSettings(), data_dir=workdir / f"ingest-{size}")
    store.open_session("BENCH")
    # the same appends with the staging file written through the page cache instead of O_DIRECT
    buffered = EvidenceStore.from_settings(EvidenceSettings(), data_dir=workdir / f"ingest-buffered-{size}")
    buffered.open_session("BENCH")
    sha_t, app_t = [], []
    pt_t, buf_t = [], []
    for _ in range(reps):
        t = time.perf_counter()
        hashlib.sha256(data).digest()
        sha_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.append("BENCH", "recording", data, actor=("system", "bench"))
        app_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.append("BENCH", "answer", data, actor=("system", "bench"), commit_plaintext=True)
        pt_t.append(time.perf_counter() - t)
        staging.DIRECT_IO = False
        try:
            t = time.perf_counter()
            buffered.append("BENCH", "recording", data, actor=("system", "bench"))
            buf_t.append(time.perf_counter() - t)
        finally:
            staging.DIRECT_IO = True
    store.close()
    buffered.close()
    # the same encryption pipeline without the store (no fsync, no log): the CPU part of the cost
    cpu_t = []
    for _ in range(reps):
        header, prefix = build_header("o", "BENCH", "recording", "dk-o", 64 * 1024)
        with open(os.devnull, "wb", buffering=0) as sink:
            t = time.perf_counter()
            encrypt_stream(data, sink, os.urandom(32), os.urandom(32), header, prefix, 64 * 1024,
                           commit_plaintext=False)
            cpu_t.append(time.perf_counter() - t)
    sha, app, cpu = statistics.median(sha_t), statistics.median(app_t), statistics.median(cpu_t)
    ptc, buf = statistics.median(pt_t), statistics.median(buf_t)
    return {"size_mib": size / 2**20, "reps": reps, "sha256_ms": round(sha * 1e3, 2),
            "append_ms": round(app * 1e3, 2), "sha256_MiB_s": round(size / 2**20 / sha),
            "append_MiB_s": round(size / 2**20 / app), "ratio": round(sha / app, 3),
            "append_commit_plaintext_ms": round(ptc * 1e3, 2), "ratio_commit_plaintext": round(sha / ptc, 3),
            "append_page_cache_staging_ms": round(buf * 1e3, 2), "ratio_page_cache_staging": round(sha / buf, 3),
            "encrypt_pipeline_only_ms": round(cpu * 1e3, 2), "encrypt_pipeline_only_ratio": round(sha / cpu, 3)}


def bench_durable_floor(size: int, reps: int, workdir: Path) -> dict:
    """The least a design must wait for to acknowledge one durable, logged item, with no encryption and no
    bookkeeping: SHA-256 the bytes, put them in a new file made durable (``fdatasync`` and the directory's
    ``fsync``: the name must survive too), append one 1 KB log line and ``fdatasync`` it, the object's syncs and the
    log's in parallel. Two ways of writing, each arranged so the disk works while the bytes are hashed:

    * buffered: write, start writeback (``sync_file_range``), hash, then sync;
    * direct: ``O_DIRECT`` from a page-aligned buffer on a helper thread while the caller hashes (no page cache;
      what ``EvidenceStore.append`` does).

    Beside them, ``inplace``: the same direct write into blocks of a file that were allocated and written before
    (no new file, no allocation: the data ``fdatasync`` is only a cache flush), i.e. the best that a layout packing
    objects into pre-written segment files could do; that layout is not built here (it writes every byte twice).

    Measured side by side with plain SHA-256 of the same bytes: if the better floor's ratio is below a target, no
    append that makes each item durable before acknowledging it can reach that target on this disk."""
    from concurrent.futures import ThreadPoolExecutor

    from evidence_store.staging import start_writeback

    data = os.urandom(size)
    d = workdir / f"floor-{size}"
    d.mkdir()
    log = os.open(d / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    line = b"x" * 1023 + b"\n"
    pool = ThreadPoolExecutor(max_workers=1)
    aligned = mmap.mmap(-1, -(-size // 4096) * 4096)  # O_DIRECT needs aligned memory, offsets and lengths
    aligned[:size] = data
    slots = 4  # the pre-written file holds this many items, overwritten in turn
    pack = os.open(d / "pack", os.O_RDWR | os.O_CREAT | getattr(os, "O_DIRECT", 0), 0o600)
    zeros = mmap.mmap(-1, len(aligned))  # aligned, like every O_DIRECT buffer
    for k in range(slots):
        os.pwrite(pack, zeros, k * len(aligned))
    os.fsync(pack)
    zeros.close()
    inplace_t: list[float] = []
    sha_t: list[float] = []
    buf_t: list[float] = []
    dir_t: list[float] = []

    def sync_new(fd: int) -> None:
        os.fdatasync(fd)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def log_line() -> None:
        os.write(log, line)
        os.fdatasync(log)

    def write_all(fd: int, view: memoryview, positional: bool) -> None:
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], done) if positional else os.write(fd, view[done:])

    for i in range(reps):
        t = time.perf_counter()
        hashlib.sha256(data).digest()
        sha_t.append(time.perf_counter() - t)

        t = time.perf_counter()
        fd = os.open(d / f"b{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        write_all(fd, memoryview(data), positional=False)
        start_writeback(fd, 0, size)
        hashlib.sha256(data).digest()
        synced = pool.submit(sync_new, fd)
        log_line()
        synced.result()
        buf_t.append(time.perf_counter() - t)
        os.close(fd)

        if hasattr(os, "O_DIRECT"):
            t = time.perf_counter()
            fd = os.open(d / f"d{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
            written = pool.submit(write_all, fd, memoryview(aligned), True)
            hashlib.sha256(data).digest()
            written.result()
            synced = pool.submit(sync_new, fd)
            log_line()
            synced.result()
            dir_t.append(time.perf_counter() - t)
            os.close(fd)

            t = time.perf_counter()
            written = pool.submit(os.pwrite, pack, memoryview(aligned), (i % slots) * len(aligned))
            hashlib.sha256(data).digest()
            written.result()
            synced = pool.submit(os.fdatasync, pack)
            log_line()
            synced.result()
            inplace_t.append(time.perf_counter() - t)
    pool.shutdown()
    os.close(pack)
    os.close(log)
    aligned.close()
    sha, buffered = statistics.median(sha_t), statistics.median(buf_t)
    out = {"size_mib": size / 2**20, "reps": reps, "sha256_ms": round(sha * 1e3, 3),
           "floor_buffered_ms": round(buffered * 1e3, 3), "floor_buffered_ratio": round(sha / buffered, 3)}
    if dir_t:
        direct = statistics.median(dir_t)
        out.update(floor_direct_ms=round(direct * 1e3, 3), floor_direct_ratio=round(sha / direct, 3))
        inplace = statistics.median(inplace_t)
        out.update(floor_inplace_ms=round(inplace * 1e3, 3), floor_inplace_ratio=round(sha / inplace, 3))
    out["floor_ratio"] = max(out["floor_buffered_ratio"], out.get("floor_direct_ratio", 0.0))
    return out


def bench_software_ceiling(size: int, reps: int) -> dict | None:
    """The same ``EvidenceStore.append`` with its data dir on a RAM file system (``/dev/shm``, tmpfs: every
    ``fsync`` returns at once, nothing reaches a disk), side by side with SHA-256: what the code itself costs,
    the ceiling of the ratio on any disk. None where there is no tmpfs at /dev/shm."""
    shm = Path("/dev/shm")
    try:
        with open("/proc/mounts") as fh:
            if not any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in fh):
                return None
    except OSError:
        return None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        r = bench_ingest(size, reps, Path(tmp))
    return {"size_mib": r["size_mib"], "reps": reps, "sha256_ms": r["sha256_ms"],
            "append_in_ram_fs_ms": r["append_ms"], "ratio": r["ratio"]}


def bench_protocol_floor(size: int, reps: int, workdir: Path, synced: bool = True) -> dict:
    """A stripped model of the durable protocol an append must follow, in the fewest steps and the best layout
    found, to tell what any Python implementation of it can reach on this machine:

    a fresh data key and salt wrapped by the KEK and written, with the object's key, into a pre-allocated 4 KiB
    intent block, ``fdatasync``-ed on a helper thread; AES-256-GCM in 64 KiB chunks (``encrypt_into`` a
    page-aligned buffer); one ``O_DIRECT`` write of the ciphertext into a pack file whose blocks were written
    beforehand (no new file, no allocation, no directory entry), then ``fdatasync``, on a second helper thread;
    SHA-256 of the ciphertext on the caller's thread meanwhile; then the entry (canonical JSON, chained to the
    previous entry's leaf hash) appended to the log and ``fdatasync``-ed; the item is acknowledged when both
    syncs are done. With ``synced=False`` the same steps without any ``fdatasync``: what the syncs cost. (A log
    file written beforehand, each line overwriting its blocks so the file's size never changes, measured the same
    as appending.) Left out, which the store does and
    must do: the Merkle tree, checkpoints, per-object files (write-once by name), recovery bookkeeping, the spool.
    Not built as a store: a measurement."""
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = os.urandom(size)
    d = workdir / f"protocol-{size}-{int(synced)}"
    d.mkdir()
    chunk, tag = 64 * 1024, 16
    chunks = -(-size // chunk)
    header = b"H" * 64
    ct_size = len(header) + size + chunks * tag
    record = -(-ct_size // 4096) * 4096
    slots = 4  # the pack holds this many records, overwritten in turn
    pack = os.open(d / "pack", os.O_RDWR | os.O_CREAT | getattr(os, "O_DIRECT", 0), 0o600)
    buf = mmap.mmap(-1, record)
    for k in range(slots):
        os.pwrite(pack, buf, k * record)
    os.fsync(pack)
    intent = os.open(d / "intent", os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(intent, b" " * 4096, 0)
    os.fsync(intent)
    log = os.open(d / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fsync(log)
    sync = os.fdatasync if synced else (lambda fd: None)
    kek = AESGCM(os.urandom(32))
    pool = ThreadPoolExecutor(max_workers=2)
    prev: str | None = None
    sha_t: list[float] = []
    app_t: list[float] = []

    def put_intent(block: bytes) -> None:
        os.pwrite(intent, block, 0)
        sync(intent)

    def put_object(view: memoryview, offset: int) -> None:
        os.pwrite(pack, view, offset)
        sync(pack)

    for i in range(reps):
        t = time.perf_counter()
        hashlib.sha256(data).digest()
        sha_t.append(time.perf_counter() - t)

        t = time.perf_counter()
        dk, salt = os.urandom(32), os.urandom(32)
        nonce = os.urandom(12)
        wrapped = nonce + kek.encrypt(nonce, dk + salt, b"dk-bench")
        key = f"sessions/BENCH/{i:012d}.rte"
        intent_done = pool.submit(put_intent, canonical_json({"key": key, "wrapped": wrapped.hex()}).ljust(4096))
        aead = AESGCM(dk)
        view = memoryview(buf)
        view[: len(header)] = header
        pos = len(header)
        for c in range(chunks):
            piece = data[c * chunk : (c + 1) * chunk]
            aead.encrypt_into(i.to_bytes(8, "big") + c.to_bytes(3, "big") + bytes([c == chunks - 1]), piece,
                              header, view[pos : pos + len(piece) + tag])
            pos += len(piece) + tag
        object_done = pool.submit(put_object, view[:record], (i % slots) * record)
        digest = hashlib.sha256(view[:ct_size]).hexdigest()
        intent_done.result()
        line = canonical_json({"chain": "BENCH", "kind": "item", "log_index": i, "seq": i, "prev": prev,
                               "object": {"key": key, "sha256": digest, "size": ct_size},
                               "server_time": time.time_ns()})
        prev = leaf_hash(line).hex()
        os.write(log, line + b"\n")
        sync(log)
        object_done.result()
        app_t.append(time.perf_counter() - t)
        view.release()
    pool.shutdown()
    for fd in (pack, intent, log):
        os.close(fd)
    buf.close()
    sha, app = statistics.median(sha_t), statistics.median(app_t)
    return {"size_mib": size / 2**20, "reps": reps, "sha256_ms": round(sha * 1e3, 3),
            "synced": synced, "protocol_floor_ms": round(app * 1e3, 3), "ratio": round(sha / app, 3)}


def bench_ingest_concurrent(size: int, writers: int, per_writer: int, workdir: Path) -> dict:
    """Several sessions appending at once (the live case: every candidate uploads chunks): aggregate throughput
    against SHA-256 of the same bytes in one thread, measured side by side. Concurrent appends share log syncs."""
    import threading

    data = os.urandom(size)
    store = EvidenceStore.from_settings(EvidenceSettings(), data_dir=workdir / f"ingest-concurrent-{size}-{writers}")
    for w in range(writers):
        store.open_session(f"BENCH-{w}")
    t = time.perf_counter()
    for _ in range(writers * per_writer):
        hashlib.sha256(data).digest()
    sha = time.perf_counter() - t

    def writer(w: int) -> None:
        for _ in range(per_writer):
            store.append(f"BENCH-{w}", "recording", data, actor=("system", "bench"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    app = time.perf_counter() - t
    store.close()
    total = size * writers * per_writer / 2**20
    return {"size_mib": size / 2**20, "writers": writers, "items": writers * per_writer,
            "sha256_MiB_s": round(total / sha), "append_MiB_s": round(total / app), "ratio": round(sha / app, 3)}


def make_log(n: int, sessions: int, path: Path, signer: NoteSigner) -> tuple[bytes, MerkleTree, list[bytes]]:
    heads: dict[str, tuple[int, str]] = {}
    tree = MerkleTree()
    lines = []
    with open(path, "wb") as fh:
        for i in range(n):
            chain = f"S{i % sessions:05d}"
            head = heads.get(chain)
            e = {"v": 1, "log_index": i, "chain": chain, "session_id": chain, "seq": 0 if head is None else head[0] + 1,
                 "prev": None if head is None else head[1], "kind": "open" if head is None else "item",
                 "server_time": "2026-11-23T20:00:00.000000Z", "type": "chunk",
                 "object": {"key": f"sessions/{chain}/{i:012d}.rte", "sha256": "ab" * 32, "size": 1048592},
                 "commitment": "sha256-salted:" + "cd" * 32}
            line = canonical_json(e)
            leaf = tree.append(line)
            heads[chain] = (e["seq"], leaf.hex())
            fh.write(line + b"\n")
            lines.append(line)
    cp = signer.sign(f"{signer.name}\n{n}\n{base64.b64encode(tree.root()).decode()}\n".encode())
    return cp, tree, lines


def bench_verify(n: int, workdir: Path) -> dict:
    signer = NoteSigner("bench.example/log", Ed25519PrivateKey.generate())
    vkey = str(signer.verifier_key)
    t = time.perf_counter()
    cp, tree, lines = make_log(n, max(1, n // 1000), workdir / "entries.jsonl", signer)
    build = time.perf_counter() - t

    t = time.perf_counter()
    with open(workdir / "entries.jsonl", "rb") as fh:
        report = verify_log(fh, cp, vkey)
    full_1 = time.perf_counter() - t
    assert report.ok and report.entries == n, report.render()
    # as an auditor runs it: a fresh process (interpreter start included), one worker process per CPU
    (workdir / "checkpoint").write_bytes(cp)
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "evidence_store.verifier", "verify-log", str(workdir / "entries.jsonl"),
           str(workdir / "checkpoint"), "--pubkey", vkey]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    full = time.perf_counter() - t
    assert proc.returncode == 0 and f"{n} entries" in proc.stdout, proc.stdout + proc.stderr

    t = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in range(n)]
    gen = time.perf_counter() - t

    # what a bundle verifier does per entry: parse the line, leaf hash, inclusion proof, chain link
    key = VerifierKey.parse(vkey)
    t = time.perf_counter()
    c = verify_checkpoint(cp, key)
    cache = InclusionCache(c.size, c.root)
    heads: dict[str, str] = {}
    loads = json.loads
    for i, line in enumerate(lines):
        e = loads(line)
        leaf = leaf_hash(line)
        if not cache.verify(leaf, e["log_index"], proofs[i]):
            raise AssertionError(f"inclusion failed at {i}")
        prev = heads.get(e["chain"])
        if e["prev"] != prev:
            raise AssertionError(f"chain broken at {i}")
        heads[e["chain"]] = leaf.hex()
    incl = time.perf_counter() - t
    return {"entries": n, "build_log_s": round(build, 2), "verify_log_cli_root_and_chains_s": round(full, 2),
            "verify_log_in_process_single_worker_s": round(full_1, 2),
            "generate_inclusion_proofs_s": round(gen, 2), "verify_inclusion_proofs_and_chains_s": round(incl, 2)}


def bench_bundle(items: int, workdir: Path) -> dict:
    """A realistic session bundle: ``items`` small items appended through the store, exported and verified."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    store = EvidenceStore.from_settings(EvidenceSettings(), data_dir=workdir / "bundle")
    store.open_session("BUNDLE")
    t = time.perf_counter()
    for i in range(items):
        store.append("BUNDLE", "answer", os.urandom(200 + i % 100), actor=("asesi", "c1"), candidate_id="c1")
    appended = time.perf_counter() - t
    store.close_session("BUNDLE")
    auditor = X25519PrivateKey.generate()
    t = time.perf_counter()
    path = store.export_bundle("BUNDLE", workdir / "bundle.zip", auditor.public_key())
    exported = time.perf_counter() - t
    t = time.perf_counter()
    report = verify_bundle(path, str(store.signer.verifier_key))
    keyless = time.perf_counter() - t
    assert report.ok, report.render()
    t = time.perf_counter()
    report = verify_bundle(path, str(store.signer.verifier_key), auditor)
    decrypting = time.perf_counter() - t
    assert report.ok and report.decrypted == items, report.render()
    store.close()
    return {"items": items, "appends_per_s": round(items / appended), "export_s": round(exported, 2),
            "verify_bundle_s": round(keyless, 2), "verify_and_decrypt_s": round(decrypting, 2)}


def bench_checkpoints(count: int) -> dict:
    signer = NoteSigner("bench.example/log", Ed25519PrivateKey.generate())
    key = VerifierKey.parse(str(signer.verifier_key))
    root = base64.b64encode(os.urandom(32)).decode()
    bodies = [f"{signer.name}\n{i}\n{root}\n".encode() for i in range(count)]
    t = time.perf_counter()
    notes = [signer.sign(b) for b in bodies]
    sign = time.perf_counter() - t
    t = time.perf_counter()
    for note in notes:
        verify_checkpoint(note, key)
    ver = time.perf_counter() - t
    return {"checkpoints": count, "sign_per_s": round(count / sign), "verify_per_s": round(count / ver)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    out: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        if not args.skip_ingest:
            out["ingest"] = [bench_ingest(1 << 20, 60, work), bench_ingest(64 << 20, 6, work)]
            print(json.dumps(out["ingest"], indent=1), flush=True)
            out["durable_floor"] = [bench_durable_floor(1 << 20, 60, work), bench_durable_floor(64 << 20, 4, work)]
            print(json.dumps(out["durable_floor"], indent=1), flush=True)
            out["protocol_floor"] = [bench_protocol_floor(1 << 20, 60, work),
                                     bench_protocol_floor(1 << 20, 60, work, synced=False),
                                     bench_protocol_floor(64 << 20, 4, work)]
            print(json.dumps(out["protocol_floor"], indent=1), flush=True)
            out["software_ceiling"] = [bench_software_ceiling(1 << 20, 60), bench_software_ceiling(64 << 20, 4)]
            print(json.dumps(out["software_ceiling"], indent=1), flush=True)
            out["ingest_concurrent"] = [bench_ingest_concurrent(1 << 20, w, 60 // w, work) for w in (2, 4, 8)]
            print(json.dumps(out["ingest_concurrent"], indent=1), flush=True)
        out["bundle"] = bench_bundle(2000, work)
        print(json.dumps(out["bundle"]), flush=True)
        out["checkpoints"] = bench_checkpoints(5000)
        print(json.dumps(out["checkpoints"]), flush=True)
        out["verify"] = bench_verify(args.entries, work)
        print(json.dumps(out["verify"]), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
