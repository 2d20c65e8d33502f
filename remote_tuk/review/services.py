"""The review room of a session that has ended (issue 15 #1): who may open it, the joined recording served in byte
ranges straight from the encrypted evidence store, and one timeline of everything that has a media time (KUK marks
with their versions, chat, session events and proctoring findings with their labels, pauses, downtime, identity
checks). Read-only: nothing here changes the session or its evidence, except the read entries that log a viewing.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.live.clock import clock_at, live_intervals
from remote_tuk.live.models import ChatMessage, Downtime, SessionRecording
from remote_tuk.live.scoring import decisions, marks
from remote_tuk.lsp.models import Kuk
from remote_tuk.records import kinds
from remote_tuk.tuk.models import IdentityCheck

S = SessionState
#: who may open a review room (the candidate and strangers get the same 404 as an unknown session)
REVIEWERS = frozenset({Role.LSP_ADMIN, Role.ASSESSOR, Role.AUDITOR})
REVIEWABLE = frozenset({S.ENDED, S.DECIDED})
SOURCES = ("browser", "server")
#: the most one range response carries; the player asks again for the rest
MAX_RANGE_BYTES = 4 << 20
#: evidence lanes drawn from the database instead (with versions and texts) or not moments of the session
_SKIPPED_LANES = frozenset({"recording_browser", "recording_server", "assessment", "chat", "log", "instruments"})
#: timeline kinds, in the order the filters show them
KINDS = ("mark", "finding", "event", "chat", "pause", "downtime", "identity", "speech", "other")


class NotReviewable(Conflict):
    code = "not_reviewable"


def session_for_review(db: Session, user: User, public_id: str) -> AssessmentSession:
    """The session if *user* may review it (its assessor, an LSP admin, an auditor granted its schedule, the reviewer
    of an appeal against it, the schedule's assigned process reviewer) and it has ended; anyone else gets the 404 of
    a session that does not exist."""
    if user.role not in REVIEWERS:
        raise NotFound("Sesi tidak ditemukan.")
    from remote_tuk.appeals.services import is_reviewer  # appeals build on the review room
    from remote_tuk.review.process import is_process_reviewer

    session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id)) \
        if _PUBLIC_ID.fullmatch(public_id) else None
    if session is None or not (assessment.can_view_session(db, user, session) or is_reviewer(db, user, session)
                               or is_process_reviewer(db, user, session.schedule)):
        raise NotFound("Sesi tidak ditemukan.")
    if session.state not in REVIEWABLE:
        raise NotReviewable("Ruang tinjauan tersedia setelah sesi selesai.")
    return session


def recording(db: Session, session: AssessmentSession, source: str) -> SessionRecording | None:
    """The latest joined recording of *source* (``browser`` or ``server``), or None."""
    if source not in SOURCES:
        raise NotFound("Rekaman tidak ditemukan.")
    return db.scalar(
        select(SessionRecording)
        .where(SessionRecording.session_id == session.id, SessionRecording.source == source,
               SessionRecording.object_key.is_not(None))
        .order_by(SessionRecording.version.desc())
        .limit(1)
    )


# --- byte ranges ------------------------------------------------------------------------------------------------

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` from one ``Range: bytes=a-b`` (None: the whole object was asked for), at most
    :data:`MAX_RANGE_BYTES`. Several ranges, or one outside the object, are refused (416)."""
    if header is None:
        return None
    m = _RANGE_RE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable("Rentang tidak dapat dilayani.")
    first, last = m.group(1), m.group(2)
    if not first:  # the last n bytes
        start, stop = max(size - int(last), 0), size
    else:
        start = int(first)
        stop = size if not last else min(int(last) + 1, size)
    if start >= size or stop <= start:
        raise RangeNotSatisfiable("Rentang tidak dapat dilayani.")
    return start, min(stop, start + MAX_RANGE_BYTES)


class RangeNotSatisfiable(ValidationFailed):
    status = 416
    code = "range_not_satisfiable"


# --- the timeline -------------------------------------------------------------------------------------------------


@dataclass
class Item:
    kind: str
    media_s: float
    label: str
    detail: str = ""
    at: datetime | None = None
    end_s: float | None = None
    code: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _entry_time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["server_time"].replace("Z", "+00:00"))


def _entry_kind(entry: dict[str, Any], lane: str) -> str | None:
    type_ = entry.get("type") or ""
    if type_.startswith("identity."):
        return "identity"
    if lane in _SKIPPED_LANES or entry.get("kind") != "item":
        return None
    if lane == "pre_session":
        return None
    if lane == "findings":
        return "finding"
    if lane == "events":
        return "event"
    if type_.startswith("speech"):
        return "speech"
    return "other"


def timeline(db: Session, store: Any, session: AssessmentSession, fmt: kinds.NumberFormat) -> list[Item]:
    """Everything with a media time, in media-time order. KUK marks carry their own media time (and every version
    is shown); chat, events and findings are placed by the server time they were logged at on the session clock."""
    items: list[Item] = []
    _current, history = marks(db, session)
    kuks = {k.id: k for k in db.scalars(select(Kuk).where(Kuk.id.in_({m.kuk_id for m in history})))} if history \
        else {}
    latest = {m.kuk_id: m.version for m in _current}
    for m in history:
        k = kuks.get(m.kuk_id)
        items.append(Item(
            "mark", m.media_s, f"KUK {k.number if k else m.kuk_id} · {m.verdict.value}", m.note or "", m.at,
            code="assessment.kuk_mark",
            data={"kuk_id": m.kuk_id, "version": m.version, "verdict": m.verdict.value,
                  "current": latest.get(m.kuk_id) == m.version, "log_index": m.log_index,
                  "kuk_text": k.text if k else ""}))
    for c in db.scalars(select(ChatMessage).where(ChatMessage.session_id == session.id).order_by(ChatMessage.id)):
        items.append(Item("chat", clock_at(session, c.at), c.sender.full_name, c.text, c.at, code="session.chat",
                          data={"role": c.role}))
    intervals = live_intervals(session)
    for (_s0, e0), (s1, _e1) in itertools.pairwise(intervals):
        if e0 is not None:
            items.append(Item("pause", clock_at(session, e0), "", "", e0, code="state.paused",
                              data={"seconds": round((s1 - e0).total_seconds(), 1)}))
    for d in db.scalars(select(Downtime).where(Downtime.session_id == session.id).order_by(Downtime.id)):
        begin = clock_at(session, d.started_at)
        end = clock_at(session, d.ended_at) if d.ended_at is not None else None
        items.append(Item("downtime", begin, "", "", d.started_at, end_s=end, code="media.stalled",
                          data={"seconds": d.seconds}))
    for e in store.list_entries(session.public_id, include_related=False):
        described = kinds.describe(e, fmt)
        kind = _entry_kind(e, described.lane)
        if kind is None:
            continue
        mr = e.get("media_range") or {}
        at = _entry_time(e)
        media_s = mr["start_ms"] / 1000 if "start_ms" in mr else clock_at(session, at)
        end_s = mr["end_ms"] / 1000 if "end_ms" in mr else None
        items.append(Item(kind, media_s, described.label, described.detail, at, end_s=end_s, code=described.code,
                          data={"log_index": e["log_index"]}))
    items.sort(key=lambda i: (i.media_s, i.at.timestamp() if i.at is not None else 0.0))
    return items


def identity_objects(db: Session, session: AssessmentSession) -> dict[str, str]:
    """The KTP snapshot and the room scan (object keys) the candidate gave before the session."""
    check = db.scalar(select(IdentityCheck).where(IdentityCheck.session_id == session.id))
    out = {}
    if check is not None:
        if check.ktp_object:
            out["ktp"] = check.ktp_object
        if check.room_object:
            out["room"] = check.room_object
    return out


def current_decisions(db: Session, session: AssessmentSession) -> list[dict[str, Any]]:
    units = {u.id: u for u in session.schedule.scheme.units}
    out = []
    for unit_id, d in sorted(decisions(db, session).items()):
        u = units.get(unit_id)
        out.append({"code": u.code if u else str(unit_id), "title": u.title if u else "", "verdict": d.verdict.value,
                    "reason": d.reason, "version": d.version, "at": d.at})
    return out


def media_clock(seconds: float) -> str:
    """A media time as a player shows it: ``m:ss`` or ``h:mm:ss``."""
    total = max(int(seconds), 0)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def browser_holes(store: Any, session: AssessmentSession, rec: SessionRecording, *,
                  min_s: float = 0.5) -> list[list[float]]:
    """Where on the session clock the joined browser recording has no picture: before its first recorder run, between
    runs (a page reload, a recorder restart) and inside a run where chunks are missing (``holes_ms``: the join saw no
    video frame there), from the runs its join logged (``metadata.runs``). The player takes the server's copy there.
    A join made before ``holes_ms`` existed has no inner holes listed."""
    entry = next((e for e in store.list_entries(session.public_id, include_related=False)
                  if e.get("log_index") == rec.log_index), None)
    runs = (entry or {}).get("metadata", {}).get("runs") or []
    placed = sorted((int(r["placed_ms"]) / 1000, int(r["end_ms"]) / 1000) for r in runs
                    if isinstance(r, dict) and r.get("packets") and "placed_ms" in r and "end_ms" in r)
    holes, reached = [], 0.0
    for start, end in placed:
        if start - reached >= min_s:
            holes.append([round(reached, 3), round(start, 3)])
        reached = max(reached, end)
    for r in runs:
        for hole in (r.get("holes_ms") or []) if isinstance(r, dict) else []:
            if isinstance(hole, list) and len(hole) == 2 and all(isinstance(x, int) for x in hole) \
                    and (hole[1] - hole[0]) / 1000 >= min_s:
                holes.append([round(hole[0] / 1000, 3), round(hole[1] / 1000, 3)])
    return sorted(holes)
