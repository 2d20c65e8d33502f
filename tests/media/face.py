"""Test media: a webcam with a real face (skimage astronaut) and a tone, as files for Chromium and as aiortc tracks.

``python -m tests.media.face OUTDIR`` writes ``face.y4m`` and ``tone.wav``.
Each frame carries its index as a 16-bit barcode (16 blocks of 40x16 px, black=0/white=1) in the bottom rows, so a
viewer can tell frames apart and measure latency (see :func:`read_counter`).
"""

from __future__ import annotations

import asyncio
import fractions
import sys
import time
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 30
BAR_BITS, BAR_W, BAR_H = 16, 40, 16


@lru_cache(maxsize=1)
def face_rgb() -> np.ndarray:
    """The astronaut's face (rows 0:288, cols 32:416) scaled to 640x480, RGB uint8."""
    from skimage import data, transform

    crop = data.astronaut()[0:288, 32:416]
    scaled = transform.resize(crop, (HEIGHT, WIDTH), anti_aliasing=True)
    return (scaled * 255).round().astype(np.uint8)


@lru_cache(maxsize=1)
def face_i420() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The face as I420 planes (BT.601 full range, as y4m C420jpeg)."""
    rgb = face_rgb().astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    u = u.reshape(HEIGHT // 2, 2, WIDTH // 2, 2).mean(axis=(1, 3))
    v = v.reshape(HEIGHT // 2, 2, WIDTH // 2, 2).mean(axis=(1, 3))
    as8 = lambda a: np.clip(a.round(), 0, 255).astype(np.uint8)  # noqa: E731
    return as8(y), as8(u), as8(v)


def stamp_counter(y: np.ndarray, index: int) -> np.ndarray:
    """Copy of the Y plane with *index* drawn as a barcode in the bottom BAR_H rows."""
    y = y.copy()
    top = y.shape[0] - BAR_H
    for bit in range(BAR_BITS):
        y[top:, bit * BAR_W : (bit + 1) * BAR_W] = 235 if (index >> bit) & 1 else 16
    return y


def read_counter(y: np.ndarray) -> int:
    """The index drawn by :func:`stamp_counter`, read from a (decoded) Y plane of the same size."""
    top = y.shape[0] - BAR_H
    value = 0
    for bit in range(BAR_BITS):
        block = y[top + 4 : y.shape[0] - 4, bit * BAR_W + 8 : (bit + 1) * BAR_W - 8]
        if float(block.mean()) > 128:
            value |= 1 << bit
    return value


def write_y4m(path: Path, seconds: float = 10.0, counter: bool = True) -> Path:
    y, u, v = face_i420()
    frames = int(seconds * FPS)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            f.write(b"FRAME\n")
            f.write((stamp_counter(y, i) if counter else y).tobytes())
            f.write(u.tobytes())
            f.write(v.tobytes())
    return path


def tone(seconds: float, rate: int = 48_000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def write_wav(path: Path, seconds: float = 10.0, rate: int = 48_000, freq: float = 440.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone(seconds, rate, freq).tobytes())
    return path


def _tracks():  # imported lazily so the file writers work without aiortc
    import av
    from aiortc import MediaStreamTrack

    class FaceTrack(MediaStreamTrack):
        """A 640x480 30 fps webcam showing the face with a frame counter (stamped in the Y plane)."""

        kind = "video"

        def __init__(self, fps: int = FPS) -> None:
            super().__init__()
            self.fps = fps
            self._index = 0
            self._start: float | None = None
            self.sent_at: dict[int, float] = {}
            self.sent_wall: dict[int, float] = {}
            y, u, v = face_i420()
            self._u, self._v, self._y = u, v, y

        async def recv(self) -> av.VideoFrame:
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._index / self.fps
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            y = stamp_counter(self._y, self._index & 0xFFFF)
            for plane, array in zip(frame.planes, (y, self._u, self._v), strict=True):
                plane.update(np.ascontiguousarray(array).tobytes() if plane.line_size == array.shape[1]
                             else _pad(array, plane.line_size))
            frame.pts = self._index * (90_000 // self.fps)
            frame.time_base = fractions.Fraction(1, 90_000)
            self.sent_at[self._index & 0xFFFF] = time.monotonic()
            self.sent_wall[self._index & 0xFFFF] = time.time()
            self._index += 1
            return frame

    class ToneTrack(MediaStreamTrack):
        """20 ms frames of a 440 Hz tone, 48 kHz mono."""

        kind = "audio"

        def __init__(self, freq: float = 440.0) -> None:
            super().__init__()
            self._samples = tone(1.0, 48_000, freq)
            self._pos = 0
            self._start: float | None = None
            self._n = 0

        async def recv(self) -> av.AudioFrame:
            if self._start is None:
                self._start = time.monotonic()
            due = self._start + self._n * 0.02
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            chunk = np.take(self._samples, range(self._pos, self._pos + 960), mode="wrap")
            self._pos = (self._pos + 960) % len(self._samples)
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = 48_000
            frame.pts = self._n * 960
            frame.time_base = fractions.Fraction(1, 48_000)
            self._n += 1
            return frame

    return FaceTrack, ToneTrack


def _pad(array: np.ndarray, line_size: int) -> bytes:
    padded = np.zeros((array.shape[0], line_size), dtype=np.uint8)
    padded[:, : array.shape[1]] = array
    return padded.tobytes()


def face_track(fps: int = FPS):
    return _tracks()[0](fps)


def tone_track(freq: float = 440.0):
    return _tracks()[1](freq)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(write_y4m(out / "face.y4m"), write_wav(out / "tone.wav"))
