"""Typed findings: what the analyser noticed, when, how strongly, and what to tell a person (Indonesian and English).

A finding is an observation for the assessor, never a verdict. The incident log (elsewhere in ``proctor``) decides
what to record and show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TURNED_AWAY = "face_turned_away"
    CAMERA_COVERED = "camera_covered"
    TOO_DARK = "too_dark"
    BLURRED = "blurred"
    FROZEN = "frozen"
    LOOPED = "looped"
    IDENTITY_MISMATCH = "identity_mismatch"
    IDENTITY_UNCERTAIN = "identity_uncertain"
    SPEECH_IN_QUIET = "speech_in_quiet"  # from the voice activity detector during a quiet phase (not a video finding)


class Severity(StrEnum):
    INFO = "info"  # quality problem: tell the candidate, nothing for the assessor to decide
    WARNING = "warning"  # the assessor should look
    ALERT = "alert"  # the assessor must look now (possible cheating or impersonation); still never an automatic fail


#: (severity, Indonesian message, English message) per kind. ``{value}`` is filled with the finding's value.
_TEXTS: dict[FindingKind, tuple[Severity, str, str]] = {
    FindingKind.NO_FACE: (
        Severity.WARNING,
        "Wajah peserta tidak terlihat di kamera.",
        "The candidate's face is not visible on camera.",
    ),
    FindingKind.MULTIPLE_FACES: (
        Severity.ALERT,
        "Terlihat lebih dari satu wajah ({value:.0f}) di kamera.",
        "More than one face ({value:.0f}) is visible on camera.",
    ),
    FindingKind.FACE_TURNED_AWAY: (
        Severity.WARNING,
        "Peserta memalingkan wajah dari layar (sekitar {value:.0f}°).",
        "The candidate is looking away from the screen (about {value:.0f}°).",
    ),
    FindingKind.CAMERA_COVERED: (
        Severity.ALERT,
        "Kamera tertutup atau gambar kosong.",
        "The camera is covered or the picture is blank.",
    ),
    FindingKind.TOO_DARK: (
        Severity.INFO,
        "Pencahayaan terlalu gelap (kecerahan {value:.0f} dari 255). Nyalakan lampu atau hadapkan wajah ke cahaya.",
        "The lighting is too dark (brightness {value:.0f} of 255). Turn on a light or face the light.",
    ),
    FindingKind.BLURRED: (
        Severity.INFO,
        "Gambar wajah buram. Bersihkan lensa kamera atau atur fokus.",
        "The face is blurred. Clean the camera lens or adjust the focus.",
    ),
    FindingKind.FROZEN: (
        Severity.ALERT,
        "Gambar kamera membeku (tidak berubah selama {value:.0f} detik).",
        "The camera picture is frozen (unchanged for {value:.0f} seconds).",
    ),
    FindingKind.LOOPED: (
        Severity.ALERT,
        "Video kamera tampak diputar ulang (berulang setiap {value:.1f} detik).",
        "The camera video appears to be a replay (repeating every {value:.1f} seconds).",
    ),
    FindingKind.IDENTITY_MISMATCH: (
        Severity.ALERT,
        "Wajah peserta tampak berbeda dari foto identitas (kemiripan {value:.2f}). Asesor perlu memeriksa.",
        "The candidate's face appears different from the ID photo (similarity {value:.2f}). The assessor should check.",
    ),
    FindingKind.IDENTITY_UNCERTAIN: (
        Severity.WARNING,
        "Kecocokan wajah dengan foto identitas tidak dapat dipastikan (kemiripan {value:.2f}). Asesor perlu memeriksa.",
        "The face cannot be matched with certainty to the ID photo (similarity {value:.2f}). "
        "The assessor should check.",
    ),
    FindingKind.SPEECH_IN_QUIET: (
        Severity.WARNING,
        "Terdengar suara bicara selama fase tenang ({value:.0f} detik).",
        "Speech was heard during a quiet phase ({value:.0f} seconds).",
    ),
}

#: Kinds the frame analyser raises (everything but the audio kinds).
VIDEO_KINDS: frozenset[FindingKind] = frozenset(FindingKind) - {FindingKind.SPEECH_IN_QUIET}


def severity_of(kind: FindingKind) -> Severity:
    """The standard severity of a kind of finding."""
    return _TEXTS[kind][0]


def messages_of(kind: FindingKind, value: float) -> tuple[str, str]:
    """(Indonesian, English) message of a finding of ``kind`` with ``value``."""
    _, text_id, text_en = _TEXTS[kind]
    return text_id.format(value=value), text_en.format(value=value)


@dataclass(frozen=True)
class Finding:
    """One observation. ``time`` is when it was raised, ``since`` when the condition began (both in the frame
    timestamps' clock, seconds); ``value`` is the measured quantity in the message.
    """

    kind: FindingKind
    severity: Severity
    time: float
    since: float
    value: float
    message_id: str
    message_en: str

    @property
    def duration(self) -> float:
        return self.time - self.since

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["severity"] = self.severity.value
        return data


def make_finding(kind: FindingKind, time: float, value: float, since: float | None = None) -> Finding:
    """A finding of ``kind`` with its standard severity and messages."""
    message_id, message_en = messages_of(kind, value)
    return Finding(
        kind=kind,
        severity=severity_of(kind),
        time=time,
        since=time if since is None else since,
        value=float(value),
        message_id=message_id,
        message_en=message_en,
    )
