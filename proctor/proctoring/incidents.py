"""Incidents: per-sample conditions in, debounced incident events (start, repeat, clear) out, per session.

The analysers say, sample by sample, what holds *now* (no face, two faces, speech in a quiet phase, and later the
browser's signals). An :class:`IncidentTracker` turns that into what a person and the evidence log need:

- a condition must hold for its kind's ``hold_s`` (measured from when it began, which a detector may know to be
  earlier than the sample that showed it, e.g. a frozen picture) before an incident **starts**;
- while it lasts, the condition may stop and come back: if it comes back within ``clear_s`` it is the same incident
  (``occurrences`` counts the comebacks); a **repeat** event every ``repeat_s`` says it is still going on;
- it **clears** after the condition has been observed absent for ``clear_s``; the incident's range ends where the
  condition was last seen (never a guessed end). :meth:`IncidentTracker.stop` closes open incidents when observation
  ends (session closed, analysis stopped) with that reason, not as "cleared".

Every transition is an :class:`IncidentEvent` with the media time range and the detector values, ready to become an
evidence entry; a video incident's start carries a small JPEG of the frame that started it. Severities come from
:mod:`proctor.analysis.findings`. An incident is an observation for the assessor, never an automatic fail.

Pure Python and deterministic: time is the media time the samples carry; the injected ``clock`` only stamps
``at_utc``. Thread-safe (one lock per tracker); a kind's samples must come in time order (older ones are ignored).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, ProctoringProfile
from proctor.analysis.analyzer import Observation
from proctor.analysis.findings import VIDEO_KINDS, FindingKind, Severity, messages_of, severity_of
from proctor.analysis.frames import encode_jpeg

Phase = Literal["start", "repeat", "clear"]
#: Why an incident ended: the condition went away, or observation stopped (session closed, analysis stopped).
ClearReason = Literal["cleared", "stopped"]
Snapshot = Callable[[], bytes | None]


@dataclass(frozen=True)
class KindSettings:
    """How one kind becomes an incident (see the module docstring). ``repeat_s`` 0: no repeat events."""

    enabled: bool = True
    hold_s: float = 3.0
    clear_s: float = 3.0
    repeat_s: float = 60.0

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.clear_s < 0 or self.repeat_s < 0:
            raise ValueError("hold_s, clear_s and repeat_s must be >= 0")


def kind_settings(profile: ProctoringProfile) -> dict[FindingKind, KindSettings]:
    """Each kind's incident settings from a proctoring profile (identity kinds are off when identity is off)."""
    out: dict[FindingKind, KindSettings] = {}
    for kind in FindingKind:
        rule = profile.rule(kind.value)
        enabled = rule.enabled
        if kind in (FindingKind.IDENTITY_MISMATCH, FindingKind.IDENTITY_UNCERTAIN):
            enabled = enabled and profile.identity.enabled
        out[kind] = KindSettings(enabled=enabled, hold_s=rule.hold_s, clear_s=rule.clear_s, repeat_s=rule.repeat_s)
    return out


@dataclass(frozen=True)
class IncidentSettings:
    """Per-kind settings (default: the project's proctoring profile) and the snapshot size. Kinds not listed are off."""

    kinds: Mapping[FindingKind, KindSettings] = field(default_factory=lambda: kind_settings(DEFAULT_PROCTORING_PROFILE))
    snapshot_width: int = 320
    snapshot_quality: int = 70

    def for_kind(self, kind: FindingKind) -> KindSettings | None:
        rule = self.kinds.get(kind)
        return rule if rule is not None and rule.enabled else None


@dataclass(frozen=True)
class IncidentEvent:
    """One transition of one incident.

    ``incident_id`` numbers the session's incidents from 1. ``start_s`` is when the condition began and ``end_s``
    the last media time it was seen holding (for ``start``/``repeat``: the transition's time); ``at_s`` is the media
    time of the transition and ``at_utc`` the server's clock when it was made. ``value`` is the detector's value at
    the transition, ``min_value``/``max_value`` its range over the incident so far. ``occurrences`` counts how
    often the condition began within this incident (1 + comebacks before it cleared). ``reason`` is set on
    ``clear``. ``snapshot_jpeg`` is the frame that started a video incident (on ``start`` only).
    """

    incident_id: int
    kind: FindingKind
    severity: Severity
    phase: Phase
    start_s: float
    end_s: float
    at_s: float
    at_utc: float
    value: float
    min_value: float
    max_value: float
    occurrences: int
    message_id: str
    message_en: str
    reason: ClearReason | None = None
    snapshot_jpeg: bytes | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Plain data for an evidence entry or a page (the snapshot is stored as its own item: ``has_snapshot``)."""
        return {
            "incident_id": self.incident_id,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "phase": self.phase,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "at_s": round(self.at_s, 3),
            "at_utc": self.at_utc,
            "value": round(self.value, 4),
            "min_value": round(self.min_value, 4),
            "max_value": round(self.max_value, 4),
            "occurrences": self.occurrences,
            "reason": self.reason,
            "message_id": self.message_id,
            "message_en": self.message_en,
            "has_snapshot": self.snapshot_jpeg is not None,
        }


class _State:
    __slots__ = (
        "false_since",
        "id",
        "last_event_s",
        "last_t",
        "last_true",
        "max_v",
        "min_v",
        "occurrences",
        "open",
        "since",
        "value",
    )

    def __init__(self) -> None:
        self.since: float | None = None  # condition holding (pending or open) since
        self.open = False  # an incident has started
        self.id = 0
        self.last_t = float("-inf")
        self.last_true = 0.0
        self.false_since: float | None = None
        self.last_event_s = 0.0
        self.occurrences = 0
        self.value = self.min_v = self.max_v = 0.0


class IncidentTracker:
    """Incidents of one session (see the module docstring)."""

    def __init__(self, settings: IncidentSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or IncidentSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[FindingKind, _State] = {}
        self._next_id = 1
        self._quiet_since: float | None = None
        self._speech_since: float | None = None  # start of the speech segment going on, if any

    # -- inputs -------------------------------------------------------------------------------------------------

    def observe(
        self,
        kind: FindingKind,
        active: bool,
        t: float,
        value: float = 0.0,
        since: float | None = None,
        snapshot: Snapshot | None = None,
    ) -> list[IncidentEvent]:
        """One sample of one condition at media time ``t``. ``since``: when the condition began, if the detector
        knows it began before ``t``. ``snapshot`` is called (once) only if this sample starts an incident.
        """
        with self._lock:
            return self._observe(kind, active, t, value, since, snapshot)

    def observe_frame(self, observation: Observation) -> list[IncidentEvent]:
        """Every video kind from one analysed frame; the analysis copy of the frame is the snapshot."""
        s = self.settings
        image = observation.image
        snap: Snapshot = lambda: encode_jpeg(image, s.snapshot_width, s.snapshot_quality)  # noqa: E731
        out: list[IncidentEvent] = []
        with self._lock:
            for kind in sorted(VIDEO_KINDS):
                held = observation.holding.get(kind)
                out += self._observe(
                    kind,
                    held is not None,
                    observation.time,
                    held.value if held else 0.0,
                    held.since if held else None,
                    snap,
                )
        return out

    def set_quiet_phase(self, on: bool, t: float) -> list[IncidentEvent]:
        """The assessor switched the quiet phase (e.g. a written test) on or off at media time ``t``."""
        with self._lock:
            self._quiet_since = (self._quiet_since if self._quiet_since is not None else t) if on else None
            return self._speech(t)

    @property
    def quiet(self) -> bool:
        return self._quiet_since is not None

    def observe_speech(self, speaking: bool, t: float, since: float | None = None) -> list[IncidentEvent]:
        """The voice activity at media time ``t``: whether speech is going on and since when (the segment's start)."""
        with self._lock:
            if speaking:
                if since is not None:
                    self._speech_since = since
                elif self._speech_since is None:
                    self._speech_since = t
            else:
                self._speech_since = None
            return self._speech(t)

    def stop(self, t: float, reason: ClearReason = "stopped") -> list[IncidentEvent]:
        """Observation ends (session closed, analysis stopped): close every open incident, forget pending ones."""
        with self._lock:
            out = [self._clear(kind, st, t, reason) for kind, st in sorted(self._states.items()) if st.open]
            self._states.clear()
            return out

    def open_incidents(self) -> list[tuple[FindingKind, int, float]]:
        """(kind, incident id, start_s) of the incidents going on."""
        with self._lock:
            return [(k, st.id, st.since or 0.0) for k, st in sorted(self._states.items()) if st.open]

    # -- the state machine --------------------------------------------------------------------------------------

    def _speech(self, t: float) -> list[IncidentEvent]:
        active = self._quiet_since is not None and self._speech_since is not None
        since = max(self._quiet_since or 0.0, self._speech_since or 0.0) if active else None
        value = t - since if since is not None else 0.0
        return self._observe(FindingKind.SPEECH_IN_QUIET, active, t, value, since, None)

    def _observe(
        self,
        kind: FindingKind,
        active: bool,
        t: float,
        value: float,
        since: float | None,
        snapshot: Snapshot | None,
    ) -> list[IncidentEvent]:
        rule = self.settings.for_kind(kind)
        if rule is None:
            return []
        st = self._states.setdefault(kind, _State())
        if t < st.last_t:
            return []  # older than what this kind has already seen
        st.last_t = t
        if not st.open:
            if not active:
                st.since = None
                return []
            if st.since is None:
                st.since = min(t, since) if since is not None else t
            if t - st.since < rule.hold_s - 1e-9:
                return []
            return [self._start(kind, st, t, value, snapshot)]
        if active:
            if st.false_since is not None:  # it came back before it cleared: the same incident
                st.false_since = None
                st.occurrences += 1
            st.last_true = t
            self._record(st, value)
            if rule.repeat_s > 0 and t - st.last_event_s >= rule.repeat_s - 1e-9:
                st.last_event_s = t
                return [self._event(kind, st, "repeat", t, t)]
            return []
        if st.false_since is None:
            st.false_since = t
        if t - st.false_since >= rule.clear_s - 1e-9:
            return [self._clear(kind, st, t, "cleared")]
        return []

    def _record(self, st: _State, value: float) -> None:
        st.value = float(value)
        st.min_v = min(st.min_v, st.value)
        st.max_v = max(st.max_v, st.value)

    def _start(self, kind: FindingKind, st: _State, t: float, value: float, snapshot: Snapshot | None) -> IncidentEvent:
        st.open = True
        st.id = self._next_id
        self._next_id += 1
        st.occurrences = 1
        st.last_true = st.last_event_s = t
        st.false_since = None
        st.value = st.min_v = st.max_v = float(value)
        jpeg = snapshot() if snapshot is not None else None
        return self._event(kind, st, "start", t, t, snapshot=jpeg)

    def _clear(self, kind: FindingKind, st: _State, t: float, reason: ClearReason) -> IncidentEvent:
        event = self._event(kind, st, "clear", t, st.last_true, reason=reason)
        st.open = False
        st.since = None
        st.false_since = None
        return event

    def _event(
        self,
        kind: FindingKind,
        st: _State,
        phase: Phase,
        at: float,
        end: float,
        reason: ClearReason | None = None,
        snapshot: bytes | None = None,
    ) -> IncidentEvent:
        message_id, message_en = messages_of(kind, st.value)
        assert st.since is not None
        return IncidentEvent(
            incident_id=st.id,
            kind=kind,
            severity=severity_of(kind),
            phase=phase,
            start_s=st.since,
            end_s=end,
            at_s=at,
            at_utc=self._clock(),
            value=st.value,
            min_value=st.min_v,
            max_value=st.max_v,
            occurrences=st.occurrences,
            message_id=message_id,
            message_en=message_en,
            reason=reason,
            snapshot_jpeg=snapshot,
        )
