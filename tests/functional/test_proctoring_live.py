"""Live proctoring over the ``/live`` socket (issue 14): browser signals, labels, the quiet phase, and incidents from
the analysis pool recorded as evidence and pushed to the assessor's page."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sqlalchemy import select

from remote_tuk.extensions import socketio
from tests.conftest import login, satisfy_gate
from tests.functional.test_evidence_page import _move

NS = "/live"


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def live_session(app, cast, database, login_as):
    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking", "ready", "live")
    return cast.session_a


def _sock(app, cast, username):
    http = app.test_client()
    login(http, cast, username)
    sc = socketio.test_client(app, namespace=NS, flask_test_client=http)
    assert sc.is_connected(NS)
    sc.http = http  # the signed-in HTTP client (a third TOTP sign-in in one test would be a replay)
    return sc


def _joined(app, cast, username, session):
    sc = _sock(app, cast, username)
    ack = sc.emit("join", {"session": session}, namespace=NS, callback=True)
    assert ack["ok"], ack
    return sc, ack


def _received(sc, name):
    return [m["args"][0] for m in sc.get_received(NS) if m["name"] == name]


def _entries(app, session, type_):
    from remote_tuk.extensions import evidence

    with app.app_context():
        store = evidence.store
        return [e for e in store.list_entries(session) if e.get("type") == type_]


def _doc(app, entry):
    from remote_tuk.extensions import evidence
    from remote_tuk.live import services as live

    with app.app_context():
        return json.loads(evidence.store.read(entry["object"]["key"], live.SYSTEM))


def _signal(sc, session, seq, kind="tab_hidden", page="page-aaaaaaaa", **extra):
    return sc.emit("signal", {"session": session, "page": page, "seq": seq, "kind": kind, **extra}, namespace=NS,
                   callback=True)


def test_browser_signal_reaches_the_assessor_and_the_evidence(app, cast, live_session):
    assessor, joined = _joined(app, cast, "asesor_a", live_session)
    assert joined["proctoring"]["findings"] == []
    candidate, cjoined = _joined(app, cast, "asesi_a", live_session)
    assert cjoined["proctoring"] is None  # the candidate is not shown the alerts
    assessor.get_received(NS)
    candidate.get_received(NS)

    ack = _signal(candidate, live_session, 1, "tab_hidden", client_ms=1_700_000_000_000)
    assert ack == {"ok": True, "alert": True}
    findings = _received(assessor, "finding")
    assert [f["kind"] for f in findings] == ["tab_hidden"]
    assert findings[0]["source"] == "browser" and findings[0]["phase"] == "start"
    assert findings[0]["media_s"] >= 0
    assert _received(candidate, "finding") == []  # not to the candidate's page

    assert _signal(candidate, live_session, 2, "tab_visible")["alert"] is False
    ended = _received(assessor, "finding")
    assert ended[-1]["phase"] == "clear" and ended[-1]["end_s"] is not None

    entries = _entries(app, live_session, "proctoring.browser_signal")
    assert len(entries) == 2
    doc = _doc(app, entries[0])
    assert doc["source"] == "browser" and doc["reported_by"] == "peramban"
    assert doc["kind"] == "tab_hidden" and doc["seq"] == 1 and doc["client_ms"] == 1_700_000_000_000
    assert "server_at" in doc

    # a page joining later sees the finding in its list
    again = assessor.emit("join", {"session": live_session}, namespace=NS, callback=True)
    assert [f["kind"] for f in again["proctoring"]["findings"]] == ["tab_hidden"]


@pytest.mark.parametrize(
    "payload, error",
    [
        ({"kind": "hacked"}, "validation_failed"),
        ({"seq": -1}, "validation_failed"),
        ({"seq": "1"}, "validation_failed"),
        ({"detail": "x" * 201}, "validation_failed"),
        ({"page": "../../x"}, "validation_failed"),
        ({"extra": 1}, "validation_failed"),
        ({"client_ms": 10**20}, "validation_failed"),
    ],
)
def test_malformed_signals_are_refused(app, cast, live_session, payload, error):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    body = {"session": live_session, "page": "page-aaaaaaaa", "seq": 1, "kind": "copy", **payload}
    ack = candidate.emit("signal", body, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == error
    assert _entries(app, live_session, "proctoring.browser_signal") == []


def test_replayed_forged_and_flooded_signals_are_refused(app, cast, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assert _signal(candidate, live_session, 5, "copy")["ok"]
    replay = _signal(candidate, live_session, 5, "copy")
    assert replay["ok"] is False and replay["error"] == "conflict"
    # a late arrival (the server handles events on several threads) is taken; one far below the highest is not
    assert _signal(candidate, live_session, 4, "paste")["ok"]
    assert _signal(candidate, live_session, 200, "paste")["ok"]
    older = _signal(candidate, live_session, 100, "paste")
    assert older["ok"] is False and older["error"] == "conflict"
    # another page of the same candidate (a reload) numbers from 0 again
    assert _signal(candidate, live_session, 0, "paste", page="page-bbbbbbbb")["ok"]

    # the assessor's page cannot report a browser signal of the candidate
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    forged = _signal(assessor, live_session, 100, "extra_screen")
    assert forged["ok"] is False and forged["error"] == "forbidden"
    # another candidate cannot report into this session
    other = _sock(app, cast, "asesi_b")
    foreign = _signal(other, live_session, 1, "copy")
    assert foreign["ok"] is False and foreign["error"] == "not_found"

    results = [_signal(candidate, live_session, 210 + i, "copy")["ok"] for i in range(40)]
    assert results.count(True) < 40 and results[-1] is False  # rate-limited
    refused = _signal(candidate, live_session, 300, "copy")
    assert refused["error"] == "too_many_attempts"
    assert len(_entries(app, live_session, "proctoring.browser_signal")) == 4 + results.count(True)


def test_signal_outside_a_live_session_is_refused(app, cast, database, login_as):
    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking")
    candidate, _ = _joined(app, cast, "asesi_a", cast.session_a)
    ack = _signal(candidate, cast.session_a, 1, "copy")
    assert ack["ok"] is False and ack["error"] == "invalid_state"


def test_labels_are_evidence_and_only_the_assessor_labels_own_findings(app, cast, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    _signal(candidate, live_session, 1, "paste")
    finding = _received(assessor, "finding")[-1]

    by_candidate = candidate.emit("finding_label", {"session": live_session, "finding": finding["id"],
                                                    "label": "dismissed"}, namespace=NS, callback=True)
    assert by_candidate["ok"] is False and by_candidate["error"] == "forbidden"
    bad = assessor.emit("finding_label", {"session": live_session, "finding": finding["id"], "label": "guilty"},
                        namespace=NS, callback=True)
    assert bad["ok"] is False and bad["error"] == "validation_failed"
    missing = assessor.emit("finding_label", {"session": live_session, "finding": finding["id"] + 999,
                                              "label": "noted"}, namespace=NS, callback=True)
    assert missing["ok"] is False and missing["error"] == "not_found"

    ack = assessor.emit("finding_label", {"session": live_session, "finding": finding["id"], "label": "confirmed",
                                          "note": "menempel jawaban"}, namespace=NS, callback=True)
    assert ack["ok"] and ack["finding"]["label"] == "confirmed"
    assert _received(assessor, "finding_label")[-1]["id"] == finding["id"]
    labels = _entries(app, live_session, "proctoring.finding_label")
    assert len(labels) == 1
    doc = _doc(app, labels[0])
    assert doc["label"] == "confirmed" and doc["note"] == "menempel jawaban" and doc["kind"] == "paste"


def test_label_on_another_sessions_finding_is_refused(app, cast, database, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assessor_a, _ = _joined(app, cast, "asesor_a", live_session)
    _signal(candidate, live_session, 1, "copy")
    finding = _received(assessor_a, "finding")[-1]
    # the assessor of session B names session B with session A's finding
    assessor_b = _sock(app, cast, "asesor_b")
    ack = assessor_b.emit("finding_label", {"session": cast.session_b, "finding": finding["id"], "label": "dismissed"},
                          namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"
    assert _entries(app, live_session, "proctoring.finding_label") == []


def test_quiet_phase_only_by_the_assessor(app, cast, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    ack = candidate.emit("quiet", {"session": live_session, "on": True}, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    ack = assessor.emit("quiet", {"session": live_session, "on": True}, namespace=NS, callback=True)
    assert ack["ok"] is True and ack["on"] is True
    assert _received(assessor, "quiet")[-1]["on"] is True
    entries = _entries(app, live_session, "proctoring.quiet_phase")
    assert len(entries) == 1 and _doc(app, entries[0])["on"] is True


def test_incidents_from_the_analysis_pool_become_evidence_and_alerts(app, cast, live_session):
    """The hub's proctoring runner with the real pool: a black (covered) camera held past its hold time is a
    ``camera_covered`` finding with its snapshot, on the session media clock, pushed to the staff room."""
    from proctor.sink import SampledFrame
    from remote_tuk.extensions import media
    from remote_tuk.proctoring.models import Finding

    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    assessor.get_received(NS)
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    candidate.get_received(NS)
    runner = media.proctoring
    emitted: list[tuple[str, dict, str]] = []
    real_emit = runner._emit

    def spy(ev, payload, pid, staff_only):
        if ev == "finding":
            emitted.append((ev, payload, pid))
        real_emit(ev, payload, pid, staff_only)

    runner._emit = spy
    assert runner.open(live_session)
    origin = runner._origin[live_session]
    black = np.zeros((480 * 3 // 2, 640), np.uint8)
    black[480:] = 128
    for i in range(16):  # 5 s at 3 frames/s: camera_covered holds 2 s
        t = origin + i / 3
        assert runner.offer(SampledFrame(live_session, 0.0, t, 640, 480, black))
        wait = time.monotonic() + 10  # paced by the analysis (the models load on the workers' first frame)
        while runner.pool.metrics(live_session).pending and time.monotonic() < wait:
            time.sleep(0.02)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(p["kind"] == "camera_covered" for _, p, _ in emitted):
        time.sleep(0.1)
    runner.close(live_session)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(p.get("phase") == "clear" for _, p, _ in emitted):
        time.sleep(0.1)
    started = [p for _, p, _ in emitted if p["kind"] == "camera_covered" and p["phase"] == "start"]
    assert started, (emitted, runner.failures, runner.pool.metrics())
    assert started[0]["source"] == "server" and started[0]["severity"] == "alert"
    assert started[0]["snapshot"]
    assert [f["kind"] for f in _received(assessor, "finding")].count("camera_covered") >= 1
    # the candidate is not shown the finding, only the profile's gentle prompt while it lasts, then its end
    got = candidate.get_received(NS)
    assert not [m for m in got if m["name"] == "finding"]
    prompts = [m["args"][0] for m in got if m["name"] == "prompt" and m["args"][0]["kind"] == "camera_covered"]
    assert [p["on"] for p in prompts] == [True, False], prompts
    assert prompts[0]["text_id"].startswith("Kamera tertutup")

    docs = [_doc(app, e) for e in _entries(app, live_session, "proctoring.finding")]
    phases = [(d["kind"], d["phase"]) for d in docs]
    assert ("camera_covered", "start") in phases and ("camera_covered", "clear") in phases
    start = next(d for d in docs if d["kind"] == "camera_covered" and d["phase"] == "start")
    assert start["detector"]["name"] == "proctor.analysis.FrameAnalyzer"
    assert start["source"] == "server" and start["snapshot_object"]
    # on the session media clock: the session went live moments ago
    assert 0 <= start["start_s"] <= start["at_s"] < 120
    snaps = _entries(app, live_session, "proctoring.snapshot")
    assert len(snaps) >= 1

    # the snapshot is served to the assessor, not to the candidate
    r = assessor.http.get(started[0]["snapshot"])
    assert r.status_code == 200 and r.data.startswith(b"\xff\xd8")
    cand = app.test_client()
    login(cand, cast, "asesi_a")
    assert cand.get(started[0]["snapshot"]).status_code == 403
    with app.app_context():
        from remote_tuk.extensions import db

        rows = db.session.scalars(select(Finding).where(Finding.kind == "camera_covered")).all()
        assert len(rows) == 1 and rows[0].end_s is not None


def test_the_assessor_page_has_the_console_and_the_candidate_page_reports(app, cast, live_session, login_as):
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    page = assessor.http.get(f"/sesi/{live_session}/langsung").get_data(as_text=True)
    assert "data-proctor-alerts" in page and "data-proctor-quiet" in page and "live-proctoring.js" in page
    candidate = login_as("asesi_a").get(f"/sesi/{live_session}/langsung").get_data(as_text=True)
    assert "data-proctor-alerts" not in candidate and "live-signals.js" in candidate


def test_a_node_with_the_analysis_off_says_so(settings, cast, database):
    from remote_tuk import create_app
    from remote_tuk.extensions import media

    settings.rtc.proctoring = False
    app = create_app(settings)
    try:
        assert media.proctoring is None
        satisfy_gate(database[0], cast.session_a)
        _move(_client(app, cast, "asesor_a"), cast, "checking", "ready", "live")
        _, joined = _joined(app, cast, "asesor_a", cast.session_a)
        assert joined["proctoring"]["analysis"] is None  # the page shows "not running"
        candidate, _ = _joined(app, cast, "asesi_a", cast.session_a)
        assert _signal(candidate, cast.session_a, 1, "copy")["alert"] is True  # browser signals still recorded
    finally:
        app.extensions["rtuk_db"].dispose()


def _client(app, cast, username):
    c = app.test_client()
    login(c, cast, username)
    return c


def test_a_full_analysis_pool_does_not_stop_the_media(app, cast, live_session, monkeypatch):
    """The pool refusing a session (beyond max_sessions) is logged; the offer path and the engine go on."""
    from remote_tuk.extensions import media

    def full(*a, **kw):
        raise RuntimeError("the analysis pool already has 64 sessions")

    monkeypatch.setattr(media.proctoring, "open", full)
    monkeypatch.setattr(media, "_engine", object())  # as if the media engine were running
    media.start_proctoring(live_session)  # no exception
    assert not media.proctoring.is_open(live_session)


def test_leaving_fullscreen_is_evidence_and_an_alert_when_the_scheme_requires_fullscreen(app, cast, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    assessor.get_received(NS)
    assert _signal(candidate, live_session, 1, "fullscreen_enter")["alert"] is False
    assert _signal(candidate, live_session, 2, "fullscreen_exit")["alert"] is True  # the seeded profile requires it
    assert _signal(candidate, live_session, 3, "fullscreen_enter")["alert"] is False
    got = _received(assessor, "finding")
    assert [(f["kind"], f["phase"]) for f in got] == [("fullscreen_exit", "start"), ("fullscreen_exit", "clear")]
    docs = [_doc(app, e) for e in _entries(app, live_session, "proctoring.browser_signal")]
    assert [d["kind"] for d in docs] == ["fullscreen_enter", "fullscreen_exit", "fullscreen_enter"]


def test_leaving_fullscreen_without_the_requirement_is_recorded_not_shown(app, cast, live_session, monkeypatch):
    from remote_tuk.proctoring import events as proctoring_events

    monkeypatch.setattr(proctoring_events, "_fullscreen_required", lambda session: False)
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    assessor.get_received(NS)
    assert _signal(candidate, live_session, 1, "fullscreen_exit")["alert"] is False
    assert _received(assessor, "finding") == []
    (doc,) = [_doc(app, e) for e in _entries(app, live_session, "proctoring.browser_signal")]
    assert doc["kind"] == "fullscreen_exit" and doc["alert"] is False


@pytest.mark.parametrize(
    "payload",
    [
        ["signal"],  # not an object
        "copy",
        42,
        None,
        # oversized: far beyond every field's bound (a page would never send it)
        {"page": "page-" + "a" * 100_000, "seq": 1, "kind": "copy"},
        {"page": "page-aaaaaaaa", "seq": 1, "kind": "copy", "detail": "x" * 1_000_000},
        {"page": "page-aaaaaaaa", "seq": 10**12, "kind": "copy"},
        # forged server-side fields: the server stamps its own time and source
        {"page": "page-aaaaaaaa", "seq": 1, "kind": "copy", "source": "server"},
        {"page": "page-aaaaaaaa", "seq": 1, "kind": "copy", "server_at": "2020-01-01T00:00:00+00:00"},
        {"page": "page-aaaaaaaa", "seq": True, "kind": "copy"},
    ],
)
def test_odd_oversized_and_forged_signal_payloads_are_refused(app, cast, live_session, payload):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    body = {"session": live_session, **payload} if isinstance(payload, dict) else payload
    ack = candidate.emit("signal", body, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] in ("validation_failed", "bad_request"), ack
    assert isinstance(ack.get("message"), str) and ack["message"]
    assert _entries(app, live_session, "proctoring.browser_signal") == []
    # the socket still works: a good signal afterwards is taken
    assert _signal(candidate, live_session, 1, "copy")["ok"]


def test_witness_and_other_sessions_assessor_cannot_label_or_switch_quiet(app, cast, live_session):
    candidate, _ = _joined(app, cast, "asesi_a", live_session)
    assessor, _ = _joined(app, cast, "asesor_a", live_session)
    _signal(candidate, live_session, 1, "paste")
    finding = _received(assessor, "finding")[-1]
    witness, _ = _joined(app, cast, "auditor_a", live_session)  # granted the schedule: sees, never labels
    ack = witness.emit("finding_label", {"session": live_session, "finding": finding["id"], "label": "dismissed"},
                       namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    ack = witness.emit("quiet", {"session": live_session, "on": True}, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    other = _sock(app, cast, "asesor_b")  # the assessor of session B names session A
    ack = other.emit("finding_label", {"session": live_session, "finding": finding["id"], "label": "dismissed"},
                     namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"
    ack = other.emit("quiet", {"session": live_session, "on": True}, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"
    # the candidate cannot switch it off either, nor label
    ack = candidate.emit("quiet", {"session": live_session, "on": False}, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"] == "forbidden"
    assert _entries(app, live_session, "proctoring.finding_label") == []
    assert _entries(app, live_session, "proctoring.quiet_phase") == []
