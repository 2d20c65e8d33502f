"""FR.APL's own refusals (mapped to HTTP by ``remote_tuk.errors``, like every ``DomainError``)."""

from __future__ import annotations

from remote_tuk.errors import Conflict, DomainError


class AplRequired(Conflict):
    """The state machine's guard: FR.APL holds the session (``details.missing`` says why)."""

    code = "apl_required"


class PortfolioGone(DomainError):
    """The file's data key was destroyed (crypto-shredding on erasure): the item is logged, its content is gone."""

    status = 410
    code = "portfolio_gone"
