"""Load across media nodes (issue 18 "Measure", docs/DEPLOYMENT.md "Load across media nodes"): how many live
sessions the app holds with 1 and with 2 Redis-backed media nodes, proctoring analysis on in the nodes.

Run:  .venv/bin/python bench/bench_media_nodes.py [--quick] [--minutes 5] [--db postgresql|sqlite] [--max-sessions 24]

Per configuration (1 node, then 2 nodes, in the same run) the bench starts ``python -m remote_tuk media-node``
processes (``RTUK_MEDIA_NODES=redis``, Redis on 127.0.0.1:6379, ``RTUK_RTC_PROCTORING=true``: the live analysis runs
in the nodes, as in production) and an app in a process of its own, driven the way tests/integration/
test_media_nodes.py drives it (Flask's test client and Flask-SocketIO's test client, the app's media proxy placing
and signalling the sessions through Redis). Per session: one synthetic aiortc candidate (pre-encoded 640x480 30 fps VP8
~1 Mbit/s + Opus, bench_relay.py's replay tracks) and one synthetic aiortc assessor, both offering through the app's
Socket.IO ``offer``; and the candidate's browser recording uploaded to the app's chunk API
(``POST /api/v1/sessions/<id>/recording/chunks``) as live-candidate.js ``pump()`` does: a 256 KiB chunk every 2 s
(~1 Mbit/s), in order, one at a time, retried until accepted.

A count of sessions is *held* when every offer was answered, every viewer received >= 25 fps over the window, every
chunk was acknowledged (2xx), and every session's analysis ran and was not ``behind`` (what the assessor's page calls
"analisis tertinggal"; asked through the app's proxy as the staff page does). The ladder (4, 8, 12, 16, ...) stops
at the first count that fails twice (other users' jobs share these cores). After the ladder: every session's
acknowledged chunks are looked up in its evidence chain (persisted = acknowledged), and one session is ended and
decided and its bundle exported (``python -m evidence_store export``) and verified (``... verify``).

Everything runs on this machine at once: Redis, the database, the nodes, the app, and the clients (which cost about as
much as a node: they packetize, encrypt and send what the candidates' and assessors' browsers would on their own
machines). The figures are therefore lower bounds, and 2 nodes on the same 2 cores share the CPU that 1 node had.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_relay as relay  # noqa: E402  (bench/ is a folder of scripts)

from tests.media_node_procs import REDIS_URL, MediaNodes  # noqa: E402

CHUNK_BYTES = 256 * 1024
CHUNK_EVERY_S = 2.0
METRICS_TOKEN = "bench-media-nodes-metrics-token-0123456789"


# -- the app process ------------------------------------------------------------------------------------------------

def app_main(conn: Any, db_url: str, var_dir: str, prefix: str) -> None:
    """The app (RTUK_MEDIA_NODES=redis) and its test clients: seeds sessions, makes them live, relays the offers of the
    synthetic peers through Socket.IO ``offer`` and uploads recording chunks. Requests arrive as (rid, cmd, *args);
    each runs on a thread of its own and answers (rid, result)."""
    from config import load_settings
    from remote_tuk import create_app
    from remote_tuk.extensions import limiter, socketio

    settings = load_settings(env="testing", database_url=db_url, var_dir=Path(var_dir))
    settings.rtc.proctoring = True
    settings.media_nodes = "redis"
    settings.media_nodes_url = REDIS_URL
    settings.media_nodes_prefix = prefix
    settings.login_rate_limit = "10000 per minute"  # every test client signs in from 127.0.0.1
    app = create_app(settings)
    limiter.reset()
    send_lock = threading.Lock()
    state: dict[str, Any] = {"sessions": [], "stop": threading.Event(), "uploads": []}

    def reply(rid: int, result: Any) -> None:
        with send_lock:
            conn.send((rid, result))

    def handle(rid: int, cmd: str, args: tuple) -> None:
        try:
            result = COMMANDS[cmd](*args)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            import traceback

            result = RuntimeError(f"{cmd}: {exc!r}\n{traceback.format_exc()[-2000:]}")
        reply(rid, result)

    def setup(count: int) -> list[str]:
        return _setup_sessions(app, socketio, state, count)

    def offer(index: int, role: str, sdp: str) -> dict[str, Any]:
        sess = state["sessions"][index]
        sock = sess["cand_sock"] if role == "candidate" else sess["asse_sock"]
        started = time.monotonic()
        ack = sock.emit("offer", {"session": sess["id"], "sdp": sdp}, namespace="/live", callback=True)
        return {"ack": ack, "latency_s": time.monotonic() - started}

    def rejoin(indexes: list[int]) -> bool:
        """The pages leave (their media closes on the node) and join again, ready for the next step's offers."""
        for i in indexes:
            sess = state["sessions"][i]
            for sock in (sess["cand_sock"], sess["asse_sock"]):
                sock.emit("leave", {"session": sess["id"]}, namespace="/live", callback=True)
                sock.get_received("/live")  # drop what the room sent meanwhile
                assert sock.emit("join", {"session": sess["id"]}, namespace="/live", callback=True)["ok"]
        return True

    def chunks_start(indexes: list[int]) -> bool:
        state["stop"] = threading.Event()
        state["uploads"] = [_Uploader(state["sessions"][i], state["stop"]) for i in indexes]
        for u in state["uploads"]:
            u.thread.start()
        return True

    def chunks_stop(drain_s: float) -> list[dict[str, Any]]:
        state["stop"].set()
        deadline = time.monotonic() + drain_s
        for u in state["uploads"]:
            u.thread.join(max(0.1, deadline - time.monotonic()))
        return [u.report() for u in state["uploads"]]

    def persisted(indexes: list[int]) -> list[dict[str, Any]]:
        from remote_tuk.extensions import evidence
        from remote_tuk.live.services import CHUNK

        out = []
        with app.app_context():
            for i in indexes:
                sess = state["sessions"][i]
                seqs = [(e.get("metadata") or {}).get("seq") for e in evidence.store.list_entries(sess["id"])
                        if e.get("type") == CHUNK]
                out.append({"session": sess["id"], "persisted": len(seqs), "distinct": len(set(seqs)),
                            "acked": sess["acked_total"], "acked_seqs": sorted(sess["acked_seqs"]),
                            "persisted_seqs": sorted(s for s in seqs if s is not None)})
        return out

    def finish(index: int) -> list[tuple[str, int, Any]]:
        """The assessor ends the session and decides it: the final joins run and the evidence chain is closed."""
        a_http, a_token = state["assessor"]
        pid = state["sessions"][index]["id"]
        from sqlalchemy import select

        from remote_tuk.assessment.models import AssessmentSession
        from remote_tuk.extensions import db

        out = []
        r = a_http.post(f"/api/v1/sessions/{pid}/transition", json={"to": "ended"}, headers={"X-CSRFToken": a_token})
        out.append(("ended", r.status_code, r.get_json()))
        with app.app_context():
            sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == pid))
            units = [u.id for u in sess.schedule.scheme.units]
        for uid in units:  # BK for every unit (the deciding needs a decision per unit)
            r = a_http.post(f"/api/v1/sessions/{pid}/decisions", headers={"X-CSRFToken": a_token},
                            json={"unit_id": uid, "verdict": "BK", "reason": "Beban uji."})
            out.append((f"decision {uid}", r.status_code, r.get_json()))
        for to in ("decided",):
            r = a_http.post(f"/api/v1/sessions/{pid}/transition", json={"to": to}, headers={"X-CSRFToken": a_token})
            out.append((to, r.status_code, r.get_json()))
        return out

    def analysis(indexes: list[int]) -> list[dict[str, Any] | None]:
        """Each session's live analysis as the staff page asks for it (through the proxy, from its node)."""
        from remote_tuk.extensions import media

        with app.app_context():
            return [media.proctoring.metrics(state["sessions"][i]["id"]) for i in indexes]

    def cpu() -> float:
        return time.process_time()

    COMMANDS = {"setup": setup, "offer": offer, "rejoin": rejoin, "chunks_start": chunks_start,
                "chunks_stop": chunks_stop, "persisted": persisted, "finish": finish, "analysis": analysis,
                "cpu": cpu}
    try:
        while True:
            rid, cmd, *args = conn.recv()
            if cmd == "stop":
                reply(rid, True)
                break
            threading.Thread(target=handle, args=(rid, cmd, tuple(args)), daemon=True).start()
    finally:
        app.extensions["rtuk_media"].stop()
        app.extensions["rtuk_evidence"].close()
        app.extensions["rtuk_db"].dispose()


def _setup_sessions(app: Any, socketio: Any, state: dict[str, Any], count: int) -> list[str]:
    """*count* sessions of schedule A (asesor_a), each with its own candidate, live, both pages joined."""
    from sqlalchemy import func, select

    from remote_tuk.accounts.models import Role, User
    from remote_tuk.accounts.services import create_user
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import AssessmentSession, Schedule
    from remote_tuk.extensions import db
    from remote_tuk.live.models import RecordingChunk
    from tests.conftest import PASSWORD, csrf_token, login, satisfy_gate

    sessions = state["sessions"]
    if len(sessions) >= count:
        return [s["id"] for s in sessions]
    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == "admin"))
        sched = s.scalar(select(Schedule).where(Schedule.title == "Jadwal A"))
        existing = {sess.candidate.username: sess.public_id for sess in
                    s.scalars(select(AssessmentSession).where(AssessmentSession.schedule_id == sched.id))}
        wanted = []
        for i in range(len(sessions), count):
            name = "asesi_a" if i == 0 else f"asesi_beban_{i:03d}"
            if name not in existing:
                user = create_user(s, username=name, full_name=f"Asesi Beban {i}", password=PASSWORD,
                                   created_by=None, role=Role.CANDIDATE, nik=f"320101010102{i:04d}")
                s.commit()
                existing[name] = assessment.add_candidate(s, sched, user.id, actor=admin).public_id
            wanted.append((name, existing[name]))
    url = app.config["RTUK"].sqlalchemy_url
    if "assessor" not in state:
        state["totp"] = _TotpOnly(url)  # what login() reads of a Cast
        a_http = app.test_client()
        login(a_http, state["totp"], "asesor_a")
        state["assessor"] = (a_http, csrf_token(a_http, "/akun/kata-sandi"))
    a_http, a_token = state["assessor"]
    for name, pid in wanted:
        with app.app_context():
            live = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == pid)).state.value
        if live != "live":
            satisfy_gate(url, pid)
            _store_ktp(app, pid)
            for to in ("checking", "ready", "live"):
                r = a_http.post(f"/api/v1/sessions/{pid}/transition", json={"to": to},
                                headers={"X-CSRFToken": a_token})
                assert r.status_code == 200, (pid, to, r.get_json())
        c_http = app.test_client()
        login(c_http, state["totp"], name)
        c_token = csrf_token(c_http, "/akun/kata-sandi")
        cand_sock = socketio.test_client(app, namespace="/live", flask_test_client=c_http)
        asse_sock = socketio.test_client(app, namespace="/live", flask_test_client=a_http)
        for sock in (cand_sock, asse_sock):
            ack = sock.emit("join", {"session": pid}, namespace="/live", callback=True)
            assert ack["ok"], (pid, ack)
        with app.app_context():  # the recorder continues after the chunks an earlier app process stored
            last = db.session.scalar(select(func.max(RecordingChunk.seq)).join(AssessmentSession).where(
                AssessmentSession.public_id == pid))
        sessions.append({"id": pid, "http": c_http, "token": c_token, "cand_sock": cand_sock, "asse_sock": asse_sock,
                         "next_seq": 0 if last is None else last + 1, "acked_total": 0, "acked_seqs": set()})
    return [s["id"] for s in sessions]


def _store_ktp(app: Any, pid: str) -> None:
    """The candidate's KTP snapshot in the evidence chain (the same face the clip shows), so that the node's
    analysis compares identities as in production (satisfy_gate records the identity check without a picture)."""
    from bench_proctoring_scale import _reference_jpeg
    from sqlalchemy import select

    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import services as live
    from remote_tuk.tuk.identity import KTP, find

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == pid))
        live.ensure_evidence(evidence.store, session)
        receipt = evidence.store.append(pid, KTP, _reference_jpeg(), metadata=live.entry_metadata({}),
                                        actor=("candidate", str(session.candidate_id)),
                                        candidate_id=str(session.candidate_id))
        find(db.session, session).ktp_object = receipt.object_key
        db.session.commit()


class _TotpOnly:
    """What tests.conftest.login needs of a Cast: the TOTP secret of a staff account (read from the database)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as c:
            self.totp = {name: secret for name, secret in
                         c.execute(text("select username, totp_secret from users where totp_enabled"))}
        engine.dispose()


class _Uploader:
    """live-candidate.js ``pump()``: a chunk every CHUNK_EVERY_S s, uploaded in order, one at a time, each retried
    (1, 2, 4 … 10 s apart) until 201/200. Chunk 0 of a session starts with a WebM header, as a recorder's first."""

    _webm_head: bytes | None = None

    def __init__(self, sess: dict[str, Any], stop: threading.Event) -> None:
        self.sess, self.stop = sess, stop
        self.produced = self.sent = self.acked = self.failed = 0
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    @classmethod
    def head(cls) -> bytes:
        if cls._webm_head is None:
            from tests.integration.test_live_session import _webm

            cls._webm_head = _webm(seconds=1.0)
        return cls._webm_head

    def body(self, seq: int) -> bytes:
        rand = os.urandom(CHUNK_BYTES)
        if seq == 0:
            head = self.head()
            return head + rand[len(head):]
        return b"\x00" + rand[1:]  # never the EBML magic: a continuation chunk

    def run(self) -> None:
        sess = self.sess
        queue: list[tuple[int, bytes, int]] = []
        next_at = time.monotonic()
        failures = 0
        retry_at = 0.0
        while not self.stop.is_set() or queue:
            now = time.monotonic()
            if not self.stop.is_set() and now >= next_at:
                seq = sess["next_seq"]
                sess["next_seq"] += 1
                queue.append((seq, self.body(seq), int(time.time() * 1000)))
                self.produced += 1
                next_at += CHUNK_EVERY_S
            if not queue or now < retry_at:
                if self.stop.wait(0.05) and not queue:
                    break
                continue
            seq, body, start_ms = queue[0]
            headers = {"X-CSRFToken": sess["token"], "X-Chunk-Seq": str(seq),
                       "X-Chunk-SHA256": hashlib.sha256(body).hexdigest(), "X-Chunk-Start": str(start_ms),
                       "Content-Type": "application/octet-stream"}
            t0 = time.monotonic()
            r = sess["http"].post(f"/api/v1/sessions/{sess['id']}/recording/chunks", data=body, headers=headers)
            self.latencies.append(time.monotonic() - t0)
            self.sent += 1
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
            if r.status_code in (200, 201):
                queue.pop(0)
                self.acked += 1
                sess["acked_total"] += 1
                sess["acked_seqs"].add(seq)
                failures = 0
            else:
                self.failed += 1
                failures += 1
                retry_at = time.monotonic() + min(10.0, 2 ** min(failures - 1, 4))
        self.left = len(queue)

    def report(self) -> dict[str, Any]:
        return {"session": self.sess["id"], "produced": self.produced, "sent": self.sent, "acked": self.acked,
                "failed": self.failed, "statuses": self.statuses, "left": getattr(self, "left", None),
                "latencies": self.latencies}


class App:
    """The app process, called from several threads at once."""

    def __init__(self, db_url: str, var_dir: Path, prefix: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=app_main, args=(child, db_url, str(var_dir), prefix), daemon=True)
        self.proc.start()
        self.lock = threading.Lock()
        self.futures: dict[int, Future] = {}
        self.rid = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                rid, result = self.conn.recv()
            except (EOFError, OSError):
                for f in list(self.futures.values()):
                    if not f.done():
                        f.set_exception(RuntimeError("the app process ended"))
                return
            self.futures.pop(rid).set_result(result)

    def call(self, cmd: str, *args: Any, timeout: float = 300) -> Any:
        f: Future = Future()
        with self.lock:
            self.rid += 1
            self.futures[self.rid] = f
            self.conn.send((self.rid, cmd, *args))
        result = f.result(timeout)
        if isinstance(result, Exception):
            raise result
        return result

    def stop(self) -> None:
        try:
            self.call("stop", timeout=60)
        finally:
            self.proc.join(30)
            if self.proc.is_alive():
                self.proc.kill()


# -- media nodes ----------------------------------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- one step of the ladder -----------------------------------------------------------------------------------------

async def _open(app: App, count: int, clip, opus) -> tuple[list[relay.Pair], list[float], list[str]]:
    from proctor.rtc.testing import SyntheticPeer

    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: list[str] = []

    async def one(i: int) -> relay.Pair:
        video, audio = relay.replay_tracks(clip, opus)
        candidate = SyntheticPeer(send=[video, audio], recv=["audio"], decode_video=False)
        viewer = SyntheticPeer(send=[], recv=["video", "audio"], decode_video=False)
        for role, peer in (("candidate", candidate), ("assessor", viewer)):
            sdp = await peer.offer()
            r = await loop.run_in_executor(None, app.call, "offer", i, role, sdp)
            latencies.append(r["latency_s"])
            if not r["ack"].get("ok"):
                errors.append(f"session {i} {role}: {r['ack']}")
                continue
            await peer.accept(r["ack"]["sdp"])
        return relay.Pair(candidate, viewer)

    pairs = list(await asyncio.gather(*(one(i) for i in range(count))))
    for pair in pairs:
        for peer in (pair.candidate, pair.viewer):
            try:
                await peer.wait_connected(30)
            except Exception as exc:  # noqa: BLE001 - reported, the step then fails
                errors.append(f"not connected: {exc!r}")
    return pairs, latencies, errors


async def _close(pairs: list[relay.Pair]) -> None:
    for pair in pairs:
        await pair.candidate.close()
        await pair.viewer.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def step(app: App, nodes: MediaNodes, registry: Any, count: int, clip, opus, loop, warmup: float,
         window: float) -> dict[str, Any]:
    ids = app.call("setup", count, timeout=600)
    pairs, latencies, errors = loop.run(_open(app, count, clip, opus), 300)
    try:
        app.call("chunks_start", list(range(count)))
        time.sleep(warmup)
        frames0 = [p.viewer.received.video_frames for p in pairs]
        pids = {name: p.pid for name, p in nodes.procs.items()}
        cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
        app0, client0, busy0, t0 = proc_cpu(app.proc.pid), time.process_time(), relay.machine_busy(), time.monotonic()
        spread: dict[str, int] = {}
        placed: dict[str, int] = {}
        mid = t0 + window / 2
        while time.monotonic() < t0 + window:
            time.sleep(min(1.0, max(0.0, t0 + window - time.monotonic())))
            if not spread and time.monotonic() >= mid:
                spread = {n.name: n.sessions for n in registry.nodes()}
                for sid in ids[:count]:
                    node = registry.placement(sid)
                    placed[node] = placed.get(node, 0) + 1
        t1 = time.monotonic()
        cpu1 = {name: proc_cpu(pid) for name, pid in pids.items()}
        app1, client1, busy1 = proc_cpu(app.proc.pid), time.process_time(), relay.machine_busy()
        frames1 = [p.viewer.received.video_frames for p in pairs]
        load = os.getloadavg()
        pools = app.call("analysis", list(range(count)))
    finally:
        uploads = app.call("chunks_stop", 20.0, timeout=120)
        loop.run(_close(pairs), 120)
        app.call("rejoin", list(range(count)))
    span = t1 - t0
    fps = [(b - a) / span for a, b in zip(frames0, frames1, strict=True)]
    node_cpu = {name: (cpu1[name] - cpu0[name]) / span for name in cpu0}
    app_cpu = (app1 - app0) / span
    client_cpu = (client1 - client0) / span
    produced = sum(u["produced"] for u in uploads)
    acked = sum(u["acked"] for u in uploads)
    statuses: dict[int, int] = {}
    for u in uploads:
        for code, n in u["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    chunk_lat = [x for u in uploads for x in u["latencies"]]
    result = {
        "sessions": count, "min_fps": min(fps), "mean_fps": statistics.mean(fps), "all_25": min(fps) >= 25,
        "offer_errors": errors, "offer_p50_s": pct(latencies, 0.5), "offer_p99_s": pct(latencies, 0.99),
        "chunks_produced": produced, "chunks_sent": sum(u["sent"] for u in uploads), "chunks_acked": acked,
        "chunk_statuses": statuses, "chunk_p50_s": pct(chunk_lat, 0.5), "chunk_p99_s": pct(chunk_lat, 0.99),
        "node_sessions": spread, "placed": placed, "node_cpu": node_cpu, "app_cpu": app_cpu,
        "client_cpu": client_cpu,
        "other_cpu": max(0.0, (busy1 - busy0) / span - sum(node_cpu.values()) - app_cpu - client_cpu),
        "load": load,
        "analysis_missing": sum(1 for p in pools if p is None),
        "analysis_behind": sum(1 for p in pools if p and p["behind"]),
        "analysis_lag_p95_s": max((p["lag_p95_s"] or 0.0 for p in pools if p), default=float("nan")),
        "analysis_drop_rate": max((p["drop_rate"] for p in pools if p), default=float("nan")),
    }
    result["held"] = (result["all_25"] and not errors and acked == produced and not result["analysis_behind"]
                      and not result["analysis_missing"])
    return result


def describe(nodes_count: int, r: dict[str, Any]) -> str:
    cpu = ", ".join(f"{k} {100 * v:.0f} %" for k, v in sorted(r["node_cpu"].items()))
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(r["chunk_statuses"].items()))
    return (f"{nodes_count} node{'s' if nodes_count > 1 else ''}, {r['sessions']:>2} sessions: viewer fps min "
            f"{r['min_fps']:.1f} mean {r['mean_fps']:.1f} (all >= 25: {'yes' if r['all_25'] else 'no'}); "
            f"chunks made {r['chunks_produced']} sent {r['chunks_sent']} acked {r['chunks_acked']} ({codes}; "
            f"upload p50 {1000 * r['chunk_p50_s']:.0f} ms p99 {1000 * r['chunk_p99_s']:.0f} ms); offer->answer p50 "
            f"{1000 * r['offer_p50_s']:.0f} ms p99 {1000 * r['offer_p99_s']:.0f} ms"
            f"{' ERRORS ' + str(r['offer_errors'][:3]) if r['offer_errors'] else ''}; sessions per node "
            f"{r['node_sessions']} (placed {r['placed']}); CPU (1.0 = a core): {cpu}, app {100 * r['app_cpu']:.0f} %, "
            f"clients {100 * r['client_cpu']:.0f} %, others {100 * r['other_cpu']:.0f} %; analysis: behind in "
            f"{r['analysis_behind']} sessions, not running in {r['analysis_missing']}, worst lag p95 "
            f"{r['analysis_lag_p95_s']:.2f} s, worst dropped {100 * r['analysis_drop_rate']:.0f} %; load "
            f"{r['load'][0]:.1f} -> {'held' if r['held'] else 'NOT HELD'}")


# -- database -------------------------------------------------------------------------------------------------------

def make_database(kind: str, tmp: Path) -> tuple[str, Any, Any]:
    """A migrated database with the test cast (tests/conftest.py), and its keystore copied into ``tmp/var``."""
    from tests.conftest import _Backends, copy_seed_keys

    backends = _Backends(tmp / "db")
    (tmp / "db").mkdir()
    url, cast = backends.fresh(kind, tmp)
    from config import load_settings

    copy_seed_keys(cast, load_settings(env="testing", database_url=url, var_dir=tmp / "var").evidence_dir)
    return url, cast, backends


def export_and_verify(env: dict[str, str], session_id: str, out: Path) -> dict[str, Any]:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "evidence_store", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    params = cli("parameters")
    key = json.loads(params.stdout)["verifier_key"]
    deadline = time.monotonic() + 60
    while True:  # the chain is closed by the deciding, after the final joins
        exp = cli("export", f"--session={session_id}", "--out", str(out))
        if exp.returncode != 0:
            return {"export_rc": exp.returncode, "error": (exp.stdout + exp.stderr)[-1500:]}
        with zipfile.ZipFile(out) as zf:
            closed = any(json.loads(line).get("kind") == "close"
                         for line in zf.read("entries.jsonl").splitlines() if line.strip())
        if closed or time.monotonic() > deadline:
            break
        time.sleep(2)
    ver = cli("verify", str(out), "--pubkey", key)
    with zipfile.ZipFile(out) as zf:
        entries = [json.loads(line) for line in zf.read("entries.jsonl").splitlines() if line.strip()]
    from remote_tuk.live.services import CHUNK

    return {"export_rc": 0, "verify_rc": ver.returncode, "entries": len(entries),
            "chunks": sum(1 for e in entries if e.get("type") == CHUNK), "bytes": out.stat().st_size,
            "verify_tail": [line for line in ver.stdout.splitlines() if "FAIL" in line][:5] or ver.stdout[-300:]}


# -- main -----------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="window 15 s, ladder 2, 4, 6 ... (a smoke run)")
    ap.add_argument("--minutes", type=float, default=None, help="measuring window per step (default 1)")
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--max-sessions", type=int, default=24)
    ap.add_argument("--nodes", default="1,2", help="node counts to measure, in order")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    window = 60.0 * args.minutes if args.minutes else (15.0 if args.quick else 60.0)
    warmup = 4.0 if args.quick else 6.0
    ladder = [2, 4, 6, 8, 10, 12] if args.quick else [4, 8, 12, 16, 20, 24, 28, 32]
    ladder = [n for n in ladder if n <= args.max_sessions]

    import redis

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import loopback_ice
    from remote_tuk.medianode.registry import Registry

    rds = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    rds.ping()
    tmp = Path(tempfile.mkdtemp(prefix="rtuk-bench-media-"))
    db_url, _cast, backends = make_database(args.db, tmp)
    var_dir = tmp / "var"
    report: dict[str, Any] = {"machine_cores": os.cpu_count(), "load_before": os.getloadavg(), "db": args.db,
                              "window_s": window, "configs": {}}
    out = (lambda *a: None) if args.json else print
    out(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.db}; window {window:.0f} s per step; "
        f"per session a 640x480 30 fps VP8 ~1 Mbit/s + Opus candidate, one assessor, 256 KiB chunks every 2 s")
    clip = relay.preencode_clip(seconds=4.0)
    opus = relay.preencode_opus()
    all_counts = 0
    env = None
    try:
        with loopback_ice():
            loop = RtcLoop("bench-clients")
            loop.start()
            try:
                for nodes_count in [int(x) for x in args.nodes.split(",")]:
                    prefix = "rtuk-bench-media-" + uuid.uuid4().hex[:12]
                    registry = Registry(rds, prefix)
                    nodes = MediaNodes(db_url, var_dir, prefix, tmp, METRICS_TOKEN, proctoring=True, ops_port=False)
                    env = nodes.env
                    app = App(db_url, var_dir, prefix)
                    rows: list[dict[str, Any]] = []
                    best = 0
                    try:
                        for i in range(nodes_count):
                            nodes.start(f"media-{i + 1}")
                        deadline = time.monotonic() + 120
                        while len(registry.nodes()) < nodes_count:
                            if time.monotonic() > deadline:
                                raise RuntimeError("the media nodes did not register:\n" +
                                                   "\n".join(nodes.log(n)[-2000:] for n in nodes.procs))
                            time.sleep(0.2)
                        for n in ladder:
                            r = step(app, nodes, registry, n, clip, opus, loop, warmup, window)
                            out("  " + describe(nodes_count, r))
                            rows.append(r)
                            if not r["held"]:
                                r = step(app, nodes, registry, n, clip, opus, loop, warmup, window)
                                out("  " + describe(nodes_count, r) + " (again)")
                                rows.append(r)
                            all_counts = max(all_counts, n)
                            if not r["held"]:
                                break
                            best = n
                        dead = [n for n, p in nodes.procs.items() if p.poll() is not None]
                        if dead:
                            out(f"  node(s) ended during the run: {dead}")
                    finally:
                        app.stop()
                        nodes.stop()
                        keys = list(rds.scan_iter(f"{prefix}:*"))
                        if keys:
                            rds.delete(*keys)
                    report["configs"][nodes_count] = {"held": best, "steps": rows}
                    out(f"{nodes_count} node(s): held {best} sessions")
            finally:
                loop.stop()

        held = {k: v["held"] for k, v in report["configs"].items()}
        if 1 in held and 2 in held:
            ratio = held[2] / held[1] if held[1] else float("nan")
            report["ratio"] = ratio
            out(f"largest N held: 1 node {held[1]}, 2 nodes {held[2]} (ratio {ratio:.2f})")

        # every acknowledged chunk in its session's evidence chain; one session's bundle exported and verified
        checker = App(db_url, var_dir, "rtuk-bench-media-check-" + uuid.uuid4().hex[:8])
        try:
            checker.call("setup", all_counts, timeout=600)
            rows = checker.call("persisted", list(range(all_counts)), timeout=600)
            finished = checker.call("finish", 0, timeout=600)
        finally:
            checker.stop()
        # acked counts live in the app processes that uploaded; the chain's chunks against the database's rows
        lost = _lost_chunks(db_url, rows)
        acked = sum(r["chunks_acked"] for c in report["configs"].values() for r in c["steps"])
        in_chains = sum(r["persisted"] for r in rows)
        report["persisted"] = {"sessions": len(rows), "acked": acked, "chunks_in_chains": in_chains, "lost": lost,
                               "equal": acked == in_chains and not lost}
        out(f"evidence: {acked} chunks acknowledged (2xx) over the run, {in_chains} in the {len(rows)} sessions' "
            f"chains (persisted = acknowledged: {'yes' if acked == in_chains and not lost else 'NO'}); stored rows "
            f"with a log index missing from the chain: {lost or 'none'}")
        if rows and env is not None:
            first = rows[0]["session"]
            if any(code not in (200, 201) for _to, code, _body in finished):
                out(f"ending and deciding {first} failed: {finished}")
            exp = export_and_verify(env, first, tmp / "bundle.zip")
            report["bundle"] = exp
            out(f"bundle of {first}: export rc {exp.get('export_rc')}, verify rc {exp.get('verify_rc')}, "
                f"{exp.get('entries')} entries, {exp.get('chunks')} chunks, {exp.get('bytes', 0) / 1e6:.1f} MB "
                f"{exp.get('error', '')}")
    finally:
        report["load_after"] = os.getloadavg()
        backends.close()
        if args.json:
            print(json.dumps(report, indent=2, default=str))
        else:
            print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; logs in {tmp}")
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(tmp / "var", ignore_errors=True)


def _lost_chunks(db_url: str, rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per session: the sequence numbers the app acknowledged (a recording_chunks row with a log index) that its
    evidence chain does not hold."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    lost: dict[str, list[int]] = {}
    with engine.connect() as c:
        for r in rows:
            acked = {seq for (seq,) in c.execute(text(
                "select c.seq from recording_chunks c join assessment_sessions s on s.id = c.session_id "
                "where s.public_id = :pid and c.log_index is not null"), {"pid": r["session"]})}
            missing = sorted(acked - set(r["persisted_seqs"]))
            if missing or len(acked) != r["persisted"]:
                lost[r["session"]] = missing or [-1]
    engine.dispose()
    return lost


if __name__ == "__main__":
    main()
