"""The remote-TUK camera check: light, face, resolution and frame rate measured on the server from received frames.

The web layer compares these values with the LSP's requirement profile (``config.TukRequirementProfile``: keys
``lighting``, ``face_visible``, ``camera_resolution``, ``camera_fps``); this module only measures.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proctor.analysis.analyzer import measure_prepared
from proctor.analysis.frames import ANALYSIS_WIDTH, FrameInput, PixelFormat, frame_size, prepare
from proctor.analysis.signals import COVERED_STD

#: "A face is visible" when at least this share of the analysed frames shows exactly one face.
FACE_VISIBLE_MIN_SHARE = 0.6
#: At most this many frames (evenly spread) are run through the face detector; fps uses every timestamp.
MAX_ANALYSED_FRAMES = 30


@dataclass(frozen=True)
class CameraMeasurement:
    """Measured values of the camera check. ``fps`` is None without at least two distinct timestamps."""

    lighting: float  # mean luma 0-255 over the analysed frames
    lighting_min: float  # darkest analysed frame
    face_visible: bool
    face_share: float  # share of analysed frames with exactly one face
    multiple_faces_share: float
    covered_share: float
    resolution: tuple[int, int]  # (width, height), the most common one
    fps: float | None
    frames_received: int
    frames_analysed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lighting": round(self.lighting, 1),
            "lighting_min": round(self.lighting_min, 1),
            "face_visible": self.face_visible,
            "face_share": round(self.face_share, 3),
            "multiple_faces_share": round(self.multiple_faces_share, 3),
            "covered_share": round(self.covered_share, 3),
            "resolution": list(self.resolution),
            "fps": None if self.fps is None else round(self.fps, 2),
            "frames_received": self.frames_received,
            "frames_analysed": self.frames_analysed,
        }


def fps_from_timestamps(timestamps: Sequence[float]) -> float | None:
    """Frames per second from capture timestamps: (n - 1) / (last - first), None if they span no time."""
    if len(timestamps) < 2:
        return None
    span = max(timestamps) - min(timestamps)
    if span <= 0:
        return None
    return (len(timestamps) - 1) / span


def measure_camera_frames(
    frames: Sequence[FrameInput],
    timestamps: Sequence[float] | None = None,
    fmt: PixelFormat = "bgr24",
    *,
    max_analysed: int = MAX_ANALYSED_FRAMES,
) -> CameraMeasurement:
    """Measure a short burst of received camera frames (e.g. 3 s after the check's WebRTC track starts)."""
    if not frames:
        raise ValueError("no frames to measure")
    if timestamps is not None and len(timestamps) != len(frames):
        raise ValueError("timestamps and frames differ in length")
    n = len(frames)
    step = max(1, -(-n // max_analysed))
    picked = list(range(0, n, step))[:max_analysed]
    sizes = Counter(frame_size(f, fmt) for f in frames)
    lumas: list[float] = []
    one = many = covered = 0
    for i in picked:
        s = measure_prepared(prepare(frames[i], fmt, ANALYSIS_WIDTH), covered_std=COVERED_STD)
        lumas.append(s.brightness)
        one += s.face_count == 1
        many += s.face_count > 1
        covered += s.covered
    k = len(picked)
    return CameraMeasurement(
        lighting=statistics.fmean(lumas),
        lighting_min=min(lumas),
        face_visible=one / k >= FACE_VISIBLE_MIN_SHARE,
        face_share=one / k,
        multiple_faces_share=many / k,
        covered_share=covered / k,
        resolution=sizes.most_common(1)[0][0],
        fps=fps_from_timestamps(timestamps) if timestamps is not None else None,
        frames_received=n,
        frames_analysed=k,
    )
