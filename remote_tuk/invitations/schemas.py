from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from remote_tuk.assessment.schemas import WIB


class RescheduleIn(BaseModel):
    """A schedule's new window (the schedule form's fields: the LSP's zone, context "tz", unless the value carries
    a zone; WIB without a context)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    starts_at: datetime
    ends_at: datetime

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, v: datetime, info: ValidationInfo) -> datetime:
        zone = (info.context or {}).get("tz") or WIB
        return (v.replace(tzinfo=zone) if v.tzinfo is None else v).astimezone(UTC)

    @model_validator(mode="after")
    def _window(self) -> RescheduleIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("waktu selesai harus setelah waktu mulai")
        if self.ends_at - self.starts_at > timedelta(days=14):
            raise ValueError("rentang jadwal maksimal 14 hari")
        return self
