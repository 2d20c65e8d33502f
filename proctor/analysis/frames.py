"""Frame input: BGR (``frame.to_ndarray(format="bgr24")``), grey, or I420 (``format="yuv420p"``) to what we analyse.

Everything downstream works on two small copies of a frame: a BGR image about 320 px wide for the face detector and a
grey (luma) image of the same size for the cheap signals. For I420 input the luma plane is used directly (expanded
from BT.601 limited range 16-235 to 0-255 with a lookup table), so the cheap signals never convert colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

PixelFormat = Literal["bgr24", "gray", "yuv420p"]
#: A frame: one array (BGR HxWx3, grey HxW, or I420 stacked as (H*3/2)xW) or the three I420 planes (Y, U, V).
FrameInput = np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]

#: I420 from a camera/WebRTC is BT.601 limited range (Y 16-235); expand it so luma means the same as for BGR input.
_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)

#: Width the face detector and the cheap signals work at (YuNet: ~3 ms at 320x240, ~10 ms at 640x480).
ANALYSIS_WIDTH = 320


@dataclass(frozen=True)
class PreparedFrame:
    """A frame reduced for analysis. ``scale`` maps analysis coordinates back: original = analysis / scale."""

    bgr: np.ndarray
    gray: np.ndarray
    width: int
    height: int
    scale: float


def frame_size(frame: FrameInput, fmt: PixelFormat = "bgr24") -> tuple[int, int]:
    """(width, height) of the original frame."""
    if isinstance(frame, tuple):
        y = frame[0]
        return int(y.shape[1]), int(y.shape[0])
    if fmt == "yuv420p":
        return int(frame.shape[1]), int(frame.shape[0] * 2 // 3)
    return int(frame.shape[1]), int(frame.shape[0])


def _check(frame: np.ndarray, fmt: PixelFormat) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise TypeError("a frame must be a uint8 numpy array")
    if fmt == "bgr24" and (frame.ndim != 3 or frame.shape[2] != 3):
        raise ValueError(f"bgr24 frame must be HxWx3, got {frame.shape}")
    if fmt == "gray" and frame.ndim != 2:
        raise ValueError(f"gray frame must be HxW, got {frame.shape}")
    if fmt == "yuv420p" and (frame.ndim != 2 or frame.shape[0] % 3 or frame.shape[1] % 2):
        raise ValueError(f"yuv420p frame must be (H*3/2)xW with even W, got {frame.shape}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise ValueError(f"frame too small: {frame.shape}")


def to_i420(planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Three I420 planes (Y HxW, U and V H/2xW/2) stacked the way ``to_ndarray(format="yuv420p")`` returns them."""
    y, u, v = planes
    h, w = y.shape
    return np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w)


def prepare(
    frame: FrameInput,
    fmt: PixelFormat = "bgr24",
    width: int | None = ANALYSIS_WIDTH,
) -> PreparedFrame:
    """Reduce a frame to ``width`` pixels wide (never enlarged; ``None`` keeps the full size) in BGR and grey."""
    if isinstance(frame, tuple):
        frame, fmt = to_i420(frame), "yuv420p"
    _check(frame, fmt)
    if fmt == "yuv420p":
        bgr_full = cv2.cvtColor(frame, cv2.COLOR_YUV2BGR_I420)
    elif fmt == "gray":
        bgr_full = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    else:
        bgr_full = frame
    h, w = bgr_full.shape[:2]
    scale = 1.0 if width is None or w <= width else width / w
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bgr = cv2.resize(bgr_full, size, interpolation=cv2.INTER_AREA)
    else:
        bgr = np.ascontiguousarray(bgr_full)
    if fmt == "yuv420p":
        luma = frame[:h]
        small = cv2.resize(luma, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_AREA) if scale != 1.0 else luma
        gray = cv2.LUT(small, _LIMITED_TO_FULL)
    elif fmt == "gray":
        gray = cv2.resize(frame, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_AREA) if scale != 1.0 else frame
    else:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return PreparedFrame(bgr=bgr, gray=np.ascontiguousarray(gray), width=w, height=h, scale=scale)
