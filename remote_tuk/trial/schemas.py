"""What the trial accepts from outside (the check's own steps reuse ``remote_tuk.tuk.schemas``)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_tuk.tuk.schemas import DbId


class PlayedIn(BaseModel):
    """The self-test recording was played back to the candidate to the end: its length as the browser measured it."""

    model_config = ConfigDict(extra="forbid")
    check_id: int = DbId
    seconds: float = Field(ge=0, le=3600)

    @field_validator("seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("harus bilangan terhingga")
        return value
