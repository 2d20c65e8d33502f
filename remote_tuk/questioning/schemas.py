from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remote_tuk.questioning.services import MAX_ESSAY
from remote_tuk.validation import DbId

UID_PATTERN = r"^[A-Za-z0-9._\-]{1,32}@[0-9]{1,6}$"
#: a question revision as tests and evidence name it: ``<code>@<revision>``
Uid = Annotated[str, Field(min_length=3, max_length=48, pattern=UID_PATTERN)]


class OpenTestIn(BaseModel):
    """The assessor opens the written test: its duration and, optionally, which questions (default: all)."""

    model_config = ConfigDict(extra="forbid")

    duration_s: int = Field(ge=20, le=4 * 3600, strict=True)
    questions: list[Uid] | None = Field(default=None, min_length=1, max_length=200)


class AnswerIn(BaseModel):
    """One autosave: ``choice`` (the position on the candidate's screen) for multiple choice, ``text`` for an essay."""

    model_config = ConfigDict(extra="forbid")

    uid: Uid
    choice: int | None = Field(default=None, ge=0, le=5, strict=True)
    text: str | None = Field(default=None, max_length=MAX_ESSAY)


class EssayScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uid: Uid
    verdict: Literal["K", "BK"]
    note: str = Field(default="", max_length=2000)


class OralIn(BaseModel):
    """An oral question judged: from the bank (``uid``), written by the assessor (``prompt`` + ``kuk_id``), or a new
    judgement of one already asked (``number``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uid: Uid | None = None
    prompt: str | None = Field(default=None, min_length=5, max_length=2000)
    kuk_id: DbId | None = None
    number: int | None = Field(default=None, ge=1, le=10_000)
    answer_summary: str = Field(default="", max_length=4000)
    verdict: Literal["K", "BK"]
    note: str = Field(default="", max_length=2000)
    client_media_s: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _one_source(self) -> OralIn:
        given = [x for x in (self.uid, self.prompt, self.number) if x is not None]
        if len(given) != 1:
            raise ValueError("pilih tepat satu: soal bank (uid), pertanyaan sendiri (prompt) atau nomor pertanyaan")
        if self.prompt is not None and self.kuk_id is None:
            raise ValueError("pertanyaan sendiri memerlukan KUK (kuk_id)")
        return self
