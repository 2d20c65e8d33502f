"""Cheap per-frame signals on the grey (luma) analysis image: light, covered camera, blur, frozen and looped video.

Every function here takes a grey uint8 image (about 320x240, see :mod:`proctor.analysis.frames`) and costs well under
a millisecond. The two stateful detectors (:class:`FrozenDetector`, :class:`LoopDetector`) keep a short history per
session and must be fed frames in time order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

#: Mean luma (0-255) below which a frame is too dark. The default TUK profile asks for >= 60 ("lighting").
TOO_DARK_LUMA = 60.0
#: Luma standard deviation below which the picture is flat: lens covered, black or blank frame.
COVERED_STD = 4.0
#: Sharpness (Laplacian variance normalised to mean luma 128, see :func:`sharpness`) of the face region at the
#: analysis size below which the face is blurred. Astronaut face at 640x480: 3600 sharp, 280 after a Gaussian blur
#: of sigma 4, 170 at sigma 6, 110 at sigma 8 (where SFace similarity to the sharp face has fallen to 0.25).
BLUR_SHARPNESS = 150.0
#: Frozen: mean absolute luma difference (analysis size) against a frame >= 1 s older below this. A repeated
#: picture gives 0 (through VP8: ~0 between refresh bursts); a live camera's sensor noise alone gives ~0.5 (noise
#: sigma 1 at 640x480) to ~1.0 (sigma 3), and never below 0.38 through VP8 at 300 kbps (the clean test clips at
#: 1 Mbit/s: >= 0.63); VP8 refining a frozen picture gives ~0.17 now and then, hence 0.25 (docs/PROCTORING.md).
FROZEN_MAX_MEAN_DIFF = 0.25
#: A frozen picture through VP8 still shows short bursts of change (the encoder refreshing it); a run of change
#: longer than this ends a still stretch. History kept to date a still stretch's start.
MAX_BURST_S = 1.0
STILL_HISTORY_S = 60.0
#: Thumbnail used for loop matching.
THUMB_SIZE = (32, 24)


def brightness(gray: np.ndarray) -> float:
    """Mean luma, 0-255."""
    return float(cv2.mean(gray)[0])


def contrast(gray: np.ndarray) -> float:
    """Standard deviation of luma."""
    _, std = cv2.meanStdDev(gray)
    return float(std[0][0])


def is_covered(gray: np.ndarray, std_threshold: float = COVERED_STD) -> bool:
    """True when the picture has (almost) no detail: a covered lens, a black or a blank frame."""
    return contrast(gray) < std_threshold


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the Laplacian: high for sharp detail, near 0 for a blurred or flat image."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    _, std = cv2.meanStdDev(lap)
    return float(std[0][0]) ** 2


def sharpness(gray: np.ndarray) -> float:
    """Laplacian variance scaled to a mean luma of 128, so that a darker exposure of the same sharp picture scores
    the same (Laplacian variance alone falls with the square of the gain).
    """
    mean = max(brightness(gray), 16.0)
    return laplacian_variance(gray) * (128.0 / mean) ** 2


def region_sharpness(gray: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """:func:`sharpness` inside a box (x, y, w, h), clipped to the image. Use the face box for face blur."""
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(gray.shape[1], int(x + w)), min(gray.shape[0], int(y + h))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    return sharpness(gray[y0:y1, x0:x1])


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """A 32x24 float32 thumbnail for loop matching."""
    return cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute luma difference of two grey images (``b`` is resized to ``a`` if they differ)."""
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float(cv2.mean(cv2.absdiff(a, b))[0])


class FrozenDetector:
    """Compares each frame with a frame at least ``min_age_s`` older. A live camera always changes some pixels
    (sensor noise, breathing, blinking); a stalled or replaced feed repeats the same picture.

    Through VP8 a repeated picture is not exactly repeated: the encoder refreshes it every few seconds (measured with
    libvpx at 300-600 kbps: differences ~0 with bursts of ~0.65 for a couple of samples). So the picture is frozen
    when, over a full ``window_s``, at least ``min_share`` of the differences are below ``max_mean_diff``. A live
    camera never got below 0.38 through VP8 (sensor noise sigma 1.5, 300 kbps).
    """

    def __init__(
        self,
        min_age_s: float = 1.0,
        max_mean_diff: float = FROZEN_MAX_MEAN_DIFF,
        window_s: float = 3.0,
        min_share: float = 0.5,
    ) -> None:
        self.min_age_s = min_age_s
        self.max_mean_diff = max_mean_diff
        self.window_s = window_s
        self.min_share = min_share
        self._past: deque[tuple[float, np.ndarray]] = deque()
        self._diffs: deque[tuple[float, float]] = deque()
        self._first_diff_t: float | None = None
        #: differences of the last ``STILL_HISTORY_S`` (to date the start of a still stretch)
        self._history: deque[tuple[float, float]] = deque()

    def update(self, t: float, gray: np.ndarray) -> float | None:
        """Add a frame; return its mean difference to the newest frame >= min_age_s older (None: no such frame)."""
        ref: np.ndarray | None = None
        while self._past and t - self._past[0][0] >= self.min_age_s:
            # keep the newest frame that is old enough as the reference, drop anything older than it
            if len(self._past) >= 2 and t - self._past[1][0] >= self.min_age_s:
                self._past.popleft()
                continue
            ref = self._past[0][1]
            break
        self._past.append((t, gray.copy()))
        if ref is None:
            return None
        diff = mean_difference(gray, ref)
        if self._first_diff_t is None:
            self._first_diff_t = t
        self._diffs.append((t, diff))
        while self._diffs and t - self._diffs[0][0] > self.window_s:
            self._diffs.popleft()
        self._history.append((t, diff))
        while self._history and t - self._history[0][0] > max(self.window_s, STILL_HISTORY_S):
            self._history.popleft()
        return diff

    def still_since(self) -> float | None:
        """When the picture stopped changing: the first still difference of the still stretch that reaches the
        newest difference, less the reference age (that frame already showed the still picture). The stretch may
        contain short bursts of change (a VP8 refresh: up to ``MAX_BURST_S``); a longer run of change ends it.
        None if the newest stretch has no still difference.
        """
        first: float | None = None  # earliest still difference of the stretch so far
        edge = self._history[-1][0] if self._history else 0.0  # where the current run of change would begin
        for t, d in reversed(self._history):
            if d < self.max_mean_diff:
                first = edge = t
            elif edge - t > MAX_BURST_S:
                break  # changing for longer than a refresh burst: the picture was live before this
        return None if first is None else first - self.min_age_s

    def is_frozen(self) -> bool:
        """Whether the last full window of differences says the picture is not changing."""
        if self._first_diff_t is None or not self._diffs:
            return False
        if self._diffs[-1][0] - self._first_diff_t < self.window_s - 1e-6:
            return False
        still = sum(1 for _, d in self._diffs if d < self.max_mean_diff)
        return still >= self.min_share * len(self._diffs)


@dataclass(frozen=True)
class LoopMatch:
    lag_s: float
    error: float
    motion: float


class LoopDetector:
    """Finds a replayed recording: the current thumbnail matches one from the past (>= ``min_lag_s`` ago) much more
    closely than it matches the previous sample, and it keeps doing so with the same lag (within
    ``lag_tolerance_s`` of the run's first lag) for ``min_run`` samples.

    A still scene is not a loop (no motion): that case is :class:`FrozenDetector`'s.

    History is kept at the sampling rate, so a replay's samples fall up to half a sampling interval off the
    recorded ones; ``error_to_motion=0.5`` tolerates that, and ``min_run=8`` (1.6 s at 5 fps with one lag) keeps a
    person's irregular back-and-forth movement from looking like a loop (0 false loops in 22 minutes of a
    simulated random walk; a 10 s loop found on its first or second replay whatever the sampling phase).
    """

    def __init__(
        self,
        history_s: float = 120.0,
        min_lag_s: float = 3.0,
        max_error: float = 3.0,
        error_to_motion: float = 0.5,
        min_motion: float = 1.0,
        lag_tolerance_s: float = 0.25,
        min_run: int = 8,
    ) -> None:
        self.history_s = history_s
        self.min_lag_s = min_lag_s
        self.max_error = max_error
        self.error_to_motion = error_to_motion
        self.min_motion = min_motion
        self.lag_tolerance_s = lag_tolerance_s
        self.min_run = min_run
        # ring buffer of (time, thumbnail), oldest at self._start; grows by doubling when full
        self._times = np.zeros(256, np.float64)
        self._thumbs = np.zeros((256, THUMB_SIZE[1], THUMB_SIZE[0]), np.float32)
        self._start = 0
        self._count = 0
        self._last: np.ndarray | None = None
        self._run = 0
        self._run_lag = 0.0
        self._run_start = 0.0

    @property
    def run_start_s(self) -> float | None:
        """Time of the first sample of the current run of matches (when the replay was first seen), if any."""
        return self._run_start if self._run else None

    def _ordered(self) -> tuple[np.ndarray, np.ndarray]:
        idx = (self._start + np.arange(self._count)) % len(self._times)
        return self._times[idx], idx

    def _append(self, t: float, thumb: np.ndarray) -> None:
        cap = len(self._times)
        if self._count == cap:
            _, idx = self._ordered()
            self._times = np.concatenate([self._times[idx], np.zeros(cap)])
            self._thumbs = np.concatenate([self._thumbs[idx], np.zeros_like(self._thumbs)])
            self._start, cap = 0, 2 * cap
        pos = (self._start + self._count) % cap
        self._times[pos] = t
        self._thumbs[pos] = thumb
        self._count += 1
        while self._count and t - self._times[self._start] > self.history_s:
            self._start = (self._start + 1) % cap
            self._count -= 1

    def update(self, t: float, gray: np.ndarray) -> LoopMatch | None:
        """Add a frame; return the loop match once ``min_run`` consecutive samples matched with the same lag."""
        thumb = thumbnail(gray)
        match: LoopMatch | None = None
        if self._last is not None:
            motion = float(np.mean(np.abs(thumb - self._last)))
            times, idx = self._ordered()
            old = idx[t - times >= self.min_lag_s]
            if old.size and motion >= self.min_motion:
                errors = np.mean(np.abs(self._thumbs[old] - thumb), axis=(1, 2))
                best = int(np.argmin(errors))
                error = float(errors[best])
                if error <= self.max_error and error <= self.error_to_motion * motion:
                    match = LoopMatch(lag_s=t - float(self._times[old[best]]), error=error, motion=motion)
        # a replay keeps one lag (+/- half a sampling interval); a movement played backwards changes it every sample
        if match is not None and self._run and abs(match.lag_s - self._run_lag) <= self.lag_tolerance_s:
            self._run += 1
        elif match is not None:
            self._run, self._run_lag, self._run_start = 1, match.lag_s, t
        else:
            self._run = 0
        self._last = thumb
        self._append(t, thumb)
        return match if self._run >= self.min_run else None
