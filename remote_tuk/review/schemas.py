"""What the review room accepts from outside (path parts), validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["browser", "server"]


class IdentityWhat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: Literal["ktp", "room"]
