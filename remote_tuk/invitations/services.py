"""Invitations by e-mail (issue 19 #4): queue, render, send and retry; reminders once per session and start time.

Every mail is a row in the outbox (``models.OutboxMail``) first and is sent by ``send_due`` (``python -m remote_tuk
send-mail``), so a request never waits for the SMTP server and a server that is down only delays the mail. The body
is rendered when it is sent; a join link is made again from the link row's ``jti`` at that moment and exists nowhere
else (not in the outbox, not in a log line, not in an error). Services take the database session, the settings and
the clock as arguments, as everywhere in the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config import MailSettings, Settings
from remote_tuk.accounts import join_links
from remote_tuk.accounts.models import JoinLink, User
from remote_tuk.assessment.models import AssessmentSession, Schedule, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, ValidationFailed
from remote_tuk.invitations import calendar
from remote_tuk.invitations.models import MailKind, MailStatus, OutboxMail
from remote_tuk.invitations.schemas import RescheduleIn
from remote_tuk.invitations.smtp import DeliveryError, Transport
from remote_tuk.lsp.models import Lsp
from remote_tuk.lsp.services import get_lsp
from remote_tuk.views import Formatter, Zone

log = logging.getLogger(__name__)

JOIN_LINK_REVOKED = "join_link_revoked"
MAIL_QUEUED = "mail_queued"
audit.KIND_LABELS.setdefault(JOIN_LINK_REVOKED, "Tautan masuk dicabut")
audit.KIND_LABELS.setdefault(MAIL_QUEUED, "Surel dimasukkan ke antrean")

#: states in which a session still expects its candidate (mail about the others is cancelled, not sent)
OPEN_STATES = frozenset({SessionState.SCHEDULED, SessionState.CHECKING, SessionState.READY})
#: a sender holds a claimed row this long; a sender that died mid-send leaves it to the next one after that
CLAIM_LEASE = timedelta(minutes=5)
JOIN_PATH = "/gabung/{token}"
SESSION_PATH = "/sesi/{public_id}"
CHECK_PATH = "/sesi/{public_id}/pemeriksaan"
TRIAL_PATH = "/sesi/{public_id}/uji-coba"  # the trial before the day (remote_tuk/trial)

_templates = Environment(  # noqa: S701 - plain-text mail, nothing is HTML
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
)
SUBJECTS = {
    MailKind.JOIN_LINK: "Undangan uji kompetensi jarak jauh / Remote assessment invitation: {title}",
    MailKind.SCHEDULE_CHANGE: "Perubahan jadwal uji kompetensi / Assessment rescheduled: {title}",
    MailKind.REMINDER: "Pengingat uji kompetensi / Assessment reminder: {title}",
}


# --- queueing -------------------------------------------------------------------------------------------------------


def mail_address_of(user: User) -> str:
    """The candidate's address, checked (syntax only: no DNS look-up from a request). Raises ValidationFailed."""
    if not user.email:
        raise ValidationFailed(
            f"{user.full_name} belum punya alamat surel. Isi alamatnya di halaman Pengguna, atau salin tautan masuk "
            "dan kirim lewat saluran lain.",
            details={"email": "wajib diisi"},
        )
    try:
        return validate_email(user.email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationFailed(
            f"Alamat surel {user.full_name} tidak valid.", details={"email": "format tidak valid"}
        ) from None


def base_url_for(settings: Settings, request_root: str | None) -> str:
    """Where the links in a mail point: RTUK_MAIL_BASE_URL, RTUK_PUBLIC_ORIGIN, the admin's address, or host:port."""
    if settings.mail.base_url:
        return settings.mail.base_url
    if settings.public_origin:
        return settings.public_origin
    if request_root:
        return request_root.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def require_mail(settings: MailSettings) -> None:
    if not settings.enabled:
        raise Conflict(
            "Pengiriman surel belum dikonfigurasi (RTUK_MAIL_HOST). Salin tautan masuk dan kirim lewat saluran lain."
        )


def _queue(
    db: Session,
    session: AssessmentSession,
    kind: MailKind,
    *,
    to_address: str,
    base_url: str,
    now: datetime,
    actor_id: int | None,
    join_link_id: int | None = None,
    dedupe_key: str | None = None,
    params: dict[str, Any] | None = None,
) -> OutboxMail:
    mail = OutboxMail(
        kind=kind,
        session_id=session.id,
        schedule_id=session.schedule_id,
        candidate_id=session.candidate_id,
        to_address=to_address,
        join_link_id=join_link_id,
        dedupe_key=dedupe_key,
        params={"base_url": base_url, **(params or {})},
        status=MailStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_by_id=actor_id,
        created_at=now,
    )
    db.add(mail)
    db.flush()
    audit.record(db, MAIL_QUEUED, actor_id=actor_id, session_id=session.id, mail_id=mail.id, kind=kind.value, now=now)
    return mail


def _cancel(mail: OutboxMail, reason: str) -> None:
    mail.status, mail.next_attempt_at, mail.claimed_until, mail.last_error = MailStatus.CANCELLED, None, None, reason


def revoke_open_links(db: Session, session: AssessmentSession, *, actor: User, now: datetime) -> int:
    """End every unused, unexpired join link of the session (its expiry set to now) and cancel the mails that carry
    them. Returns how many links were revoked."""
    links = list(
        db.scalars(
            select(JoinLink).where(
                JoinLink.session_id == session.id, JoinLink.used_at.is_(None), JoinLink.expires_at > now
            )
        )
    )
    for link in links:
        link.expires_at = now
        audit.record(db, JOIN_LINK_REVOKED, actor_id=actor.id, session_id=session.id, link_id=link.id, now=now)
    pending = db.scalars(
        select(OutboxMail).where(
            OutboxMail.session_id == session.id,
            OutboxMail.kind == MailKind.JOIN_LINK,
            OutboxMail.status.in_([MailStatus.QUEUED, MailStatus.FAILED]),
        )
    )
    for mail in pending:
        _cancel(mail, "diganti tautan baru / replaced by a new link")
    return len(links)


@dataclass(frozen=True)
class Invitation:
    token: str
    expires_at: datetime
    mail: OutboxMail
    revoked: int


def invite(
    db: Session,
    session: AssessmentSession,
    *,
    actor: User,
    settings: Settings,
    request_root: str | None,
    now: datetime | None = None,
) -> Invitation:
    """Issue a fresh one-time join link for the session (every earlier unused one revoked) and queue the mail that
    carries it. The token is returned once, for the admin to copy (WhatsApp); it is not stored."""
    now = now or utcnow()
    require_mail(settings.mail)
    if session.state not in OPEN_STATES:
        raise Conflict(f"Sesi berstatus {session.state_label}: tidak ada lagi yang perlu diundang.")
    to_address = mail_address_of(session.candidate)
    revoked = revoke_open_links(db, session, actor=actor, now=now)
    issued = join_links.issue(  # commits the revocations with the new link
        db,
        settings.secret_key,
        session_id=session.id,
        candidate_id=session.candidate_id,
        created_by=actor,
        ttl=timedelta(hours=settings.join_link_ttl_hours),
    )
    mail = _queue(
        db,
        session,
        MailKind.JOIN_LINK,
        to_address=to_address,
        base_url=base_url_for(settings, request_root),
        now=now,
        actor_id=actor.id,
        join_link_id=issued.link_id,
        params={"sequence": _sequence(db, session.id)},
    )
    db.commit()
    return Invitation(token=issued.token, expires_at=issued.expires_at, mail=mail, revoked=revoked)


def _sequence(db: Session, session_id: int) -> int:
    """The calendar SEQUENCE: how often the session's schedule has changed (each change mail raises it by one)."""
    changes = db.scalars(
        select(OutboxMail.params).where(
            OutboxMail.session_id == session_id, OutboxMail.kind == MailKind.SCHEDULE_CHANGE
        )
    )
    return max((int(p.get("sequence", 0)) for p in changes), default=0)


@dataclass
class RescheduleResult:
    queued: int = 0
    without_address: list[str] = field(default_factory=list)


def reschedule(
    db: Session,
    schedule: Schedule,
    data: RescheduleIn,
    *,
    actor: User,
    settings: Settings,
    request_root: str | None,
    now: datetime | None = None,
) -> RescheduleResult:
    """Move the schedule's window and queue a schedule-change mail (with an updated .ics) to each of its candidates
    whose session is still open. Reminders queued for the old start are cancelled; the new start gets its own."""
    now = now or utcnow()
    if data.starts_at == schedule.starts_at and data.ends_at == schedule.ends_at:
        raise ValidationFailed("Waktu jadwal tidak berubah.", details={"starts_at": "sama dengan sebelumnya"})
    if data.starts_at <= now:
        raise ValidationFailed("Waktu mulai baru harus di masa depan.", details={"starts_at": "sudah lewat"})
    if any(s.state not in OPEN_STATES | {SessionState.CANCELLED} for s in schedule.sessions):
        raise Conflict("Jadwal yang sesinya sudah berlangsung tidak dapat dipindahkan.")
    old_start, old_end = schedule.starts_at, schedule.ends_at
    schedule.starts_at, schedule.ends_at = data.starts_at, data.ends_at
    audit.record(
        db,
        audit.SCHEDULE_CHANGED,
        actor_id=actor.id,
        schedule_id=schedule.id,
        old_starts_at=old_start.isoformat(),
        starts_at=data.starts_at.isoformat(),
        ends_at=data.ends_at.isoformat(),
        now=now,
    )
    result = RescheduleResult()
    base_url = base_url_for(settings, request_root)
    for session in schedule.sessions:
        if session.state not in OPEN_STATES:
            continue
        for mail in db.scalars(
            select(OutboxMail).where(OutboxMail.session_id == session.id, OutboxMail.kind == MailKind.REMINDER)
        ):
            if mail.status in (MailStatus.QUEUED, MailStatus.FAILED):
                _cancel(mail, "jadwal diubah / schedule changed")
            mail.dedupe_key = None  # the row stays as a record; a move back to this start is reminded afresh
        if not settings.mail.enabled:
            continue
        try:
            to_address = mail_address_of(session.candidate)
        except ValidationFailed:
            result.without_address.append(session.candidate.full_name)
            continue
        _queue(
            db,
            session,
            MailKind.SCHEDULE_CHANGE,
            to_address=to_address,
            base_url=base_url,
            now=now,
            actor_id=actor.id,
            params={
                "old_starts_at": old_start.isoformat(),
                "old_ends_at": old_end.isoformat(),
                "sequence": _sequence(db, session.id) + 1,
            },
        )
        result.queued += 1
    db.commit()
    return result


def reminder_key(hours: int, session: AssessmentSession) -> str:
    start = session.schedule.starts_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"reminder:{hours}h:{session.id}:{start}"


def queue_due_reminders(db: Session, settings: Settings, *, now: datetime | None = None) -> int:
    """Queue the reminders now due: for each open session starting within the largest reminder window, the one for
    the smallest window already entered (a session scheduled 3 hours ahead gets the 1-hour reminder only, not a late
    24-hour one as well). Each (window, session, start time) is queued once, ever: the dedupe key is unique, so two
    senders running this at once queue it once too."""
    now = now or utcnow()
    if not settings.mail.enabled or not settings.mail.reminder_hours:
        return 0
    horizon = now + timedelta(hours=max(settings.mail.reminder_hours))
    sessions = db.scalars(
        select(AssessmentSession)
        .join(Schedule, AssessmentSession.schedule_id == Schedule.id)
        .where(
            AssessmentSession.state.in_(list(OPEN_STATES)),
            Schedule.starts_at > now,
            Schedule.starts_at <= horizon,
        )
        .order_by(AssessmentSession.id)
    ).all()
    queued = 0
    base_url = base_url_for(settings, None)
    for session in sessions:
        until_start = session.schedule.starts_at - now
        entered = [h for h in settings.mail.reminder_hours if until_start <= timedelta(hours=h)]
        if not entered:
            continue
        hours = min(entered)
        key = reminder_key(hours, session)
        if db.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == key)) is not None:
            continue
        try:
            to_address = mail_address_of(session.candidate)
        except ValidationFailed:
            continue  # nobody to remind by mail; the admin's outbox page shows the missing address
        try:
            with db.begin_nested():
                _queue(
                    db,
                    session,
                    MailKind.REMINDER,
                    to_address=to_address,
                    base_url=base_url,
                    now=now,
                    actor_id=None,
                    dedupe_key=key,
                    params={"hours": hours, "starts_at": session.schedule.starts_at.isoformat()},
                )
        except IntegrityError:
            continue  # another sender queued it between our look and our insert
        queued += 1
    db.commit()
    return queued


# --- rendering ------------------------------------------------------------------------------------------------------


def _lsp_facts(lsp: Lsp | None) -> dict[str, Any]:
    name = lsp.name if lsp else "LSP"
    contact = " · ".join(x for x in ((lsp.email, lsp.phone) if lsp else ()) if x)
    return {"lsp_name": name, "lsp_contact": contact}


def render_mail(
    db: Session,
    mail: OutboxMail,
    *,
    settings: Settings,
    now: datetime,
) -> EmailMessage | str:
    """The message for an outbox row, or the reason it must not be sent any more (a string)."""
    session = mail.session
    schedule = session.schedule
    if session.state not in OPEN_STATES:
        return f"sesi berstatus {session.state.value} / session is {session.state.value}"
    if schedule.ends_at <= now:
        return "jadwal sudah selesai / the schedule is over"
    if mail.kind is MailKind.REMINDER and schedule.starts_at <= now:
        return "jadwal sudah dimulai / the schedule has started"
    lsp = get_lsp(db)
    zone = Zone.named(lsp.time_zone if lsp else None)
    fmt_id, fmt_en = Formatter("id", zone), Formatter("en", zone)
    base = str(mail.params.get("base_url", "")).rstrip("/")
    ctx: dict[str, Any] = {
        **_lsp_facts(lsp),
        "candidate_name": session.candidate.full_name,
        "schedule_title": schedule.title,
        "scheme": f"{schedule.scheme.code} – {schedule.scheme.title}",
        "start_id": fmt_id.datetime(schedule.starts_at),
        "end_id": fmt_id.datetime(schedule.ends_at),
        "start_en": fmt_en.datetime(schedule.starts_at),
        "end_en": fmt_en.datetime(schedule.ends_at),
        "session_url": base + SESSION_PATH.format(public_id=session.public_id),
        "check_url": base + CHECK_PATH.format(public_id=session.public_id),
        "trial_url": base + TRIAL_PATH.format(public_id=session.public_id),
    }
    if mail.kind is MailKind.JOIN_LINK:
        link = db.get(JoinLink, mail.join_link_id) if mail.join_link_id else None
        if link is None or link.used_at is not None:
            return "tautan sudah dipakai atau dihapus / the link was used or removed"
        if link.expires_at <= now:
            return "tautan kedaluwarsa atau dicabut / the link expired or was revoked"
        token = join_links.token_for(settings.secret_key, link.jti, link.session_id)
        ctx |= {
            "join_url": base + JOIN_PATH.format(token=token),
            "expires_id": fmt_id.datetime(link.expires_at),
            "expires_en": fmt_en.datetime(link.expires_at),
        }
    elif mail.kind is MailKind.SCHEDULE_CHANGE:
        old_start = datetime.fromisoformat(mail.params["old_starts_at"])
        old_end = datetime.fromisoformat(mail.params["old_ends_at"])
        ctx |= {
            "old_start_id": fmt_id.datetime(old_start),
            "old_end_id": fmt_id.datetime(old_end),
            "old_start_en": fmt_en.datetime(old_start),
            "old_end_en": fmt_en.datetime(old_end),
        }
    else:
        if mail.params.get("starts_at") != schedule.starts_at.isoformat():
            return "jadwal diubah / schedule changed"
        ctx["hours"] = int(mail.params["hours"])
    body = _templates.get_template(f"{mail.kind.value}.txt").render(ctx)

    s = settings.mail
    message = EmailMessage()
    message["Subject"] = SUBJECTS[mail.kind].format(title=schedule.title)
    message["From"] = formataddr((s.from_name, s.from_address))
    message["To"] = formataddr((session.candidate.full_name, mail.to_address))
    message["Date"] = format_datetime(now.astimezone(UTC))
    domain = s.from_address.rsplit("@", 1)[-1] if "@" in s.from_address else None
    message["Message-ID"] = make_msgid(f"rtuk-{mail.id}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "id, en"
    message.set_content(body, charset="utf-8")
    event = calendar.CalendarEvent(
        uid=f"rtuk-{session.public_id}@{(lsp.domain if lsp and lsp.domain else 'remote-tuk.invalid')}",
        sequence=int(mail.params.get("sequence", 0)),
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
        summary=f"Uji kompetensi / Assessment: {schedule.title}",
        description=(
            f"{ctx['lsp_name']}: uji kompetensi jarak jauh, skema {ctx['scheme']}.\n"
            f"Remote competency assessment, scheme {ctx['scheme']}.\n{ctx['session_url']}"
        ),
        url=ctx["session_url"],
        location="Daring (TUK jarak jauh) / Online (remote TUK)",
        time_zone=zone.iana,
        organizer_name=ctx["lsp_name"],
        organizer_email=(lsp.email if lsp and lsp.email else ""),
    )
    message.add_attachment(
        calendar.render(event, now=now),
        subtype="calendar",
        charset="utf-8",
        filename="asesmen.ics",
        params={"method": "PUBLISH"},
    )
    return message


# --- sending --------------------------------------------------------------------------------------------------------


def retry_delay(attempts: int, settings: MailSettings) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base, ... capped at ``retry_max_s``."""
    return timedelta(seconds=min(settings.retry_base_s * 2 ** max(attempts - 1, 0), settings.retry_max_s))


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0

    def __str__(self) -> str:
        return f"terkirim {self.sent}, gagal {self.failed}, dibatalkan {self.cancelled}"


def _claim(db: Session, mail_id: int, now: datetime) -> bool:
    claimed = db.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            OutboxMail.status.in_([MailStatus.QUEUED, MailStatus.FAILED]),
            OutboxMail.next_attempt_at.is_not(None),
            OutboxMail.next_attempt_at <= now,
            (OutboxMail.claimed_until.is_(None)) | (OutboxMail.claimed_until <= now),
        )
        .values(claimed_until=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def send_due(
    db: Session,
    settings: Settings,
    transport: Transport,
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> SendReport:
    """Send every mail whose time has come (new ones and failed ones due for a retry), each claimed first so that two
    senders never send the same row. A failure keeps the row with its error and the time of the next attempt."""
    now = now or utcnow()
    report = SendReport()
    due = db.scalars(
        select(OutboxMail.id)
        .where(
            OutboxMail.status.in_([MailStatus.QUEUED, MailStatus.FAILED]),
            OutboxMail.next_attempt_at.is_not(None),
            OutboxMail.next_attempt_at <= now,
        )
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    ).all()
    for mail_id in due:
        if not _claim(db, mail_id, now):
            continue
        mail = db.get(OutboxMail, mail_id)
        assert mail is not None
        db.refresh(mail)
        try:
            message = render_mail(db, mail, settings=settings, now=now)
        except Exception as err:  # noqa: BLE001 - e.g. a line break in a name refused in a header: this mail only
            db.rollback()
            mail.status, mail.next_attempt_at, mail.claimed_until = MailStatus.FAILED, None, None
            reason = f"{type(err).__name__}: {err}"
            mail.last_error = f"pesan tidak dapat disusun / message could not be built: {reason}"[:1000]
            db.commit()
            report.failed += 1
            log.warning("mail %s could not be built", mail.id)
            continue
        if isinstance(message, str):
            _cancel(mail, message)
            db.commit()
            report.cancelled += 1
            log.info("mail %s cancelled", mail.id)
            continue
        mail.attempts += 1
        try:
            try:
                transport.send(message)
            except DeliveryError:
                raise
            except Exception as err:  # anything else the transport raised: retried like a 4xx
                raise DeliveryError(f"{type(err).__name__}: {err}"[:1000]) from err
        except DeliveryError as err:
            give_up = err.permanent or mail.attempts >= settings.mail.max_attempts
            mail.status = MailStatus.FAILED
            mail.last_error = str(err)
            mail.next_attempt_at = None if give_up else now + retry_delay(mail.attempts, settings.mail)
            mail.claimed_until = None
            db.commit()
            report.failed += 1
            log.warning("mail %s attempt %s failed%s", mail.id, mail.attempts, " (given up)" if give_up else "")
            continue
        mail.status, mail.sent_at, mail.next_attempt_at, mail.claimed_until = MailStatus.SENT, now, None, None
        mail.message_id = message["Message-ID"]
        db.commit()
        report.sent += 1
        log.info("mail %s sent", mail.id)
    return report


def retry_now(db: Session, mail: OutboxMail, *, now: datetime | None = None) -> None:
    """The admin asks for another attempt of a failed mail now (attempts are not reset: the limit still holds
    for the automatic retries that follow)."""
    if mail.status is not MailStatus.FAILED:
        raise Conflict("Hanya surel yang gagal yang dapat dicoba lagi.")
    mail.next_attempt_at = now or utcnow()
    db.commit()


def forget_candidate(db: Session, candidate_id: int) -> None:
    """Erasure of a candidate (docs/PRIVACY.md): their addresses leave the outbox and nothing more is sent to them."""
    for mail in db.scalars(select(OutboxMail).where(OutboxMail.candidate_id == candidate_id)):
        mail.to_address = "[dihapus]"
        if mail.status in (MailStatus.QUEUED, MailStatus.FAILED):
            _cancel(mail, "data asesi dihapus / candidate erased")


def outbox_of_schedule(db: Session, schedule_id: int) -> list[OutboxMail]:
    return list(
        db.scalars(
            select(OutboxMail).where(OutboxMail.schedule_id == schedule_id).order_by(OutboxMail.id.desc())
        )
    )
