"""Question banks' own refusals (mapped to HTTP by ``remote_tuk.errors``, like every ``DomainError``)."""

from __future__ import annotations

from remote_tuk.errors import Conflict


class StaleBankFile(Conflict):
    """An import made from an older bank version than the newest (it would silently undo a later edit)."""

    code = "stale_bank_file"
