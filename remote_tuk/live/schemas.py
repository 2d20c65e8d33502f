from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from remote_tuk.validation import DbId

SessionId = Field(min_length=8, max_length=24, pattern=r"^[A-Za-z0-9_\-]+$")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session: str = SessionId


class OfferIn(SessionIn):
    #: The engine refuses anything over its own limit (32 KiB) with a precise error; this bound is the socket's.
    sdp: str = Field(min_length=10, max_length=64 * 1024)
    #: A classroom tile (remote_tuk.classroom): a viewer connection of its own beside the live page's, receiving the
    #: small layer, with the full video on only while ``full`` (the focused candidate).
    tile: bool = False
    full: bool = True


class LeaveIn(SessionIn):
    #: a classroom tile closing its media (the page still follows the session)
    tile: bool = False
    #: the classroom's framed panel leaving: it had no media, so the user's other connections stay
    panel: bool = False


class LayerIn(SessionIn):
    """A classroom tile's full video on (the candidate in focus) or off."""

    full: bool


class ChatIn(SessionIn):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=1000)


class ControlIn(SessionIn):
    action: Literal["start", "pause", "resume", "end"]


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kuk_id: DbId
    verdict: Literal["K", "BK"]
    note: str = Field(default="", max_length=2000)
    client_media_s: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit_id: DbId
    verdict: Literal["K", "BK"]
    reason: str = Field(min_length=3, max_length=4000)


class ChunkHeadersIn(BaseModel):
    """The headers of a recording chunk upload (``X-Chunk-Seq``, ``X-Chunk-SHA256``, ``X-Chunk-Start``). ASCII digits
    only: ``str.isdigit()`` also accepts "²" or "٣", which ``int()`` refuses."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    seq: int = Field(alias="X-Chunk-Seq", ge=0, le=999_999_999)
    sha256: str = Field(alias="X-Chunk-SHA256", pattern=r"^[0-9a-fA-F]{64}$")
    start_ms: int | None = Field(default=None, alias="X-Chunk-Start", ge=0, le=10**15)

    @field_validator("seq", "start_ms", mode="before")
    @classmethod
    def _ascii_digits(cls, value: object, info: ValidationInfo) -> object:
        if value is None or value == "":
            if info.field_name == "seq":
                raise ValueError("wajib diisi")
            return None
        if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 15:
            raise ValueError("harus bilangan bulat ≥ 0 (angka 0-9)")
        return int(value)

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()
