"""What the appeal forms and API accept, validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remote_tuk.validation import DbId


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reasons: str = Field(min_length=10, max_length=4000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer_id: DbId


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: DbId
    verdict: Literal["K", "BK"]


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["upheld", "rejected"]
    reasons: str = Field(min_length=10, max_length=4000)
    changes: list[ChangeIn] = Field(default_factory=list, max_length=100)


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int = Field(ge=1, le=365)
