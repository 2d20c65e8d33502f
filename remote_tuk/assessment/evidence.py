"""Evidence per KUK, and what it allows the assessor to decide per unit (FR.AK.02).

A unit may be decided K (kompeten) only when every KUK of the unit has evidence for K: at least one current item of
evidence says K and none says BK. BK always needs a reason. The evidence comes from *providers*, one per method of
assessment: live observation (the FR.IA.01 marks, ``remote_tuk.live.scoring``) today; written and oral questions
and portfolio verification plug in the same way::

    from remote_tuk.assessment.evidence import PROVIDERS, KukEvidence

    def written_answers(db, session):          # -> Iterable[KukEvidence]
        for answer in ...:
            yield KukEvidence(kuk_id=..., source="written", verdict="K", label="Tertulis (FR.IA.05)",
                              ref={"log_index": ..., "at": ...})

    PROVIDERS.append(written_answers)          # once, at start-up

A provider returns only *current* evidence (the latest version of each item); it never decides anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from remote_tuk.assessment.models import AssessmentSession

Verdict = Literal["K", "BK"]


@dataclass(frozen=True)
class KukEvidence:
    """One current item of evidence about one KUK."""

    kuk_id: int
    #: The method of assessment: "observation" (FR.IA.01), "written" (FR.IA.05), "essay" (FR.IA.06), "oral"
    #: (FR.IA.07), "portfolio" (FR.APL.02) …
    source: str
    #: None: shown for the assessor to weigh, counted neither for nor against K (the candidate's own portfolio claim)
    verdict: Verdict | None
    #: How the page names the source (Indonesian; the template translates it).
    label: str
    #: Where the item is: log index, version, time, media time … (shown, and linked to the evidence page).
    ref: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "verdict": self.verdict, "label": self.label, "ref": self.ref}


#: (db, session) -> the session's current evidence per KUK, from one method of assessment.
KukEvidenceProvider = Callable[[Session, AssessmentSession], Iterable[KukEvidence]]

#: Every provider; features append theirs at start-up (idempotently).
PROVIDERS: list[KukEvidenceProvider] = []


@dataclass
class KukStatus:
    kuk_id: int
    number: str
    text: str
    evidence: list[KukEvidence]

    @property
    def supports_k(self) -> bool:
        verdicts = {e.verdict for e in self.evidence}
        return "K" in verdicts and "BK" not in verdicts

    @property
    def why_not(self) -> str | None:
        """Why the KUK does not support K: ``no_evidence`` or ``bk`` (some evidence says BK); None if it does."""
        if self.supports_k:
            return None
        return "bk" if any(e.verdict == "BK" for e in self.evidence) else "no_evidence"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kuk_id": self.kuk_id,
            "number": self.number,
            "text": self.text,
            "supports_k": self.supports_k,
            "why_not": self.why_not,
            "evidence": [e.as_dict() for e in self.evidence],
        }


@dataclass
class UnitEvidence:
    unit_id: int
    code: str
    title: str
    kuks: list[KukStatus]

    @property
    def k_allowed(self) -> bool:
        return bool(self.kuks) and all(k.supports_k for k in self.kuks)

    @property
    def lacking(self) -> list[KukStatus]:
        return [k for k in self.kuks if not k.supports_k]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "code": self.code,
            "title": self.title,
            "k_allowed": self.k_allowed,
            "lacking": [k.number for k in self.lacking],
            "kuks": [k.as_dict() for k in self.kuks],
        }


def evidence_by_unit(
    db: Session, session: AssessmentSession, providers: Iterable[KukEvidenceProvider] | None = None
) -> list[UnitEvidence]:
    """What the evidence says about every KUK of every unit of the session's scheme, unit by unit."""
    per_kuk: dict[int, list[KukEvidence]] = {}
    for provider in PROVIDERS if providers is None else providers:
        for item in provider(db, session):
            per_kuk.setdefault(item.kuk_id, []).append(item)
    return [
        UnitEvidence(
            unit.id,
            unit.code,
            unit.title,
            [
                KukStatus(k.id, k.number, k.text, per_kuk.get(k.id, []))
                for element in unit.elements
                for k in element.kuks
            ],
        )
        for unit in session.schedule.scheme.units
    ]


def register(provider: KukEvidenceProvider) -> None:
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)
