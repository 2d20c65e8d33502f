"""Test clips for proctoring: a fake webcam in every situation the analysis must (and must not) report, and fake mics.

Everything is generated from photos that ship in scikit-image (astronaut, coffee, ``lfw_subset``) and from
``espeak-ng`` (Debian) speech, deterministically (same bytes on every run). Each :class:`Clip` is a function of
media time, so a test can take numpy frames at any sampling rate (:meth:`Clip.samples`) and a browser test can get
a y4m file Chromium plays as its camera (:func:`write_y4m`, ``--use-file-for-fake-video-capture``; Chromium loops
the file at its end). :class:`ClipFiles` writes each file once per test session into a temporary folder.

Video clips (640x480, BGR; ``truth`` tells which finding must start and when its condition began):

- ``ordinary``: the astronaut at her desk, breathing-sized movement (about a pixel of sway, 0.3 % of zoom) and
  sensor noise. Never "frozen", and too still for the loop detector to consider: Chromium loops the 10 s file, and
  a person sitting still replayed in a loop cannot be told from a person sitting still (docs/PROCTORING.md).
  Must raise nothing.
- ``ordinary_lfw``: the same for an lfw person (George W. Bush, index 36) whose ID photo is another picture of him
  (index 0): the identity check must say "match".
- ``face_leaves``, ``second_face``, ``camera_black``, ``frozen``: ordinary, then at 5 s the face moves out of the
  frame / a second face comes into view / the picture goes black / the picture stops changing.
- ``looped``: a person moving about for 10 s, then the same 10 s replayed (a virtual camera playing a recording).
- ``other_person``: a different lfw person (index 19) than the one on the ID photo (index 0).

Audio (48 kHz mono int16): :func:`speech_pcm` (an Indonesian sentence from espeak-ng), :func:`tone_pcm`,
:func:`hum_pcm` (50 Hz mains hum with harmonics), :func:`noise_pcm`; :func:`write_wav` for Chromium's
``--use-file-for-fake-audio-capture``.

``python -m tests.media.clips OUTDIR`` writes every clip as y4m and the WAVs.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
#: Frame rate of the y4m files (Chromium plays them at this rate).
Y4M_FPS = 30
#: When the scenario's condition begins in the scenario clips.
EVENT_S = 5.0
#: Loop length of the ``looped`` clip.
LOOP_S = 10.0
AUDIO_RATE = 48_000
#: lfw_subset: indices 0 and 36 are the same person (SFace 0.5-0.65), 19 is someone else (< 0.25 against 0).
LFW_ID_PHOTO, LFW_SAME_PERSON, LFW_OTHER_PERSON = 0, 36, 19
SPEECH_TEXT = "Selamat pagi. Nama saya Budi. Saya peserta uji kompetensi hari ini, dan saya siap mengerjakan soal."


@dataclass(frozen=True)
class Truth:
    """What a scenario clip shows: the finding kind that must start, and when its condition began (media s)."""

    kind: str
    start_s: float


@dataclass(frozen=True)
class Clip:
    """A fake webcam: ``frame(t)`` is the BGR picture at media time ``t`` (seconds, 0 <= t < duration_s)."""

    name: str
    duration_s: float
    truth: Truth | None = None
    #: Name of the ID (KTP) photo the session compares with (see :func:`id_photo_jpeg`), if any.
    id_photo: str | None = None

    def frame(self, t: float) -> np.ndarray:
        """The picture at ``t``, as a camera delivering ``Y4M_FPS`` frames/s shows it (t wraps like Chromium)."""
        index = math.floor((t % self.duration_s) * Y4M_FPS + 1e-6)
        return _frame(self.name, index)

    def samples(self, fps: float = 3.0, offset_s: float = 0.0, seconds: float | None = None) -> Iterator[tuple]:
        """``(t, frame)`` at ``fps`` from ``offset_s`` for ``seconds`` (default: the clip's duration; longer wraps)."""
        total = self.duration_s if seconds is None else seconds
        n = math.floor((total - offset_s) * fps - 1e-9) + 1
        for k in range(max(n, 0)):
            t = offset_s + k / fps
            yield t, self.frame(t)


# -- pictures ---------------------------------------------------------------------------------------------------


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if img.shape[1] > size[0] else cv2.INTER_CUBIC)


@lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    """The test webcam of ARCHITECTURE.md: astronaut rows 0:288, cols 32:416 scaled to 640x480 (BGR)."""
    from skimage import data

    crop = cv2.cvtColor(data.astronaut()[0:288, 32:416], cv2.COLOR_RGB2BGR)
    return cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)  # as the analysis tests measured it


@lru_cache(maxsize=1)
def empty_room() -> np.ndarray:
    """A scene without a face (scikit-image's coffee cup on a table), 640x480 BGR."""
    from skimage import data

    return _resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (WIDTH, HEIGHT))


@lru_cache(maxsize=8)
def lfw_portrait(index: int, size: int = 300) -> np.ndarray:
    """An lfw_subset face (25x25 grey, tight crop) padded to a head and enlarged to ``size`` px square (BGR)."""
    from skimage import data

    img = (data.lfw_subset()[index] * 255).astype(np.uint8)
    img = cv2.copyMakeBorder(img, 10, 10, 10, 10, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)


@lru_cache(maxsize=4)
def lfw_webcam(index: int) -> np.ndarray:
    """An lfw person sitting in front of a plain, softly lit wall (640x480 BGR)."""
    wall = np.tile(np.linspace(150, 110, WIDTH, dtype=np.float32), (HEIGHT, 1))
    frame = cv2.cvtColor(wall.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    face = lfw_portrait(index, 360)
    x, y = (WIDTH - 360) // 2, HEIGHT - 360 - 40
    frame[y : y + 360, x : x + 360] = face
    return frame


def id_photo_jpeg(name: str) -> bytes:
    """The ID (KTP) photo a clip's session compares with, as the JPEG the check page stores."""
    if name == "astronaut":
        img = astronaut()
    elif name.startswith("lfw"):
        img = lfw_portrait(int(name[3:]), 180)
    else:
        raise KeyError(name)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    rng = np.random.default_rng(20261204)
    return rng.normal(0.0, 2.0, (4, HEIGHT, WIDTH, 1)).astype(np.float32)


def _noisy(img: np.ndarray, index: int) -> np.ndarray:
    """Sensor noise (sigma 2, the same on the three channels), different for every frame index, deterministic."""
    bank = _noise_bank()
    dy, dx = (index * 7919) % HEIGHT, (index * 104_729) % WIDTH
    noise = np.roll(bank[index % len(bank)], (dy, dx), axis=(0, 1))
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _warp(img: np.ndarray, dx: float, dy: float, zoom: float = 1.0) -> np.ndarray:
    m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 0.0, zoom)
    m[0, 2] += dx
    m[1, 2] += dy
    return cv2.warpAffine(img, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _breathing(img: np.ndarray, t: float) -> np.ndarray:
    """A person sitting still: about a pixel of sway and 0.3 % of zoom. The periods divide the clips' 10 s, so the
    file loops without a jump (Chromium replays it from the start).
    """
    dx = 1.0 * math.sin(2 * math.pi * t / 10.0) + 0.3 * math.sin(2 * math.pi * t / 2.5)
    dy = 0.6 * math.sin(2 * math.pi * t / 5.0)
    zoom = 1.0 + 0.003 * math.sin(2 * math.pi * t / 10.0)
    return _warp(img, dx, dy, zoom)


def _moving(img: np.ndarray, t: float) -> np.ndarray:
    """A person moving about (leaning, shifting): tens of pixels on irregular periods, never repeating in 10 s."""
    dx = 40.0 * math.sin(2 * math.pi * 0.13 * t) + 15.0 * math.sin(2 * math.pi * 0.37 * t + 1.0)
    dy = 10.0 * math.sin(2 * math.pi * 0.23 * t + 0.5)
    zoom = 1.0 + 0.04 * math.sin(2 * math.pi * 0.07 * t)
    return _warp(img, dx, dy, zoom)


def _second_face(img: np.ndarray) -> np.ndarray:
    out = img.copy()
    other = lfw_portrait(LFW_OTHER_PERSON, 200)
    out[HEIGHT - 200 :, WIDTH - 200 :] = other  # someone leaning in at the lower right
    return out


def _render(name: str, index: int) -> np.ndarray:
    t = index / Y4M_FPS
    after = t >= EVENT_S
    if name == "ordinary":
        return _noisy(_breathing(astronaut(), t), index)
    if name == "ordinary_lfw":
        return _noisy(_breathing(lfw_webcam(LFW_SAME_PERSON), t), index)
    if name == "other_person":
        return _noisy(_breathing(lfw_webcam(LFW_OTHER_PERSON), t), index)
    if name == "face_leaves":
        if not after:
            return _noisy(_breathing(astronaut(), t), index)
        return _leaving(t, t - EVENT_S, index)
    if name == "second_face":
        base = _breathing(astronaut(), t)
        return _noisy(_second_face(base) if after else base, index)
    if name == "camera_black":
        if after:
            return _noisy(np.full((HEIGHT, WIDTH, 3), 4, np.uint8), index)
        return _noisy(_breathing(astronaut(), t), index)
    if name == "frozen":
        if after:  # the picture stops: the last frame before the event, repeated exactly
            return _render(name, int(EVENT_S * Y4M_FPS) - 1)
        return _noisy(_breathing(astronaut(), t), index)
    if name == "looped":
        return _noisy(_moving(astronaut(), t % LOOP_S), index % int(LOOP_S * Y4M_FPS))
    if name == "sequence":
        return _sequence(index)
    raise KeyError(name)


#: The ``sequence`` clip: one fake webcam with several conditions in turn, ordinary between them (so that each
#: incident clears before the next begins): (start s, segment). Its conditions are :data:`SEQUENCE_TRUTHS`.
SEQUENCE: tuple[tuple[float, str], ...] = (
    (0.0, "ordinary"),
    (12.0, "second_face"),
    (16.0, "ordinary"),
    (21.0, "camera_black"),
    (26.0, "ordinary"),
    (31.0, "frozen"),
    (39.0, "ordinary"),
    (44.0, "face_leaves"),
    (50.0, "ordinary"),
    (55.0, "moving"),  # a person moving about for 10 s ...
    (65.0, "replay"),  # ... and the same 10 s replayed
    (75.0, "ordinary"),
)
SEQUENCE_S = 80.0
#: What must start in the ``sequence`` clip, and when its condition begins (clip seconds).
SEQUENCE_TRUTHS: tuple[Truth, ...] = (
    Truth("multiple_faces", 12.0),
    Truth("camera_covered", 21.0),
    Truth("frozen", 31.0),
    Truth("no_face", 44.0),
    Truth("looped", 65.0),
)


def _sequence(index: int) -> np.ndarray:
    t = index / Y4M_FPS
    start, what = next((s, w) for s, w in reversed(SEQUENCE) if t >= s)
    if what == "ordinary":
        return _noisy(_breathing(astronaut(), t), index)
    if what == "second_face":
        return _noisy(_second_face(_breathing(astronaut(), t)), index)
    if what == "camera_black":
        return _noisy(np.full((HEIGHT, WIDTH, 3), 4, np.uint8), index)
    if what == "frozen":  # the last frame before the freeze, repeated exactly
        return _sequence(round(start * Y4M_FPS) - 1)
    if what == "face_leaves":
        return _leaving(t, t - start, index)
    first = round(55.0 * Y4M_FPS)  # moving, then replay: the same frames (noise included) again
    k = (index - first) % round(LOOP_S * Y4M_FPS)
    return _noisy(_moving(astronaut(), k / Y4M_FPS), first + k)


def _leaving(t: float, since: float, index: int) -> np.ndarray:
    """The candidate gets up and leaves to the left in 0.2 s (``since`` s ago); the table behind them stays."""
    shift = min(1.0, since / 0.2) * WIDTH
    person = _warp(_breathing(astronaut(), t), -shift, 0.0)
    room = _warp(empty_room(), WIDTH - shift, 0.0)
    frame = room.copy()
    cut = int(WIDTH - shift)
    frame[:, :cut] = person[:, :cut]
    return _noisy(frame, index)


@lru_cache(maxsize=256)
def _frame(name: str, index: int) -> np.ndarray:
    frame = _render(name, index)
    frame.setflags(write=False)
    return frame


CLIPS: dict[str, Clip] = {
    "ordinary": Clip("ordinary", 10.0, id_photo="astronaut"),
    "ordinary_lfw": Clip("ordinary_lfw", 10.0, id_photo=f"lfw{LFW_ID_PHOTO}"),
    "face_leaves": Clip("face_leaves", 15.0, Truth("no_face", EVENT_S)),
    "second_face": Clip("second_face", 15.0, Truth("multiple_faces", EVENT_S)),
    "camera_black": Clip("camera_black", 15.0, Truth("camera_covered", EVENT_S)),
    "frozen": Clip("frozen", 15.0, Truth("frozen", EVENT_S)),
    "looped": Clip("looped", 2 * LOOP_S + 5.0, Truth("looped", LOOP_S)),
    "other_person": Clip("other_person", 15.0, Truth("identity_mismatch", 0.0), id_photo=f"lfw{LFW_ID_PHOTO}"),
    "sequence": Clip("sequence", SEQUENCE_S, id_photo="astronaut"),
}
#: Clips on which nothing may be reported (with their ID photo set as the session's reference).
CLEAN_CLIPS = ("ordinary", "ordinary_lfw")
#: Clips on which exactly one kind of finding must start.
SCENARIO_CLIPS = ("face_leaves", "second_face", "camera_black", "frozen", "looped", "other_person")


def write_y4m(clip: Clip, path: Path, fps: int = Y4M_FPS, seconds: float | None = None) -> Path:
    """The clip (or its first ``seconds``) as a y4m file for Chromium's fake camera: I420 in BT.601 limited range,
    as a webcam and WebRTC carry it (OpenCV's conversion; the header's ``C420jpeg`` names the chroma siting).
    """
    n = round((clip.duration_s if seconds is None else seconds) * fps)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(n):
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(clip.frame(i / fps), cv2.COLOR_BGR2YUV_I420).tobytes())
    tmp.replace(path)
    return path


# -- audio ------------------------------------------------------------------------------------------------------


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@lru_cache(maxsize=4)
def speech_pcm(text: str = SPEECH_TEXT, rate: int = AUDIO_RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng's Indonesian voice, resampled to ``rate`` (int16 mono)."""
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "id", "-s", "150", "-w", str(out), text], check=True, capture_output=True)
        with wave.open(str(out)) as w:
            src_rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    g = math.gcd(rate, src_rate)
    resampled = resample_poly(pcm.astype(np.float64), rate // g, src_rate // g)
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16)


def tone_pcm(seconds: float, freq: float = 440.0, level: float = 0.3, rate: int = AUDIO_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def hum_pcm(seconds: float, mains_hz: float = 50.0, level: float = 0.2, rate: int = AUDIO_RATE) -> np.ndarray:
    """Mains hum: the fundamental and odd/even harmonics falling off, as a bad cable or a fan picks it up."""
    t = np.arange(int(seconds * rate)) / rate
    hum = sum(
        a * np.sin(2 * np.pi * mains_hz * k * t + k) for k, a in ((1, 1.0), (2, 0.5), (3, 0.35), (5, 0.2), (7, 0.1))
    )
    return (level * 32767 * hum / np.max(np.abs(hum))).astype(np.int16)


def noise_pcm(seconds: float, level: float = 0.05, seed: int = 7, rate: int = AUDIO_RATE) -> np.ndarray:
    """White noise (a fan, a noisy pre-amp), ``level`` RMS of full scale."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, level * 32767, int(seconds * rate)), -32768, 32767).astype(np.int16)


def silence_pcm(seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.int16)


def speech_in_quiet_pcm(rate: int = AUDIO_RATE) -> tuple[np.ndarray, float]:
    """5 s of room hum, the sentence (over the hum), then 5 s of hum: (pcm, media time where speech begins)."""
    speech = speech_pcm(rate=rate)
    lead = hum_pcm(EVENT_S, level=0.02, rate=rate)
    tail = hum_pcm(5.0, level=0.02, rate=rate)
    under = hum_pcm(len(speech) / rate, level=0.02, rate=rate)
    voiced = np.clip(speech.astype(np.int32) + under[: len(speech)], -32768, 32767).astype(np.int16)
    # espeak-ng starts with a few ms of silence: the truth is where the voice is first audible
    first = int(np.argmax(np.abs(speech) > 500))
    return np.concatenate([lead, voiced, tail]), EVENT_S + first / rate


def pcm_frames(pcm: np.ndarray, rate: int = AUDIO_RATE, frame_s: float = 0.02, t0: float = 0.0) -> Iterator[tuple]:
    """``(media_s, frame)`` as aiortc delivers audio: 20 ms frames of int16, shape (1, n) (packed mono)."""
    n = int(rate * frame_s)
    for i in range(0, len(pcm) - n + 1, n):
        yield t0 + i / rate, pcm[i : i + n].reshape(1, -1)


def write_wav(path: Path, pcm: np.ndarray, rate: int = AUDIO_RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


# -- files, once per test session -------------------------------------------------------------------------------


class ClipFiles:
    """Writes each clip/WAV once into ``directory`` and returns its path (use one per test session)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def y4m(self, name: str, fps: int = Y4M_FPS) -> Path:
        """The clip as a y4m file (``fps`` below 30 takes every n-th frame: a smaller file for long clips)."""
        path = self.directory / (f"{name}.y4m" if fps == Y4M_FPS else f"{name}-{fps}fps.y4m")
        return path if path.exists() else write_y4m(CLIPS[name], path, fps=fps)

    def wav(self, name: str) -> Path:
        """``speech_in_quiet`` (hum, speech, hum), ``hum`` (20 s) or ``silence`` (20 s)."""
        path = self.directory / f"{name}.wav"
        if path.exists():
            return path
        if name == "speech_in_quiet":
            pcm = speech_in_quiet_pcm()[0]
        elif name == "hum":
            pcm = hum_pcm(20.0, level=0.05)
        elif name == "silence":
            pcm = silence_pcm(20.0)
        else:
            raise KeyError(name)
        return write_wav(path, pcm)


if __name__ == "__main__":
    files = ClipFiles(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    for clip_name in CLIPS:
        print(files.y4m(clip_name))
    for wav_name in ("speech_in_quiet", "hum", "silence"):
        print(files.wav(wav_name))
