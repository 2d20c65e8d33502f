from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")


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
    domain: str = Field(default="", max_length=253)
    time_zone: Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"] = "Asia/Jakarta"

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, v: object) -> object:
        """The LSP's internet domain, as typed or pasted (``https://LSP.example/`` becomes ``lsp.example``)."""
        if not isinstance(v, str):
            return v
        v = v.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        if v and not _DOMAIN.match(v):
            raise ValueError("bukan nama domain (contoh: lsp-contoh.or.id)")
        return v
