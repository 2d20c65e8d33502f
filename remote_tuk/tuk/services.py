"""The remote TUK check: the profile in force, consent, measured requirements, overrides and the gate
(the KTP photo, the room scan and their confirmations are in ``identity.py``).

Values the server can measure (bandwidth, camera, light, face, frame rate, RTT, jitter, loss) are only ever taken from
the server's own measurement; a page can report only what only a browser can know, and those are marked as such.
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config import DEFAULT_TUK_PROFILE, TukRequirementProfile
from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.consent.services import ConsentRequired, consents_given, gate_missing, require_consent
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.tuk import states, texts
from remote_tuk.tuk.bandwidth import UploadResult
from remote_tuk.tuk.models import (
    IdentityCheck,
    RequirementProfileRecord,
    SchemeProfile,
    TukCheck,
    TukOverride,
)
from remote_tuk.tuk.schemas import BrowserValues

S = SessionState
__all__ = ["ConsentRequired", "consents_given", "require_consent"]  # re-exported from remote_tuk.consent

VIRTUAL_CAMERA = re.compile(
    r"\b(virtual|obs|manycam|snap ?camera|xsplit|droidcam|epoccam|iriun|ndi|camtwist|splitcam|youcam|e2esoft|"
    r"fake|dummy|v4l2loopback)\b",
    re.IGNORECASE,
)


class GateClosed(Conflict):
    code = "gate_closed"


# --- profiles -----------------------------------------------------------------------------------------------------


def profile_for(db: Session, session: AssessmentSession) -> TukRequirementProfile:
    own = db.scalar(
        select(RequirementProfileRecord)
        .join(SchemeProfile, SchemeProfile.profile_id == RequirementProfileRecord.id)
        .where(SchemeProfile.scheme_id == session.schedule.scheme_id)
    )
    if own is None:
        own = db.scalar(select(RequirementProfileRecord).where(RequirementProfileRecord.is_default.is_(True)))
    return TukRequirementProfile.model_validate(own.data) if own is not None else DEFAULT_TUK_PROFILE


def profile_for_page(profile: TukRequirementProfile) -> dict[str, Any]:
    data = profile.model_dump()
    for req in data["requirements"]:
        label, hint = texts.REQUIREMENTS.get(req["key"], (req["key"], ""))
        req["label"], req["hint"] = label, hint
    return data


# --- consent (remote_tuk.consent) -------------------------------------------------------------------------------


def _candidate_only(user: User, session: AssessmentSession) -> None:
    if live.participant(user, session).role != "candidate":
        raise Forbidden("Langkah ini dilakukan oleh asesi sesi ini.")


# --- checks -------------------------------------------------------------------------------------------------------


def start_check(db: Session, session: AssessmentSession, user: User, *, transition: Any) -> TukCheck:
    part = live.participant(user, session)
    if part.role == "witness":
        raise Forbidden("Peninjau tidak menjalankan pemeriksaan TUK.")
    if part.role == "candidate":
        require_consent(db, session)
    states.require("start", part.role, session.state)
    if part.role == "candidate" and session.state in (S.SCHEDULED, S.READY):
        transition(session, S.CHECKING, user)  # a new check of the candidate reopens the check
    check = TukCheck(
        session_id=session.id,
        user_id=user.id,
        role=part.role,
        profile=profile_for(db, session).model_dump(),
        measurements={},
    )
    db.add(check)
    db.commit()
    return check


def get_check(db: Session, session: AssessmentSession, user: User, check_id: int) -> TukCheck:
    """The user's own unfinished check of this session, while the session state lets it be measured."""
    check = db.get(TukCheck, check_id)
    if check is None or check.session_id != session.id or check.user_id != user.id:
        raise NotFound("Pemeriksaan tidak ditemukan.")
    if check.finished_at is not None:
        raise Conflict("Pemeriksaan ini sudah selesai; mulai pemeriksaan baru.")
    states.require("measure", check.role, session.state)
    if check.role == "candidate":
        require_consent(db, session)  # a withdrawal stops the measurements of a check under way
    return check


def _measure(check: TukCheck, key: str, value: Any, source: str, **extra: Any) -> None:
    m = dict(check.measurements or {})
    m[key] = {"value": value, "source": source, "at": utcnow().isoformat(), **extra}
    check.measurements = m


def record_browser_values(db: Session, check: TukCheck, values: BrowserValues) -> list[str]:
    """Store what only the browser can know; returns the keys that were ignored (server-measured or unknown)."""
    known = values.known()
    for key, value in known.items():
        if key == "unmeasurable":
            for k in value:
                _measure(check, k, None, "browser", unmeasurable=True)
        elif key == "camera_labels":
            labels = [str(x)[:200] for x in value]
            virtual = [lb for lb in labels if VIRTUAL_CAMERA.search(lb)]
            _measure(check, "camera_not_virtual", {"labels": labels, "virtual": virtual}, "browser")
        elif key == "battery":
            _measure(check, key, {"level": float(value["level"]), "charging": value["charging"]}, "browser")
        elif key == "microphone_level":
            _measure(check, key, float(value), "browser")
        else:
            _measure(check, key, value, "browser")
    db.commit()
    return values.ignored()


def record_server_values(db: Session, check: TukCheck, values: dict[str, Any]) -> None:
    """Values the server measured itself outside the media step (the phone camera, the screen share)."""
    for key, value in values.items():
        _measure(check, key, value, "server")
    db.commit()


def record_upload(db: Session, check: TukCheck, result: UploadResult) -> float:
    _measure(check, "upload_bandwidth", round(result.kbps, 1), "server", detail=result.detail())
    db.commit()
    return result.kbps


def record_download(db: Session, check: TukCheck, kbps: float) -> float:
    _measure(check, "download_bandwidth", round(kbps, 1), "server")
    db.commit()
    return kbps


def record_media(
    db: Session,
    check: TukCheck,
    *,
    stats: dict[str, Any] | None,
    camera: Any | None,
    rtts_ms: list[float],
    viewer_id: str | None = None,
    probes_sent: int = 0,
) -> dict[str, Any]:
    """What the server saw: engine statistics, analysed frames, socket round trips. The candidate's check reads the
    candidate's incoming media; an assessor's own check (*viewer_id*) reads what the server sends to that assessor."""
    out: dict[str, Any] = {}
    if viewer_id is not None:
        viewer = ((stats or {}).get("viewers") or {}).get(viewer_id) or {}
        sent = viewer.get("video") or {}
        if sent.get("fraction_lost") is not None:
            out["packet_loss"] = round(100 * float(sent["fraction_lost"]), 2)
        elif probes_sent:
            # no candidate video to this assessor yet: the lost share of the server's probes
            out["packet_loss"] = round(100 * (probes_sent - len(rtts_ms)) / probes_sent, 2)
        if sent.get("rtt_s") is not None and not rtts_ms:
            out["round_trip_time"] = round(1000 * float(sent["rtt_s"]), 1)
        if rtts_ms:
            out["round_trip_time"] = round(statistics.median(rtts_ms), 1)
            if len(rtts_ms) > 1:
                out["jitter"] = round(statistics.pstdev(rtts_ms), 1)
        for key, value in out.items():
            _measure(check, key, value, "server")
        db.commit()
        return out
    cand = (stats or {}).get("candidate") or {}
    video = cand.get("video") or {}
    if video.get("fps") is not None:
        out["camera_fps"] = round(float(video["fps"]), 1)
    received, lost = video.get("packets_received"), video.get("packets_lost")
    if received is not None and lost is not None and (received + max(lost, 0)) > 0:
        out["packet_loss"] = round(100 * max(lost, 0) / (received + max(lost, 0)), 2)
    if video.get("jitter") is not None:
        out["jitter"] = round(float(video["jitter"]) / 90.0, 1)  # RTP jitter in 90 kHz clock units -> ms
    if camera is not None:
        w, h = camera.resolution
        out["camera_resolution"] = {"width": int(w), "height": int(h)}
        out["lighting"] = round(float(camera.lighting), 1)
        out["face_visible"] = {"visible": bool(camera.face_visible), "share": round(float(camera.face_share), 2)}
        if "camera_fps" not in out and camera.fps:
            out["camera_fps"] = round(float(camera.fps), 1)
    if rtts_ms:
        out["round_trip_time"] = round(statistics.median(rtts_ms), 1)
        if "jitter" not in out and len(rtts_ms) > 1:
            out["jitter"] = round(statistics.pstdev(rtts_ms), 1)
    for key, value in out.items():
        _measure(check, key, value, "server")
    db.commit()
    return out


UNMEASURABLE_TEXT = "tidak dapat diukur di peramban ini"
UNMEASURABLE_HINT = (
    "Peramban ini tidak menyediakan cara mengukurnya (Chrome dan Edge menyediakannya). Asesor dapat memeriksanya "
    "pada rekaman ruangan dan menerimanya dengan alasan tertulis."
)


def _evaluate(req: dict[str, Any], m: dict[str, Any] | None) -> tuple[Any, str, str]:
    """(value shown, status, threshold text) of one requirement; status is ``pass``, ``fail``, ``not_measured`` or
    ``unmeasurable`` (the browser has no way to measure it: not a failure; the profile says what it means)."""
    key, lo, hi = req["key"], req.get("min"), req.get("max")
    value = None if m is None else m["value"]
    verdict = {True: "pass", False: "fail"}
    if m is not None and m.get("unmeasurable"):
        return UNMEASURABLE_TEXT, "unmeasurable", _threshold(req)
    if value is None:
        return None, "not_measured", _threshold(req)
    if key == "camera_resolution":
        ok = value["width"] >= (lo or 0) and value["height"] >= (req.get("min_height") or 0)
        return f"{value['width']}×{value['height']}", verdict[ok], _threshold(req)
    if key == "camera_not_virtual":
        return ", ".join(value["virtual"]) or "tidak ada kamera virtual", verdict[not value["virtual"]], _threshold(req)
    if key == "face_visible":
        return f"{round(value['share'] * 100)}% bingkai", verdict[bool(value["visible"])], _threshold(req)
    if key == "battery":
        ok = value["charging"] or lo is None or value["level"] * 100 >= lo
        shown = f"{round(value['level'] * 100)}%{' (mengisi)' if value['charging'] else ''}"
        return shown, verdict[ok], _threshold(req)
    if isinstance(value, bool):
        return value, verdict[value], _threshold(req)
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    return value, verdict[ok], _threshold(req)


def mbit(kbps: float) -> str:
    """kbit/s as a person reads it, in Indonesian: "2,4 Mbit/s" (the pages format it in their own language)."""
    mbps = kbps / 1000
    return f"{mbps:.{0 if mbps >= 100 else 1}f}".replace(".", ",") + " Mbit/s"


def _threshold(req: dict[str, Any]) -> str:
    unit = req.get("unit") or ""
    if req["key"] == "camera_resolution":
        return f"≥ {req.get('min'):g}×{req.get('min_height') or 0:g}"
    if unit == "kbps":
        return f"≥ {mbit(req['min'])}" if req.get("min") is not None else f"≤ {mbit(req['max'])}"
    if req.get("min") is not None:
        return f"≥ {req['min']:g} {unit}".strip()
    if req.get("max") is not None:
        return f"≤ {req['max']:g} {unit}".strip()
    return "ya"


#: what an assessor's own check leaves out: it is about their connection and devices for talking
ASSESSOR_SKIPS = frozenset(
    {
        "face_visible",
        "lighting",
        "camera_resolution",
        "camera_fps",
        "camera_not_virtual",
        "single_display",
        "fullscreen",
        "phone_camera",
        "screen_share",
    }
)


def evaluate(profile: TukRequirementProfile, measurements: dict[str, Any], skip: Any = ()) -> list[dict[str, Any]]:
    """Every requirement of *profile* (less the keys in *skip*) judged against *measurements*: the results as the
    check pages and the evidence show them. Shared by the real check and the trial (remote_tuk/trial)."""
    results = []
    for req in profile.model_dump()["requirements"]:
        if req["key"] in skip:
            continue
        m = (measurements or {}).get(req["key"])
        value, status, threshold = _evaluate(req, m)
        ok = status == "pass" or (status == "unmeasurable" and req.get("if_unmeasurable") == "accept")
        label, hint = texts.REQUIREMENTS.get(req["key"], (req["key"], ""))
        if status == "unmeasurable":
            hint = UNMEASURABLE_HINT
        results.append(
            {
                "key": req["key"],
                "label": label,
                "mandatory": req["mandatory"],
                "source": m["source"] if m else req["source"],
                "value": value,
                "threshold": threshold,
                "min": req.get("min"),
                "max": req.get("max"),
                "unit": req.get("unit") or "",
                "status": status,
                "pass": ok,
                "hint": "" if status == "pass" else hint,
                "measured": status in ("pass", "fail"),
            }
        )
    return results


def finish_check(db: Session, store: Any, session: AssessmentSession, check: TukCheck) -> TukCheck:
    profile = TukRequirementProfile.model_validate(check.profile)
    results = evaluate(profile, check.measurements or {}, ASSESSOR_SKIPS if check.role == "assessor" else ())
    now = utcnow()
    check.results = results
    check.passed = all(r["pass"] for r in results if r["mandatory"])
    check.finished_at = now
    check.valid_until = now + timedelta(minutes=profile.valid_minutes)
    doc = {
        "check_id": check.id,
        "role": check.role,
        "profile": check.profile,
        "measurements": check.measurements,
        "results": results,
        "passed": check.passed,
        "finished_at": now.isoformat(),
        "valid_until": check.valid_until.isoformat(),
    }
    receipt = live.append_document(
        store,
        session,
        "tuk.check",
        doc,
        metadata={"check_id": check.id, "role": check.role, "passed": check.passed},
        actor_ref=("system", "tuk-check"),
    )
    check.log_index = receipt.log_index
    db.commit()
    return check


def latest_check(db: Session, session: AssessmentSession, role: str = "candidate") -> TukCheck | None:
    return db.scalar(
        select(TukCheck)
        .where(TukCheck.session_id == session.id, TukCheck.role == role, TukCheck.finished_at.is_not(None))
        .order_by(TukCheck.id.desc())
    )


# --- overrides ----------------------------------------------------------------------------------------------------


def override(
    db: Session, store: Any, session: AssessmentSession, user: User, key: str, reason: str
) -> tuple[TukOverride, bool]:
    """Accept a failed requirement of the latest check with a written reason. Returns (override, created): the same
    override again is answered with the one on record (nothing new is written), a different one is refused (409).
    The database decides first (a row claims the check's key), so concurrent overrides write one evidence entry."""
    if live.participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang dapat mengesampingkan persyaratan.")
    reason = reason.strip()
    if len(reason) < 10:
        raise ValidationFailed("Tulis alasan pengesampingan (minimal 10 karakter).", details={"reason": "wajib diisi"})
    states.require("override", "assessor", session.state)
    check = latest_check(db, session)
    failed = {r["key"] for r in (check.results or []) if not r["pass"]} if check else set()
    if check is None or key not in failed:
        raise ValidationFailed("Persyaratan ini tidak gagal pada pemeriksaan terakhir.", details={"key": "tidak gagal"})
    existing = _override_of(db, check.id, key)
    if existing is None:
        row = TukOverride(
            session_id=session.id, check_id=check.id, key=key, reason=reason, assessor_id=user.id, log_index=-1
        )
        db.add(row)
        try:
            db.flush()  # the claim: the unique (check, key) lets only one override through
        except IntegrityError:
            db.rollback()
            existing = _override_of(db, check.id, key)
            if existing is None:  # pragma: no cover - the winner rolled back after all
                raise Conflict("Pengesampingan lain sedang dicatat; coba lagi.") from None
    if existing is not None:
        if existing.reason == reason and existing.assessor_id == user.id:
            return existing, False
        raise Conflict(
            "Persyaratan ini sudah dikesampingkan dengan alasan lain.",
            details={"key": key, "reason": existing.reason},
        )
    doc = {"check_id": check.id, "key": key, "reason": reason, "by": user.id, "at": utcnow().isoformat()}
    receipt = live.append_document(
        store, session, "tuk.override", doc, metadata={"key": key, "check_id": check.id}, by=user
    )
    row.log_index = receipt.log_index
    db.commit()
    return row, True


def overrides(db: Session, session: AssessmentSession) -> list[TukOverride]:
    return list(db.scalars(select(TukOverride).where(TukOverride.session_id == session.id).order_by(TukOverride.id)))


def _override_of(db: Session, check_id: int, key: str) -> TukOverride | None:
    return db.scalar(select(TukOverride).where(TukOverride.check_id == check_id, TukOverride.key == key))


# --- the gate -----------------------------------------------------------------------------------------------------


def gate(db: Session, session: AssessmentSession, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    missing = gate_missing(db, session)  # the candidate's consent and the assessor's FR.AK.01 co-signature
    check = latest_check(db, session)
    if check is None:
        missing.append("tuk_check")
    else:
        overridden = {o.key for o in db.scalars(select(TukOverride).where(TukOverride.check_id == check.id))}
        failed = [
            r["key"] for r in check.results or [] if r["mandatory"] and not r["pass"] and r["key"] not in overridden
        ]
        if failed:
            missing.append("tuk_requirements:" + ",".join(failed))
        if check.valid_until is None or check.valid_until < now:
            missing.append("tuk_check_expired")
    row = db.scalar(select(IdentityCheck).where(IdentityCheck.session_id == session.id))  # read only
    if row is None or row.id_confirmed_at is None:
        missing.append("id_confirmation")
    if row is None or row.room_confirmed_at is None:
        missing.append("room_confirmation")
    return {"open": not missing, "missing": missing}


def gate_guard(db: Session, session: AssessmentSession, to: SessionState, _actor: User) -> None:
    """The pre-session gate, for every way a session can move towards live (HTTP, Socket.IO, CLI)."""
    if to not in (S.READY, S.LIVE) or (to is S.LIVE and session.state is S.PAUSED):
        return
    state = gate(db, session)
    if not state["open"]:
        raise GateClosed(
            "Sesi belum boleh dimulai: pemeriksaan TUK, persetujuan, atau konfirmasi identitas dan "
            "ruangan belum lengkap.",
            details={"missing": state["missing"]},
        )
