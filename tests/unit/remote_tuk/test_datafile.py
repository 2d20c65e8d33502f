"""The importers' shared machinery: size and nesting limits are clean 422s, CSV rows keep the line they start on."""

from __future__ import annotations

import pytest

from remote_tuk import datafile
from remote_tuk.errors import ValidationFailed
from remote_tuk.lsp import standards


def test_deeply_nested_json_is_a_validation_error_not_a_recursion_error():
    deep = '{"format": "rtuk-rmcs/1", "scheme": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(ValidationFailed) as exc:
        standards.parse(deep.encode(), "dalam.json")
    assert exc.value.details[0]["field"] == "(struktur)"
    assert "12" in exc.value.details[0]["message"]


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"a": "[[[[[[[[[[[[[[[[[[[[ \\" {{{{{{{{{{{{{{{{{{{"}'
    assert datafile.load_json(text, max_depth=2) == {"a": '[[[[[[[[[[[[[[[[[[[[ " {{{{{{{{{{{{{{{{{{{'}


def test_oversized_file_is_refused_before_parsing():
    with pytest.raises(ValidationFailed) as exc:
        standards.parse(b" " * (standards.MAX_BYTES + 1), "besar.json")
    assert exc.value.details[0]["field"] == "(berkas)"


def test_csv_rows_keep_the_line_they_start_on_across_multiline_cells():
    col = datafile.Collector()
    text = 'a,b\n"satu\ndua\ntiga",x\n\n4,5\n6\n'
    rows = list(datafile.read_csv(text, columns=["a", "b"], required={"a"}, max_rows=10, col=col))
    assert [line for line, _row in rows] == [2, 6]
    assert rows[0][1] == {"a": "satu\ndua\ntiga", "b": "x"}
    assert [(e.line, e.field) for e in col.errors] == [(7, "(baris)")]


def test_csv_row_limit_and_duplicate_header():
    col = datafile.Collector()
    with pytest.raises(ValidationFailed) as exc:
        list(datafile.read_csv("a\n1\n2\n3\n", columns=["a"], required={"a"}, max_rows=2, col=col))
    assert exc.value.details[0]["line"] == 4
    with pytest.raises(ValidationFailed) as exc:
        list(datafile.read_csv("a,a\n1,2\n", columns=["a"], required={"a"}, max_rows=2, col=col))
    assert exc.value.details[0]["message"] == "kolom muncul dua kali"


def test_error_lines_for_a_terminal():
    assert datafile.error_lines([{"line": 3, "field": "kuk", "message": "wajib diisi"}, {"field": "x"}, "junk"]) == [
        "  baris 3: kuk: wajib diisi",
        "  baris -: x: None",
    ]
