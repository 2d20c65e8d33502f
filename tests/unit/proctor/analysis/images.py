"""Real photos shipped with scikit-image, turned into the frames the analyser gets (BGR uint8)."""

from __future__ import annotations

import cv2
import numpy as np

from tests.media import clips

#: lfw_subset indices that are the same person (George W. Bush); SFace agrees (0.50-0.65 between them).
LFW_SAME_PERSON = (0, 36, 73, 90)
#: lfw_subset indices of other people, each below 0.25 against LFW_SAME_PERSON[0].
LFW_OTHER_PEOPLE = (19, 26, 46)


def rgb_to_bgr(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)


def webcam_face() -> np.ndarray:
    """The test webcam of ARCHITECTURE.md: astronaut rows 0:288, cols 32:416 scaled to 640x480."""
    return clips.astronaut().copy()


def lfw_face(index: int) -> np.ndarray:
    """An lfw_subset face (25x25 grey, tightly cropped) padded and enlarged so a detector sees a whole head."""
    return clips.lfw_portrait(index, 180).copy()


def bgr_to_i420(img: np.ndarray) -> np.ndarray:
    """What aiortc's ``frame.to_ndarray(format="yuv420p")`` gives: planes stacked as (H*3/2)xW."""
    return cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)


def with_noise(img: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """Sensor noise, so consecutive frames of a still scene differ as a live camera's do."""
    noisy = img.astype(np.int16) + rng.normal(0, sigma, img.shape).astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def panning_clip(
    source: np.ndarray, n: int, rng: np.random.Generator, size: tuple[int, int] = (320, 240), step: int = 6
) -> list[np.ndarray]:
    """``n`` frames of a camera panning across ``source`` (``step`` px per frame), with sensor noise: live motion."""
    w, h = size
    max_x = source.shape[1] - w
    frames = []
    for i in range(n):
        x = (i * step) % (2 * max_x)
        x = x if x <= max_x else 2 * max_x - x  # pan back and forth, never a jump
        frames.append(with_noise(source[:h, x : x + w], rng))
    return frames
