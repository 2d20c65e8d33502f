from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SdpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=10, max_length=64 * 1024)


class PhoneStatusIn(BaseModel):
    """What the phone's page reports every few seconds: ``navigator.getBattery()`` where the browser has it."""

    model_config = ConfigDict(extra="forbid")

    battery: float | None = Field(default=None, ge=0.0, le=1.0)
    charging: bool | None = None
    facing: Literal["environment", "user", "unknown"] = "unknown"


class ScreenEventIn(BaseModel):
    """The candidate's page about its screen share: started (whole screen) or refused (a window or a tab)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["started", "refused"]
    surface: Literal["monitor", "window", "browser", "application", "unknown"] = "unknown"
