"""Written tests under load (issue 16, Measure): N candidates answering an M-question test at once.

The real server (``python -m remote_tuk serve``, SQLite, filesystem evidence store) in a subprocess, prepared like the
browser tests (tests/e2e/conftest.py ``Server``: migrated, the test cast seeded, the pre-session gate satisfied), plus a
bank of M written questions for the demo scheme (36 multiple choice generated from the demo bank's, 4 of its essays),
N candidate accounts each with a session in one schedule, every session live with its test open (opened in-process
through the same services the assessor's page calls). Then N client threads sign in over HTTP and, released together,
autosave every answer of their test one after another (multiple choice: a position; essay: ~300 characters), timing
each POST. Afterwards the server is stopped and each session's bundle is exported and verified offline; the figures:

* autosave latency p50 / p90 / p99 / max (ms) and the answers per second the server took;
* answers sent = answers stored (``written_answers`` rows) = ``written.answer`` entries in the verified bundles.

    .venv/bin/python bench/bench_written.py [--candidates 30] [--questions 40] [--pace-s 0]

``--pace-s`` makes each candidate wait that long (± 50 %, random) between answers, as a person would; 0 (the default)
sends every answer as soon as the previous one is saved: the worst case, all at once.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import PASSWORD, Server  # noqa: E402  (the browser tests' server, reused)


def bank_file(questions: int) -> bytes:
    from remote_tuk.demo import DEMO_BANK

    demo = json.loads(DEMO_BANK.read_text())
    mc = [q for q in demo["questions"] if q["type"] == "multiple_choice"]
    essays = [q for q in demo["questions"] if q["type"] == "essay"][:4]
    out = []
    for i in range(questions - len(essays)):
        q = copy.deepcopy(mc[i % len(mc)])
        q["code"] = f"PG-{i + 1:02d}"
        q["prompt"] = f"{q['prompt']} (varian {i + 1})"
        out.append(q)
    out += essays
    out += [q for q in demo["questions"] if q["type"] == "oral"]
    return json.dumps({**demo, "questions": out}, ensure_ascii=False).encode()


def prepare(server: Server, candidates: int, questions: int) -> list[tuple[str, str]]:
    """Users, sessions, the bank, every session live with its test open. Returns (username, session) pairs."""
    from sqlalchemy import select

    from remote_tuk.accounts.models import Role, User
    from remote_tuk.accounts.services import create_user
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import Schedule, SessionState
    from remote_tuk.extensions import db, evidence
    from remote_tuk.instruments import services as instruments
    from remote_tuk.questioning import services as written
    from tests.conftest import satisfy_gate

    pairs = []
    with server.app_context():
        s = db.session
        instruments.import_bank(s, bank_file(questions), "bank-bench.json", actor=None)
        schedule = s.get(Schedule, server.cast.schedule_a)
        admin = s.get(User, server.cast.users["admin"])
        for i in range(candidates):
            u = create_user(s, username=f"bench{i}", full_name=f"Asesi Bench {i}", role=Role.CANDIDATE,
                            password=PASSWORD, created_by=None, nik=f"{3273000000000000 + i}")
            s.commit()
            session = assessment.add_candidate(s, schedule, u.id, actor=admin)
            pairs.append((u.username, session.public_id))
        s.commit()
    for _user, sid in pairs:
        satisfy_gate(server.db_url, sid)
    with server.app_context():
        s = db.session
        from remote_tuk.assessment.models import AssessmentSession

        assessor = s.get(User, server.cast.users["asesor_a"])
        for _user, sid in pairs:
            session = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
            for to in (SessionState.CHECKING, SessionState.READY, SessionState.LIVE):
                assessment.transition(s, session, to, actor=assessor)
            written.open_test(s, evidence.store, session, assessor, duration_s=4 * 3600, uids=None)
    return pairs


def close_sessions(s, store, server: Server, pairs: list[tuple[str, str]]) -> None:
    """Close each test (the assessor), end the session, decide every unit BK and close the chain: a bundle verifies
    only when its chain is closed."""
    from sqlalchemy import select

    from remote_tuk.accounts.models import User
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import AssessmentSession, SessionState
    from remote_tuk.live import scoring
    from remote_tuk.live import services as live
    from remote_tuk.live.models import Verdict
    from remote_tuk.questioning import services as written

    assessor = s.get(User, server.cast.users["asesor_a"])
    for _user, sid in pairs:
        session = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        written.close_by_assessor(s, store, session, assessor)
        assessment.transition(s, session, SessionState.ENDED, actor=assessor)
        for unit in session.schedule.scheme.units:
            scoring.add_decision(s, store, session, assessor, unit_id=unit.id, verdict=Verdict.BK,
                                 reason="Pengukuran beban: tidak dinilai.")
        assessment.transition(s, session, SessionState.DECIDED, actor=assessor)
        live.close_evidence(store, session)


class Client(threading.Thread):
    def __init__(self, base: str, username: str, sid: str, start: threading.Barrier, pace_s: float) -> None:
        super().__init__(daemon=True)
        self.base, self.username, self.sid, self.start_barrier = base, username, sid, start
        self.pace_s = pace_s
        self.latencies: list[float] = []
        self.sent = 0
        self.failed: list[str] = []

    def run(self) -> None:
        http = requests.Session()
        page = http.get(f"{self.base}/masuk", timeout=60).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        r = http.post(f"{self.base}/masuk", data={"username": self.username, "password": PASSWORD,
                                                   "csrf_token": token}, timeout=120)
        r.raise_for_status()
        page = http.get(f"{self.base}/akun/kata-sandi", timeout=60).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        api = f"{self.base}/api/v1/sessions/{self.sid}/written"
        test = http.get(api, timeout=60).json()["test"]
        headers = {"X-CSRFToken": token}
        self.start_barrier.wait()
        rnd = random.Random(self.username)
        for n, q in enumerate(test["questions"]):
            if self.pace_s:
                time.sleep(self.pace_s * rnd.uniform(0.5, 1.5))
            if q["kind"] == "multiple_choice":
                body = {"uid": q["uid"], "choice": n % len(q["options"])}
            else:
                body = {"uid": q["uid"], "text": f"Jawaban esai {n} asesi {self.username}: " + "antrean FIFO " * 22}
            t0 = time.perf_counter()
            r = http.post(f"{api}/answers", json=body, headers=headers, timeout=120)
            self.latencies.append(time.perf_counter() - t0)
            self.sent += 1
            if r.status_code != 200:
                self.failed.append(f"{r.status_code} {r.text[:120]}")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=30)
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--pace-s", type=float, default=0.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        server.prepare()
        t0 = time.perf_counter()
        pairs = prepare(server, args.candidates, args.questions)
        print(f"prepared {len(pairs)} live sessions with a {args.questions}-question test in "
              f"{time.perf_counter() - t0:.1f} s")
        server.start()
        try:
            barrier = threading.Barrier(len(pairs) + 1)
            clients = [Client(server.url(), user, sid, barrier, args.pace_s) for user, sid in pairs]
            for c in clients:
                c.start()
            barrier.wait(timeout=600)
            t_start = time.perf_counter()
            for c in clients:
                c.join()
            wall = time.perf_counter() - t_start
        finally:
            server.stop()
        latencies = [x for c in clients for x in c.latencies]
        sent = sum(c.sent for c in clients)
        failed = [f for c in clients for f in c.failed]

        from sqlalchemy import func, select

        from evidence_store.verifier import verify_bundle
        from remote_tuk.extensions import db, evidence
        from remote_tuk.questioning.models import WrittenAnswer

        in_bundles = 0
        verified = 0
        problems: list[str] = []
        with server.app_context() as app:
            stored = db.session.scalar(select(func.count()).select_from(WrittenAnswer))
            store = evidence.store
            close_sessions(db.session, store, server, pairs)
            key = store.describe_parameters()["verifier_key"]
            out = Path(app.config["RTUK"].var_dir)
            t_b = time.perf_counter()
            for _user, sid in pairs:
                bundle = store.export_bundle(sid, out / f"{sid}.zip")
                report = verify_bundle(bundle, key)
                verified += bool(report.ok)
                if not report.ok and not problems:
                    problems.extend(str(f) for f in report.failures[:3])
                with zipfile.ZipFile(bundle) as zf:
                    lines = zf.read("entries.jsonl").splitlines()
                in_bundles += sum(1 for line in lines if json.loads(line).get("type") == "written.answer")
            t_bundles = time.perf_counter() - t_b
        ms = [x * 1000 for x in latencies]
        pace = f"one every {args.pace_s:g} s ± 50 % per candidate" if args.pace_s else "each as soon as the last saved"
        print(f"{len(pairs)} candidates x {args.questions} questions at once, {pace} (one POST per answer, "
              f"each an evidence entry)")
        print(f"autosave latency ms: p50 {pct(ms, 50):.1f}  p90 {pct(ms, 90):.1f}  p99 {pct(ms, 99):.1f}  "
              f"max {max(ms):.1f}  mean {statistics.mean(ms):.1f}")
        print(f"throughput: {sent / wall:.1f} answers/s over {wall:.1f} s")
        print(f"answers sent {sent}  refused {len(failed)}  stored {stored}  in verified bundles {in_bundles}  "
              f"(bundles verified {verified}/{len(pairs)}, exported+verified in {t_bundles:.1f} s)")
        if failed:
            print("first refusals:", failed[:3])
        if problems:
            print("first verification failures:", problems)
        ok = not failed and sent == stored == in_bundles and verified == len(pairs)
        print("OK" if ok else "MISMATCH")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
