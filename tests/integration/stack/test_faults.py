"""Faults on the running stack (issue 18, "tests that must exist"): Redis stopped for 30 s, the S3 server for 60 s,
PostgreSQL restarted, while a candidate's client keeps recording and uploading through the proxy. The product recovers
by itself (no app node is restarted), and afterwards every chunk that was acknowledged (a 2xx) is in the evidence: in
the database, in the session's chain with the hash that was sent, as an object in the bucket, and in an exported bundle
that ``python -m evidence_store verify`` accepts and decrypts back to the bytes that were sent. Nothing in the evidence
claims what did not happen: no chunk entry with other bytes than were sent, no gap.

The client is the live page's recorder and upload pump (remote_tuk/static/js/live-candidate.js) in two threads: a
chunk every 2 s (256 KiB, a real WebM cluster padded with an EBML Void element), uploaded in order one at a time, each
retried until the server takes it, waiting 1, 2, 4, 8, then 10 s between failures. (The page also retries at once when
its Socket.IO connection comes back; this client only waits, so the recovery times measured here are upper bounds.)

Each test starts its own session (the package's other tests use the demo one) and ends it afterwards; each leaves
Redis, the S3 server and PostgreSQL running and both nodes ready. Figures are printed (``-s``) for docs/DEPLOYMENT.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.stack.test_backup import _stack_settings
from tests.integration.stack.test_stack import _broadcasts_reach_both_nodes, _csrf, _ready, _wait

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[3]
CHUNK_S = 2.0
CHUNK_BYTES = 256 * 1024
CLUSTER = b"\x1f\x43\xb6\x75"
EBML_VOID = b"\xec"
#: after the service is back, every queued chunk must be acknowledged within this long
DRAIN_TIMEOUT_S = 150.0
#: and both nodes ready again within this long
READY_TIMEOUT_S = 90.0
#: the readiness checks that must all be "ok" again afterwards
CHECKS = ("database", "socketio_queue", "ratelimit_storage", "evidence_log", "evidence_objects")


# --- the recording ------------------------------------------------------------------------------------------------


def _recording(seconds: float) -> list[bytes]:
    """A live-mode VP8 WebM (unknown-size segment, as MediaRecorder writes) cut at its clusters, a cluster about every
    2 s; each chunk padded to 256 KiB with a Void element of random bytes (what a 1 Mbit/s camera sends in 2 s)."""
    av = pytest.importorskip("av")
    import numpy as np

    fps = 5
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm", options={"cluster_time_limit": str(int(CHUNK_S * 1000)), "live": "1"})
    v = out.add_stream("libvpx", rate=fps)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    v.codec_context.gop_size = int(fps * CHUNK_S)
    for i in range(int(seconds * fps)):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 7) % 255, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for p in v.encode(frame):
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    data = buf.getvalue()
    offsets = [m.start() for m in re.finditer(re.escape(CLUSTER), data)]
    chunks = [data[a:b] for a, b in zip(offsets, [*offsets[1:], len(data)], strict=True)]
    chunks[0] = data[: offsets[0]] + chunks[0]
    rnd = random.Random(18)
    padded = []
    for c in chunks:
        pad = CHUNK_BYTES - len(c) - 9
        assert pad > 0
        padded.append(c + EBML_VOID + (0x01 << 56 | pad).to_bytes(8, "big") + rnd.randbytes(pad))
    return padded


# --- the candidate's client ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float  # seconds since the client started
    seq: int
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    code: str | None  # the error code of the JSON body, or the exception's name
    took: float


@dataclass
class Candidate:
    """live-candidate.js's recorder and pump: chunks made every CHUNK_S seconds, uploaded in order with back-off."""

    st: Any
    http: requests.Session
    public_id: str
    csrf: str
    chunks: list[bytes]
    attempts: list[Attempt] = field(default_factory=list)
    acked: dict[int, dict[str, Any]] = field(default_factory=dict)
    queue: list[tuple[int, bytes, int]] = field(default_factory=list)
    made: int = 0
    #: when the queue became empty (every chunk made so far acknowledged)
    emptied: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._recording = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.t0 = 0.0
        self._queue_max = 0
        self.error: BaseException | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self._recording.set()
        self._threads = [threading.Thread(target=self._guard(self._record), daemon=True),
                         threading.Thread(target=self._guard(self._pump), daemon=True)]
        for t in self._threads:
            t.start()

    def _guard(self, fn):
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by finish()
                self.error = exc
        return run

    def _record(self) -> None:
        k = 0
        while self._recording.is_set() and k < len(self.chunks):
            due = self.t0 + (k + 1) * CHUNK_S
            while self._recording.is_set() and time.monotonic() < due:
                time.sleep(0.05)
            if not self._recording.is_set():
                break
            start_ms = int(time.time() * 1000 - CHUNK_S * 1000)
            with self._lock:
                self.queue.append((k, self.chunks[k], start_ms))
                self.made = k + 1
                self._queue_max = max(self._queue_max, len(self.queue))
            k += 1
        self._recording.clear()

    def _pump(self) -> None:
        failures = 0
        url = f"{self.st.url}/api/v1/sessions/{self.public_id}/recording/chunks"
        while not self._stop.is_set():
            with self._lock:
                head = self.queue[0] if self.queue else None
            if head is None:
                if not self._recording.is_set():
                    return
                time.sleep(0.05)
                continue
            seq, body, start_ms = head
            sha = hashlib.sha256(body).hexdigest()
            t = self.now()
            status = code = None
            answer: dict[str, Any] = {}
            try:
                resp = self.http.post(url, data=body, timeout=(10, 130), headers={
                    "Content-Type": "application/octet-stream", "X-Chunk-Seq": str(seq), "X-Chunk-SHA256": sha,
                    "X-Chunk-Start": str(start_ms), "X-CSRFToken": self.csrf, "Referer": f"{self.st.url}/"})
                status = resp.status_code
                try:
                    answer = resp.json()
                except ValueError:
                    answer = {}
                code = answer.get("error") if isinstance(answer, dict) else None
            except requests.RequestException as exc:
                code = type(exc).__name__
            self.attempts.append(Attempt(round(t, 1), seq, status, code, round(self.now() - t, 2)))
            if status in (200, 201):
                self.acked[seq] = {"sha256": sha, "log_index": answer["log_index"], "status": status,
                                   "at": round(self.now(), 1)}
                with self._lock:
                    self.queue.pop(0)
                    if not self.queue:
                        self.emptied.append(self.now())
                failures = 0
                continue
            if status == 409 and code == "chunk_conflict":
                raise AssertionError(f"chunk {seq} met a conflict: the client's numbers are its own here")
            if status == 413:
                raise AssertionError(f"chunk {seq} refused as too large")
            failures += 1
            self._stop.wait(min(10.0, 1.0 * 2 ** min(failures - 1, 4)))

    def stop_recording(self) -> None:
        self._recording.clear()

    def finish(self, timeout: float) -> None:
        """Stop recording; wait until every chunk made is acknowledged (the queue is empty)."""
        self.stop_recording()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        self._stop.set()
        if self.error is not None:
            raise self.error
        with self._lock:
            left = [seq for seq, _b, _s in self.queue]
        assert not left, f"chunks still not acknowledged {timeout:.0f} s after recording stopped: {left}"

    def failed_between(self, a: float, b: float) -> list[Attempt]:
        return [x for x in self.attempts if a <= x.at <= b and x.status not in (200, 201)]

    def summary(self, outage: tuple[float, float]) -> dict[str, Any]:
        a, b = outage
        failed = [x for x in self.attempts if x.status not in (200, 201)]
        by_status: dict[str, int] = {}
        for x in failed:
            key = f"{x.status or 'no answer'} {x.code or ''}".strip()
            by_status[key] = by_status.get(key, 0) + 1
        during = [x for x in self.attempts if a <= x.at <= b]
        after_ok = [x for x in self.attempts if x.at > b and x.status in (200, 201)]
        return {
            "chunks": self.made, "acknowledged": len(self.acked), "attempts": len(self.attempts),
            "attempts_during_outage": len(during),
            "acknowledged_during_outage": sum(1 for x in during if x.status in (200, 201)),
            "refused": len(failed), "refused_by_status": by_status,
            "chunks_refused_at_least_once": len({x.seq for x in failed}),
            "first_ack_after_outage_s": round(after_ok[0].at - b, 1) if after_ok else None,
            "caught_up_s_after_outage": next((round(t - b, 1) for t in self.emptied if t > b), None),
            "queue_max": self._queue_max,
            "slowest_attempt_s": max((x.took for x in self.attempts), default=0),
        }


# --- a session of its own, live ----------------------------------------------------------------------------------


def _pg(st):
    """The test's own connection; bounded, so a lock held by someone else fails the test instead of hanging it."""
    try:
        return psycopg.connect(host="127.0.0.1", port=st.stack.port("pg"), user="postgres", dbname="rtuk",
                               connect_timeout=10, options="-c lock_timeout=30s -c statement_timeout=60s")
    except psycopg.OperationalError as err:
        raise AssertionError(f"PostgreSQL refused the test's connection: {err}\n{st.log('postgres', 30)}") from err


def _transition(st, assessor: requests.Session, public_id: str, to: str) -> None:
    token = _csrf(assessor, st, "/asesor/")
    resp = assessor.post(f"{st.url}/api/v1/sessions/{public_id}/transition", json={"to": to},
                         headers={"X-CSRFToken": token, "Referer": f"{st.url}/asesor", "Accept": "application/json"},
                         timeout=180)
    assert resp.status_code == 200, (to, resp.status_code, resp.text[:300])


@pytest.fixture
def live_session(running_stack, assessor):
    """A new session of the demo candidate with the demo assessor, past the gate and live; ended afterwards."""
    from tests.conftest import satisfy_gate

    st = running_stack
    with _pg(st) as conn:
        scheme, assessor_id, admin_id, candidate_id = conn.execute(
            "SELECT (SELECT id FROM schemes ORDER BY id LIMIT 1), (SELECT id FROM users WHERE username = 'asesor'), "
            "(SELECT id FROM users WHERE username = 'admin'), (SELECT id FROM users WHERE username = 'asesi')"
        ).fetchone()
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from remote_tuk.assessment.models import AssessmentSession, Schedule
    from remote_tuk.db import utcnow

    engine = create_engine(st.stack.db_url)
    with Session(engine) as s:
        start = utcnow()
        schedule = Schedule(title=f"Uji gangguan {time.time_ns()}", scheme_id=scheme, starts_at=start,
                            ends_at=start + timedelta(hours=3), assessor_id=assessor_id,
                            assignment_letter="002/ST/LSP-TDN/XI/2026", created_by_id=admin_id)
        s.add(schedule)
        s.flush()
        session = AssessmentSession(schedule_id=schedule.id, candidate_id=candidate_id)
        s.add(session)
        s.commit()
        public_id = session.public_id
    engine.dispose()
    satisfy_gate(st.stack.db_url, public_id)
    for to in ("checking", "ready", "live"):
        _transition(st, assessor, public_id, to)
    try:
        yield public_id
    finally:
        # a test that failed before deciding the session: every service is back by now (each test restores what it
        # stopped first); a session left live would keep the media engine and the clock going
        with _pg(st) as conn:
            state = conn.execute("SELECT state FROM assessment_sessions WHERE public_id = %s", (public_id,)
                                 ).fetchone()[0]
        if state.lower() in ("live", "paused"):
            _transition(st, assessor, public_id, "ended")


def _decide(st, assessor: requests.Session, public_id: str) -> None:
    """End the session, record BK with a reason for every unit of its scheme, decide it (its chain is closed)."""
    _transition(st, assessor, public_id, "ended")
    with _pg(st) as conn:
        units = [r[0] for r in conn.execute(
            "SELECT u.id FROM units u JOIN schedules sc ON sc.scheme_id = u.scheme_id JOIN assessment_sessions s "
            "ON s.schedule_id = sc.id WHERE s.public_id = %s ORDER BY u.id", (public_id,))]
    assert units
    token = _csrf(assessor, st, "/asesor/")
    for unit in units:
        resp = assessor.post(f"{st.url}/api/v1/sessions/{public_id}/decisions", timeout=30,
                             json={"unit_id": unit, "verdict": "BK", "reason": "Uji gangguan layanan (tes)"},
                             headers={"X-CSRFToken": token, "Referer": f"{st.url}/asesor/",
                                      "Accept": "application/json"})
        assert resp.status_code == 201, resp.text[:300]
    _transition(st, assessor, public_id, "decided")


def _candidate(st, http: requests.Session, public_id: str, seconds: float) -> Candidate:
    # the live page pins the session's browsers to one node with rtuk_route = the session's id
    http.cookies.set("rtuk_route", public_id, domain="localhost.local", path="/")
    page = http.get(f"{st.url}/sesi/{public_id}/langsung", timeout=10)
    assert page.status_code == 200, page.status_code
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    return Candidate(st, http, public_id, csrf, _recording(seconds + 30))


def _node_of(st, public_id: str) -> str:
    return requests.get(f"{st.url}/healthz", cookies={"rtuk_route": public_id}, verify=st.ca, timeout=5).json()["node"]


def _pids(st) -> dict[str, str]:
    out = {}
    for node in ("app1", "app2"):
        out[node] = st.ctl("pid", node).strip()
        assert out[node].isdigit(), (node, out[node])
    return out


def _spool_depth(st, node: str) -> float:
    auth = {"Authorization": f"Bearer {st.secrets['metrics_token']}"}
    resp = requests.get(f"{st.node_url(node)}/metrics", headers=auth, timeout=10)
    assert resp.status_code == 200
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            if s.name == "rtuk_evidence_spool_depth":
                return s.value
    raise AssertionError("no rtuk_evidence_spool_depth")


def _both_ready(st, timeout: float) -> float:
    t = time.monotonic()
    for node in ("app1", "app2"):
        _wait(lambda n=node: (r := _ready(st, n))[0] == 200 and all(r[1][c]["status"] == "ok" for c in CHECKS),
              timeout, f"{node} ready, {', '.join(CHECKS)} ok")
    return time.monotonic() - t


# --- what must be there afterwards ---------------------------------------------------------------------------------


def _check_evidence(st, assessor: requests.Session, public_id: str, client: Candidate,
                    tmp_path: Path) -> dict[str, Any]:
    """Every acknowledged chunk is in the database, the chain, the bucket and a bundle that verifies and decrypts to
    the bytes sent; no chunk entry holds other bytes than were sent for its number; no gap was recorded."""
    from minio import Minio

    from evidence_store.store import EvidenceStore
    from remote_tuk.live.services import CHUNK, EVENT

    sent = {k: hashlib.sha256(c).hexdigest() for k, c in enumerate(client.chunks[: client.made])}
    assert client.acked, "nothing was acknowledged"
    with _pg(st) as conn:
        rows = {seq: (sha, idx) for seq, sha, idx in conn.execute(
            "SELECT c.seq, c.sha256, c.log_index FROM recording_chunks c JOIN assessment_sessions s "
            "ON s.id = c.session_id WHERE s.public_id = %s", (public_id,))}
    for seq, ack in client.acked.items():
        assert rows.get(seq) == (ack["sha256"], ack["log_index"]), (seq, ack, rows.get(seq))

    # the session is ended and decided (BK on every unit), which closes its chain: only a closed chain verifies
    _decide(st, assessor, public_id)
    settings = _stack_settings(st)
    store = EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir, recover=False)
    try:
        entries = store.list_entries(public_id, include_related=False)
        verifier_key = store.status()["verifier_key"]
    finally:
        store.close()
    assert entries[-1]["kind"] == "close", entries[-1]
    chunk_entries: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("kind") == "item" and e.get("type") == CHUNK:
            chunk_entries.setdefault(e["metadata"]["seq"], []).append(e)
    by_index = {e["log_index"]: e for es in chunk_entries.values() for e in es}
    for seq, ack in client.acked.items():
        e = by_index.get(ack["log_index"])
        assert e is not None, f"acknowledged chunk {seq} (log index {ack['log_index']}) is not in the session's chain"
        assert e["metadata"]["seq"] == seq and e["metadata"]["sha256"] == ack["sha256"], e["metadata"]
    for seq, es in chunk_entries.items():
        for e in es:
            assert e["metadata"]["sha256"] == sent.get(seq), f"the chain holds other bytes for chunk {seq} than sent"
    gaps = [e for e in entries if e.get("kind") == "item" and e.get("type") == EVENT
            and e.get("metadata", {}).get("event") == "recording.gap"]
    assert not gaps, f"a gap was recorded though every chunk was uploaded in order: {gaps}"

    s3 = Minio(settings.evidence.s3_endpoint, access_key=settings.evidence.s3_access_key,
               secret_key=settings.evidence.s3_secret_key, secure=False)
    for e in by_index.values():
        obj = s3.get_object(settings.evidence.s3_bucket, e["object"]["key"])
        try:
            assert hashlib.sha256(obj.read()).hexdigest() == e["object"]["sha256"], e["object"]["key"]
        finally:
            obj.close()
            obj.release_conn()

    # the bundle as the assessor downloads it through the proxy, with the data keys wrapped for an auditor
    keygen = subprocess.run([sys.executable, "-m", "evidence_store", "auditor-keygen", "--out",
                             str(tmp_path / "auditor")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert keygen.returncode == 0, keygen.stderr
    token = _csrf(assessor, st, f"/sesi/{public_id}/bukti")
    resp = assessor.post(f"{st.url}/sesi/{public_id}/bukti/bundel.zip", timeout=120,
                         data={"auditor_key": (tmp_path / "auditor.pub").read_text().strip(), "csrf_token": token},
                         headers={"Referer": f"{st.url}/sesi/{public_id}/bukti"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip", resp.text[:300]
    (tmp_path / "bundle.zip").write_bytes(resp.content)
    key_file = tmp_path / "verifier-key.txt"
    key_file.write_text(str(verifier_key) + "\n")
    out = tmp_path / "plain"
    done = subprocess.run([sys.executable, "-m", "evidence_store", "verify", str(tmp_path / "bundle.zip"),
                           "--pubkey", str(key_file), "--decrypt-with", str(tmp_path / "auditor"),
                           "--extract-to", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the bundle does not verify:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    plain = {hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    missing = sorted(seq for seq, ack in client.acked.items() if ack["sha256"] not in plain)
    assert not missing, f"acknowledged chunks not decrypted from the bundle: {missing}"
    return {"chunk_entries": sum(len(es) for es in chunk_entries.values()),
            "logged_twice": sorted(seq for seq, es in chunk_entries.items() if len(es) > 1)}


def _run_outage(st, assessor: requests.Session, candidate: requests.Session, public_id: str, stop: str,
                hold_s: float, tmp_path: Path, *, before_s: float = 10.0, after_s: float = 20.0,
                during=None) -> dict[str, Any]:
    """Record *before_s*, stop *stop* for *hold_s* (while *during*(client, t_stop) looks on), start it, record
    *after_s* more; then every chunk must be acknowledged and in the evidence. Returns the figures."""
    pids = _pids(st)
    client = _candidate(st, candidate, public_id, before_s + hold_s + after_s)
    client.start()
    seen: dict[str, Any] = {}
    try:
        _wait(lambda: len(client.acked) >= 3, 30, "the first chunks acknowledged before the fault")
        time.sleep(max(0.0, before_s - client.now()))
        t_stop = client.now()
        st.ctl("stop", stop)
        try:
            if during is not None:
                seen = during(client, t_stop) or {}
            time.sleep(max(0.0, t_stop + hold_s - client.now()))
        finally:
            st.ctl("start", stop)
        t_start = client.now()
        spool_empty_at = None
        while client.now() < t_start + after_s:
            if spool_empty_at is None and _spool_depth(st, "app1") == 0:
                spool_empty_at = client.now()
            time.sleep(0.5)
        client.finish(DRAIN_TIMEOUT_S)
        t_drained = client.now()
    finally:
        client.stop_recording()
    ready_s = _both_ready(st, READY_TIMEOUT_S)
    assert _pids(st) == pids, "an app node was restarted"
    # objects spooled meanwhile (the S3 outage) reach the bucket: the spool (shared by the nodes) empties
    t = time.monotonic()
    _wait(lambda: all(_spool_depth(st, n) == 0 for n in ("app1", "app2")), 120, "the evidence spool emptied")
    spool_s = time.monotonic() - t
    figures = client.summary((t_stop, t_start))
    figures.update(seen)
    figures["outage_s"] = round(t_start - t_stop, 1)
    figures["all_acknowledged_s_after_start"] = round(t_drained - t_start, 1)
    figures["both_ready_s_after_drain"] = round(ready_s, 1)
    figures["spool_empty_s_after_ready"] = round(spool_s, 1)
    figures["spool_empty_s_after_start"] = None if spool_empty_at is None else round(spool_empty_at - t_start, 1)
    figures["node"] = _node_of(st, public_id)
    figures.update(_check_evidence(st, assessor, public_id, client, tmp_path))
    figures["refused_attempts"] = [(x.at, x.seq, x.status, x.code) for x in client.failed_between(0, 1e9)][:40]
    return figures


def _report(name: str, figures: dict[str, Any]) -> None:
    print(f"\n[{name}] " + json.dumps(figures, sort_keys=True))
    out = os.environ.get("RTUK_FAULT_FIGURES")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps({"test": name, **figures}, sort_keys=True) + "\n")


# --- the tests ---------------------------------------------------------------------------------------------------


def test_redis_stopped_30s_nothing_acknowledged_lost(running_stack, assessor, candidate_http, live_session, tmp_path):
    st = running_stack

    def during(client: Candidate, t_stop: float) -> dict[str, Any]:
        # the fault is real: the node says it is not ready (its Socket.IO queue is gone)
        _wait(lambda: _ready(st, "app1")[0] == 503, 20, "app1 unready without Redis")
        return {"unready_s_after_stop": round(client.now() - t_stop, 1)}

    figures = _run_outage(st, assessor, candidate_http, live_session, "redis", 30.0, tmp_path, during=during)
    _report("redis-30s", figures)
    # Socket.IO broadcasts work again across both nodes (their Redis listeners subscribed again by themselves)
    t = time.monotonic()
    _broadcasts_reach_both_nodes(st)
    figures["broadcasts_back_s"] = round(time.monotonic() - t, 1)
    _report("redis-30s", {"broadcasts_back_s": figures["broadcasts_back_s"]})


def test_s3_stopped_60s_chunks_spooled_then_uploaded(running_stack, assessor, candidate_http, live_session, tmp_path):
    st = running_stack

    def during(client: Candidate, t_stop: float) -> dict[str, Any]:
        # acknowledged while the bucket is away: the objects wait in the spool, the node stays ready
        _wait(lambda: _spool_depth(st, "app1") or None, 40, "chunks spooled while S3 is down")
        status, checks = _ready(st, "app1")
        assert status == 200 and checks["evidence_objects"]["status"] == "degraded", checks
        deepest = 0.0
        while client.now() < t_stop + 58:
            deepest = max(deepest, _spool_depth(st, "app1"))
            time.sleep(1)
        return {"spool_depth_max": deepest}

    figures = _run_outage(st, assessor, candidate_http, live_session, "s3", 60.0, tmp_path, during=during)
    assert figures["acknowledged_during_outage"] >= 20, figures  # the outage did not stop the recording
    assert figures["spool_depth_max"] >= 20, figures  # and what it took waited in the spool
    _report("s3-60s", figures)


def test_postgresql_restarted_nothing_acknowledged_lost(running_stack, assessor, candidate_http, live_session,
                                                        tmp_path):
    st = running_stack

    def during(client: Candidate, t_stop: float) -> dict[str, Any]:
        _wait(lambda: _ready(st, "app1")[0] == 503, 30, "app1 unready without PostgreSQL")
        return {"unready_s_after_stop": round(client.now() - t_stop, 1)}

    figures = _run_outage(st, assessor, candidate_http, live_session, "postgres", 15.0, tmp_path, during=during)
    _report("postgres-restart", figures)
