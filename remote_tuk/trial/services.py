"""Trial runs (uji coba): the candidate's rehearsal of the whole flow before the day, kept apart from the real session.

A trial never changes the real session: not its state (no ``scheduled → checking``), not its consent (the texts are
only previewed; no ``Consent`` row), not its evidence chain (a trial's check result and the self-test recording the
candidate chose to send go to the trial's own chain ``trial-<id>``). The check's measuring and judging code is the real
check's (``remote_tuk.tuk.services``: the browser values, the upload and download bandwidth, ``evaluate``); the
media-over-WebRTC step is left out (it would join the real session's live room), so the requirements only that step
measures are not judged by a trial, and the self-test recording stands in for the camera and microphone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import TukRequirementProfile
from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, Schedule, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.live.services import InvalidState
from remote_tuk.trial.models import TrialRun
from remote_tuk.tuk import services as tuk
from remote_tuk.tuk.identity import webm_seconds

S = SessionState
#: a trial is a rehearsal before the day: once the session is live or over there is nothing left to rehearse
OPEN_STATES = frozenset({S.SCHEDULED, S.CHECKING, S.READY})
#: measured only over WebRTC with the server (the media test, the phone camera and the screen share join the real
#: session's media), which a trial does not run (docs/TUK-CHECK.md)
MEDIA_KEYS = frozenset(
    {
        "camera_resolution",
        "camera_fps",
        "lighting",
        "face_visible",
        "round_trip_time",
        "jitter",
        "packet_loss",
        "phone_camera",
        "screen_share",
    }
)
#: the self-test recording: at least this long to count as played back, at most this size when sent
MIN_SELFTEST_S = 1.0
MAX_SELFTEST_S = 120.0
MAX_SELFTEST_BYTES = 20 * 1024 * 1024
CHECK_TYPE = "trial.check"
SELFTEST_TYPE = "trial.selftest"


def require_candidate(user: User, session: AssessmentSession) -> None:
    if live.participant(user, session).role != "candidate":
        raise Forbidden("Uji coba dijalankan oleh asesi sesi ini.")


def require_open(session: AssessmentSession) -> None:
    if session.state not in OPEN_STATES:
        raise InvalidState(
            "Uji coba hanya dapat dijalankan sebelum sesi berlangsung.",
            details={"state": session.state.value, "allowed": sorted(s.value for s in OPEN_STATES)},
        )


def newest(db: Session, session: AssessmentSession, *, finished: bool | None = None) -> TrialRun | None:
    q = select(TrialRun).where(TrialRun.session_id == session.id)
    if finished is True:
        q = q.where(TrialRun.finished_at.is_not(None))
    elif finished is False:
        q = q.where(TrialRun.finished_at.is_(None))
    return db.scalar(q.order_by(TrialRun.id.desc()).limit(1))


def _open_run(db: Session, session: AssessmentSession, user: User) -> TrialRun:
    """The candidate's unfinished trial run of this session, or a new one (a finished run is never changed)."""
    require_candidate(user, session)
    require_open(session)
    run = newest(db, session, finished=False)
    if run is None:
        before = newest(db, session)
        run = TrialRun(
            session_id=session.id,
            candidate_id=user.id,
            profile=tuk.profile_for(db, session).model_dump(),
            measurements={},
            # the preview was read in an earlier run of this candidate (a re-run after a finished one)
            consent_previewed_at=before.consent_previewed_at if before is not None else None,
        )
        db.add(run)
        db.flush()
    return run


def preview_consent(db: Session, session: AssessmentSession, user: User, *, kind: str, accept: bool) -> TrialRun | None:
    """The candidate read a consent text in the trial (a preview: nothing is consented, the session's consent stays as
    it was). Declining ends the rehearsal here and writes nothing."""
    require_candidate(user, session)
    require_open(session)
    if not accept:
        return None
    run = _open_run(db, session, user)
    run.consent_previewed_at = utcnow()
    db.commit()
    return run


def start(db: Session, session: AssessmentSession, user: User) -> TrialRun:
    run = _open_run(db, session, user)
    run.measurements = {}  # a restarted run measures again from the start
    run.profile = tuk.profile_for(db, session).model_dump()
    db.commit()
    return run


def get(db: Session, session: AssessmentSession, user: User, run_id: int, *, finished_ok: bool = False) -> TrialRun:
    """The candidate's own trial run of this session (404 otherwise, also for another candidate's run)."""
    require_candidate(user, session)
    run = db.get(TrialRun, run_id)
    if run is None or run.session_id != session.id or run.candidate_id != user.id:
        raise NotFound("Uji coba tidak ditemukan.")
    if run.finished_at is not None and not finished_ok:
        raise Conflict("Uji coba ini sudah selesai; mulai uji coba baru.")
    require_open(session)
    return run


def finish(db: Session, store: Any, session: AssessmentSession, run: TrialRun) -> TrialRun:
    """Judge the trial's measurements with the real check's rules (the media-test requirements left out) and keep the
    result on the trial; it goes to the trial's own evidence chain, never the session's."""
    profile = TukRequirementProfile.model_validate(run.profile)
    results = tuk.evaluate(profile, run.measurements or {}, skip=MEDIA_KEYS)
    now = utcnow()
    run.results = results
    run.passed = all(r["pass"] for r in results if r["mandatory"])
    run.finished_at = now
    db.flush()
    _ensure_chain(store, session, run)
    store.append(
        run.chain_id,
        CHECK_TYPE,
        json.dumps(
            {
                "trial_id": run.id,
                "profile": run.profile,
                "measurements": run.measurements,
                "results": results,
                "passed": run.passed,
                "not_judged": sorted(MEDIA_KEYS),
                "finished_at": now.isoformat(),
            },
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        ).encode(),
        metadata=live.entry_metadata({"trial_id": run.id, "passed": run.passed}),
        actor=("system", "trial"),
        candidate_id=str(session.candidate_id),
        commit_plaintext=True,
    )
    db.commit()
    return run


def _ensure_chain(store: Any, session: AssessmentSession, run: TrialRun) -> None:
    with store.log.locked() as st:
        exists = run.chain_id in st.heads
    if not exists:
        store.open_session(
            run.chain_id,
            {"trial": run.id, "session": session.public_id, "candidate": session.candidate_id},
            actor=live.SYSTEM,
        )


def played(db: Session, run: TrialRun, seconds: float) -> TrialRun:
    """The candidate's browser recorded the self-test and played it back to them to the end."""
    if not (MIN_SELFTEST_S <= seconds <= MAX_SELFTEST_S):
        raise ValidationFailed("Rekaman uji harus antara 1 dan 120 detik.", details={"seconds": "di luar rentang"})
    run.selftest_seconds = round(seconds, 3)
    run.selftest_played_at = utcnow()
    db.commit()
    return run


def send_recording(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    run: TrialRun,
    data: bytes,
    content_type: str | None,
) -> TrialRun:
    """The candidate chose to send the self-test recording to the LSP: evidence in the trial's own chain."""
    if run.selftest_object is not None:
        raise Conflict("Rekaman uji coba ini sudah dikirim.")
    if not data or len(data) > MAX_SELFTEST_BYTES:
        raise ValidationFailed("Rekaman kosong atau lebih dari 20 MB.", details={"recording": "ukuran"})
    if (content_type or "").split(";")[0].strip() != "video/webm" or not data.startswith(b"\x1a\x45\xdf\xa3"):
        raise ValidationFailed("Rekaman harus video/webm.", details={"recording": "jenis berkas tidak sesuai"})
    try:
        seconds = webm_seconds(data)
    except ValidationFailed as err:
        raise ValidationFailed(
            "Rekaman uji bukan video WebM yang dapat diputar.", details={"recording": "rusak"}
        ) from err
    if seconds < MIN_SELFTEST_S:
        raise ValidationFailed("Rekaman uji terlalu pendek.", details={"recording": "terlalu pendek"})
    _ensure_chain(store, session, run)
    receipt = store.append(
        run.chain_id,
        SELFTEST_TYPE,
        data,
        metadata=live.entry_metadata({"mime": "video/webm", "bytes": len(data), "duration_s": round(seconds, 3)}),
        actor=live.actor(user),
        candidate_id=str(session.candidate_id),
    )
    run.selftest_object, run.selftest_log_index = receipt.object_key, receipt.log_index
    db.commit()
    return run


# --- what the LSP sees ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One candidate of a schedule and their trial: done or not, with the newest finished run's result."""

    session: AssessmentSession
    runs: int
    passed: bool | None
    finished_at: datetime | None
    selftest_played: bool
    selftest_sent: bool

    @property
    def done(self) -> bool:
        return self.finished_at is not None


def overview(db: Session, schedule: Schedule) -> list[Row]:
    return [_row(db, s) for s in sorted(schedule.sessions, key=lambda s: s.candidate.full_name)]


def _row(db: Session, session: AssessmentSession) -> Row:
    runs = list(db.scalars(select(TrialRun).where(TrialRun.session_id == session.id).order_by(TrialRun.id)))
    done = [r for r in runs if r.finished_at is not None]
    last = done[-1] if done else None
    return Row(
        session=session,
        runs=len(runs),
        passed=last.passed if last else None,
        finished_at=last.finished_at if last else None,
        selftest_played=any(r.selftest_played_at is not None for r in runs),
        selftest_sent=any(r.selftest_object is not None for r in runs),
    )


@dataclass(frozen=True)
class Summary:
    """For the SOP dossier: how many candidates were offered a trial, how many ran one, how many passed."""

    candidates: int
    tried: int
    passed: int
    runs: int
    selftests_played: int
    selftests_sent: int

    @property
    def pass_rate(self) -> float | None:
        return None if not self.tried else self.passed / self.tried


def summary(db: Session, schedules: Iterable[int] | None = None) -> Summary:
    """Per candidate session: tried = has a finished run; passed = its newest finished run passed."""
    q = select(AssessmentSession.id)
    if schedules is not None:
        q = q.where(AssessmentSession.schedule_id.in_(list(schedules)))
    session_ids = list(db.scalars(q))
    runs = list(db.scalars(select(TrialRun).where(TrialRun.session_id.in_(session_ids)).order_by(TrialRun.id)))
    newest_done: dict[int, TrialRun] = {}
    for r in runs:
        if r.finished_at is not None:
            newest_done[r.session_id] = r
    return Summary(
        candidates=len(session_ids),
        tried=len(newest_done),
        passed=sum(1 for r in newest_done.values() if r.passed),
        runs=int(db.scalar(select(func.count(TrialRun.id)).where(TrialRun.session_id.in_(session_ids))) or 0),
        selftests_played=len({r.session_id for r in runs if r.selftest_played_at is not None}),
        selftests_sent=len({r.session_id for r in runs if r.selftest_object is not None}),
    )
