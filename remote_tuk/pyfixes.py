"""Work-arounds for defects of the Python the product runs on, applied once when ``remote_tuk`` is imported.

CPython 3.11 before 3.11.8, and 3.12.0 (gh-106905), keeps the depth counter of its AST-to-object conversion in one
place for all threads: two threads in :func:`ast.parse` at once can make one of them fail with ``SystemError: AST
constructor recursion depth mismatch``. Python 3.11's :mod:`traceback` calls ``ast.parse`` to place its ``^^^``
markers, so two threads logging an exception at the same moment (the media loop, the proctoring workers, a recording
join, a request) could lose a log record, and under pytest fail a test (it did, in CI). One lock around ``ast.parse``
(re-entrant: a finalizer that logs during a parse runs on the same thread) makes the calls take turns.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from typing import Any


def has_ast_depth_defect(version: tuple[int, ...]) -> bool:
    """True for the releases with gh-106905 (fixed in 3.11.8 and 3.12.1)."""
    return version < (3, 11, 8) or (3, 12, 0) <= version < (3, 12, 1)


def serialise_ast_parse(module: Any = ast, version: tuple[int, ...] = tuple(sys.version_info[:3])) -> bool:
    """Wrap ``module.parse`` in a lock when *version* has the defect; True when it did (once per module)."""
    if not has_ast_depth_defect(version) or getattr(module.parse, "_rtuk_serialised", False):
        return False
    parse: Callable[..., Any] = module.parse
    lock = threading.RLock()

    def serialised(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    serialised._rtuk_serialised = True  # type: ignore[attr-defined]
    serialised.__wrapped__ = parse  # type: ignore[attr-defined]
    serialised.__doc__ = parse.__doc__
    module.parse = serialised
    return True
