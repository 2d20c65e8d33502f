"""Fixtures for the TUK check end to end: the real server (no gate pre-satisfied), Debian Chromium with fake devices.

The server and the sign-in helpers come from tests/e2e (``Server``, ``sign_in``, ``chromium_args``). The fake devices:
the astronaut webcam of tests/media/face.py (640x480, a real face), a webcam showing no face (skimage ``coffee()``),
and a microphone that sounds like speech (tone bursts over a faint noise floor, so the level above the noise floor is
measurable; a constant tone has no floor to stand above), or that stays quiet for the first seconds (``late_speech``).
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, chromium_args, chromium_available

WIDTH, HEIGHT, FPS = 640, 480, 30


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB uint8 (H, W, 3) → I420 planes (BT.601 full range, as y4m C420jpeg)."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = y.shape
    u = u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    v = v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    as8 = lambda a: np.clip(a.round(), 0, 255).astype(np.uint8)  # noqa: E731
    return as8(y), as8(u), as8(v)


def write_still_y4m(path: Path, rgb: np.ndarray, seconds: float = 2.0) -> Path:
    """A webcam that shows one picture (Chromium loops the file)."""
    from skimage import transform

    scaled = (transform.resize(rgb, (HEIGHT, WIDTH), anti_aliasing=True) * 255).round().astype(np.uint8)
    y, u, v = rgb_to_i420(scaled)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(seconds * FPS)):
            f.write(b"FRAME\n")
            f.write(y.tobytes())
            f.write(u.tobytes())
            f.write(v.tobytes())
    return path


def write_speech_wav(path: Path, seconds: float = 4.0, rate: int = 48_000, silent_s: float = 0.0) -> Path:
    """Speech-like bursts: 0.3 s of a 440 Hz tone (-13 dBFS), 0.3 s of faint noise (about -60 dBFS), after *silent_s*
    seconds of the faint noise alone (a candidate who says nothing until asked). Chromium loops the file."""
    rng = np.random.default_rng(5)
    n = int((silent_s + seconds) * rate)
    t = np.arange(n) / rate
    on = ((np.floor((t - silent_s) / 0.3) % 2) == 0) & (t >= silent_s)
    signal = 0.3 * np.sin(2 * np.pi * 440 * t) * on + rng.normal(0, 0.001, n)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(signal, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


@pytest.fixture(scope="session")
def tuk_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    from skimage import data

    from tests.media.face import write_y4m

    out = tmp_path_factory.mktemp("cam")
    return {
        "face": write_y4m(out / "face.y4m", seconds=4),
        "noface": write_still_y4m(out / "coffee.y4m", data.coffee()),
        "speech": write_speech_wav(out / "speech.wav"),
        # silent for the first 7 s after the microphone opens, then speaking for 4 s (an 11 s loop)
        "late_speech": write_speech_wav(out / "late-speech.wav", seconds=4.0, silent_s=7.0),
    }


class TukServer(Server):
    """The e2e server with the test cast but nothing of the gate recorded (tests/e2e's server satisfies it)."""

    def prepare(self) -> None:
        from remote_tuk.migrate import upgrade
        from tests.conftest import copy_seed_keys, seed_cast

        self.var_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.db_url)
        self.cast = seed_cast(self.db_url)
        copy_seed_keys(self.cast, self.var_dir / "evidence")


@pytest.fixture
def tuk_server(tmp_path: Path) -> Iterator[Callable[..., TukServer]]:
    servers: list[TukServer] = []

    def make() -> TukServer:
        server = TukServer(tmp_path / f"server{len(servers)}")
        server.tmp.mkdir(parents=True)
        servers.append(server)
        server.prepare()
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def pw(tuk_media: dict[str, Path]) -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), "Debian Chromium", "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def launch(pw: Any, tuk_media: dict[str, Path]) -> Iterator[Callable[[str], Any]]:
    """Launch Chromium whose fake webcam is ``tuk_media[camera]`` and whose microphone is ``tuk_media[mic]``."""
    browsers: list[Any] = []

    def start(camera: str = "face", mic: str = "speech") -> Any:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(tuk_media[camera], tuk_media[mic]))
        browsers.append(b)
        return b

    yield start
    for b in browsers:
        b.close()
