"""remote_tuk.pyfixes: ast.parse takes turns between threads on a Python with gh-106905 (3.11 before 3.11.8), so
two threads formatting a traceback at once no longer fail with "AST constructor recursion depth mismatch"."""

from __future__ import annotations

import ast
import gc
import sys
import threading
import time
import types

import pytest

import remote_tuk  # noqa: F401  (applies the fix)
from remote_tuk.pyfixes import has_ast_depth_defect, serialise_ast_parse

SOURCE = "\n".join(f"def f{i}(a, b):\n    return [x + {i} for x in (a, b) if x]" for i in range(200))


class _Cycle:
    """Cyclic garbage whose finalizer gives the GIL away: the collector runs inside ast.parse's object building and
    another thread gets in, as a logging thread does in the server."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        time.sleep(0)


def _race(parse, seconds: float, stop_at_first: bool) -> list[str]:
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def garbage() -> None:
        while time.monotonic() < stop and not (stop_at_first and errors):
            _Cycle()
            time.sleep(0)

    def work() -> None:
        while time.monotonic() < stop and not (stop_at_first and errors):
            try:
                parse(SOURCE)
            except SystemError as exc:
                errors.append(str(exc))

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        threads = [threading.Thread(target=work) for _ in range(3)] + [threading.Thread(target=garbage)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.set_threshold(*threshold)
    return errors


@pytest.mark.skipif(not has_ast_depth_defect(tuple(sys.version_info[:3])),
                    reason="this Python has the gh-106905 fix; nothing to wrap")
def test_threads_parsing_at_once_do_not_fail_once_remote_tuk_is_imported():
    assert getattr(ast.parse, "_rtuk_serialised", False)
    # the race is real here: the unwrapped parse fails under it (so the check below can fail)
    assert _race(ast.parse.__wrapped__, 20.0, stop_at_first=True), "the race did not show on the unwrapped parse"
    assert _race(ast.parse, 2.0, stop_at_first=False) == []


def test_the_wrap_is_applied_once_and_only_where_the_defect_is():
    def parse(source: str) -> str:
        return f"parsed {source}"

    broken = types.SimpleNamespace(parse=parse)
    assert serialise_ast_parse(broken, (3, 11, 7))
    assert broken.parse("x") == "parsed x" and broken.parse.__wrapped__ is parse
    wrapped = broken.parse
    assert not serialise_ast_parse(broken, (3, 11, 7)) and broken.parse is wrapped  # not twice
    fixed = types.SimpleNamespace(parse=parse)
    assert not serialise_ast_parse(fixed, (3, 11, 8)) and fixed.parse is parse
    assert not serialise_ast_parse(fixed, (3, 12, 1)) and fixed.parse is parse
    assert serialise_ast_parse(types.SimpleNamespace(parse=parse), (3, 12, 0))
