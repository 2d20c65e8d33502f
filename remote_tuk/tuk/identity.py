"""The candidate's KTP photo and room scan, and the assessor's confirmations of identity and room.

Both media are evidence (encrypted, in the session's chain); viewing them decrypts them through the evidence store,
which logs every read. The room is confirmed only by an assessor who played the scan: serving it hands out a view
token signed with the time it was served and the recording's length, and the confirmation is refused unless it
carries a token of this assessor, for the scan now on record, at least that length old (docs/TUK-CHECK.md).
A confirmation is decided in the database (a conditional update: the object it confirms, not yet confirmed) before
anything reaches the evidence log, so a repeated or concurrent confirmation writes one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.live import webm
from remote_tuk.tuk import states
from remote_tuk.tuk.models import IdentityCheck
from remote_tuk.tuk.services import require_consent

KTP = "identity.ktp_snapshot"
ROOM = "identity.room_scan"
CONFIRMATION = "identity.confirmation"
_MAGIC = {
    "ktp": (b"\xff\xd8\xff", "image/jpeg", 3 * 1024 * 1024),
    "room": (b"\x1a\x45\xdf\xa3", "video/webm", 40 * 1024 * 1024),
}
#: a room scan shorter than this shows nothing of the room
MIN_ROOM_S = 1.0
#: a view token is good for a day; it must be at least the recording's length old, less this slack
VIEW_MAX_AGE_S = 24 * 3600
VIEW_SLACK_S = 0.5


class RoomNotViewed(Conflict):
    code = "room_not_viewed"


def find(db: Session, session: AssessmentSession) -> IdentityCheck | None:
    """The session's identity row, if anything was ever sent (read only: never creates it)."""
    return db.scalar(select(IdentityCheck).where(IdentityCheck.session_id == session.id))


def webm_seconds(data: bytes) -> float:
    """The length of a MediaRecorder WebM (it has no duration field): its packets, copied without decoding."""
    try:
        webm.check_webm_start(data)
        joined = webm.join_runs([webm.Run(0.0, data, [(0, 0)])])
    except (webm.NotWebM, webm.JoinFailed) as err:
        raise ValidationFailed(
            "Rekaman ruangan bukan video WebM yang dapat diputar.", details={"room": "tidak dapat diputar"}
        ) from err
    if joined.failed_runs:  # the demuxer stopped part-way: what was sent is not wholly playable
        raise ValidationFailed(
            "Rekaman ruangan rusak di tengah dan tidak dapat diputar utuh.", details={"room": "rusak"}
        )
    return joined.duration_s


def store_media(
    db: Session, store: Any, session: AssessmentSession, user: User, what: str, data: bytes, content_type: str | None
) -> IdentityCheck:
    if live.participant(user, session).role != "candidate":
        raise Forbidden("Foto KTP dan rekaman ruangan dikirim oleh asesi sesi ini.")
    require_consent(db, session)
    states.require("identity_upload", "candidate", session.state)
    magic, mime, limit = _MAGIC[what]
    if not data or len(data) > limit:
        raise ValidationFailed(f"Berkas kosong atau lebih dari {limit // (1024 * 1024)} MB.", details={what: "ukuran"})
    if (content_type or "").split(";")[0].strip() != mime or not data.startswith(magic):
        raise ValidationFailed(f"Berkas harus {mime}.", details={what: "jenis berkas tidak sesuai"})
    metadata: dict[str, Any] = {"mime": mime, "bytes": len(data)}
    if what == "room":
        seconds = webm_seconds(data)
        if seconds < MIN_ROOM_S:
            raise ValidationFailed("Rekaman ruangan terlalu pendek.", details={"room": "terlalu pendek"})
        metadata["duration_s"] = round(seconds, 3)
    live.ensure_evidence(store, session)
    receipt = store.append(
        session.public_id,
        KTP if what == "ktp" else ROOM,
        data,
        metadata=live.entry_metadata(metadata),
        actor=live.actor(user),
        candidate_id=str(session.candidate_id),
    )
    row = find(db, session)
    if row is None:
        row = IdentityCheck(session_id=session.id)
        db.add(row)
    if what == "ktp":
        row.ktp_object, row.ktp_at = receipt.object_key, utcnow()
        row.id_confirmed_by = row.id_confirmed_at = None  # a new snapshot needs a new confirmation
    else:
        row.room_object, row.room_at = receipt.object_key, utcnow()
        row.room_confirmed_by = row.room_confirmed_at = None
    db.commit()
    return row


# --- viewing the room scan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomView:
    data: bytes
    seconds: float
    token: str


def _views(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="tuk-room-view")


def read_room(
    db: Session, store: Any, session: AssessmentSession, user: User, *, secret: str, clock: Callable[[], float]
) -> RoomView:
    """The room scan decrypted from the evidence store (the read is logged there) and a view token for *user*."""
    row = find(db, session)
    if row is None or row.room_object is None:
        raise ValidationFailed("Belum ada rekaman ruangan.")
    data = store.read(row.room_object, live.actor(user))
    seconds = webm_seconds(data)
    token = _views(secret).dumps(
        {"s": session.public_id, "o": row.room_object, "u": user.id, "t": clock(), "d": round(seconds, 3)}
    )
    return RoomView(data=data, seconds=seconds, token=token)


def _check_view(
    token: str | None, session: AssessmentSession, user: User, room_object: str, *, secret: str, now: float
) -> dict[str, Any]:
    if not token:
        raise RoomNotViewed("Putar rekaman ruangan sampai selesai sebelum mengonfirmasi ruangan.")
    try:
        view = _views(secret).loads(token, max_age=VIEW_MAX_AGE_S)
    except BadSignature as err:
        raise RoomNotViewed("Tanda putar rekaman ruangan tidak valid; putar ulang rekamannya.") from err
    if not isinstance(view, dict) or (view.get("s"), view.get("u")) != (session.public_id, user.id):
        raise RoomNotViewed("Tanda putar rekaman ruangan bukan milik Anda pada sesi ini.")
    if view.get("o") != room_object:
        raise RoomNotViewed("Asesi mengirim rekaman ruangan baru; putar rekaman terbaru sampai selesai.")
    watched = now - float(view["t"])
    if watched + VIEW_SLACK_S < float(view["d"]):
        raise RoomNotViewed(
            "Rekaman ruangan belum diputar sampai selesai.",
            details={"duration_s": view["d"], "since_served_s": round(watched, 1)},
        )
    return {"served_at": view["t"], "duration_s": view["d"]}


# --- confirmations ------------------------------------------------------------------------------------------------


def confirm(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    what: str,
    note: str,
    *,
    view: str | None,
    secret: str,
    clock: Callable[[], float],
) -> bool:
    """Record the assessor's confirmation of the ID (``id``) or the room (``room``); False when this very object was
    already confirmed (nothing new is written)."""
    if live.participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang mengonfirmasi identitas dan ruangan.")
    states.require("confirm", "assessor", session.state)
    row = find(db, session)
    obj = None if row is None else (row.ktp_object if what == "id" else row.room_object)
    if row is None or obj is None:
        raise Conflict("Asesi belum mengirim foto KTP atau rekaman ruangan.")
    col_object = IdentityCheck.ktp_object if what == "id" else IdentityCheck.room_object
    col_at = IdentityCheck.id_confirmed_at if what == "id" else IdentityCheck.room_confirmed_at
    if (row.id_confirmed_at if what == "id" else row.room_confirmed_at) is not None:
        return False
    viewed = _check_view(view, session, user, obj, secret=secret, now=clock()) if what == "room" else None
    now = utcnow()
    values = (
        {"id_confirmed_by": user.id, "id_confirmed_at": now, "id_note": note}
        if what == "id"
        else {"room_confirmed_by": user.id, "room_confirmed_at": now, "room_note": note}
    )
    # the claim: only one confirmation of this object wins; the evidence is written only by the winner
    claimed = db.execute(
        update(IdentityCheck)
        .where(IdentityCheck.id == row.id, col_object == obj, col_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.rollback()
        db.refresh(row)
        if (row.ktp_object if what == "id" else row.room_object) == obj:
            return False  # someone confirmed the same object a moment ago
        raise Conflict("Asesi baru saja mengirim berkas baru; tinjau ulang sebelum mengonfirmasi.")
    doc = {"what": what, "confirmed": True, "note": note, "by": user.id, "at": now.isoformat(), "object": obj}
    if viewed is not None:
        doc["viewed"] = viewed
    live.append_document(store, session, CONFIRMATION, doc, metadata={"what": what}, by=user)
    db.commit()
    return True
