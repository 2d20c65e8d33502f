"""Frozen detection through a real VP8 encoder and decoder (PyAV's libvpx), as frames arrive from WebRTC.

A still picture encoded by VP8 is not bit-identical frame to frame (the encoder refreshes it every few seconds), and
the noise of a live camera is partly smoothed away by the encoder: the frozen threshold must hold for both.
"""

from __future__ import annotations

import numpy as np
import pytest

from proctor.analysis import FindingKind, FrameAnalyzer

from .images import with_noise

av = pytest.importorskip("av", reason="PyAV (with libvpx) is installed with aiortc")

pytestmark = pytest.mark.slow


def vp8_roundtrip(frames: list[np.ndarray], bitrate: int) -> list[np.ndarray]:
    """Encode BGR frames with libvpx (realtime, as WebRTC does) and decode them to I420 arrays."""
    from tests.media.vp8 import roundtrip

    return roundtrip(frames, bitrate)


def analyse(frames: list[np.ndarray]) -> list[FindingKind]:
    analyzer = FrameAnalyzer()
    found = []
    for i, frame in enumerate(frames):
        if analyzer.due(i / 30):
            found += analyzer.submit(frame, i / 30, "yuv420p")
    return [f.kind for f in found]


@pytest.mark.parametrize("bitrate", [300_000, 600_000])
def test_still_picture_through_vp8_is_frozen(face_frame, bitrate):
    # 8 s: at 300 kbps the encoder keeps refining the picture for the first ~2.5 s, so it is reported later
    decoded = vp8_roundtrip([face_frame] * 240, bitrate)
    assert FindingKind.FROZEN in analyse(decoded)


def test_live_camera_through_vp8_is_not_frozen(face_frame, rng):
    # 300 kbps smooths the most noise away: the hardest case for a live picture (5 s: one full frozen window)
    decoded = vp8_roundtrip([with_noise(face_frame, rng, sigma=1.5) for _ in range(150)], 300_000)
    assert FindingKind.FROZEN not in analyse(decoded)


def test_replayed_video_through_vp8_is_looped(face_frame, rng):
    # a virtual camera replaying a 7.1 s moving clip (213 frames at 30 fps), encoded at 600 kbps, 320x240
    clip = [with_noise(face_frame[:240, x : x + 320], rng) for x in range(0, 213)]
    decoded = vp8_roundtrip(clip * 3, 600_000)
    found = analyse(decoded)
    assert FindingKind.LOOPED in found
    assert FindingKind.FROZEN not in found


def test_live_movement_through_vp8_is_not_looped(face_frame, rng):
    # the same amount of movement, never repeated: a camera wandering irregularly over the picture
    x, direction, frames = 0, 1, []
    for _ in range(639):
        x += direction * int(rng.integers(0, 3))
        if not 0 <= x <= 320:
            direction, x = -direction, min(max(x, 0), 320)
        frames.append(with_noise(face_frame[:240, x : x + 320], rng))
    assert FindingKind.LOOPED not in analyse(vp8_roundtrip(frames, 600_000))
