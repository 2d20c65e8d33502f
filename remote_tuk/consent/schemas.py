"""What the consent pages and API accept (validated at the edge)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_tuk.consent import texts

#: C0/C1 control characters other than tab and newline: never part of a text a person reads.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_KINDS = "^(" + "|".join(texts.KINDS) + ")$"


def _clean(value: str, *, multiline: bool, min_length: int = 0) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline and "\n" in value.strip():
        raise ValueError("harus satu baris")
    if _CONTROL.search(value):
        raise ValueError("memuat karakter kendali yang tidak terlihat")
    cleaned = "\n".join(line.rstrip() for line in value.strip().split("\n"))
    if len(cleaned) < min_length:
        raise ValueError(f"terlalu pendek (minimal {min_length} karakter)")
    return cleaned


def _confirmed(value: bool) -> bool:
    if not value:
        raise ValueError("centang untuk mengonfirmasi")
    return value


class ConsentIn(BaseModel):
    """A candidate's answer to one consent text (the FR.AK.01 answer carries the declared location)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=_KINDS)
    version: int = Field(ge=1, le=100_000)
    accept: bool
    location: str | None = Field(default=None, max_length=200)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        return None if value is None else _clean(value, multiline=False) or None


class CosignIn(BaseModel):
    """The assigned assessor co-signs FR.AK.01: the hash of the form they were shown."""

    model_config = ConfigDict(extra="forbid")
    form_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    confirm: bool

    _confirm = field_validator("confirm")(_confirmed)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)
    confirm: bool

    _confirm = field_validator("confirm")(_confirmed)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _clean(value, multiline=True)


class TextEditIn(BaseModel):
    """A draft of a consent text as the LSP writes it."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=5, max_length=200)
    body: str = Field(min_length=50, max_length=20_000)
    note: str = Field(default="", max_length=2000)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _clean(value, multiline=False, min_length=5)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _clean(value, multiline=True, min_length=50)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _clean(value, multiline=True)
