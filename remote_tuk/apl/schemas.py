"""FR.APL.01 and FR.APL.02 as the candidate's page sends them (drafts may be incomplete; a submission may not)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from remote_tuk.db import utcnow

EDUCATION = ("SD", "SMP", "SMA/SMK", "D1", "D2", "D3", "D4/S1", "S2", "S3")
PURPOSES = {
    "sertifikasi": "Sertifikasi",
    "sertifikasi_ulang": "Sertifikasi ulang",
    "pkt": "Pengakuan Kompetensi Terkini (PKT)",
    "rpl": "Rekognisi Pembelajaran Lampau (RPL)",
    "lainnya": "Lainnya",
}
GENDERS = {"L": "Laki-laki", "P": "Perempuan"}
PHONE = r"^[0-9+() \-]*$"


class Apl01(BaseModel):
    """FR.APL.01 part 1 and 2: what the LSP does not have yet (name, NIK, e-mail and phone come from the account)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    # a. data pribadi
    birth_place: str = Field(default="", max_length=100)
    birth_date: date | None = None
    gender: Literal["", "L", "P"] = ""
    nationality: str = Field(default="Indonesia", max_length=60)
    address: str = Field(default="", max_length=500)
    postal_code: str = Field(default="", pattern=r"^(\d{5})?$")
    education: Literal["", "SD", "SMP", "SMA/SMK", "D1", "D2", "D3", "D4/S1", "S2", "S3"] = ""
    education_institution: str = Field(default="", max_length=200)
    education_major: str = Field(default="", max_length=200)
    # b. data pekerjaan sekarang
    employed: bool = False
    company: str = Field(default="", max_length=200)
    position: str = Field(default="", max_length=120)
    company_address: str = Field(default="", max_length=500)
    company_phone: str = Field(default="", max_length=32, pattern=PHONE)
    company_email: EmailStr | Literal[""] = ""
    # data sertifikasi: tujuan asesmen
    purpose: Literal["", "sertifikasi", "sertifikasi_ulang", "pkt", "rpl", "lainnya"] = ""
    purpose_other: str = Field(default="", max_length=200)

    @field_validator("birth_date", mode="before")
    @classmethod
    def _blank_date(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, v: date | None) -> date | None:
        if v is not None and not 15 <= (utcnow().date() - v).days // 365 <= 100:
            raise ValueError("tanggal lahir tidak wajar")
        return v

    def missing(self) -> list[str]:
        """Fields a submission needs that are still empty."""
        required = ["birth_place", "birth_date", "gender", "nationality", "address", "postal_code", "education"]
        required += ["education_institution", "purpose"]
        if self.employed:
            required += ["company", "position"]
        if self.purpose == "lainnya":
            required.append("purpose_other")
        return [name for name in required if getattr(self, name) in ("", None)]


class ElementAnswer(BaseModel):
    """FR.APL.02, one element: does the candidate consider themselves competent, and with what evidence?"""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    element_id: int = Field(gt=0)
    verdict: Literal["K", "BK"] | None = None
    evidence: str = Field(default="", max_length=1000)
    portfolio: list[int] = Field(default_factory=list, max_length=20)


class AplDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apl01: Apl01 = Field(default_factory=Apl01)
    apl02: list[ElementAnswer] = Field(default_factory=list, max_length=300)


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    declaration: bool = False

    @field_validator("declaration")
    @classmethod
    def _declared(cls, v: bool) -> bool:
        if v is not True:
            raise ValueError("centang pernyataan bahwa data yang Anda isi benar")
        return v


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["proceed", "not_proceed"]
    note: str = Field(default="", max_length=2000)


class PortfolioMetaIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)


class SettingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scheme_id: int = Field(gt=0)
    required: bool = False

    @field_validator("required", mode="before")
    @classmethod
    def _checkbox(cls, v: object) -> object:
        return v in ("1", "on", "true", True)
