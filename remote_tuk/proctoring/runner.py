"""The analysis pool in the live product: which sessions are analysed, their frames in, their incidents out.

:class:`LiveProctoring` belongs to the process's :class:`remote_tuk.live.media.MediaHub`. A session is analysed
while it is ``live`` and its candidate's media reaches the server: the hub opens it when the session goes live (or
the candidate's media comes back), and closes it on pause, end, or when the media ends; closing ends the open
incidents (reason ``stopped``) and frees the session's analysers.

Time: the pool runs on the session's *analysis time* (server seconds since the analysis opened); each incident's
times are put on the session media clock (``remote_tuk.live.clock``) through the server instant they stand for,
so findings line up with the recording, the KUK marks and the other events.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import select

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, ProctoringProfile
from evidence_store.errors import ObjectNotFound
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.live import services as live
from remote_tuk.live.clock import clock_at_utc
from remote_tuk.proctoring import services

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
#: how often the candidate's audio level goes to the assessor's meter
LEVEL_HZ = 4.0
#: (event, payload, session public id, staff_only): to the session's assessor and witness pages, or to all its pages
Emit = Callable[[str, dict[str, Any], str, bool], None]


class LiveProctoring:
    """Opens and closes sessions in an :class:`proctor.proctoring.AnalysisPool` and records what it finds."""

    def __init__(
        self,
        factory: Callable[[], Any],
        store: Callable[[], Any],
        emit: Emit,
        profile: ProctoringProfile = DEFAULT_PROCTORING_PROFILE,
        options: Any = None,
    ) -> None:
        self._factory, self._store, self._emit = factory, store, emit
        self.profile = profile
        self._options = options
        self._pool: Any = None
        self._lock = threading.Lock()
        self._origin: dict[str, float] = {}  # session → server time its analysis opened (analysis time 0)
        #: the origin of a closed session, for the events its close still delivers
        self._closed_origin: dict[str, float] = {}
        #: session → (Opus decoder, resampler to 48 kHz mono int16); used on the engine's one analysis worker only
        self._decoders: dict[str, tuple[Any, Any]] = {}
        #: the assessor's quiet phase per session, kept across the analysis closing and opening again (media rejoin)
        self._quiet: dict[str, bool] = {}
        #: session → (server time of the last level sent to the pages, peak dBFS since)
        self._levels: dict[str, tuple[float, float]] = {}
        #: the profile each analysed session opened with (its scheme's, read when the analysis opened)
        self._profiles: dict[str, ProctoringProfile] = {}
        #: the threads reading a KTP snapshot for the identity reference (stop waits for them)
        self._references: set[threading.Thread] = set()
        self.recorded = 0
        self.failures = 0
        #: gets each analysed frame's lag in seconds (the node's ``rtuk_analysis_lag_seconds``, set by ops)
        self.lag_observer: Callable[[float], None] | None = None

    @property
    def pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                from proctor.proctoring import AnalysisPool

                self._pool = AnalysisPool(self.profile, options=self._options, on_incident=self._on_incident,
                                          on_lag=self._observe_lag).start()
            return self._pool

    def _observe_lag(self, lag_s: float) -> None:
        if self.lag_observer is not None:
            self.lag_observer(lag_s)

    def stop(self, wait_s: float = 10.0) -> None:
        """Stop the analysis; a KTP snapshot still being read is waited for (up to *wait_s*) and then dropped, so
        nothing of this hub touches the database or the store after it stopped."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._origin.clear()
            self._closed_origin.clear()
            references = list(self._references)
        if pool is not None:
            pool.stop()
        deadline = time.monotonic() + wait_s
        for thread in references:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- sessions ---------------------------------------------------------------------------------------------------

    def profile_for(self, public_id: str) -> ProctoringProfile:
        """The session's proctoring profile: the one its analysis opened with, else its scheme's as stored now (the
        LSP admin's, ``remote_tuk.proctoring.profiles``), else the default this hub was given."""
        with self._lock:
            opened = self._profiles.get(public_id)
        return opened if opened is not None else self._scheme_profile(public_id)

    def _scheme_profile(self, public_id: str) -> ProctoringProfile:
        from remote_tuk.proctoring import profiles

        try:
            with self._factory() as db:
                if profiles.is_stored_for_session(db, public_id):
                    return profiles.for_session(db, public_id)
        except Exception:
            log.exception("the proctoring profile of %s could not be read: the default applies", public_id)
        return self.profile

    def is_open(self, public_id: str) -> bool:
        with self._lock:
            return public_id in self._origin

    def fps(self, public_id: str) -> float:
        """Frames per second the session's analysis wants (0 when it is not analysed)."""
        return self.profile_for(public_id).sample_fps if self.is_open(public_id) else 0.0

    def open(self, public_id: str, ktp: Callable[[], bytes | None] | None = None) -> bool:
        """Start analysing the session (idempotent); *ktp* gives the KTP snapshot for the identity reference."""
        with self._lock:
            if public_id in self._origin:
                return False
        pool = self.pool
        profile = self._scheme_profile(public_id)
        pool.open_session(public_id, profile)
        with self._lock:
            self._profiles[public_id] = profile
            self._origin[public_id] = time.time()
            self._closed_origin.pop(public_id, None)
            quiet = self._quiet.get(public_id, False)
        if quiet:
            pool.set_quiet_phase(public_id, True, 0.0)
        if ktp is not None and self.profile_for(public_id).identity.enabled:
            thread = threading.Thread(target=self._reference, args=(public_id, ktp), name="proctor-reference",
                                      daemon=True)
            with self._lock:
                self._references.add(thread)
            thread.start()
        return True

    def close(self, public_id: str) -> bool:
        """Stop analysing the session: open incidents end (``stopped``) after the frames already taken."""
        with self._lock:
            origin = self._origin.pop(public_id, None)
            pool = self._pool
            if origin is not None:
                self._closed_origin[public_id] = origin
            self._decoders.pop(public_id, None)
            self._levels.pop(public_id, None)
            self._profiles.pop(public_id, None)
        if origin is None or pool is None:
            return False
        return bool(pool.close_session(public_id, time.time() - origin))

    def offer(self, sample: Any) -> bool:
        """A sampled frame of the candidate's video (``proctor.sink.SampledFrame``); never blocks."""
        with self._lock:
            origin = self._origin.get(sample.session_id)
            pool = self._pool
        if origin is None or pool is None:
            return False
        return bool(pool.offer(sample.session_id, replace(sample, media_s=sample.at_utc - origin)))

    def offer_audio(self, public_id: str, packet: bytes, at_utc: float) -> bool:
        """One Opus packet of the candidate's audio (the engine's analysis worker, in arrival order): decoded here
        to 48 kHz mono int16 and queued for voice activity detection; never blocks."""
        with self._lock:
            origin = self._origin.get(public_id)
            pool = self._pool
            codec = self._decoders.get(public_id)
        if origin is None or pool is None:
            return False
        import av

        if codec is None:
            codec = (av.CodecContext.create("opus", "r"),
                     av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE))
            with self._lock:
                self._decoders[public_id] = codec
        decoder, resampler = codec
        taken = False
        peak = -100.0
        try:
            frames = decoder.decode(av.Packet(packet))
        except av.error.FFmpegError:
            return False  # a damaged packet: the detector sees a gap
        for frame in frames:
            for out in resampler.resample(frame):
                pcm = out.to_ndarray().reshape(-1)
                taken = bool(pool.offer_audio(public_id, pcm, at_utc - origin)) or taken
                if pcm.size:
                    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float32))))) / 32768.0
                    peak = max(peak, 20.0 * math.log10(rms) if rms > 1e-5 else -100.0)
        self._level(public_id, peak, at_utc)
        return taken

    def _level(self, public_id: str, dbfs: float, now: float) -> None:
        """The candidate's audio level to the assessor's meter, at most LEVEL_HZ times a second (the loudest since)."""
        last, loudest = self._levels.get(public_id, (0.0, -100.0))
        loudest = max(loudest, dbfs)
        if now - last < 1.0 / LEVEL_HZ:
            self._levels[public_id] = (last, loudest)
            return
        self._levels[public_id] = (now, -100.0)
        self._emit("level", {"dbfs": round(loudest, 1)}, public_id, True)

    def set_quiet(self, public_id: str, on: bool) -> bool:
        """The assessor's quiet phase: applied now if the session is analysed, and whenever its analysis opens."""
        with self._lock:
            self._quiet[public_id] = on
            origin = self._origin.get(public_id)
            pool = self._pool
        if origin is None or pool is None:
            return False
        return bool(pool.set_quiet_phase(public_id, on, time.time() - origin))

    def forget(self, public_id: str) -> None:
        """The session is over: forget its quiet phase (after :meth:`close`)."""
        with self._lock:
            self._quiet.pop(public_id, None)

    def metrics(self, public_id: str) -> dict[str, Any] | None:
        """How the session's analysis keeps up (for the page: ``behind`` means "analysis behind")."""
        with self._lock:
            pool = self._pool
            open_ = public_id in self._origin
        if pool is None or not open_:
            return None
        try:
            return pool.metrics(public_id).to_dict()
        except KeyError:
            return None

    # --- the pool's callbacks (its worker threads) --------------------------------------------------------------

    def _reference(self, public_id: str, ktp: Callable[[], bytes | None]) -> None:
        try:
            self._read_reference(public_id, ktp)
        finally:
            with self._lock:
                self._references.discard(threading.current_thread())

    def _read_reference(self, public_id: str, ktp: Callable[[], bytes | None]) -> None:
        try:
            image = ktp()
        except ObjectNotFound as exc:  # the gate's row points at no logged item: say so, no stack to read
            log.error("the KTP snapshot of %s could not be read: %s", public_id, exc)
            image = None
        except Exception:
            log.exception("the KTP snapshot of %s could not be read", public_id)
            image = None
        with self._lock:
            pool = self._pool if public_id in self._origin else None
        if pool is None:
            return  # the session's analysis closed (or the hub stopped) while the snapshot was read
        if image is None:
            self._record_reference(public_id, False, ["ktp_unavailable"])
            return
        future = pool.set_reference(public_id, image)

        def done(f: Any) -> None:
            try:
                result = f.result()
            except (ValueError, KeyError) as exc:
                self._record_reference(public_id, False, [f"ktp_unreadable: {type(exc).__name__}"])
                return
            self._record_reference(public_id, bool(result.ok), list(result.problems))

        future.add_done_callback(done)

    def _record_reference(self, public_id: str, ok: bool, problems: list[str]) -> None:
        try:
            with self._factory() as db:
                session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
                if session is not None and live.evidence_open(self._store(), session):
                    services.record_reference(self._store(), session, ok, problems)
        except Exception:
            log.exception("the identity reference of %s was not recorded", public_id)

    def _on_incident(self, public_id: str, event: Any) -> None:
        with self._lock:
            # after close, the close job's own events (incidents ended, reason "stopped") still come
            origin = self._origin.get(public_id, self._closed_origin.get(public_id))
        if origin is None:
            log.warning("incident of %s after its analysis closed: not placed", public_id)
            return
        store = self._store()
        try:
            with self._factory() as db:
                session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
                if session is None or not live.evidence_open(store, session):
                    return

                def to_clock(t: float, _session: Any = session, _origin: float = origin) -> float:
                    return clock_at_utc(_session, _origin + t)

                payload = services.record_incident(db, store, session, event, to_clock)
            self.recorded += 1
        except Exception:
            self.failures += 1
            log.exception("incident %s of %s not recorded", event.kind, public_id)
            return
        if payload is not None:
            # server clock: the sample that made the transition, and now (the page's latency is measured from them)
            payload["sample_utc_ms"] = int((origin + event.at_s) * 1000)
            payload["server_ms"] = int(time.time() * 1000)
            self._emit("finding", payload, public_id, True)
        self._prompt(public_id, event)

    def _prompt(self, public_id: str, event: Any) -> None:
        """The profile's gentle prompt to the candidate while an incident lasts (shown by the candidate's page)."""
        if event.phase == "repeat":
            return
        prompt = self.profile_for(public_id).prompt(event.kind.value)
        if prompt is None:
            return
        self._emit("prompt", {"kind": event.kind.value, "incident_id": event.incident_id,
                              "on": event.phase == "start", "text_id": prompt.text_id, "text_en": prompt.text_en},
                   public_id, False)
