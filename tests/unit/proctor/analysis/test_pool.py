"""AnalysisPool: never blocks the caller, drops under overload (counted), keeps each session in order, reports lag."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import cv2
import numpy as np
import pytest

from proctor.analysis import FindingKind
from proctor.proctoring import AnalysisPool, PoolOptions, SessionAnalysis
from proctor.sink import SampledFrame
from tests.media import clips

SIZE = (320, 240)  # small frames keep these tests fast; the pipeline is the same


class Clock:
    """Server time the test controls (the pool stamps lag and metrics with it)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, s: float) -> None:
        with self._lock:
            self.now += s


def i420(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)


def sample(session_id: str, t: float, bgr: np.ndarray, at_utc: float) -> SampledFrame:
    return SampledFrame(session_id, t, at_utc, SIZE[0], SIZE[1], i420(bgr))


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.events = defaultdict(list)
        self.segments = defaultdict(list)
        self.lock = threading.Lock()

    def incident(self, session_id, event) -> None:
        with self.lock:
            self.events[session_id].append(event)

    def speech(self, session_id, segment) -> None:
        with self.lock:
            self.segments[session_id].append(segment)


def test_a_session_through_the_pool_gives_its_incidents_in_order_and_closes():
    clock, rec = Clock(), Recorder()
    with AnalysisPool(on_incident=rec.incident, clock=clock, options=PoolOptions(workers=2)) as pool:
        pool.open_session("s1")
        clip = clips.CLIPS["camera_black"]
        for t, frame in clip.samples(3.0, 0.047):
            assert pool.offer("s1", sample("s1", t, frame, clock()))
            wait_for(lambda: pool.metrics("s1").pending == 0)  # paced like a live camera: nothing dropped
        assert pool.close_session("s1", 15.0)
        wait_for(lambda: "s1" not in pool.sessions() and len(rec.events["s1"]) >= 2)
        assert [(e.kind, e.phase) for e in rec.events["s1"]] == [
            (FindingKind.CAMERA_COVERED, "start"),
            (FindingKind.CAMERA_COVERED, "clear"),
        ]
        assert rec.events["s1"][1].reason == "stopped"
        m = pool.metrics()
        assert m.offered == m.processed == 45 and m.dropped == 0 and m.errors == 0
        assert not pool.offer("s1", sample("s1", 16.0, clip.frame(0.0), clock()))  # closed


def test_under_overload_offers_return_at_once_and_drop_with_bounded_memory():
    clock = Clock()
    gate, started = threading.Event(), threading.Event()
    options = PoolOptions(workers=1, max_pending_per_session=2, max_pending_total=6)
    frame = clips.CLIPS["ordinary"].frame(0.0)
    with AnalysisPool(clock=clock, options=options) as pool:
        original = pool._run

        def stuck(slot, job, audio):  # the only worker is busy until the test releases it
            started.set()
            gate.wait(60)
            return original(slot, job, audio)

        pool._run = stuck
        sessions = [f"s{i}" for i in range(5)]  # more sessions than workers
        for s in sessions:
            pool.open_session(s)
        pool.offer("s0", sample("s0", -1.0, frame, clock()))
        assert started.wait(60)
        taken = 0
        for k in range(40):  # 5 sessions x 40 samples while nothing is processed: this thread must never wait
            clock.advance(1 / 3)
            for s in sessions:
                taken += pool.offer(s, sample(s, k / 3, frame, clock()))
                assert pool.metrics().pending <= 6
        per_session = [pool.metrics(s) for s in sessions]
        assert all(m.pending <= 2 for m in per_session)
        assert sum(m.offered for m in per_session) == 5 * 40 + 1
        # every offer is analysed, waiting, or counted as dropped (the first one is with the worker)
        assert sum(m.dropped + m.pending for m in per_session) == 5 * 40
        assert taken < 5 * 40
        assert pool.metrics("s1").behind and pool.metrics().behind  # said, not hidden
        assert pool.metrics("s1").drop_rate > 0.5
        gate.set()
        # no stall: once the worker is free it analyses the one it had and the 6 waiting, nothing more
        wait_for(lambda: pool.metrics().processed == 1 + 6)
        m = pool.metrics()
        assert m.errors == 0 and m.pending == 0


def test_each_sessions_samples_are_processed_one_at_a_time_in_order(monkeypatch):
    seen = defaultdict(list)
    running: dict[str, int] = defaultdict(int)
    overlaps = []
    lock = threading.Lock()
    real = SessionAnalysis.frame

    def traced(self, frame, media_s, fmt="yuv420p"):
        key = id(self)
        with lock:
            running[key] += 1
            if running[key] > 1:
                overlaps.append(key)
            seen[key].append(media_s)
        try:
            time.sleep(0.002)  # widen the window in which a second worker could wrongly take the same session
            return real(self, frame, media_s, fmt)
        finally:
            with lock:
                running[key] -= 1

    monkeypatch.setattr(SessionAnalysis, "frame", traced)
    clock = Clock()
    frame = clips.CLIPS["ordinary"].frame(0.0)
    options = PoolOptions(workers=3, max_pending_per_session=50, max_pending_total=200)
    with AnalysisPool(clock=clock, options=options) as pool:
        for s in ("a", "b"):
            pool.open_session(s)
        for k in range(30):
            for s in ("a", "b"):
                assert pool.offer(s, sample(s, k / 3, frame, clock()))
        wait_for(lambda: pool.metrics().processed == 60)
    assert overlaps == []
    assert len(seen) == 2
    for times in seen.values():
        assert times == sorted(times) and len(times) == 30


def test_lag_is_measured_against_when_the_sample_was_taken():
    clock = Clock()
    with AnalysisPool(clock=clock, options=PoolOptions(workers=1, behind_lag_s=1.5)) as pool:
        pool.open_session("s")
        frame = clips.CLIPS["ordinary"].frame(0.0)
        pool.offer("s", sample("s", 0.0, frame, clock() - 0.4))  # sampled 0.4 s before the pool took it
        wait_for(lambda: pool.metrics("s").processed == 1)
        m = pool.metrics("s")
        assert m.lag_s == pytest.approx(0.4) and not m.behind
        pool.offer("s", sample("s", 1.0, frame, clock() - 3.0))  # a stale sample: 3 s late
        wait_for(lambda: pool.metrics("s").processed == 2)
        m = pool.metrics("s")
        assert m.lag_s == pytest.approx(3.0) and m.lag_p95_s == pytest.approx(3.0) and m.behind
        clock.advance(11.0)  # the window moves on: an idle session is not "behind"
        assert not pool.metrics("s").behind
        d = pool.metrics("s").to_dict()
        assert set(d) >= {"lag_s", "lag_p95_s", "drop_rate", "processed_per_s", "behind", "level_dbfs"}


def test_samples_faster_than_the_profile_rate_are_not_taken():
    with AnalysisPool(options=PoolOptions(workers=1)) as pool:
        pool.open_session("s")
        frame = clips.CLIPS["ordinary"].frame(0.0)
        taken = [pool.offer("s", sample("s", k / 30, frame, time.time())) for k in range(30)]  # 30 frames/s
        assert sum(taken) == 5  # at 0, 0.23, 0.47, 0.70, 0.93 s: 3 frames/s with room for the engine's jitter
        assert pool.metrics("s").offered == 5  # the others were not samples at all (not offered, not dropped)


def test_identity_reference_quiet_phase_and_audio_through_the_pool():
    require_espeak()
    clock, rec = Clock(), Recorder()
    with AnalysisPool(on_incident=rec.incident, on_speech=rec.speech, clock=clock) as pool:
        pool.open_session("s")
        result = pool.set_reference("s", clips.id_photo_jpeg("astronaut")).result(60)
        assert result.ok and result.face_width_px > 40
        with pytest.raises(ValueError):
            pool.set_reference("s", b"\x89PNG\r\n\x1a\n broken").result(60)
        with pytest.raises(KeyError):
            pool.set_reference("nobody", clips.id_photo_jpeg("astronaut")).result(60)
        assert pool.set_quiet_phase("s", True, 0.0)
        pcm, truth = clips.speech_in_quiet_pcm()
        for t, frame in clips.pcm_frames(pcm):
            assert pool.offer_audio("s", frame, t)
            wait_for(lambda: pool.metrics("s").audio_waiting_s < 0.5)  # paced like a live microphone
        wait_for(lambda: rec.segments["s"] and rec.events["s"])
        assert pool.metrics("s").audio_dropped_s == 0.0
        assert pool.metrics("s").level_dbfs is not None
        pool.close_session("s", len(pcm) / 48_000)
        wait_for(lambda: "s" not in pool.sessions() and rec.events["s"][-1].phase == "clear")
    kinds = [(e.kind, e.phase) for e in rec.events["s"]]
    assert kinds == [(FindingKind.SPEECH_IN_QUIET, "start"), (FindingKind.SPEECH_IN_QUIET, "clear")]
    assert abs(rec.segments["s"][0].start_s - truth) < 0.2


def test_audio_waiting_beyond_its_limit_is_dropped_and_counted():
    gate = threading.Event()
    with AnalysisPool(options=PoolOptions(workers=1, max_audio_s=1.0)) as pool:
        pool.open_session("s")
        original = pool._run

        def stuck(slot, job, audio):  # the worker is busy elsewhere for as long as the test says
            gate.wait(60)
            return original(slot, job, audio)

        pool._run = stuck
        for t, frame in clips.pcm_frames(clips.silence_pcm(3.0)):
            assert pool.offer_audio("s", frame, t)  # never waits
        # at most 1 s waits; the first frame may already be with the worker: the rest (~2 s) was dropped, oldest first
        assert pool.metrics("s").audio_dropped_s == pytest.approx(2.0, abs=0.05)
        gate.set()


def test_a_failing_consumer_or_a_bad_sample_does_not_stop_the_pool():
    def broken(session_id, event) -> None:
        raise RuntimeError("consumer down")

    clock = Clock()
    with AnalysisPool(on_incident=broken, clock=clock, options=PoolOptions(workers=1)) as pool:
        pool.open_session("s")
        bad = SampledFrame("s", 0.0, clock(), 3, 3, np.zeros((5, 3), np.uint8))  # odd width: not I420
        pool.offer("s", bad)
        frame = clips.CLIPS["camera_black"].frame(6.0)
        for k in range(1, 12):
            pool.offer("s", sample("s", k / 3, frame, clock()))
            wait_for(lambda: pool.metrics("s").pending == 0)
        wait_for(lambda: pool.callback_errors == 1)
        m = pool.metrics("s")
        assert m.errors == 1 and m.processed == 11


def test_the_pool_refuses_more_sessions_than_it_may_hold():
    with AnalysisPool(options=PoolOptions(workers=1, max_sessions=2)) as pool:
        pool.open_session("a")
        pool.open_session("b")
        pool.open_session("a")  # idempotent
        with pytest.raises(RuntimeError, match="2 sessions"):
            pool.open_session("c")
        assert not pool.offer("c", sample("c", 0.0, clips.CLIPS["ordinary"].frame(0.0), time.time()))


def require_espeak() -> None:
    from tests.components import require

    require(clips.espeak_available(), "espeak-ng", "apt-get install espeak-ng (see .ci/system-deps.sh)")


def test_a_session_reopened_while_its_old_analysis_closes_stays_open():
    gate = threading.Event()
    with AnalysisPool(options=PoolOptions(workers=1)) as pool:
        original = pool._run

        def stuck(slot, job, audio):
            gate.wait(60)
            return original(slot, job, audio)

        pool._run = stuck
        pool.open_session("s")
        pool.close_session("s", 1.0)
        pool.open_session("s")  # the candidate's session starts again before the old close has run
        assert pool.offer("s", sample("s", 2.0, clips.CLIPS["ordinary"].frame(0.0), time.time()))
        gate.set()
        wait_for(lambda: pool.metrics("s").processed == 1)
        assert pool.sessions() == ["s"]
