"""Reading the data files LSP admins import (competency standards, question banks): validated as a whole.

The machinery every importer shares: bytes → UTF-8 text within a size limit; JSON parsed with the line on which each
object starts, after a nesting-depth check (a deeply nested file must be a clear 422, never a RecursionError); CSV
read with a checked header and the line on which each row starts (a quoted cell may span lines); every problem
collected as a :class:`RowError` (line, field, message) so that one answer lists them all and nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json import scanner
from typing import Any

from remote_tuk.errors import ValidationFailed
from remote_tuk.validation import json_depth

MAX_TEXT = 4000


@dataclass
class RowError:
    line: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


def invalid(message: str, errors: Iterable[RowError]) -> ValidationFailed:
    return ValidationFailed(message, details=[e.as_dict() for e in errors])


def error_lines(details: Any) -> list[str]:
    """The details of an import error as lines for a terminal ("baris 12: kuk_text: wajib diisi")."""
    return [
        f"  baris {d.get('line') or '-'}: {d.get('field')}: {d.get('message')}"
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict)
    ]


class Collector:
    """Collects every problem of a file, so that one answer lists them all."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(self, line: int | None, fld: str, message: str) -> None:
        self.errors.append(RowError(line, fld, message))

    def text(self, line: int | None, fld: str, value: Any, *, required: bool, limit: int = MAX_TEXT) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(line, fld, "harus berupa teks")
            return ""
        value = value.strip()
        if required and not value:
            self.add(line, fld, "wajib diisi")
        elif len(value) > limit:
            self.add(line, fld, f"terlalu panjang (maksimal {limit} karakter)")
        return value

    def raise_if_any(self, message: str) -> None:
        if self.errors:
            raise invalid(message, self.errors)


# --- the file -----------------------------------------------------------------------------------------------------


def decode(data: bytes, *, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise invalid(
            "Berkas terlalu besar.",
            [RowError(None, "(berkas)", f"{len(data)} byte, maksimal {max_bytes} byte")],
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise invalid(
            "Berkas harus berenkode UTF-8.", [RowError(None, "(berkas)", f"byte tidak valid di posisi {err.start}")]
        ) from err


def file_format(filename: str) -> str:
    """``json`` or ``csv`` from the file's name; anything else is refused."""
    name = filename.lower()
    for ext in ("json", "csv"):
        if name.endswith(f".{ext}"):
            return ext
    raise invalid(
        "Format berkas tidak dikenal: gunakan .json atau .csv.", [RowError(None, "(berkas)", "ekstensi tidak dikenal")]
    )


# --- JSON ---------------------------------------------------------------------------------------------------------


class LineDict(dict[str, Any]):
    """A JSON object that knows the line on which it starts."""

    line: int = 0


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse nesting deeper than *max_depth* before the (recursive) parser sees it, naming the line where it
    goes too deep (the depth itself is counted by the app's one check, :func:`remote_tuk.validation.json_depth`)."""
    if json_depth(text) <= max_depth:
        return
    depth, in_string, escaped, line = 0, False, False, 1
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                break
        elif ch in "]}":
            depth -= 1
    too_deep = RowError(line, "(struktur)", f"kedalaman lebih dari {max_depth} tingkat")
    raise invalid("Berkas JSON bersarang terlalu dalam.", [too_deep])


def load_json(text: str, *, max_depth: int) -> Any:
    """Parse JSON, remembering on which line each object starts (for error messages)."""
    _check_depth(text, max_depth)
    decoder = json.JSONDecoder()
    original = decoder.parse_object

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        s, end = s_and_end
        obj, new_end = original(s_and_end, *args, **kwargs)
        result = LineDict(obj)
        result.line = s.count("\n", 0, end) + 1
        return result, new_end

    decoder.parse_object = parse_object  # type: ignore[method-assign]
    decoder.scan_once = scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as err:
        raise invalid("Berkas JSON tidak dapat dibaca.", [RowError(err.lineno, "(sintaks)", err.msg)]) from err
    except ValueError as err:  # e.g. a number longer than Python converts (4300 digits)
        raise invalid("Berkas JSON tidak dapat dibaca.", [RowError(None, "(sintaks)", str(err)[:200])]) from err


def line_of(obj: Any) -> int | None:
    return getattr(obj, "line", None)


# --- CSV ----------------------------------------------------------------------------------------------------------


def read_csv(
    text: str, *, columns: list[str], required: set[str], max_rows: int, col: Collector
) -> Iterator[tuple[int, dict[str, str]]]:
    """Check the header, then yield (line on which the row starts, {column: cell}) for every non-blank row.

    A header problem or a syntax error raises at once; a row with the wrong number of cells is collected and skipped.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise invalid("Berkas CSV kosong.", [RowError(1, "(header)", "tidak ada baris")]) from None
    except csv.Error as err:
        raise invalid("Berkas CSV tidak dapat dibaca.", [RowError(1, "(sintaks)", str(err))]) from err
    head = Collector()
    for c in columns:
        if c in required and c not in header:
            head.add(1, c, "kolom wajib tidak ada di baris judul")
    for h in header:
        if h not in columns:
            head.add(1, h or "(kosong)", "kolom tidak dikenal")
    seen: set[str] = set()
    for h in header:
        if h in seen and h in columns:
            head.add(1, h, "kolom muncul dua kali")
        seen.add(h)
    head.raise_if_any("Baris judul CSV tidak valid; tidak ada yang diimpor.")
    rows = 0
    while True:
        start = reader.line_num + 1
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise invalid("Berkas CSV tidak dapat dibaca.", [RowError(start, "(sintaks)", str(err))]) from err
        if not any(cell.strip() for cell in raw):
            continue
        rows += 1
        if rows > max_rows:
            raise invalid(
                "Berkas CSV terlalu banyak baris.", [RowError(start, "(baris)", f"maksimal {max_rows} baris data")]
            )
        if len(raw) != len(header):
            col.add(start, "(baris)", f"jumlah kolom {len(raw)}, seharusnya {len(header)}")
            continue
        yield start, dict(zip(header, raw, strict=True))
