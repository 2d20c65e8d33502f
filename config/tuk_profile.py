"""The remote TUK technical requirement profile (persyaratan teknis TUK jarak jauh).

An LSP sets a profile (stored in the database by the web app); this module defines its shape, validates it, and ships
the default the product starts with. Each requirement is mandatory (wajib: blocks the session until it passes or an
assessor overrides it with a written reason) or advisory (anjuran: shown, never blocking).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Who measures a value: the server (from media or transfers it observes itself) or the browser (only it can know).
Source = Literal["server", "browser"]

RequirementKey = Literal[
    "browser_webrtc",
    "browser_mediarecorder",
    "camera_resolution",
    "camera_fps",
    "camera_not_virtual",
    "microphone_level",
    "speaker_check",
    "upload_bandwidth",
    "download_bandwidth",
    "round_trip_time",
    "jitter",
    "packet_loss",
    "single_display",
    "fullscreen",
    "lighting",
    "face_visible",
    "battery",
    # issue 19: the phone as a second camera connected with video flowing; the whole screen shared
    "phone_camera",
    "screen_share",
]


class Requirement(BaseModel):
    """One requirement: its key, whether it blocks, and the threshold it is held to (if it has one)."""

    model_config = ConfigDict(extra="forbid")

    key: RequirementKey
    mandatory: bool = True
    #: Lower bound (value must be >= min) or upper bound (value must be <= max); both None for yes/no checks.
    min: float | None = None
    max: float | None = None
    #: Second lower bound for two-dimensional thresholds (camera height).
    min_height: float | None = None
    unit: str = ""
    source: Source = "server"
    #: When the candidate's browser cannot measure this (it lacks the API, e.g. a single display outside Chromium):
    #: "assessor" keeps the gate closed until the assessor accepts it with a written reason (an override), "accept"
    #: lets it pass as not measurable. Either way the result says "not measurable in this browser", never "failed".
    if_unmeasurable: Literal["assessor", "accept"] = "assessor"

    @model_validator(mode="after")
    def _consistent(self) -> Requirement:
        for name in ("min", "max", "min_height"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} tidak boleh negatif")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min lebih besar daripada max")
        return self


# Physical limits beyond which a threshold is impossible to meet (or meaningless).
_LIMITS: dict[str, tuple[str, float]] = {
    "camera_resolution": ("min", 7680),
    "camera_fps": ("min", 120),
    "microphone_level": ("min", 90),
    "upload_bandwidth": ("min", 1_000_000),
    "download_bandwidth": ("min", 1_000_000),
    "lighting": ("min", 255),
    "battery": ("min", 100),
    "packet_loss": ("max", 100),
}


class TukRequirementProfile(BaseModel):
    """A named set of requirements, and how long a passed check stays valid."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    #: A passed mandatory requirement counts for the gate for this many minutes.
    valid_minutes: int = Field(default=30, ge=1, le=24 * 60)
    requirements: list[Requirement]

    @model_validator(mode="after")
    def _possible(self) -> TukRequirementProfile:
        seen: set[str] = set()
        for req in self.requirements:
            if req.key in seen:
                raise ValueError(f"persyaratan {req.key} muncul dua kali")
            seen.add(req.key)
            limit = _LIMITS.get(req.key)
            if limit:
                bound, ceiling = limit
                value = getattr(req, bound)
                if value is not None and value > ceiling:
                    raise ValueError(f"{req.key}: {bound}={value:g} mustahil dipenuhi (paling tinggi {ceiling:g})")
            if req.key == "camera_resolution" and req.min_height is not None and req.min_height > 4320:
                raise ValueError(
                    f"camera_resolution: min_height={req.min_height:g} mustahil dipenuhi (paling tinggi 4320)"
                )
        return self

    def get(self, key: str) -> Requirement | None:
        return next((r for r in self.requirements if r.key == key), None)


DEFAULT_TUK_PROFILE = TukRequirementProfile(
    name="Profil standar TUK jarak jauh",
    valid_minutes=30,
    requirements=[
        Requirement(key="browser_webrtc", source="browser"),
        Requirement(key="browser_mediarecorder", source="browser"),
        Requirement(key="camera_resolution", min=640, min_height=480, unit="px"),
        Requirement(key="camera_fps", min=15, unit="fps"),
        Requirement(key="camera_not_virtual", source="browser"),
        Requirement(key="microphone_level", min=10, unit="dB", source="browser"),
        Requirement(key="speaker_check", source="browser"),
        Requirement(key="upload_bandwidth", min=1500, unit="kbps"),
        Requirement(key="download_bandwidth", min=1500, unit="kbps"),
        Requirement(key="round_trip_time", max=300, unit="ms"),
        Requirement(key="jitter", max=30, unit="ms"),
        Requirement(key="packet_loss", max=2, unit="%"),
        Requirement(key="single_display", source="browser"),
        Requirement(key="fullscreen", source="browser"),
        Requirement(key="lighting", min=60, unit="luma"),
        Requirement(key="face_visible"),
        Requirement(key="battery", mandatory=False, min=50, unit="%", source="browser"),
    ],
)
