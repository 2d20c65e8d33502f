"""Evidence provider for the unit decision: the portfolio the candidate offered in FR.APL.02.

The latest submission names, per element, the candidate's own "kompeten / belum" and the portfolio files offered for
it. Each file offered is shown against every KUK of its element, with its evidence entry; it is the candidate's claim
(verified by the assessor in FR.IA.08), so it carries no verdict and neither allows nor refuses K by itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.apl.services import latest_submission
from remote_tuk.assessment.evidence import KukEvidence
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.lsp.models import Kuk


def portfolio_evidence(db: Session, session: AssessmentSession) -> Iterable[KukEvidence]:
    submission = latest_submission(db, session)
    if submission is None:
        return
    doc = submission.document
    items = {p["id"]: p for p in doc.get("portfolio") or []}
    for row in doc.get("apl02") or []:
        offered = [items[i] for i in row.get("portfolio") or [] if i in items]
        if not offered:
            continue
        for kuk_id in db.scalars(select(Kuk.id).where(Kuk.element_id == row["element_id"])):
            for item in offered:
                yield KukEvidence(
                    kuk_id, "portfolio", None, "Portofolio (FR.APL.02)",
                    {"log_index": item.get("log_index"), "title": item.get("title", ""),
                     "self_assessment": row.get("verdict"), "submission_log_index": submission.log_index,
                     "submission_version": submission.version},
                )
