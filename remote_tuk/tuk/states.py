"""What each step of the TUK check may do in each session state, in one table (docs/TUK-CHECK.md, "States").

The check is *open* while the session is ``scheduled`` or ``checking``: the candidate measures, sends the KTP photo and
the room scan, the assessor confirms and overrides. Once the assessor declares the session ``ready`` the candidate's
evidence is frozen (a new KTP photo would silently clear the assessor's confirmation); a candidate who must run the
check again (it expired while waiting) starts a new one, which takes the session back to ``checking``. Nothing of the
check runs once the session is ``live`` or over: its media test would replace the live connection, and the evidence
chain of a decided or cancelled session is closed. Reading (status, the KTP photo, the room scan, the printable
record) is allowed in every state to whoever may see the session.
"""

from __future__ import annotations

from remote_tuk.assessment.models import SessionState
from remote_tuk.live.services import InvalidState

S = SessionState

#: action -> role -> the states in which it is allowed (a role that is not listed may not do it at all).
ALLOWED: dict[str, dict[str, frozenset[SessionState]]] = {
    # a candidate's start moves scheduled -> checking, and ready -> checking (a new check reopens the gate)
    "start": {
        "candidate": frozenset({S.SCHEDULED, S.CHECKING, S.READY}),
        "assessor": frozenset({S.SCHEDULED, S.CHECKING, S.READY}),
    },
    # browser values, upload, download, media, finish of a started check
    "measure": {
        "candidate": frozenset({S.CHECKING}),
        "assessor": frozenset({S.SCHEDULED, S.CHECKING, S.READY}),
    },
    "identity_upload": {"candidate": frozenset({S.CHECKING})},
    "confirm": {"assessor": frozenset({S.CHECKING})},
    "override": {"assessor": frozenset({S.CHECKING})},
}

_MESSAGES = {
    "start": "Pemeriksaan TUK hanya dijalankan sebelum sesi berlangsung.",
    "measure": "Pemeriksaan ini sudah ditutup: sesi tidak lagi dalam tahap pemeriksaan TUK.",
    "identity_upload": (
        "Foto KTP dan rekaman ruangan hanya dapat dikirim selama pemeriksaan TUK, sebelum asesor menyatakan sesi siap."
    ),
    "confirm": "Konfirmasi identitas dan ruangan hanya dicatat selama pemeriksaan TUK.",
    "override": "Pengesampingan persyaratan hanya dicatat selama pemeriksaan TUK.",
}


def require(action: str, role: str, state: SessionState) -> None:
    """Refuse (409 ``invalid_state``, with the states that would allow it) unless *role* may do *action* now.
    The caller has already checked that *role* may do *action* at all (403 otherwise)."""
    allowed = ALLOWED[action].get(role, frozenset())
    if state not in allowed:
        raise InvalidState(
            _MESSAGES[action],
            details={"state": state.value, "allowed": sorted(s.value for s in allowed)},
        )
