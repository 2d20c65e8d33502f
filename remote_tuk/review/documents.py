"""The assessment records as signed documents (issue 15 #2): FR.AK.02 (assessment record, per candidate) and FR.AK.05
(assessment report, per schedule), in Indonesian, generated from what was recorded — the units, the assessor's
decisions with their reasons and versions, the KUK marks with the media time and log entry each rests on — never
from anything typed again. Each PDF is signed with the LSP's key like the SOP dossier (``sop.sign_pdf``: PAdES,
the demo certificate when none is configured, which the document then says) and stored as evidence in an evidence
chain of its own (the session's chain is closed when the session is decided), linked to the chain of the session
(FR.AK.02, FR.AK.03) or of each session of the schedule (FR.AK.05, FR.AK.06) so that their bundles hold it.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import Settings
from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment import evidence as unit_evidence
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, Schedule, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound
from remote_tuk.live.scoring import decisions, marks
from remote_tuk.lsp.models import Lsp
from remote_tuk.records.links import linkable
from remote_tuk.review.models import AssessmentDocument
from remote_tuk.views import Zone

S = SessionState
FR_AK_02, FR_AK_03, FR_AK_05, FR_AK_06 = "FR.AK.02", "FR.AK.03", "FR.AK.05", "FR.AK.06"
DOCUMENT_GENERATED = "assessment_document_generated"
DOCUMENT_DOWNLOADED = "assessment_document_downloaded"
audit.KIND_LABELS.setdefault(DOCUMENT_GENERATED, "Dokumen asesmen (FR.AK) dibuat")
audit.KIND_LABELS.setdefault(DOCUMENT_DOWNLOADED, "Dokumen asesmen (FR.AK) diunduh")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "review" / "docs"
_MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"]


class NotDecided(Conflict):
    code = "not_decided"


# --- what the documents say -------------------------------------------------------------------------------------


@dataclass
class KukLine:
    number: str
    text: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class UnitLine:
    code: str
    title: str
    verdict: str
    reason: str
    version: int
    decided_at: datetime | None
    kuks: list[KukLine]


def _lsp(db: Session) -> Lsp | None:
    return db.scalar(select(Lsp).order_by(Lsp.id).limit(1))


def _units(db: Session, session: AssessmentSession) -> list[UnitLine]:
    current = decisions(db, session)
    _current_marks, history = marks(db, session)
    versions: dict[int, int] = {}
    for m in history:
        versions[m.kuk_id] = versions.get(m.kuk_id, 0) + 1
    out = []
    for u in unit_evidence.evidence_by_unit(db, session):
        d = current.get(u.unit_id)
        kuks = []
        for k in u.kuks:
            ev = []
            for e in k.evidence:
                ref = dict(e.ref)
                ev.append({"label": e.label, "verdict": e.verdict, "media_s": ref.get("media_s"),
                           "log_index": ref.get("log_index"), "version": ref.get("version"),
                           "versions": versions.get(k.kuk_id, 0) if e.source == "observation" else None})
            kuks.append(KukLine(k.number, k.text, ev))
        out.append(UnitLine(u.code, u.title, d.verdict.value if d else "–", d.reason if d else "",
                            d.version if d else 0, d.at if d else None, kuks))
    return out


def fr_ak_02_facts(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """Everything FR.AK.02 says about one candidate, from the records."""
    if session.state is not S.DECIDED:
        raise NotDecided("FR.AK.02 dibuat setelah sesi diputuskan.")
    sched = session.schedule
    units = _units(db, session)
    decided = next((t.at for t in reversed(session.transitions) if t.to_state is S.DECIDED), None)
    return {
        "form": FR_AK_02,
        "lsp": _lsp(db),
        "scheme": sched.scheme,
        "schedule": sched,
        "session": session,
        "candidate": session.candidate,
        "assessor": sched.assessor,
        "units": units,
        "overall": "K" if units and all(u.verdict == "K" for u in units) else "BK",
        "decided_at": decided,
        "chain": session.public_id,
    }


def fr_ak_03_facts(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """FR.AK.03: the feedback the candidate was given in the app, and their acknowledgement or comment."""
    from remote_tuk.review.feedback import ack_for, feedback

    if session.state is not S.DECIDED:
        raise NotDecided("FR.AK.03 dibuat setelah sesi diputuskan.")
    sched = session.schedule
    return {
        "form": FR_AK_03,
        "lsp": _lsp(db),
        "scheme": sched.scheme,
        "schedule": sched,
        "session": session,
        "candidate": session.candidate,
        "assessor": sched.assessor,
        "feedback": feedback(db, session),
        "ack": ack_for(db, session),
        "chain": session.public_id,
    }


def fr_ak_05_facts(db: Session, schedule: Schedule) -> dict[str, Any]:
    """FR.AK.05 for a schedule: every candidate's outcome (decided sessions), the others named with their state."""
    rows = []
    for s in schedule.sessions:
        if s.state is S.DECIDED:
            units = _units(db, s)
            rows.append({"candidate": s.candidate, "state": s.state, "units": units, "chain": s.public_id,
                         "overall": "K" if units and all(u.verdict == "K" for u in units) else "BK"})
        else:
            rows.append({"candidate": s.candidate, "state": s.state, "units": [], "chain": s.public_id,
                         "overall": None})
    if not any(r["overall"] for r in rows):
        raise NotDecided("FR.AK.05 dibuat setelah sedikitnya satu sesi jadwal ini diputuskan.")
    return {
        "form": FR_AK_05,
        "lsp": _lsp(db),
        "scheme": schedule.scheme,
        "schedule": schedule,
        "assessor": schedule.assessor,
        "rows": rows,
        "competent": sum(1 for r in rows if r["overall"] == "K"),
        "not_yet": sum(1 for r in rows if r["overall"] == "BK"),
        "pending": sum(1 for r in rows if r["overall"] is None),
    }


# --- rendering and signing ------------------------------------------------------------------------------------------


def _env(zone: Zone) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)

    def date_time(value: datetime | None) -> str:
        if value is None:
            return "–"
        local = value.astimezone(zone.tz)
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M} {zone.abbr}"

    def media(value: Any) -> str:
        if value is None:
            return "–"
        total = int(float(value))
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"

    env.filters["tanggal"] = date_time
    env.filters["media"] = media
    return env


def render_html(facts: dict[str, Any], *, demo: bool, signer_subject: str, generated_at: datetime) -> str:
    zone = Zone.named(facts["lsp"].time_zone if facts["lsp"] is not None else None)
    template = {FR_AK_02: "fr_ak_02.html", FR_AK_03: "fr_ak_03.html", FR_AK_05: "fr_ak_05.html",
                FR_AK_06: "fr_ak_06.html"}[facts["form"]]
    return _env(zone).get_template(template).render(**facts, demo=demo, signer_subject=signer_subject,
                                                    generated_at=generated_at, zone=zone)


def build_pdf(html: str, target: Path, signer: Any, *, reason: str) -> None:
    """HTML → PDF (WeasyPrint, nothing fetched) → signed in place with the LSP's key."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    from sop import sign_pdf

    offline = URLFetcher(allowed_protocols={"data"})
    weasyprint.HTML(string=html, base_url=str(TEMPLATES), url_fetcher=offline).write_pdf(str(target))
    sign_pdf(target, signer=signer, reason=reason)


# --- generating and storing --------------------------------------------------------------------------------------


def _next_version(db: Session, form: str, schedule_id: int, session_id: int | None) -> int:
    stmt = select(func.coalesce(func.max(AssessmentDocument.version), 0)).where(
        AssessmentDocument.form == form, AssessmentDocument.schedule_id == schedule_id,
        AssessmentDocument.session_id.is_(None) if session_id is None else AssessmentDocument.session_id == session_id)
    return 1 + int(db.scalar(stmt) or 0)


def _may_generate(user: User, schedule: Schedule, form: str = FR_AK_02, process_reviewer: bool = False) -> None:
    """The assigned assessor or an LSP admin makes the records; FR.AK.06 an LSP admin or the schedule's assigned
    process reviewer (never the schedule's own assessor); an auditor only reads them."""
    if form == FR_AK_06:
        if user.role is Role.LSP_ADMIN:
            return
        if process_reviewer and user.role is Role.ASSESSOR and schedule.assessor_id != user.id:
            return
        raise Forbidden("Tinjauan proses asesmen (FR.AK.06) dicatat oleh peninjau yang ditugaskan LSP atau admin LSP.")
    if not (user.role is Role.LSP_ADMIN or (user.role is Role.ASSESSOR and schedule.assessor_id == user.id)):
        raise Forbidden("Rekaman asesmen dibuat oleh asesor yang ditugaskan atau admin LSP.")


def generate(db: Session, settings: Settings, store: Any, facts: dict[str, Any], *, actor: User,
             process_reviewer: bool = False) -> AssessmentDocument:
    """Render, sign and store one document. ``process_reviewer``: the caller checked that *actor* is the schedule's
    assigned process reviewer (FR.AK.06 only)."""
    from sop import load_signer

    form = facts["form"]
    schedule: Schedule = facts["schedule"]
    session: AssessmentSession | None = facts.get("session")
    _may_generate(actor, schedule, form, process_reviewer)
    signer = load_signer(settings.sop, demo_dir=settings.var_dir / "sop")
    version = _next_version(db, form, schedule.id, session.id if session else None)
    now = utcnow()
    subject = f"{session.public_id}" if session else f"jadwal-{schedule.id}"
    chain = f"{form.lower().replace('.', '')}-{subject}-v{version}"
    actor_ref = (actor.role.value, str(actor.id))
    html = render_html(facts, demo=signer.demo, signer_subject=signer.subject, generated_at=now)
    with tempfile.TemporaryDirectory(prefix="rtuk-frak-") as tmp:
        path = Path(tmp) / "doc.pdf"
        build_pdf(html, path, signer, reason=f"{form} {subject} versi {version}")
        data = path.read_bytes()
    meta = {"form": form, "schedule": schedule.id, "version": version}
    if session is not None:
        meta["session"] = session.public_id
    # linked to the chain of the session it is about, or of every session of the schedule that has one: each of
    # those sessions' bundles holds it (docs/BUNDLE-FORMAT.md §4.6)
    targets = [session.public_id] if session is not None else [s.public_id for s in schedule.sessions]
    store.open_session(chain, meta, actor=actor_ref, link_to=linkable(store, targets))
    if facts.get("answers_json") is not None:  # FR.AK.06: the reviewer's answers themselves, beside the PDF
        store.append(chain, "process_review.fr_ak_06", facts["answers_json"], metadata=meta, actor=actor_ref,
                     commit_plaintext=True)
    type_ = "assessment.fr_ak_02" if form == FR_AK_02 else ("assessment.fr_ak_03" if form == FR_AK_03 else (
        "assessment.fr_ak_06" if form == FR_AK_06 else "assessment.fr_ak_05"))
    receipt = store.append(chain, type_, data,
                           metadata={**meta, "filename": f"{chain}.pdf", "sha256": hashlib.sha256(data).hexdigest()},
                           actor=actor_ref,
                           candidate_id=str(session.candidate_id) if session is not None else None)
    store.close_session(chain, actor=actor_ref)
    doc = AssessmentDocument(form=form, schedule_id=schedule.id, session_id=session.id if session else None,
                             version=version, evidence_session=chain, object_key=receipt.object_key,
                             log_index=receipt.log_index, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                             demo_signature=signer.demo, created_by_id=actor.id, created_at=now)
    db.add(doc)
    audit.record(db, DOCUMENT_GENERATED, actor_id=actor.id, form=form, evidence_session=chain)
    db.commit()
    return doc


def for_session(db: Session, session: AssessmentSession) -> list[AssessmentDocument]:
    """The documents about this session (its FR.AK.02 versions) and its schedule (FR.AK.05), newest first."""
    return list(db.scalars(
        select(AssessmentDocument)
        .where((AssessmentDocument.session_id == session.id)
               | ((AssessmentDocument.schedule_id == session.schedule_id) & AssessmentDocument.session_id.is_(None)))
        .order_by(AssessmentDocument.id.desc())))


def visible(db: Session, user: User, doc_id: int) -> AssessmentDocument:
    """The document if *user* may see its session or schedule (the same 404 otherwise; never the candidate)."""
    doc = db.get(AssessmentDocument, doc_id)
    if doc is None or user.role is Role.CANDIDATE:
        raise NotFound("Dokumen tidak ditemukan.")
    if doc.session_id is not None:
        session = db.get(AssessmentSession, doc.session_id)
        if session is None or not assessment.can_view_session(db, user, session):
            raise NotFound("Dokumen tidak ditemukan.")
    else:
        schedule = db.get(Schedule, doc.schedule_id)
        if schedule is None or not assessment.can_view_schedule(db, user, schedule):
            raise NotFound("Dokumen tidak ditemukan.")
    return doc


def read(db: Session, store: Any, user: User, doc_id: int) -> tuple[AssessmentDocument, bytes]:
    """A document's PDF (the read is logged in the evidence log and on the audit log)."""
    doc = visible(db, user, doc_id)
    data = store.read(doc.object_key, (user.role.value, str(user.id)))
    audit.record(db, DOCUMENT_DOWNLOADED, actor_id=user.id, document=doc.id, form=doc.form)
    db.commit()
    assert data is not None
    return doc, data
