"""The per-session frame analyser: frames with timestamps in, typed findings out.

One :class:`FrameAnalyzer` per candidate session. It samples the incoming frames at ``sample_fps`` (5 by default),
computes the cheap signals and YuNet faces on every sampled frame, an SFace embedding every ``match_interval_s`` when
there is a reference face, and turns conditions that last into findings: a condition must hold for its ``persist_s``
before it is reported, and is reported again every ``repeat_s`` while it lasts (so a long problem is not a flood).

:meth:`FrameAnalyzer.analyze` also gives the raw per-sample view an incident tracker needs
(:class:`Observation`): every condition that holds on the sampled frame, since when, and its detector value, and the
small analysis copy of the frame (for a snapshot).

It is safe to call from several threads (a lock serialises one session's frames; the OpenCV models are per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from proctor.analysis import signals as sig
from proctor.analysis.faces import TURNED_AWAY_YAW_DEG, Face, detect_in_prepared
from proctor.analysis.findings import VIDEO_KINDS, Finding, FindingKind, make_finding
from proctor.analysis.frames import ANALYSIS_WIDTH, FrameInput, PixelFormat, PreparedFrame, prepare
from proctor.analysis.matching import IdentityVerdict, IdentityWindow, embed_face

#: Slack on the identity comparisons' cadence (see ``FrameAnalyzer._identity_step``).
CADENCE_SLACK_S = 0.05

_DEFAULT_PERSIST_S: dict[FindingKind, float] = {
    FindingKind.NO_FACE: 3.0,
    FindingKind.MULTIPLE_FACES: 1.0,
    FindingKind.FACE_TURNED_AWAY: 3.0,
    FindingKind.CAMERA_COVERED: 2.0,
    FindingKind.TOO_DARK: 3.0,
    FindingKind.BLURRED: 3.0,
    FindingKind.FROZEN: 0.0,  # the frozen detector already needs a full 3 s window (after 1 s of reference age)
    FindingKind.LOOPED: 0.0,  # the loop detector already needs a run of matching samples
    FindingKind.IDENTITY_MISMATCH: 0.0,  # the identity window already takes a median over several samples
    FindingKind.IDENTITY_UNCERTAIN: 0.0,
}


@dataclass(frozen=True)
class AnalyzerConfig:
    """Thresholds and rates. Defaults are the measured ones documented in docs/PROCTORING.md."""

    sample_fps: float = 5.0
    analysis_width: int = ANALYSIS_WIDTH
    too_dark_luma: float = sig.TOO_DARK_LUMA
    covered_std: float = sig.COVERED_STD
    blur_sharpness: float = sig.BLUR_SHARPNESS
    turned_away_yaw_deg: float = TURNED_AWAY_YAW_DEG
    frozen_min_age_s: float = 1.0
    frozen_max_mean_diff: float = sig.FROZEN_MAX_MEAN_DIFF
    frozen_window_s: float = 3.0
    loop_history_s: float = 120.0
    loop_min_lag_s: float = 3.0
    loop_min_run: int = 8
    match_interval_s: float = 3.0
    identity_window_s: float = 60.0
    identity_min_samples: int = 3
    #: spacing of the comparisons while the identity window has fewer than ``identity_min_samples`` of them
    identity_warmup_interval_s: float = 0.5
    repeat_s: float = 30.0
    persist_s: dict[FindingKind, float] = field(default_factory=lambda: dict(_DEFAULT_PERSIST_S))


@dataclass(frozen=True)
class FrameSignals:
    """What was measured on one sampled frame (faces in analysis coordinates)."""

    time: float
    width: int
    height: int
    brightness: float
    contrast: float
    covered: bool
    faces: tuple[Face, ...]
    face_sharpness: float | None
    frozen_diff: float | None

    @property
    def face_count(self) -> int:
        return len(self.faces)


def measure_prepared(prepared: PreparedFrame, t: float = 0.0, covered_std: float = sig.COVERED_STD) -> FrameSignals:
    """The stateless signals of one prepared frame: light, covered, faces, face sharpness."""
    gray = prepared.gray
    std = sig.contrast(gray)
    covered = std < covered_std
    faces = tuple(detect_in_prepared(prepared)) if not covered else ()
    face_sharp = sig.region_sharpness(gray, (faces[0].x, faces[0].y, faces[0].w, faces[0].h)) if faces else None
    return FrameSignals(
        time=t,
        width=prepared.width,
        height=prepared.height,
        brightness=sig.brightness(gray),
        contrast=std,
        covered=covered,
        faces=faces,
        face_sharpness=face_sharp,
        frozen_diff=None,
    )


@dataclass(frozen=True)
class Holding:
    """A condition true on the last sampled frame: since when (frame clock, seconds) and the detector's value."""

    since: float
    value: float


@dataclass(frozen=True)
class Observation:
    """What one sampled frame showed: its signals, the findings it raised (as :meth:`FrameAnalyzer.submit`
    returns them), every condition holding on it, and the BGR analysis copy of the frame (~320 px wide).
    """

    time: float
    signals: FrameSignals
    findings: tuple[Finding, ...]
    holding: Mapping[FindingKind, Holding]
    image: np.ndarray = field(repr=False)


class _Condition:
    __slots__ = ("last_emitted", "since", "value")

    def __init__(self) -> None:
        self.since: float | None = None
        self.last_emitted: float | None = None
        self.value = 0.0


class FrameAnalyzer:
    """Stateful analyser for one session. Feed every frame (or only some) with its timestamp in seconds."""

    def __init__(self, config: AnalyzerConfig | None = None, reference: np.ndarray | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self._lock = threading.Lock()
        self._conditions = {kind: _Condition() for kind in VIDEO_KINDS}
        self._identity: IdentityWindow | None = None
        if reference is not None:
            self.set_reference(reference)
        self._reset_temporal()
        self.last_signals: FrameSignals | None = None
        self.sampled = 0
        self.skipped = 0

    def _reset_temporal(self) -> None:
        c = self.config
        self._last_sample_t: float | None = None
        self._last_match_t: float | None = None
        self._matches = 0  # comparisons made against the current reference
        #: since when the camera has been uncovered (None while covered): a covered camera is also a still picture,
        #: and that stillness is not "frozen" once the cover is gone
        self._uncovered_since: float | None = None
        self._frozen = sig.FrozenDetector(
            min_age_s=c.frozen_min_age_s, max_mean_diff=c.frozen_max_mean_diff, window_s=c.frozen_window_s
        )
        self._loop = sig.LoopDetector(history_s=c.loop_history_s, min_lag_s=c.loop_min_lag_s, min_run=c.loop_min_run)

    def _restart_timeline(self) -> None:
        self._reset_temporal()
        self._conditions = {kind: _Condition() for kind in VIDEO_KINDS}
        if self._identity is not None:
            self._identity = IdentityWindow(
                self._identity.reference,
                window_s=self.config.identity_window_s,
                min_samples=self.config.identity_min_samples,
            )
            self._matches = 0

    def set_reference(self, reference: np.ndarray) -> None:
        """The reference face embedding (from the KTP snapshot, see :func:`extract_embedding`)."""
        window = IdentityWindow(
            reference, window_s=self.config.identity_window_s, min_samples=self.config.identity_min_samples
        )
        with self._lock:
            self._identity = window
            self._matches = 0
            for kind in (FindingKind.IDENTITY_MISMATCH, FindingKind.IDENTITY_UNCERTAIN):
                self._conditions[kind] = _Condition()

    def identity_verdict(self, t: float | None = None) -> IdentityVerdict | None:
        with self._lock:
            return self._identity.verdict(t) if self._identity else None

    def active(self) -> list[FindingKind]:
        """Conditions currently reported (held long enough to have raised a finding and not yet cleared)."""
        with self._lock:
            return [k for k, c in self._conditions.items() if c.last_emitted is not None]

    def holding(self) -> dict[FindingKind, Holding]:
        """Conditions true on the last sampled frame (whether or not they have been reported yet)."""
        with self._lock:
            return self._holding()

    def _holding(self) -> dict[FindingKind, Holding]:
        return {k: Holding(c.since, c.value) for k, c in self._conditions.items() if c.since is not None}

    def due(self, t: float) -> bool:
        """Whether a frame at ``t`` would be sampled: check before converting a decoded frame to numpy."""
        with self._lock:
            last = self._last_sample_t
            return last is None or t < last or t - last >= 1.0 / self.config.sample_fps - 1e-3

    def submit(
        self,
        frame: FrameInput,
        t: float,
        fmt: PixelFormat = "bgr24",
    ) -> list[Finding]:
        """Analyse ``frame`` taken at ``t`` seconds if it is due for sampling; return the findings it raised."""
        observation = self.analyze(frame, t, fmt)
        return list(observation.findings) if observation is not None else []

    def analyze(self, frame: FrameInput, t: float, fmt: PixelFormat = "bgr24") -> Observation | None:
        """Like :meth:`submit`, with everything the frame showed; None when the frame is not due for sampling."""
        with self._lock:
            interval = 1.0 / self.config.sample_fps
            if self._last_sample_t is not None:
                if t < self._last_sample_t:  # the clock went back (new track): start the timeline again
                    self._restart_timeline()
                elif t - self._last_sample_t < interval - 1e-3:
                    self.skipped += 1
                    return None
            self._last_sample_t = t
            self.sampled += 1
            prepared = prepare(frame, fmt, self.config.analysis_width)
            findings = self._analyse(prepared, frame, fmt, t)
            assert self.last_signals is not None
            return Observation(t, self.last_signals, tuple(findings), self._holding(), prepared.bgr)

    # -- internals ---------------------------------------------------------------------------------------------

    def _analyse(
        self,
        prepared: PreparedFrame,
        frame: FrameInput,
        fmt: PixelFormat,
        t: float,
    ) -> list[Finding]:
        c = self.config
        s = measure_prepared(prepared, t, c.covered_std)
        diff = self._frozen.update(t, prepared.gray)
        loop = self._loop.update(t, prepared.gray)
        s = replace(s, frozen_diff=diff)
        self.last_signals = s
        out: list[Finding] = []

        def check(kind: FindingKind, active: bool, value: float = 0.0, since: float | None = None) -> None:
            found = self._update(kind, active, t, value, since)
            if found is not None:
                out.append(found)

        check(FindingKind.CAMERA_COVERED, s.covered, s.contrast)
        visible = not s.covered
        if not visible:
            self._uncovered_since = None
        elif self._uncovered_since is None:
            self._uncovered_since = t
        check(FindingKind.TOO_DARK, visible and s.brightness < c.too_dark_luma, s.brightness)
        frozen = visible and self._frozen.is_frozen()
        # the picture has not changed since the first still difference of the window (less the reference age)
        frozen_cond = self._conditions[FindingKind.FROZEN]
        frozen_since = frozen_cond.since if frozen_cond.since is not None else self._frozen.still_since()
        if frozen_since is not None and self._uncovered_since is not None:
            frozen_since = max(frozen_since, self._uncovered_since)  # still while covered is not frozen
        frozen_for = t - frozen_since if frozen and frozen_since is not None else 0.0
        check(FindingKind.FROZEN, frozen, frozen_for, frozen_since)
        # a replay is seen from the first sample of the run of matches, not when the run became long enough
        check(FindingKind.LOOPED, visible and loop is not None, loop.lag_s if loop else 0.0, self._loop.run_start_s)
        check(FindingKind.NO_FACE, visible and s.face_count == 0)
        check(FindingKind.MULTIPLE_FACES, s.face_count > 1, s.face_count)
        main = s.faces[0] if s.faces else None
        yaw = main.yaw_deg if main else 0.0
        check(FindingKind.FACE_TURNED_AWAY, main is not None and abs(yaw) > c.turned_away_yaw_deg, abs(yaw))
        blurred = main is not None and s.face_sharpness is not None and s.face_sharpness < c.blur_sharpness
        check(FindingKind.BLURRED, blurred, s.face_sharpness or 0.0)
        out.extend(self._identity_step(prepared, frame, fmt, s, t))
        return out

    def _identity_step(
        self,
        prepared: PreparedFrame,
        frame: FrameInput,
        fmt: PixelFormat,
        s: FrameSignals,
        t: float,
    ) -> list[Finding]:
        c = self.config
        if self._identity is None or s.face_count != 1 or not s.faces[0].frontal:
            return []
        # Until the window holds its minimum of comparisons, compare every ``identity_warmup_interval_s`` (an
        # early verdict for the assessor), then every ``match_interval_s``; half a sample interval of tolerance so
        # that jittered samples keep the cadence instead of slipping by one sample each time (plus
        # CADENCE_SLACK_S: the sampling grid takes a frame up to half a frame early, and sums of 1/3 s are not exact:
        # at 3 frames/s the warm-up's 0.5 s is every sample, 0.333 s apart, not every other one).
        warming = self._matches < c.identity_min_samples
        interval = min(c.match_interval_s, c.identity_warmup_interval_s) if warming else c.match_interval_s
        if self._last_match_t is not None and t - self._last_match_t < interval - 0.5 / c.sample_fps - CADENCE_SLACK_S:
            return []
        self._last_match_t = t
        self._matches += 1
        # Embed from a larger copy than the 320 px analysis image: SFace wants ~112 px faces.
        full = prepare(frame, fmt, max(2 * c.analysis_width, 640)) if prepared.scale < 1.0 else prepared
        face = s.faces[0].scaled(full.scale / prepared.scale) if full is not prepared else s.faces[0]
        self._identity.add(t, embed_face(full.bgr, face))
        verdict = self._identity.verdict(t)
        out: list[Finding] = []
        value = verdict.median if verdict.median is not None else 0.0
        mismatch = verdict.decision == "mismatch"
        uncertain = verdict.decision == "undecided" and verdict.samples >= c.identity_min_samples
        for kind, active in ((FindingKind.IDENTITY_MISMATCH, mismatch), (FindingKind.IDENTITY_UNCERTAIN, uncertain)):
            found = self._update(kind, active, t, value)
            if found is not None:
                out.append(found)
        return out

    def _update(
        self, kind: FindingKind, active: bool, t: float, value: float, since: float | None = None
    ) -> Finding | None:
        cond = self._conditions[kind]
        if not active:
            cond.since = None
            cond.last_emitted = None
            return None
        if cond.since is None:
            cond.since = min(t, since) if since is not None else t
        cond.value = float(value)
        persist = self.config.persist_s.get(kind, 0.0)
        if t - cond.since < persist - 1e-6:  # samples on a 1/3 s grid: 3 intervals are 1 s give or take a rounding
            return None
        if cond.last_emitted is not None and t - cond.last_emitted < self.config.repeat_s:
            return None
        cond.last_emitted = t
        return make_finding(kind, t, value, since=cond.since)
