"""Face matching with SFace: embeddings, cosine similarity, a quality gate, and a windowed median decision.

Used to compare the face on the candidate's ID card (KTP) snapshot with the live face. SFace gives 0.81-0.97 for the
same person and 0.16-0.20 for different people on good photos (OpenCV's threshold: 0.363), but a blurred face drops
to ~0.06, so only faces that pass :func:`assess_quality` are compared, the decision is the median over a window of
such comparisons, and "mismatch" is a flag for a human (the assessor), never an automatic fail.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from proctor.analysis import models
from proctor.analysis.faces import TURNED_AWAY_YAW_DEG, Face, detect_in_prepared
from proctor.analysis.frames import FrameInput, PixelFormat, PreparedFrame, prepare
from proctor.analysis.signals import brightness, sharpness

#: OpenCV's published cosine threshold for SFace: at or above it, the same person.
MATCH_THRESHOLD = 0.363
#: Below this the median says "mismatch" (different people measure 0.16-0.20). Between the two: undecided.
MISMATCH_THRESHOLD = 0.25

# Quality gate, measured on the 112x112 aligned face SFace sees.
MIN_FACE_PX = 40.0  # face box width in the image the embedding is taken from
MIN_ALIGNED_SHARPNESS = 100.0  # signals.sharpness of the aligned face: sharp 5000, similarity 0.25 at ~60
MIN_FACE_LUMA = 50.0
MAX_FACE_LUMA = 215.0
MAX_QUALITY_YAW_DEG = 25.0
MAX_QUALITY_ROLL_DEG = 25.0

Decision = Literal["match", "mismatch", "undecided"]


@dataclass(frozen=True)
class FaceQuality:
    """Whether a face is good enough to compare, and why not."""

    sharpness: float
    brightness: float
    yaw_deg: float
    roll_deg: float
    width_px: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class FaceEmbedding:
    """A unit-length 128-d SFace vector, the face it came from, and that face's quality."""

    vector: np.ndarray = field(repr=False)
    face: Face
    quality: FaceQuality


def align(bgr: np.ndarray, face: Face) -> np.ndarray:
    """The 112x112 BGR face SFace expects (similarity transform on the five landmarks)."""
    return models.recognizer().alignCrop(bgr, np.asarray(face.raw, dtype=np.float32).reshape(1, -1))


def assess_quality(aligned: np.ndarray, face: Face) -> FaceQuality:
    """Quality gate: sharp, bright enough (not blown out), frontal, level and large enough."""
    gray = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    inner = gray[16:96, 16:96]  # skip the border the warp fills in
    sharp = sharpness(inner)
    luma = brightness(inner)
    yaw, roll = face.yaw_deg, face.roll_deg
    problems: list[str] = []
    if face.w < MIN_FACE_PX:
        problems.append("too_small")
    if sharp < MIN_ALIGNED_SHARPNESS:
        problems.append("blurred")
    if luma < MIN_FACE_LUMA:
        problems.append("too_dark")
    if luma > MAX_FACE_LUMA:
        problems.append("too_bright")
    if abs(yaw) > MAX_QUALITY_YAW_DEG:
        problems.append("not_frontal")
    if abs(roll) > MAX_QUALITY_ROLL_DEG:
        problems.append("tilted")
    return FaceQuality(
        sharpness=sharp, brightness=luma, yaw_deg=yaw, roll_deg=roll, width_px=face.w, problems=tuple(problems)
    )


def embed_aligned(aligned: np.ndarray) -> np.ndarray:
    """Unit-length 128-d embedding of an aligned 112x112 BGR face."""
    vec = models.recognizer().feature(aligned).reshape(-1).astype(np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 1e-12 else vec


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity in [-1, 1] (0 if either vector is zero)."""
    va, vb = np.asarray(a, dtype=np.float32).reshape(-1), np.asarray(b, dtype=np.float32).reshape(-1)
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na < 1e-12 or nb < 1e-12:
        return 0.0
    return float(np.clip(np.dot(va, vb) / (na * nb), -1.0, 1.0))


def embed_face(bgr: np.ndarray, face: Face) -> FaceEmbedding:
    """Embedding and quality of one face found in ``bgr`` (coordinates of ``face`` must be those of ``bgr``)."""
    aligned = align(bgr, face)
    return FaceEmbedding(vector=embed_aligned(aligned), face=face, quality=assess_quality(aligned, face))


def embed_prepared(prepared: PreparedFrame, faces: list[Face] | None = None) -> FaceEmbedding | None:
    """Embedding of the largest face of a prepared frame (None if there is no face)."""
    faces = detect_in_prepared(prepared) if faces is None else faces
    if not faces:
        return None
    return embed_face(prepared.bgr, faces[0])


def extract_embedding(
    frame: FrameInput,
    fmt: PixelFormat = "bgr24",
    *,
    select: Literal["largest", "smallest"] = "largest",
    max_width: int | None = 640,
) -> FaceEmbedding | None:
    """Embedding of one face of a frame, detected at up to ``max_width`` px (None: full size).

    For a KTP snapshot where the candidate holds the card next to their face, the card photo is the smaller face:
    use ``select="smallest"``. Check ``.quality.ok`` before trusting the result as a reference.
    """
    prepared = prepare(frame, fmt, max_width)
    faces = detect_in_prepared(prepared)
    if not faces:
        return None
    face = faces[-1] if select == "smallest" else faces[0]
    return embed_face(prepared.bgr, face)


def decide(similarities: list[float], min_samples: int = 3) -> tuple[Decision, float | None]:
    """Median decision over similarities of good-quality faces: (decision, median or None)."""
    if len(similarities) < min_samples:
        return "undecided", (statistics.median(similarities) if similarities else None)
    median = statistics.median(similarities)
    if median >= MATCH_THRESHOLD:
        return "match", median
    if median < MISMATCH_THRESHOLD:
        return "mismatch", median
    return "undecided", median


@dataclass(frozen=True)
class IdentityVerdict:
    decision: Decision
    median: float | None
    samples: int
    rejected_low_quality: int


class IdentityWindow:
    """Windowed identity check against a reference embedding (from the KTP snapshot or an enrolment photo).

    Feed live embeddings with their time; faces failing the quality gate are counted but not compared. The verdict
    is the median similarity of the good samples in the last ``window_s`` seconds (at least ``min_samples``).
    """

    def __init__(self, reference: np.ndarray, window_s: float = 60.0, min_samples: int = 3) -> None:
        self.reference = np.asarray(reference, dtype=np.float32).reshape(-1)
        self.window_s = window_s
        self.min_samples = min_samples
        self._samples: deque[tuple[float, float]] = deque()
        self._rejected: deque[float] = deque()

    def add(self, t: float, embedding: FaceEmbedding) -> float | None:
        """Add a live face; returns its similarity, or None if it failed the quality gate."""
        self._expire(t)
        if not embedding.quality.ok:
            self._rejected.append(t)
            return None
        sim = cosine_similarity(self.reference, embedding.vector)
        self._samples.append((t, sim))
        return sim

    def _expire(self, t: float) -> None:
        while self._samples and t - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        while self._rejected and t - self._rejected[0] > self.window_s:
            self._rejected.popleft()

    def verdict(self, t: float | None = None) -> IdentityVerdict:
        if t is not None:
            self._expire(t)
        sims = [s for _, s in self._samples]
        decision, median = decide(sims, self.min_samples)
        return IdentityVerdict(decision, median, len(sims), len(self._rejected))


__all__ = [
    "MATCH_THRESHOLD",
    "MISMATCH_THRESHOLD",
    "TURNED_AWAY_YAW_DEG",
    "Decision",
    "FaceEmbedding",
    "FaceQuality",
    "IdentityVerdict",
    "IdentityWindow",
    "align",
    "assess_quality",
    "cosine_similarity",
    "decide",
    "embed_aligned",
    "embed_face",
    "embed_prepared",
    "extract_embedding",
]
