from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remote_tuk.validation import DbId

SessionId = Field(min_length=8, max_length=24, pattern=r"^[A-Za-z0-9_\-]+$")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session: str = SessionId


class OfferIn(SessionIn):
    #: The engine refuses anything over its own limit (32 KiB) with a precise error; this bound is the socket's.
    sdp: str = Field(min_length=10, max_length=64 * 1024)


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
