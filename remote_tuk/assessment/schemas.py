from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from remote_tuk.assessment.models import SessionState
from remote_tuk.validation import DbId

#: Western Indonesian time, the default zone for times typed in forms.
WIB = timezone(timedelta(hours=7), "WIB")


class ScheduleIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    title: str = Field(min_length=3, max_length=200)
    scheme_id: DbId
    starts_at: datetime
    ends_at: datetime
    assessor_id: DbId | None = None
    assignment_letter: str | None = Field(default=None, max_length=80)

    @field_validator("assessor_id", "assignment_letter", mode="before")
    @classmethod
    def _blank_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, v: datetime, info: ValidationInfo) -> datetime:
        # Times typed in the form are in the LSP's zone (context "tz"; WIB without one) unless they carry a zone.
        zone = (info.context or {}).get("tz") or WIB
        return v.replace(tzinfo=zone).astimezone(UTC) if v.tzinfo is None else v.astimezone(UTC)

    @model_validator(mode="after")
    def _window(self) -> ScheduleIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("waktu selesai harus setelah waktu mulai")
        if self.ends_at - self.starts_at > timedelta(days=14):
            raise ValueError("rentang jadwal maksimal 14 hari")
        if self.assessor_id is not None and not self.assignment_letter:
            raise ValueError("nomor surat tugas wajib diisi bila asesor ditugaskan")
        return self


class TransitionIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    to: SessionState
    reason: str | None = Field(default=None, max_length=2000)


class FollowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session: str = Field(min_length=8, max_length=24, pattern=r"^[A-Za-z0-9_\-]+$")


class SocketTransitionIn(TransitionIn):
    session: str = Field(min_length=8, max_length=24, pattern=r"^[A-Za-z0-9_\-]+$")
