from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class LspProfileIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    name: str = Field(min_length=3, max_length=200)
    licence_number: str = Field(default="", max_length=80)
    lsp_type: Literal["pihak_kesatu", "pihak_kedua", "pihak_ketiga"]
    address: str = Field(default="", max_length=2000)
    city: str = Field(default="", max_length=120)
    email: EmailStr | Literal[""] = ""
    phone: str = Field(default="", max_length=32, pattern=r"^[0-9+() \-]*$")
    director_name: str = Field(default="", max_length=160)
    director_position: str = Field(default="", max_length=120)
