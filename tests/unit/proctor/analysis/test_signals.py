"""Cheap signals: light, covered camera, blur, frozen and looped video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctor.analysis import (
    BLUR_SHARPNESS,
    TOO_DARK_LUMA,
    FrozenDetector,
    LoopDetector,
    brightness,
    detect_faces,
    is_covered,
    prepare,
    region_sharpness,
)

from .images import panning_clip, with_noise


def test_black_and_blank_frames_are_covered(face_frame, rng):
    black = np.zeros((240, 320), np.uint8)
    assert is_covered(black)
    assert is_covered(with_noise(black, rng, sigma=1.0))  # a covered lens still has a little sensor noise
    assert is_covered(np.full((240, 320), 200, np.uint8))  # paper over the lens
    assert not is_covered(prepare(face_frame).gray)


def test_brightness_of_a_dark_frame_fails_lighting(face_frame):
    normal = brightness(prepare(face_frame).gray)
    dark = brightness(prepare(cv2.convertScaleAbs(face_frame, alpha=0.3)).gray)
    assert normal > TOO_DARK_LUMA
    assert dark < TOO_DARK_LUMA
    assert brightness(np.full((10, 10), 100, np.uint8)) == pytest.approx(100.0)


def _face_sharpness(frame: np.ndarray) -> float:
    p = prepare(frame)
    faces = detect_faces(p.bgr)
    assert faces, "face not found"
    f = faces[0]
    return region_sharpness(p.gray, (f.x, f.y, f.w, f.h))


def test_blurred_face_is_detected(face_frame):
    assert _face_sharpness(face_frame) > 10 * BLUR_SHARPNESS
    assert _face_sharpness(cv2.GaussianBlur(face_frame, (0, 0), 9)) < BLUR_SHARPNESS


def test_sharpness_does_not_depend_on_exposure(face_frame):
    bright = _face_sharpness(face_frame)
    dim = _face_sharpness(cv2.convertScaleAbs(face_frame, alpha=0.4))
    assert dim == pytest.approx(bright, rel=0.25)


def test_region_sharpness_of_a_degenerate_box_is_zero():
    assert region_sharpness(np.zeros((50, 50), np.uint8), (48, 48, 10, 10)) == 0.0


def test_identical_frames_are_frozen_and_a_live_still_scene_is_not(face_frame, rng):
    gray = prepare(face_frame).gray
    frozen, live = FrozenDetector(), FrozenDetector()
    results_frozen, results_live = [], []
    for i in range(21):
        t = i * 0.2
        results_frozen.append(frozen.update(t, gray))
        results_live.append(live.update(t, with_noise(gray, rng, sigma=1.0)))
    assert results_frozen[:5] == [None] * 5  # no frame >= 1 s old yet
    assert all(d == 0.0 for d in results_frozen[5:])
    assert frozen.is_frozen()  # a full 3 s window of differences since t=1.0
    assert not live.is_frozen()
    assert min(results_live[5:]) > 0.3


def test_frozen_needs_a_full_window_and_tolerates_encoder_refresh_bursts(face_frame):
    gray = prepare(face_frame).gray
    refreshed = cv2.add(gray, 1)  # a refresh burst: every pixel off by one level
    det = FrozenDetector(window_s=3.0)
    states = []
    for i in range(30):
        det.update(i * 0.2, refreshed if i % 15 in (0, 1) else gray)  # 2 of every 15 samples
        states.append(det.is_frozen())
    assert not any(states[:20])  # differences start at t=1.0; the window is full at t=4.0 (sample 20)
    assert all(states[20:])


def test_frozen_compares_with_a_frame_at_least_one_second_old():
    det = FrozenDetector(min_age_s=1.0)
    a, b = np.zeros((24, 32), np.uint8), np.full((24, 32), 255, np.uint8)
    assert det.update(0.0, a) is None
    assert det.update(0.5, b) is None
    assert det.update(1.0, b) == 255.0  # against the frame of t=0.0
    assert det.update(1.5, b) == 0.0  # against t=0.5


def test_replayed_clip_is_a_loop_and_live_motion_is_not(face_frame, rng):
    clip = panning_clip(cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY), 30, rng)  # 6 s at 5 fps, moving
    det = LoopDetector()
    hits = []
    for i, frame in enumerate(clip + [with_noise(f, rng) for f in clip]):  # the same 6 s played again
        hit = det.update(i * 0.2, frame)
        if hit:
            hits.append((i, hit))
    assert hits, "replay not detected"
    first, match = hits[0]
    assert 30 + 7 <= first < 30 + 10  # the 8th replayed sample
    assert match.lag_s == pytest.approx(6.0, abs=0.3)


def test_continuous_live_motion_is_not_a_loop(rng):
    wide = cv2.resize(cv2.cvtColor(np.asarray(_scene(rng)), cv2.COLOR_BGR2GRAY), (2400, 240))
    det = LoopDetector()
    assert not any(det.update(i * 0.2, f) for i, f in enumerate(panning_clip(wide, 150, rng, step=13)))


def _wandering_clip(gray: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A camera view moving left and right irregularly (like a person): positions recur, sequences do not."""
    x, direction, frames = 0, 1, []
    for _ in range(n):
        x += direction * int(rng.integers(3, 10))
        if not 0 <= x <= 320:
            direction, x = -direction, min(max(x, 0), 320)
        frames.append(with_noise(gray[:240, x : x + 320], rng))
    return frames


def test_irregular_back_and_forth_movement_is_not_a_loop_but_its_replay_is(face_frame, rng):
    gray = cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY)
    clip = _wandering_clip(gray, 300, rng)  # 60 s
    det = LoopDetector(history_s=120.0)
    assert not any(det.update(i * 0.2, f) for i, f in enumerate(clip))
    replay = [det.update((300 + i) * 0.2, with_noise(f, rng)) for i, f in enumerate(clip[:40])]
    hits = [m for m in replay if m]
    assert hits and hits[0].lag_s == pytest.approx(60.0, abs=0.3)


def test_still_scene_is_not_a_loop(face_frame, rng):
    gray = prepare(face_frame).gray
    det = LoopDetector()
    assert not any(det.update(i * 0.2, with_noise(gray, rng)) for i in range(60))


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A wide non-repeating scene: smoothed random texture."""
    noise = rng.integers(0, 255, (60, 600, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (2400, 240), interpolation=cv2.INTER_CUBIC), (0, 0), 3)
