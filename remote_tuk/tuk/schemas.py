"""What the TUK check accepts from outside: JSON bodies, query strings and the browser's reported values."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

#: database ids are 32-bit on PostgreSQL: a larger number is refused at the edge, not by the database
DbId = Field(gt=0, le=2_147_483_647)
Token = Field(min_length=10, max_length=4096, pattern=r"^[A-Za-z0-9_.\-]+$")


class CheckRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check_id: int = DbId


class CheckQuery(BaseModel):
    """``?check=<id>`` of the transfer endpoints (other query parameters are ignored)."""

    model_config = ConfigDict(extra="ignore")
    check: int = DbId


class UploadChunkQuery(CheckQuery):
    seq: int = Field(default=0, ge=0, lt=64)


class UploadChunkTiming(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=0, lt=64)
    bytes: int = Field(gt=0, le=16 * 1024 * 1024)
    #: the browser's time from sending the chunk to receiving the server's answer
    ms: float = Field(gt=0, le=600_000, allow_inf_nan=False)


class UploadResultIn(CheckRef):
    token: str = Token
    chunks: list[UploadChunkTiming] = Field(min_length=1, max_length=64)


class DownloadResultIn(CheckRef):
    bytes: int = Field(gt=0, le=100_000_000)
    elapsed_ms: float = Field(gt=0, le=600_000, allow_inf_nan=False)
    #: the last bytes of the download body, as received
    token: str = Field(min_length=10, max_length=512)


class MediaIn(CheckRef):
    socket_id: str = Field(min_length=1, max_length=64)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    what: Literal["id", "room"]
    confirmed: bool = True
    note: str = Field(default="", max_length=2000)
    #: the room scan's view token (``X-Room-View`` of the recording the assessor played); required for the room
    view: str | None = Field(default=None, max_length=4096)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: str = Field(min_length=1, max_length=40)
    reason: str = Field(default="", max_length=2000)


class Battery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    level: StrictFloat | StrictInt = Field(ge=0, le=1, allow_inf_nan=False)
    charging: StrictBool = False


#: requirements a browser may be unable to measure (it lacks the API): reported as such, never as a failure
UNMEASURABLE_KEYS = ("single_display", "battery")


class BrowserValues(BaseModel):
    """What only the browser can know. Unknown keys are reported back as ignored (so are the values the server
    measures itself); a key with a value of the wrong kind is refused."""

    model_config = ConfigDict(extra="allow")
    browser_webrtc: StrictBool | None = None
    browser_mediarecorder: StrictBool | None = None
    camera_labels: list[str] | None = Field(default=None, max_length=20)
    microphone_level: StrictFloat | StrictInt | None = Field(default=None, ge=-200, le=200, allow_inf_nan=False)
    speaker_check: StrictBool | None = None
    single_display: StrictBool | None = None
    fullscreen: StrictBool | None = None
    battery: Battery | None = None
    #: keys this browser cannot measure (e.g. a single display outside Chromium)
    unmeasurable: list[Literal["single_display", "battery"]] = Field(default_factory=list, max_length=4)

    @model_validator(mode="after")
    def _few_extras(self) -> BrowserValues:
        if len(self.model_extra or {}) > 40:
            raise ValueError("terlalu banyak nilai")
        return self

    def known(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k in type(self).model_fields}

    def ignored(self) -> list[str]:
        return sorted(self.model_extra or {})


class BrowserIn(CheckRef):
    values: BrowserValues
