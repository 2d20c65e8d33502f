"""Thread safety: OpenCV detectors are per thread; several threads give the same answers as one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from proctor.analysis import FindingKind, FrameAnalyzer, ModelUnavailableError, detect_faces, extract_embedding, models

from .images import lfw_face, with_noise


def _signature(frame: np.ndarray):
    faces = detect_faces(frame)
    return [(round(f.x), round(f.y), round(f.w), round(f.h)) for f in faces]


def test_detection_and_embedding_in_many_threads_match_serial(face_frame, cameraman, non_faces):
    images = [face_frame, cameraman, non_faces["chelsea"], non_faces["coffee"], lfw_face(0), lfw_face(36)]
    expected = [_signature(img) for img in images]
    expected_vec = extract_embedding(face_frame).vector
    work = images * 8

    def job(i: int):
        img = work[i]
        sig = _signature(img)
        vec = extract_embedding(face_frame).vector if i % 6 == 0 else None
        return i, sig, vec

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(job, range(len(work))))
    for i, sig, vec in results:
        assert sig == expected[i % len(images)]
        if vec is not None:
            assert np.allclose(vec, expected_vec, atol=1e-5)


def test_one_analyzer_per_session_in_parallel(face_frame, non_faces):
    sessions = {"face": face_frame, "coffee": non_faces["coffee"], "black": np.zeros((480, 640, 3), np.uint8)}
    results: dict[str, list] = {}

    def session(name: str, frame: np.ndarray) -> None:
        rng = np.random.default_rng(7)
        analyzer = FrameAnalyzer()
        found = []
        for i in range(20):
            found.extend(analyzer.submit(with_noise(frame, rng), i * 0.2))
        results[name] = [f.kind for f in found]

    threads = [threading.Thread(target=session, args=item) for item in sessions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["face"] == []
    assert results["coffee"] == [FindingKind.NO_FACE]
    assert results["black"] == [FindingKind.CAMERA_COVERED]


def test_one_analyzer_fed_from_several_threads_stays_consistent(face_frame):
    analyzer = FrameAnalyzer()
    rng = np.random.default_rng(3)
    frames = [with_noise(face_frame, rng) for _ in range(8)]

    def feed(k: int) -> None:
        for i in range(10):
            analyzer.submit(frames[(k + i) % 8], k * 100.0 + i * 0.2)

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert analyzer.sampled + analyzer.skipped == 40


def test_a_tampered_model_is_refused_and_nothing_is_downloaded(tmp_path, monkeypatch):
    for name in (models.YUNET_FILE, models.SFACE_FILE):
        (tmp_path / name).write_bytes(b"not a model" * 10_000)
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path))
    errors = []

    def fresh_thread() -> None:  # a new thread has no detector yet, so it must load (and check) the files
        try:
            models.detector()
        except ModelUnavailableError as exc:
            errors.append(exc)

    t = threading.Thread(target=fresh_thread)
    t.start()
    t.join()
    assert len(errors) == 1 and "SHA-256" in str(errors[0])


def test_missing_model_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailableError):
        models.model_paths()
