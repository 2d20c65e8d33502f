"""Face detection with YuNet: boxes, scores, five landmarks, and a yaw/roll estimate from the landmarks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from proctor.analysis import models
from proctor.analysis.frames import ANALYSIS_WIDTH, FrameInput, PixelFormat, PreparedFrame, prepare

#: |yaw| above this is "turned away" (profile). Frontal photos measure 0-25 degrees, the cameraman (a 3/4 profile) 55.
TURNED_AWAY_YAW_DEG = 40.0


@dataclass(frozen=True)
class Face:
    """One detected face, in the coordinates of the image it was detected in (see :func:`detect_faces`).

    ``landmarks`` are (x, y) of: right eye, left eye, nose tip, right mouth corner, left mouth corner (the subject's
    right/left). ``raw`` is YuNet's 15-value row, which SFace's ``alignCrop`` needs.
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: tuple[tuple[float, float], ...]
    raw: tuple[float, ...]

    @property
    def area(self) -> float:
        return self.w * self.h

    @property
    def yaw_deg(self) -> float:
        return estimate_yaw(self.landmarks)

    @property
    def roll_deg(self) -> float:
        (rx, ry), (lx, ly) = self.landmarks[0], self.landmarks[1]
        return math.degrees(math.atan2(ly - ry, lx - rx))

    @property
    def frontal(self) -> bool:
        return abs(self.yaw_deg) <= TURNED_AWAY_YAW_DEG

    def scaled(self, factor: float) -> Face:
        """The same face with every coordinate multiplied by ``factor`` (score unchanged)."""
        raw = np.asarray(self.raw, dtype=np.float64)
        raw[:14] *= factor
        return _face_from_row(raw)


def estimate_yaw(landmarks: tuple[tuple[float, float], ...]) -> float:
    """Yaw in degrees from the nose's horizontal offset against the eye midpoint, normalised by the eye distance.

    For a head turned by t the nose tip moves by about d*sin(t) while the eyes close in by cos(t); with the nose
    standing out about half an eye distance, offset/eye_distance ~ tan(t)/2, so t ~ atan(2 * offset/eye_distance).
    0 is frontal; the sign is the direction in the image (positive: nose towards the image's right).
    When the eyes collapse onto each other (full profile) the estimate saturates at +/-90.
    """
    (rx, ry), (lx, ly), (nx, _ny) = landmarks[0], landmarks[1], landmarks[2]
    eye_dist = math.hypot(lx - rx, ly - ry)
    offset = nx - (rx + lx) / 2.0
    if eye_dist < 1e-6:
        return math.copysign(90.0, offset) if offset else 90.0
    return math.degrees(math.atan(2.0 * offset / eye_dist))


def _face_from_row(row: np.ndarray) -> Face:
    r = [float(v) for v in row[:15]]
    lms = tuple((r[4 + 2 * i], r[5 + 2 * i]) for i in range(5))
    return Face(x=r[0], y=r[1], w=r[2], h=r[3], score=r[14], landmarks=lms, raw=tuple(r))


def detect_in_prepared(prepared: PreparedFrame) -> list[Face]:
    """Faces in an already prepared (reduced) frame, in the reduced frame's coordinates, largest first."""
    img = prepared.bgr
    det = models.detector()
    det.setInputSize((img.shape[1], img.shape[0]))
    _, rows = det.detect(img)
    if rows is None:
        return []
    faces = [_face_from_row(r) for r in rows]
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def detect_faces(
    frame: FrameInput,
    fmt: PixelFormat = "bgr24",
    *,
    max_width: int | None = ANALYSIS_WIDTH,
) -> list[Face]:
    """Faces in a frame of any size, largest first, in the ORIGINAL frame's coordinates.

    The frame is reduced to ``max_width`` (320 px) for detection; pass ``max_width=None`` to detect at full size
    (for an ID card photo, which is small in the frame).
    """
    prepared = prepare(frame, fmt, max_width)
    faces = detect_in_prepared(prepared)
    if prepared.scale != 1.0:
        faces = [f.scaled(1.0 / prepared.scale) for f in faces]
    return faces
