"""The analysis worker pool: every live session's frames and audio analysed off the media loop thread.

The media engine hands each sampled frame to :meth:`AnalysisPool.offer` and each decoded audio frame to
:meth:`AnalysisPool.offer_audio`. Both return at once (a short lock, no I/O, no waiting): the caller is the media loop
thread, which must never stall. Behind them a fixed number of worker threads run each session's
:class:`~proctor.proctoring.session.SessionAnalysis`:

- **bounded**: each session keeps at most ``max_pending_per_session`` frames waiting (a newer frame replaces the
  oldest waiting one: fresher is better than complete) and the pool at most ``max_pending_total``; audio waiting
  beyond ``max_audio_s`` is dropped oldest first. Every dropped sample is counted. Memory is bounded by
  ``max_sessions`` x (pending frames + analyser history).
- **ordered per session**: a session's work (frames, audio, quiet phase, reference, close) runs one item at a time,
  in the order offered, on whichever worker is free (sessions are not pinned to threads, so one busy session cannot
  hold up others). OpenCV's YuNet/SFace objects are per thread (``proctor.analysis.models``), never shared.
- **honest about lag**: per session and for the pool, :meth:`AnalysisPool.metrics` gives the lag (server time when
  a sample's analysis finished minus when it was sampled), the drop rate and samples processed per second over the
  last ``window_s``, and ``behind`` when the lag or the drop rate is over its limit or samples wait too long - so
  that a page can say "analisis tertinggal" instead of showing a stale all-clear.

Results go to the ``on_incident(session_id, IncidentEvent)`` and ``on_speech(session_id, SpeechSegment)`` callbacks,
called on the worker thread in the session's order (keep them short, or hand off: they hold up that session only).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import cv2

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, ProctoringProfile
from proctor.analysis.audio import SpeechSegment
from proctor.analysis.models import warm_up
from proctor.proctoring.incidents import IncidentEvent
from proctor.proctoring.session import SAMPLE_GATE_FACTOR, ReferenceResult, SessionAnalysis
from proctor.sink import SampledFrame

log = logging.getLogger(__name__)

IncidentCallback = Callable[[str, IncidentEvent], None]
SpeechCallback = Callable[[str, SpeechSegment], None]


@dataclass(frozen=True)
class PoolOptions:
    """Sizes and limits of the pool (defaults fit a 2-core media node)."""

    workers: int = 2
    max_sessions: int = 64
    max_pending_per_session: int = 2
    max_pending_total: int = 64
    #: Audio (seconds) a session may have waiting; older audio is dropped beyond it.
    max_audio_s: float = 2.0
    #: Metrics are over this many seconds.
    window_s: float = 10.0
    #: "behind" when the p95 lag is over this, or a sample has waited this long ...
    behind_lag_s: float = 1.5
    #: ... or more than this share of the offered samples were dropped.
    behind_drop_rate: float = 0.2

    def __post_init__(self) -> None:
        if self.workers < 1 or self.max_sessions < 1 or self.max_pending_per_session < 1 or self.max_pending_total < 1:
            raise ValueError("workers, max_sessions and the pending limits must be >= 1")


@dataclass(frozen=True)
class Metrics:
    """How the analysis keeps up, over the last ``window_s`` (one session, or the whole pool).

    ``lag_s``/``lag_p95_s``: last and 95th-percentile lag of processed frames (None: none processed in the window);
    ``waiting_s``: how long the oldest waiting frame has waited; ``drop_rate``: dropped / offered frames;
    ``processed_per_s``: frames analysed per second; ``audio_waiting_s``: audio not yet analysed;
    ``audio_dropped_s``: audio thrown away (total);
    ``level_dbfs``: the last audio level (sessions only); ``behind``: the page must say the analysis is behind.
    """

    offered: int
    processed: int
    dropped: int
    errors: int
    pending: int
    lag_s: float | None
    lag_p95_s: float | None
    waiting_s: float
    drop_rate: float
    processed_per_s: float
    audio_waiting_s: float
    audio_dropped_s: float
    level_dbfs: float | None
    behind: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class _Job:
    __slots__ = ("arg", "at_utc", "kind", "media_s", "result")

    def __init__(self, kind: str, media_s: float = 0.0, arg: Any = None, at_utc: float = 0.0) -> None:
        self.kind = kind  # frame | audio | quiet | reference | close
        self.media_s = media_s
        self.arg = arg
        self.at_utc = at_utc
        self.result: Future | None = None


class _Slot:
    """A session in the pool: its analysis, its waiting work and its counters."""

    def __init__(self, session_id: str, analysis: SessionAnalysis) -> None:
        self.id = session_id
        self.analysis = analysis
        self.jobs: deque[_Job] = deque()
        self.frames_waiting = 0
        self.audio: deque[tuple[float, Any, int, float]] = deque()  # (media_s, pcm, channels, seconds)
        self.audio_s = 0.0
        self.audio_job = False
        self.scheduled = False  # in the ready queue or running
        self.closing = False
        self.last_offer_s: float | None = None
        self.offered = 0
        self.processed = 0
        self.dropped = 0
        self.errors = 0
        self.audio_dropped_s = 0.0
        self.level_dbfs: float | None = None
        self.offers: deque[float] = deque()  # server times of the offers in the window
        self.drops: deque[float] = deque()  # server times of the drops in the window
        self.done: deque[tuple[float, float]] = deque()  # (server time, lag)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


class AnalysisPool:
    """Bounded worker threads analysing every session's samples (see the module docstring)."""

    def __init__(
        self,
        profile: ProctoringProfile = DEFAULT_PROCTORING_PROFILE,
        *,
        options: PoolOptions | None = None,
        on_incident: IncidentCallback | None = None,
        on_speech: SpeechCallback | None = None,
        clock: Callable[[], float] = time.time,
        audio_rate: int = 48_000,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.profile = profile
        #: called on the worker with each analysed frame's lag (finished - the sample's ``at_utc``), e.g. a metric
        self._on_lag = on_lag
        self.options = options or PoolOptions()
        self._on_incident = on_incident
        self._on_speech = on_speech
        self._clock = clock
        self._audio_rate = audio_rate
        self._cond = threading.Condition()
        self._sessions: dict[str, _Slot] = {}
        self._ready: deque[_Slot] = deque()
        self._frames_waiting = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.callback_errors = 0
        self._closed_totals = [0, 0, 0, 0]  # offered, processed, dropped, errors of sessions already closed

    # -- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> AnalysisPool:
        """Start the worker threads (each loads its own face models first)."""
        with self._cond:
            if self._threads:
                return self
            self._stopping = False
            cv2.setNumThreads(1)  # several threads analyse in parallel: OpenCV's own threads would only compete
            for i in range(self.options.workers):
                thread = threading.Thread(target=self._work, name=f"proctor-analysis-{i}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the work already queued, then stop the threads."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def __enter__(self) -> AnalysisPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sessions -----------------------------------------------------------------------------------------------

    def open_session(self, session_id: str, profile: ProctoringProfile | None = None) -> None:
        """Start analysing a session with its scheme's profile (default: the pool's). Idempotent."""
        with self._cond:
            if session_id in self._sessions and not self._sessions[session_id].closing:
                return
            if len(self._sessions) >= self.options.max_sessions:
                raise RuntimeError(f"the analysis pool already has {self.options.max_sessions} sessions")
            analysis = SessionAnalysis(profile or self.profile, self._clock, self._audio_rate)
            self._sessions[session_id] = _Slot(session_id, analysis)

    def close_session(self, session_id: str, media_s: float) -> bool:
        """End a session's analysis at ``media_s``: open incidents end (``stopped``), after the work queued before."""
        with self._cond:
            slot = self._sessions.get(session_id)
            if slot is None or slot.closing:
                return False
            slot.closing = True
            self._enqueue(slot, _Job("close", media_s))
            return True

    def sessions(self) -> list[str]:
        with self._cond:
            return [s for s, slot in self._sessions.items() if not slot.closing]

    # -- input (never blocks) -----------------------------------------------------------------------------------

    def offer(self, session_id: str, sample: SampledFrame) -> bool:
        """Queue a sampled frame (I420, ``SampledFrame.i420``) for analysis. False if it was not taken: unknown
        or closing session, too soon after the previous sample, or the pool is saturated (counted as dropped).
        """
        now = self._clock()
        with self._cond:
            slot = self._sessions.get(session_id)
            if slot is None or slot.closing:
                return False
            interval = 1.0 / (slot.analysis.profile.sample_fps * SAMPLE_GATE_FACTOR)
            if slot.last_offer_s is not None and 0.0 <= sample.media_s - slot.last_offer_s < interval:
                return False  # faster than the profile's rate: not a sample (not counted)
            slot.last_offer_s = sample.media_s
            slot.offered += 1
            slot.offers.append(now)
            self._trim(slot, now)
            if self._frames_waiting >= self.options.max_pending_total:
                self._drop(slot, now)
                return False
            if slot.frames_waiting >= self.options.max_pending_per_session:
                oldest = next(j for j in slot.jobs if j.kind == "frame")
                slot.jobs.remove(oldest)  # fresher is better: the newest frame takes the oldest one's place
                slot.frames_waiting -= 1
                self._frames_waiting -= 1
                self._drop(slot, now)
            slot.frames_waiting += 1
            self._frames_waiting += 1
            self._enqueue(slot, _Job("frame", sample.media_s, sample.i420, sample.at_utc))
            return True

    def offer_audio(self, session_id: str, pcm: Any, media_s: float, channels: int = 1) -> bool:
        """Queue one decoded audio frame (int16 PCM at the pool's ``audio_rate``) starting at ``media_s``."""
        with self._cond:
            slot = self._sessions.get(session_id)
            if slot is None or slot.closing:
                return False
            seconds = getattr(pcm, "size", 0) / channels / self._audio_rate
            slot.audio.append((media_s, pcm, channels, seconds))
            slot.audio_s += seconds
            while slot.audio_s > self.options.max_audio_s and len(slot.audio) > 1:
                _, _, _, dropped = slot.audio.popleft()  # the detector sees the gap and starts afresh after it
                slot.audio_s -= dropped
                slot.audio_dropped_s += dropped
            if not slot.audio_job:
                slot.audio_job = True
                self._enqueue(slot, _Job("audio"))
            return True

    def set_quiet_phase(self, session_id: str, on: bool, media_s: float) -> bool:
        """The assessor switched the quiet phase on/off at ``media_s`` (applied in order with the samples)."""
        with self._cond:
            slot = self._sessions.get(session_id)
            if slot is None or slot.closing:
                return False
            self._enqueue(slot, _Job("quiet", media_s, on))
            return True

    def set_reference(self, session_id: str, image: bytes) -> Future[ReferenceResult]:
        """Use the face on the ID (KTP) snapshot (JPEG/PNG bytes) as the session's identity reference.

        Runs on a worker in the session's order; the future gives the :class:`ReferenceResult`, or raises
        ValueError (not an image) / KeyError (unknown session).
        """
        future: Future[ReferenceResult] = Future()
        with self._cond:
            slot = self._sessions.get(session_id)
            if slot is None or slot.closing:
                future.set_exception(KeyError(session_id))
                return future
            job = _Job("reference", 0.0, bytes(image))
            job.result = future
            self._enqueue(slot, job)
        return future

    # -- metrics ------------------------------------------------------------------------------------------------

    def metrics(self, session_id: str | None = None) -> Metrics:
        """How one session (or, with None, the whole pool) keeps up. KeyError for an unknown session."""
        now = self._clock()
        with self._cond:
            if session_id is not None:
                return self._metrics([self._sessions[session_id]], now, session=True)
            return self._metrics(list(self._sessions.values()), now, session=False)

    # -- internals ----------------------------------------------------------------------------------------------

    def _drop(self, slot: _Slot, now: float) -> None:
        slot.dropped += 1
        slot.drops.append(now)

    def _trim(self, slot: _Slot, now: float) -> None:
        horizon = now - self.options.window_s
        for times in (slot.offers, slot.drops):
            while times and times[0] < horizon:
                times.popleft()
        while slot.done and slot.done[0][0] < horizon:
            slot.done.popleft()

    def _metrics(self, slots: list[_Slot], now: float, session: bool) -> Metrics:
        o = self.options
        offers = dropped_w = 0
        lags: list[float] = []
        last_lag: tuple[float, float] | None = None
        waiting = 0.0
        totals = [0, 0, 0, 0] if session else list(self._closed_totals)
        audio_dropped = audio_waiting = 0.0
        for slot in slots:
            self._trim(slot, now)
            offers += len(slot.offers)
            dropped_w += len(slot.drops)
            lags += [lag for _, lag in slot.done]
            if slot.done and (last_lag is None or slot.done[-1][0] > last_lag[0]):
                last_lag = slot.done[-1]
            first = next((j for j in slot.jobs if j.kind == "frame"), None)
            if first is not None:
                waiting = max(waiting, now - first.at_utc)
            totals[0] += slot.offered
            totals[1] += slot.processed
            totals[2] += slot.dropped
            totals[3] += slot.errors
            audio_dropped += slot.audio_dropped_s
            audio_waiting = max(audio_waiting, slot.audio_s)
        drop_rate = dropped_w / offers if offers else 0.0
        p95 = _p95(lags)
        span = min(o.window_s, max(1e-9, now - min((s.offers[0] for s in slots if s.offers), default=now)))
        processed_per_s = len(lags) / span if lags and span > 1e-6 else 0.0
        behind = (
            (p95 is not None and p95 > o.behind_lag_s)
            or waiting > o.behind_lag_s
            or audio_waiting > o.behind_lag_s
            or drop_rate > o.behind_drop_rate
        )
        pending = sum(s.frames_waiting for s in slots)
        level = slots[0].level_dbfs if session and slots else None
        return Metrics(
            offered=totals[0],
            processed=totals[1],
            dropped=totals[2],
            errors=totals[3],
            pending=pending,
            lag_s=last_lag[1] if last_lag else None,
            lag_p95_s=p95,
            waiting_s=waiting,
            drop_rate=drop_rate,
            processed_per_s=processed_per_s,
            audio_waiting_s=audio_waiting,
            audio_dropped_s=audio_dropped,
            level_dbfs=level,
            behind=behind,
        )

    def _enqueue(self, slot: _Slot, job: _Job) -> None:
        slot.jobs.append(job)
        if not slot.scheduled:
            slot.scheduled = True
            self._ready.append(slot)
            self._cond.notify()

    def _work(self) -> None:
        try:
            warm_up()  # this thread's own YuNet and SFace
        except Exception:  # reported per job below as an error; the thread stays to count them
            log.exception("analysis worker could not load the face models")
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._cond.wait()
                if not self._ready:
                    return
                slot = self._ready.popleft()
                job = slot.jobs.popleft()
                audio: list[tuple[float, Any, int, float]] = []
                if job.kind == "frame":
                    slot.frames_waiting -= 1
                    self._frames_waiting -= 1
                elif job.kind == "audio":
                    audio = list(slot.audio)
                    slot.audio.clear()
                    slot.audio_s = 0.0
                    slot.audio_job = False
            self._run(slot, job, audio)
            with self._cond:
                if job.kind == "close":
                    if self._sessions.get(slot.id) is slot:  # not a new session opened under the same id since
                        del self._sessions[slot.id]
                    for i, v in enumerate((slot.offered, slot.processed, slot.dropped, slot.errors)):
                        self._closed_totals[i] += v
                    slot.jobs.clear()
                    slot.scheduled = False
                elif slot.jobs:
                    self._ready.append(slot)  # behind the other ready sessions: round robin
                    self._cond.notify()
                else:
                    slot.scheduled = False

    def _run(self, slot: _Slot, job: _Job, audio: list[tuple[float, Any, int, float]]) -> None:
        analysis = slot.analysis
        events: list[IncidentEvent] = []
        segments: list[SpeechSegment] = []
        try:
            if job.kind == "frame":
                events = analysis.frame(job.arg, job.media_s, "yuv420p")
                done = self._clock()
                lag = max(0.0, done - job.at_utc)
                with self._cond:
                    slot.processed += 1
                    slot.done.append((done, lag))
                if self._on_lag is not None:
                    try:
                        self._on_lag(lag)
                    except Exception:
                        self.callback_errors += 1
                        log.exception("on_lag callback failed")
            elif job.kind == "audio":
                for media_s, pcm, channels, _ in audio:
                    result = analysis.audio(pcm, media_s, channels)
                    events += result.events
                    segments += result.segments
                    slot.level_dbfs = result.level_dbfs
            elif job.kind == "quiet":
                events = analysis.set_quiet_phase(bool(job.arg), job.media_s)
            elif job.kind == "reference":
                assert job.result is not None
                try:
                    job.result.set_result(analysis.set_reference(job.arg))
                except ValueError as exc:
                    job.result.set_exception(exc)
            elif job.kind == "close":
                closing_events, closing_segments = analysis.stop(job.media_s)
                events, segments = closing_events, list(closing_segments)
        except Exception:  # one bad sample must not kill the worker; it is counted and logged
            log.exception("analysis of session %s failed on a %s job", slot.id, job.kind)
            with self._cond:
                slot.errors += 1
            return
        self._emit(slot.id, events, segments)

    def _emit(self, session_id: str, events: list[IncidentEvent], segments: list[SpeechSegment]) -> None:
        for segment in segments:
            self._call(self._on_speech, session_id, segment)
        for event in events:
            self._call(self._on_incident, session_id, event)

    def _call(self, callback: Callable[[str, Any], None] | None, session_id: str, item: Any) -> None:
        if callback is None:
            return
        try:
            callback(session_id, item)
        except Exception:  # a failing consumer must not stop the analysis
            log.exception("proctoring callback failed for session %s", session_id)
            with self._cond:
                self.callback_errors += 1


__all__ = ["AnalysisPool", "Metrics", "PoolOptions"]
