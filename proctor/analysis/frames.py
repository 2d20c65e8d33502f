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


#: Largest encoded image :func:`decode_image` accepts, and the largest picture it decodes (either side, px).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_SIDE = 8192


def encode_jpeg(bgr: np.ndarray, max_width: int = ANALYSIS_WIDTH, quality: int = 70) -> bytes:
    """A small JPEG of a BGR picture (reduced to ``max_width`` px wide, never enlarged): an incident's snapshot."""
    h, w = bgr.shape[:2]
    if w > max_width:
        bgr = cv2.resize(bgr, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("the picture could not be encoded as JPEG")
    return buf.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    """A JPEG/PNG (e.g. the KTP snapshot) to a BGR array; ValueError for anything else, or too large."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise ValueError("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    data = bytes(data)
    width, height = _declared_size(data)  # checked before decoding: a small file can declare a huge picture
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ValueError(f"the image is larger than {MAX_IMAGE_SIDE} px")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.ndim != 3 or img.shape[0] < 2 or img.shape[1] < 2:
        raise ValueError("the image could not be decoded")
    return img


def _declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR or a JPEG's SOF segment, without decoding."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ValueError("the PNG has no header")
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("the image is neither JPEG nor PNG")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("the JPEG is malformed")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                break
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        if length < 2:
            raise ValueError("the JPEG is malformed")
        i += 2 + length
    raise ValueError("the JPEG has no frame header")
