from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_tuk.instruments.bankfile import (
    LETTERS,
    MAX_EXPECTED,
    MAX_OPTION,
    MAX_PROMPT,
    QuestionData,
)


class QuestionIn(BaseModel):
    """The admin's question form (field names as the CSV columns; the KUK chosen from the scheme by id)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    code: str = Field(default="", max_length=32)
    type: Literal["multiple_choice", "essay", "oral"]
    kuk_id: int = Field(gt=0)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    option_a: str = Field(default="", max_length=MAX_OPTION)
    option_b: str = Field(default="", max_length=MAX_OPTION)
    option_c: str = Field(default="", max_length=MAX_OPTION)
    option_d: str = Field(default="", max_length=MAX_OPTION)
    option_e: str = Field(default="", max_length=MAX_OPTION)
    option_f: str = Field(default="", max_length=MAX_OPTION)
    correct: Literal["", "A", "B", "C", "D", "E", "F"] = ""
    expected_answer: str = Field(default="", max_length=MAX_EXPECTED)

    @field_validator("correct", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.strip().upper() if isinstance(v, str) else v

    def data(self) -> QuestionData:
        """The question; the fields of the other kinds (the form shows them all) are left out."""
        choice = self.type == "multiple_choice"
        options = [getattr(self, f"option_{c.lower()}") for c in LETTERS] if choice else []
        while options and not options[-1]:
            options.pop()
        return QuestionData(
            code=self.code,
            kind=self.type,
            unit_code="",
            kuk_number="",
            prompt=self.prompt,
            options=options,
            correct=LETTERS.index(self.correct) if choice and self.correct else None,
            expected_answer="" if choice else self.expected_answer,
        )
