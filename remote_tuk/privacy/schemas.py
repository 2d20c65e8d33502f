"""What the privacy and retention pages accept (validated at the edge)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    #: One day to a hundred years (the evidence settings allow the same range).
    retention_days: int = Field(ge=1, le=36500)


class HandleRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field(default="", max_length=2000)


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    #: The candidate's username, typed again.
    confirm: str = Field(min_length=1, max_length=80)
    legal_reason: str = Field(default="", max_length=4000)


class ReadLogQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    asesi: int | None = Field(default=None, ge=1)
    sesi: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,24}$")
