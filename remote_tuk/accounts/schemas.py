from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


class LoginIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=256)


class CodeIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    code: str = Field(min_length=6, max_length=8)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)
    confirm_password: str = Field(min_length=1, max_length=256)


class UserIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    username: str = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9._\-]+$")
    full_name: str = Field(min_length=2, max_length=160)
    role: Literal["lsp_admin", "asesor", "asesi", "auditor"]
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+() \-]*$")
    met_number: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9.\-/ ]+$")
    nik: str | None = Field(default=None, pattern=r"^\d{16}$")
    password: str = Field(min_length=1, max_length=256)

    @field_validator("email", "phone", "met_number", "nik", mode="before")
    @classmethod
    def _blank_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v
