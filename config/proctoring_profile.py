"""The proctoring profile (profil pengawasan): what the live analysis watches for in a scheme's sessions, how
strictly, and what the candidate is told.

An LSP admin edits one per scheme (stored by the web app); this module defines its shape, validates it (bounds that
keep every value meaningful) and ships the project's defaults. ``proctor.proctoring.profile`` turns it into the
analyser's, the voice detector's and the incident tracker's settings. A finding is never an automatic fail: the
profile only decides what is shown to the assessor and kept as evidence.

Kinds are the finding kinds of ``proctor.analysis.FindingKind`` (as strings: this package imports nothing from the
project; a test keeps the two lists equal).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ProctoringKind = Literal[
    "no_face",
    "multiple_faces",
    "face_turned_away",
    "camera_covered",
    "too_dark",
    "blurred",
    "frozen",
    "looped",
    "identity_mismatch",
    "identity_uncertain",
    "speech_in_quiet",
]
PROCTORING_KINDS: tuple[str, ...] = ProctoringKind.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CandidatePrompt(_Strict):
    """A gentle prompt shown to the candidate while the incident lasts (Indonesian first, English second)."""

    text_id: str = Field(min_length=1, max_length=200)
    text_en: str = Field(min_length=1, max_length=200)


class KindRule(_Strict):
    """Whether a kind is watched, how long it must hold before it becomes an incident, how long it must be gone
    before the incident ends, how often a long incident is reported again (0: never), and the optional prompt.
    """

    enabled: bool = True
    hold_s: float = Field(default=3.0, ge=0.0, le=600.0)
    clear_s: float = Field(default=3.0, ge=0.0, le=600.0)
    repeat_s: float = Field(default=60.0, ge=0.0, le=3600.0)
    prompt: CandidatePrompt | None = None


class Thresholds(_Strict):
    """Detector thresholds (docs/PROCTORING.md says how each default was measured)."""

    #: Mean luma (0-255) below which the picture is too dark.
    too_dark_luma: float = Field(default=60.0, ge=0.0, le=200.0)
    #: Luma standard deviation below which the camera is covered / the picture blank.
    covered_std: float = Field(default=4.0, ge=0.5, le=30.0)
    #: Face sharpness below which the face is blurred.
    blur_sharpness: float = Field(default=150.0, ge=10.0, le=2000.0)
    #: |yaw| in degrees above which the face is turned away.
    turned_away_yaw_deg: float = Field(default=40.0, ge=15.0, le=80.0)
    #: Frozen: mean luma difference against a frame >= 1 s older below which the picture is "not changing".
    frozen_max_mean_diff: float = Field(default=0.25, ge=0.01, le=2.0)


class IdentityRule(_Strict):
    """The live face against the ID (KTP) photo: SFace every ``interval_s`` on sharp frontal faces, the median of
    the last ``window_s`` seconds, decided with at least ``min_samples`` comparisons.
    """

    enabled: bool = True
    interval_s: float = Field(default=3.0, ge=1.0, le=60.0)
    window_s: float = Field(default=60.0, ge=10.0, le=600.0)
    min_samples: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _enough_time(self) -> IdentityRule:
        if (self.min_samples - 1) * self.interval_s > self.window_s:
            raise ValueError("jendela identitas terlalu pendek untuk jumlah sampel minimum pada interval ini")
        return self


class SpeechRule(_Strict):
    """Voice activity: probability thresholds (start/stop, hysteresis) and the shortest speech and silence."""

    threshold: float = Field(default=0.5, ge=0.1, le=0.95)
    neg_threshold: float = Field(default=0.35, ge=0.05, le=0.95)
    min_speech_s: float = Field(default=0.25, ge=0.0, le=5.0)
    min_silence_s: float = Field(default=0.5, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _hysteresis(self) -> SpeechRule:
        if self.neg_threshold > self.threshold:
            raise ValueError("neg_threshold tidak boleh lebih besar daripada threshold")
        return self


#: Shortest holds the frozen and looped detectors can honour (their hold is their detection window).
FROZEN_MIN_HOLD_S = 2.0
LOOP_MIN_SAMPLES = 4


def _rule(hold: float, clear: float, text_id: str | None = None, text_en: str | None = None) -> KindRule:
    prompt = CandidatePrompt(text_id=text_id, text_en=text_en) if text_id and text_en else None
    return KindRule(hold_s=hold, clear_s=clear, prompt=prompt)


#: The project's per-kind defaults (hold, clear, prompt). Frozen and looped: the hold is the detector's own window,
#: measured from when the picture stopped changing / the replay began.
DEFAULT_RULES: dict[str, KindRule] = {
    "no_face": _rule(
        3.0,
        2.0,
        "Wajah tidak terlihat. Mohon posisikan wajah di depan kamera.",
        "Your face is not visible. Please face the camera.",
    ),
    "multiple_faces": _rule(1.0, 3.0),
    "face_turned_away": _rule(3.0, 2.0, "Mohon menghadap ke layar.", "Please face the screen."),
    "camera_covered": _rule(
        2.0, 2.0, "Kamera tertutup. Mohon buka penutup kamera.", "The camera is covered. Please uncover it."
    ),
    "too_dark": _rule(
        5.0, 5.0, "Ruangan terlalu gelap. Mohon nyalakan lampu.", "The room is too dark. Please turn on a light."
    ),
    "blurred": _rule(
        5.0,
        5.0,
        "Gambar kamera buram. Mohon bersihkan lensa kamera.",
        "The camera picture is blurred. Please clean the lens.",
    ),
    "frozen": _rule(4.0, 2.0),
    "looped": _rule(3.0, 10.0),
    "identity_mismatch": _rule(0.0, 10.0),
    "identity_uncertain": _rule(0.0, 10.0),
    "speech_in_quiet": _rule(
        1.0, 5.0, "Mohon tidak berbicara selama fase tenang.", "Please do not speak during the quiet phase."
    ),
}


class ProctoringProfile(_Strict):
    """Everything the live proctoring of one scheme's sessions uses."""

    name: str = Field(min_length=1, max_length=120)
    #: Frames per second the server analyses (decoded only for these samples).
    sample_fps: float = Field(default=3.0, ge=0.5, le=10.0)
    #: The candidate's page must stay in fullscreen (leaving it is reported by the browser).
    fullscreen_required: bool = True
    #: Show the candidate the kinds' prompts (each kind's ``prompt``) while an incident lasts.
    prompts_enabled: bool = True
    rules: dict[ProctoringKind, KindRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    thresholds: Thresholds = Field(default_factory=Thresholds)
    identity: IdentityRule = Field(default_factory=IdentityRule)
    speech: SpeechRule = Field(default_factory=SpeechRule)

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_missing_kinds(cls, data: object) -> object:
        # a stored profile from before a kind existed gets the project's rule for it
        if isinstance(data, dict) and isinstance(data.get("rules"), dict):
            data = {**data, "rules": {**DEFAULT_RULES, **data["rules"]}}
        return data

    @model_validator(mode="after")
    def _possible(self) -> ProctoringProfile:
        # frozen and looped: the hold is the detector's own window (see proctor.proctoring.profile), which needs a
        # reference frame 1 s old plus 1 s of differences, or 4 consecutive matching samples
        if self.rules["frozen"].hold_s < FROZEN_MIN_HOLD_S:
            raise ValueError(f"frozen: hold_s paling sedikit {FROZEN_MIN_HOLD_S:g} detik")
        min_loop = (LOOP_MIN_SAMPLES - 1) / self.sample_fps
        if self.rules["looped"].hold_s < min_loop - 1e-9:
            raise ValueError(f"looped: hold_s paling sedikit {min_loop:.2f} detik pada {self.sample_fps:g} frame/detik")
        return self

    def rule(self, kind: str) -> KindRule:
        return self.rules[kind]  # type: ignore[index]

    def prompt(self, kind: str) -> CandidatePrompt | None:
        """The prompt to show the candidate for an incident of ``kind`` (None: none, or prompts are off)."""
        rule = self.rules.get(kind)  # type: ignore[call-overload]
        return rule.prompt if self.prompts_enabled and rule is not None and rule.enabled else None


DEFAULT_PROCTORING_PROFILE = ProctoringProfile(name="Profil pengawasan standar")
