"""What the review room accepts from outside (path parts), validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["browser", "server"]


class IdentityWhat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: Literal["ktp", "room"]


class AckIn(BaseModel):
    """The candidate acknowledges the feedback they were shown (its SHA-256), with an optional comment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    feedback_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    comment: str = Field(default="", max_length=2000)
