"""What the review room accepts from outside (path parts), validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_tuk.validation import DbId


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


#: FR.AK.06: the principles of assessment (VRFA) and the rules of evidence (VATM), in the form's order
PROCESS_CHECKS = {
    "prinsip_valid": "Prinsip asesmen: valid",
    "prinsip_reliabel": "Prinsip asesmen: reliabel",
    "prinsip_fleksibel": "Prinsip asesmen: fleksibel",
    "prinsip_adil": "Prinsip asesmen: adil",
    "bukti_valid": "Aturan bukti: valid",
    "bukti_asli": "Aturan bukti: asli",
    "bukti_terkini": "Aturan bukti: terkini",
    "bukti_memadai": "Aturan bukti: memadai",
}


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    met: bool
    note: str = Field(default="", max_length=1000)


class ProcessReviewIn(BaseModel):
    """The reviewer's FR.AK.06: every check answered, findings and recommendations written."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    answers: dict[str, CheckIn]
    findings: str = Field(min_length=3, max_length=4000)
    recommendations: str = Field(min_length=3, max_length=4000)

    @field_validator("answers")
    @classmethod
    def every_check(cls, v: dict[str, CheckIn]) -> dict[str, CheckIn]:
        if set(v) != set(PROCESS_CHECKS):
            raise ValueError("setiap prinsip asesmen dan aturan bukti dijawab, tidak lebih")
        return v


class ProcessReviewerIn(BaseModel):
    """The LSP admin's choice of the schedule's process reviewer (FR.AK.06)."""

    model_config = ConfigDict(extra="forbid")

    reviewer_id: DbId
