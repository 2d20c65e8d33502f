"""The evidence log shared by every node (issue 18 item 3): run ``.venv/bin/python bench/bench_shared_log.py``.

Two logs side by side, in one run, on this machine:

- ``file``: the embedded log (``<dir>/log/entries.jsonl``, flock + fdatasync, group commit per process); both
  processes open the same data dir (the only way two processes can share it: one machine).
- ``postgresql``: the log in PostgreSQL (evidence_store/pglog.py, ``RTUK_EVIDENCE_LOG_URL``); each process is a node
  with its own data dir (keys, intents, spool) and they share the object directory and the database.

1. Ingest: 8 writers (2 processes x 4 threads) call ``EvidenceStore.append`` with recording chunks for a fixed time;
   aggregate MiB/s of plaintext acknowledged, against single-thread SHA-256 of the same bytes measured in the same
   run (ratio = append MiB/s / SHA-256 MiB/s). The chunk is 256 KiB by default: 2 s of the browser's 1 Mbit/s
   recording (``--chunk`` to change it, e.g. 1048576). The object store is the filesystem store for both (the S3
   server would add the same cost to both and is measured in tests/integration/evidence_store).
2. Group commit: appends/s of small log entries (``TransparencyLog.append``, the log alone: no object, no key) with
   1, 2, 4 and 8 writers (one process up to 4 threads, then 2 processes x 4 threads), and how many entries each
   commit carried on average.

Bounded: every phase runs for ``--seconds`` (default 6) per configuration.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("RTUK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _libpq(url: str) -> str:
    return "postgresql://" + url.partition("://")[2]


# -- a writer process ----------------------------------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: F401

    from config.settings import EvidenceSettings
    from evidence_store.backends import FilesystemStore
    from evidence_store.keyfiles import kek_ring, load_or_create_signing_key
    from evidence_store.log import TransparencyLog
    from evidence_store.pglog import PgTransparencyLog
    from evidence_store.store import EvidenceStore

    node = Path(args.node)
    (node / "keys").mkdir(parents=True, exist_ok=True)
    key = load_or_create_signing_key(Path(args.keyfile), False)
    url = args.url or None
    if args.mode == "store":
        ring, _ = kek_ring(EvidenceSettings(), node / "keys")
        store = EvidenceStore(node, FilesystemStore(Path(args.objects)), ring, key, log_url=url, recover=False)
        log = store.log
    else:
        store = None
        log = PgTransparencyLog(url, key) if url else TransparencyLog(node / "log", key)
    data = os.urandom(args.chunk)
    counts = [0] * args.threads
    stop = threading.Event()

    def writer(t: int) -> None:
        sid = f"B{args.proc}x{t}"
        n = 0
        while not stop.is_set():
            if store is not None:
                store.append(sid, "recording", data, actor=("system", "bench"))
            else:
                log.append(lambda st, n=n: {"chain": sid, "kind": "note", "session_id": sid, "n": n})
            n += 1
        counts[t] = n

    for t in range(args.threads):
        sid = f"B{args.proc}x{t}"
        if store is not None:
            store.open_session(sid)
        else:
            log.append(lambda st, sid=sid: {"chain": sid, "kind": "open", "session_id": sid})
    before = dict(log.stats)
    print(json.dumps({"ready": True}), flush=True)
    go = Path(args.go)
    while not go.exists():
        time.sleep(0.002)
    ts = [threading.Thread(target=writer, args=(t,)) for t in range(args.threads)]
    t0 = time.perf_counter()
    for th in ts:
        th.start()
    time.sleep(args.seconds)
    stop.set()
    for th in ts:
        th.join()
    elapsed = time.perf_counter() - t0
    commits = log.stats["commits"] - before["commits"]
    entries = log.stats["entries"] - before["entries"]
    (store or log).close()
    print(json.dumps({"appends": sum(counts), "seconds": elapsed, "commits": commits, "entries": entries}), flush=True)


# -- the parent ----------------------------------------------------------------------------------------------------
def run(kind: str, mode: str, procs: int, threads: int, chunk: int, seconds: float, work: Path, url: str,
        keyfile: Path) -> dict:
    run_id = uuid.uuid4().hex[:8]
    base = work / f"{kind}-{mode}-{procs}x{threads}-{run_id}"
    objects = base / "objects"
    objects.mkdir(parents=True)
    go = base / "go"
    ps = []
    for p in range(procs):
        node = base / ("shared" if kind == "file" else f"node{p}")  # the file log: one data dir on one machine
        cmd = [sys.executable, __file__, "--child", "--mode", mode, "--node", str(node), "--objects", str(objects),
               "--keyfile", str(keyfile), "--url", url if kind == "postgresql" else "", "--threads", str(threads),
               "--chunk", str(chunk), "--seconds", str(seconds), "--go", str(go), "--proc", str(p)]
        ps.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))
    for p in ps:
        assert p.stdout is not None
        assert json.loads(p.stdout.readline())["ready"]
    go.touch()
    results = []
    for p in ps:
        assert p.stdout is not None
        results.append(json.loads(p.stdout.readline()))
        p.wait(timeout=120)
    appends = sum(r["appends"] for r in results)
    secs = max(r["seconds"] for r in results)
    commits = sum(r["commits"] for r in results)
    entries = sum(r["entries"] for r in results)
    return {"appends": appends, "seconds": secs, "appends_per_s": appends / secs,
            "mib_per_s": appends * chunk / secs / 2**20, "entries_per_commit": entries / commits if commits else 0}


def sha256_mib_s(chunk: int, seconds: float = 1.5) -> float:
    data = os.urandom(chunk)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        hashlib.sha256(data).digest()
        n += 1
    return n * chunk / (time.perf_counter() - t0) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="store")
    ap.add_argument("--node", default="")
    ap.add_argument("--objects", default="")
    ap.add_argument("--keyfile", default="")
    ap.add_argument("--url", default="")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--proc", type=int, default=0)
    ap.add_argument("--go", default="")
    ap.add_argument("--chunk", type=int, default=256 * 1024, help="bytes per recording chunk (default 256 KiB)")
    ap.add_argument("--seconds", type=float, default=6.0, help="seconds per configuration")
    ap.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL server (a database is created and dropped)")
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    import base64

    import psycopg
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    # one key-encryption key from settings for every writer process (two processes may share one data dir)
    os.environ["RTUK_EVIDENCE_KEK"] = base64.b64encode(os.urandom(32)).decode()
    admin = _libpq(args.pg_url)
    work = Path(tempfile.mkdtemp(prefix="bench-shared-log-", dir=ROOT / "var" if (ROOT / "var").exists() else None))
    keyfile = work / "checkpoint-ed25519.pem"
    keyfile.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with psycopg.connect(admin, autocommit=True) as conn:
        settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("fsync", "synchronous_commit",
                                                                            "server_version")}
    dbs: list[str] = []

    def fresh_db() -> str:
        name = f"rtuk_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dbs.append(name)
        return admin.rsplit("/", 1)[0] + "/" + name

    out: dict = {"load_average_at_start": os.getloadavg(),
                 "chunk_bytes": args.chunk, "seconds_per_config": args.seconds, "postgresql": settings,
                 "cpus": os.cpu_count()}
    try:
        ingest = {}
        for kind in ("file", "postgresql"):
            # measured right before each configuration: on a shared machine the CPU available changes by the minute
            sha = sha256_mib_s(args.chunk)
            r = run(kind, "store", 2, 4, args.chunk, args.seconds, work, fresh_db(), keyfile)
            ingest[kind] = {"mib_s": round(r["mib_per_s"], 1), "appends_s": round(r["appends_per_s"], 1),
                            "sha256_one_thread_mib_s": round(sha, 1),
                            "ratio_to_sha256": round(r["mib_per_s"] / sha, 3),
                            "entries_per_commit": round(r["entries_per_commit"], 2)}
            print(f"ingest 8 writers (2 processes x 4 threads), {args.chunk // 1024} KiB chunks, {kind} log: "
                  f"{r['mib_per_s']:.1f} MiB/s, {r['appends_per_s']:.0f} appends/s, ratio to one-thread SHA-256 "
                  f"({sha:.0f} MiB/s) {r['mib_per_s'] / sha:.3f}, {r['entries_per_commit']:.2f} entries per commit",
                  flush=True)
        out["ingest_8_writers"] = ingest
        scaling: dict = {}
        for kind in ("file", "postgresql"):
            scaling[kind] = {}
            for writers in (1, 2, 4, 8):
                procs, threads = (1, writers) if writers <= 4 else (2, writers // 2)
                r = run(kind, "log", procs, threads, 0, args.seconds, work, fresh_db(), keyfile)
                scaling[kind][writers] = {"appends_s": round(r["appends_per_s"], 1),
                                          "entries_per_commit": round(r["entries_per_commit"], 2)}
                print(f"log appends, {kind}, {writers} writer(s) ({procs} process(es) x {threads}): "
                      f"{r['appends_per_s']:.0f} appends/s, {r['entries_per_commit']:.2f} entries per commit",
                      flush=True)
        out["log_appends_scaling"] = scaling
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in dbs:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
