"""One candidate session's live analysis, without threads: frames and audio in, incident events and speech out.

:class:`SessionAnalysis` ties a :class:`~proctor.analysis.FrameAnalyzer`, a
:class:`~proctor.analysis.VoiceActivityDetector` and an :class:`IncidentTracker` together under one proctoring
profile. :class:`proctor.proctoring.pool.AnalysisPool` runs it on worker threads; tests and the benchmark call it
directly. Not thread-safe on its own: the pool feeds one session from one thread at a time, in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, ProctoringProfile
from proctor.analysis.analyzer import FrameAnalyzer, Observation
from proctor.analysis.audio import SpeechSegment, VoiceActivityDetector
from proctor.analysis.frames import FrameInput, PixelFormat, decode_image
from proctor.analysis.matching import extract_embedding
from proctor.proctoring.incidents import IncidentEvent, IncidentTracker
from proctor.proctoring.profile import analyzer_config, incident_settings, vad_config

#: The engine samples frames at the profile's rate with some jitter; the analyser's own gate lets through samples
#: up to this much faster so that a late-then-early pair is not thrown away (it only guards against a flood).
SAMPLE_GATE_FACTOR = 1.5


@dataclass(frozen=True)
class ReferenceResult:
    """What became of an ID (KTP) snapshot as the identity reference.

    ``ok``: a face good enough to compare was found and is now the reference. Otherwise ``problems`` says why
    (``no_face``, or the quality gate's ``too_small``, ``blurred``, ``too_dark``, ``too_bright``, ``not_frontal``,
    ``tilted``) and the identity check stays off for the session: the assessor compares by eye.
    """

    ok: bool
    problems: tuple[str, ...]
    face_width_px: float | None = None
    sharpness: float | None = None


@dataclass(frozen=True)
class AudioResult:
    """What one audio frame gave: incident events, speech segments that ended, the level, whether speech goes on."""

    events: tuple[IncidentEvent, ...]
    segments: tuple[SpeechSegment, ...]
    level_dbfs: float
    speaking: bool


class SessionAnalysis:
    """Frames, audio, the quiet phase and the identity reference of one session (see the module docstring)."""

    def __init__(
        self,
        profile: ProctoringProfile = DEFAULT_PROCTORING_PROFILE,
        clock: Callable[[], float] = time.time,
        audio_rate: int = 48_000,
    ) -> None:
        self.profile = profile
        config = analyzer_config(profile)
        self.analyzer = FrameAnalyzer(replace(config, sample_fps=config.sample_fps * SAMPLE_GATE_FACTOR))
        self.tracker = IncidentTracker(incident_settings(profile), clock)
        self._audio_rate = audio_rate
        self.vad: VoiceActivityDetector | None = None  # created with the first audio frame (loads the model)
        self.reference: ReferenceResult | None = None
        self.last_observation: Observation | None = None

    def frame(self, frame: FrameInput, media_s: float, fmt: PixelFormat = "yuv420p") -> list[IncidentEvent]:
        """Analyse one sampled frame taken at ``media_s``; the incident events it caused."""
        observation = self.analyzer.analyze(frame, media_s, fmt)
        if observation is None:
            return []
        self.last_observation = observation
        return self.tracker.observe_frame(observation)

    def audio(self, pcm: np.ndarray, media_s: float, channels: int = 1) -> AudioResult:
        """One frame of int16 PCM at the session's audio rate, starting at ``media_s``."""
        if self.vad is None:
            self.vad = VoiceActivityDetector(vad_config(self.profile), self._audio_rate)
        update = self.vad.push(pcm, media_s, channels)
        events = self.tracker.observe_speech(update.speaking, update.media_s, self.vad.speech_since)
        return AudioResult(tuple(events), update.ended, update.level_dbfs, update.speaking)

    def set_quiet_phase(self, on: bool, media_s: float) -> list[IncidentEvent]:
        return self.tracker.set_quiet_phase(on, media_s)

    def set_reference(self, image: bytes) -> ReferenceResult:
        """Use the face on the ID (KTP) snapshot (JPEG/PNG) as the identity reference, if it is good enough.

        The card photo is the smaller face when the candidate holds the card next to their own face. ValueError for
        bytes that are not a (reasonably sized) JPEG or PNG.
        """
        img = decode_image(image)
        if not self.profile.identity.enabled:
            result = ReferenceResult(False, ("identity_disabled",))
        else:
            emb = extract_embedding(img, select="smallest", max_width=None)
            if emb is None:
                result = ReferenceResult(False, ("no_face",))
            else:
                q = emb.quality
                result = ReferenceResult(q.ok, q.problems, q.width_px, q.sharpness)
                if q.ok:
                    self.analyzer.set_reference(emb.vector)
        self.reference = result
        return result

    def stop(self, media_s: float) -> tuple[list[IncidentEvent], tuple[SpeechSegment, ...]]:
        """Observation ends: open incidents end (reason ``stopped``), an open speech segment ends."""
        segments = self.vad.flush() if self.vad is not None else ()
        return self.tracker.stop(media_s), segments
