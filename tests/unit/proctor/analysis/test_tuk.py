"""The remote-TUK camera check measured from frames: light, face, resolution, fps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config import DEFAULT_TUK_PROFILE
from proctor.analysis import fps_from_timestamps, measure_camera_frames

from .images import bgr_to_i420, with_noise

LIGHTING_MIN = DEFAULT_TUK_PROFILE.get("lighting").min


def burst(frame: np.ndarray, rng: np.random.Generator, n: int = 45, fps: float = 30.0):
    return [with_noise(frame, rng) for _ in range(n)], [i / fps for i in range(n)]


def test_face_camera_passes(face_frame, rng):
    frames, ts = burst(face_frame, rng)
    m = measure_camera_frames(frames, ts)
    assert m.face_visible and m.face_share == 1.0
    assert m.lighting >= LIGHTING_MIN
    assert m.resolution == (640, 480)
    assert m.fps == pytest.approx(30.0)
    assert m.frames_received == 45 and m.frames_analysed == 23  # every 2nd frame: at most 30 analysed
    d = m.to_dict()
    assert d["resolution"] == [640, 480] and d["face_visible"] is True and d["fps"] == 30.0


def test_camera_without_a_face_fails_face_visible(non_faces, rng):
    frames, ts = burst(non_faces["chelsea"], rng, n=10)
    m = measure_camera_frames(frames, ts)
    assert not m.face_visible and m.face_share == 0.0
    assert m.resolution == (451, 300)


def test_dark_room_fails_lighting(face_frame, rng):
    frames, ts = burst(cv2.convertScaleAbs(face_frame, alpha=0.25), rng, n=10)
    assert measure_camera_frames(frames, ts).lighting < LIGHTING_MIN


def test_covered_camera(rng):
    frames, ts = burst(np.zeros((480, 640, 3), np.uint8), rng, n=10)
    m = measure_camera_frames(frames, ts)
    assert m.covered_share == 1.0 and not m.face_visible and m.lighting < LIGHTING_MIN


def test_face_visible_needs_most_frames(face_frame, non_faces, rng):
    coffee = cv2.resize(non_faces["coffee"], (640, 480))
    frames = [with_noise(face_frame, rng)] * 5 + [coffee] * 5
    m = measure_camera_frames(frames)
    assert m.face_share == 0.5 and not m.face_visible and m.fps is None


def test_i420_frames_from_webrtc(face_frame, rng):
    frames, ts = burst(face_frame, rng, n=15, fps=15.0)
    m = measure_camera_frames([bgr_to_i420(f) for f in frames], ts, "yuv420p")
    bgr = measure_camera_frames(frames, ts)
    assert m.resolution == (640, 480) and m.face_visible and m.fps == pytest.approx(15.0)
    assert m.lighting == pytest.approx(bgr.lighting, abs=3)


def test_fps_from_timestamps():
    assert fps_from_timestamps([0.0, 0.1, 0.2, 0.3]) == pytest.approx(10.0)
    assert fps_from_timestamps([1.0]) is None
    assert fps_from_timestamps([1.0, 1.0]) is None


def test_bad_input():
    with pytest.raises(ValueError):
        measure_camera_frames([])
    with pytest.raises(ValueError):
        measure_camera_frames([np.zeros((10, 10, 3), np.uint8)], [0.0, 1.0])
