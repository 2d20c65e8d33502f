"""Parsing of request bodies and socket payloads at the edge, with pydantic; failures become ValidationFailed.

Three shared bounds live here so that every route and schema uses the same ones (issue 12 #10):

* :data:`DbId`: an id as the database can hold it (PostgreSQL ``integer``); a larger number names no row and is
  refused here instead of overflowing in the driver;
* :func:`parse_int`: one way to read an integer form field or query parameter (ASCII digits, bounded);
* :func:`loads_json`: JSON with a nesting limit checked *before* parsing (a deeply nested document makes the parser
  recurse until ``RecursionError``); the app's JSON provider and the standards importer use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Annotated, Any, TypeVar

from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from werkzeug.routing import IntegerConverter
from werkzeug.routing import ValidationError as NoRouteMatch

from remote_tuk.errors import DomainError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

#: The largest value of an integer id column (PostgreSQL ``integer``, the smallest id type on our backends).
MAX_DB_INT = 2**31 - 1
#: How deep a JSON document may nest (objects and arrays); the deepest legitimate one, a standards file, has 8.
MAX_JSON_DEPTH = 32

_MESSAGES = {
    "missing": "wajib diisi",
    "string_too_short": "terlalu pendek",
    "string_too_long": "terlalu panjang",
    "string_pattern_mismatch": "format tidak valid",
    "int_parsing": "harus angka",
    "int_type": "harus angka",
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


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true is not the id 1
        raise ValueError("harus angka")
    return value


#: A row id taken from outside (form, JSON body, socket payload): a positive integer the id column can hold.
DbId = Annotated[int, BeforeValidator(_not_bool), Field(gt=0, le=MAX_DB_INT)]


def field_errors(err: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(data)"
        message = _MESSAGES.get(item["type"], item["msg"])
        if item["type"] == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        out.setdefault(loc, message)
    return out


def parse(model: type[M], data: Mapping[str, Any] | Any, *, context: dict[str, Any] | None = None) -> M:
    """Validate *data* against *model* (validators see *context*); raise ValidationFailed with per-field messages."""
    if isinstance(data, Mapping) and not isinstance(data, dict):
        data = {k: data.get(k) for k in data}  # a MultiDict: first value per key
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        raise ValidationFailed("Data yang dikirim tidak valid.", details=field_errors(err)) from err


_ASCII_INT = re.compile(r"-?[0-9]{1,12}")


def parse_int(raw: str | None, name: str, *, default: int | None = None, ge: int = 0, le: int = MAX_DB_INT) -> int:
    """An integer form field or query parameter: ASCII digits within [ge, le]; *default* when absent or empty.

    ``str.isdigit()`` is true for "²" and "١٢" and ``int()`` then fails or reads another script's digits; a number
    of thousands of digits makes ``int()`` raise. Both are refused here with a 422 naming the field.
    """
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise ValidationFailed("Data yang dikirim tidak valid.", details={name: "wajib diisi"})
    text = raw.strip()
    if not _ASCII_INT.fullmatch(text):
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            problem = "harus angka"
        else:  # more digits than any bound we use
            problem = "terlalu kecil" if text.startswith("-") else "terlalu besar"
        raise ValidationFailed("Data yang dikirim tidak valid.", details={name: problem})
    value = int(text)
    if value < ge:
        raise ValidationFailed("Data yang dikirim tidak valid.", details={name: "terlalu kecil"})
    if value > le:
        raise ValidationFailed("Data yang dikirim tidak valid.", details={name: "terlalu besar"})
    return value


def parse_id(raw: str | None, name: str) -> int:
    """A row id from a form field (see :data:`DbId`)."""
    return parse_int(raw, name, ge=1)


class DbIdConverter(IntegerConverter):
    """The ``<int:...>`` URL converter, bounded: ASCII digits up to :data:`MAX_DB_INT`; anything else is no match (404).

    Werkzeug's own matches ``\\d+`` (any script's digits, any length) and hands ``10**30`` to the database."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_DB_INT:
            raise NoRouteMatch()
        return number


# --- JSON with a nesting limit ---------------------------------------------------------------------------------


class JSONTooDeep(ValueError):
    """The document nests deeper than allowed (a ValueError, so ``get_json(silent=True)`` treats it as bad JSON)."""


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep *text* nests, counted without parsing it (brackets inside string literals are data)."""
    brackets = _BRACKETS.findall(_JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def loads_json(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` after checking the nesting depth; raises :class:`JSONTooDeep` or another ValueError."""
    text = data.decode(json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes | bytearray) else data
    depth = json_depth(text)
    if depth > max_depth:
        raise JSONTooDeep(f"JSON bersarang terlalu dalam ({depth} tingkat, maksimal {max_depth}).")
    return json.loads(text, **kwargs)


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON provider: every ``request.get_json()`` goes through :func:`loads_json`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_json(s, **kwargs)


def parse_form(model: type[M], form: Mapping[str, Any]) -> M:
    """Like :func:`parse` for a posted HTML form: the CSRF token (checked by Flask-WTF) is not part of the data, so a
    model may forbid unknown fields."""
    return parse(model, {k: form.get(k) for k in form if k != "csrf_token"})


def form_errors_of(err: DomainError) -> dict[str, Any]:
    """A refused form's errors for its template: per field, and the message under ``"_"``."""
    errors = dict(err.details) if isinstance(err.details, dict) else {}
    errors["_"] = err.message
    return errors
