"""Parsing of request bodies and socket payloads at the edge, with pydantic; failures become ValidationFailed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from remote_tuk.errors import DomainError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "wajib diisi",
    "string_too_short": "terlalu pendek",
    "string_too_long": "terlalu panjang",
    "string_pattern_mismatch": "format tidak valid",
    "int_parsing": "harus angka",
    "float_parsing": "harus angka",
    "int_from_float": "harus bilangan bulat",
    "greater_than_equal": "terlalu kecil",
    "less_than_equal": "terlalu besar",
    "greater_than": "nilai tidak valid",
    "datetime_from_date_parsing": "format tanggal/waktu tidak valid",
    "datetime_parsing": "format tanggal/waktu tidak valid",
    "literal_error": "pilihan tidak valid",
    "enum": "pilihan tidak valid",
    "value_error": "nilai tidak valid",
    "extra_forbidden": "tidak dikenal",
    "model_type": "harus berupa objek",
}


def field_errors(err: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(data)"
        message = _MESSAGES.get(item["type"], item["msg"])
        if item["type"] == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        out.setdefault(loc, message)
    return out


def parse(model: type[M], data: Mapping[str, Any] | Any) -> M:
    """Validate *data* against *model*; raise ValidationFailed with per-field messages."""
    if isinstance(data, Mapping) and not isinstance(data, dict):
        data = {k: data.get(k) for k in data}  # a MultiDict: first value per key
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ValidationFailed("Data yang dikirim tidak valid.", details=field_errors(err)) from err


def parse_form(model: type[M], form: Mapping[str, Any]) -> M:
    """Like :func:`parse` for a posted HTML form: the CSRF token (checked by Flask-WTF) is not part of the data, so a
    model may forbid unknown fields."""
    return parse(model, {k: form.get(k) for k in form if k != "csrf_token"})


def form_errors_of(err: DomainError) -> dict[str, Any]:
    """A refused form's errors for its template: per field, and the message under ``"_"``."""
    errors = dict(err.details) if isinstance(err.details, dict) else {}
    errors["_"] = err.message
    return errors
