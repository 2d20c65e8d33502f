from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DeclarationsIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    letter_number: str = Field(default="", max_length=120)
    letter_date: date | None = None
    letter_place: str = Field(default="", max_length=120)
    scheme_codes: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=200)
    server_location: str = Field(default="", max_length=200)
    hosting_provider: str = Field(default="", max_length=200)
    evidence_storage_location: str = Field(default="", max_length=200)
    backup: str = Field(default="", max_length=4000)
    backup_location: str = Field(default="", max_length=200)
    backup_retention_days: int | None = Field(default=None, ge=1, le=36500)
    public_url: str = Field(default="", max_length=200, pattern=r"^(https?://[^\s]+)?$")

    @field_validator("letter_date", "backup_retention_days", mode="before")
    @classmethod
    def _blank_none(cls, v: object) -> object:
        return None if v == "" else v
