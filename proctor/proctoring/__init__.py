"""Live proctoring, independent of the media engine: incidents from per-sample findings, the analysis worker pool,
and the proctoring profile turned into the analysers' settings. No aiortc, no Flask.

- :class:`IncidentTracker` - per session: conditions in, incident events (start / repeat / clear) out.
- :class:`AnalysisPool` - bounded worker threads running each session's analysers; drops samples under overload
  and says how far behind it is.
- :func:`analyzer_config`, :func:`vad_config`, :func:`incident_settings` - settings from a
  :class:`config.ProctoringProfile`.
"""

from __future__ import annotations

from proctor.proctoring.incidents import (
    ClearReason,
    IncidentEvent,
    IncidentSettings,
    IncidentTracker,
    KindSettings,
    Phase,
    kind_settings,
)
from proctor.proctoring.pool import AnalysisPool, Metrics, PoolOptions
from proctor.proctoring.profile import analyzer_config, incident_settings, vad_config
from proctor.proctoring.session import AudioResult, ReferenceResult, SessionAnalysis

__all__ = [
    "AnalysisPool",
    "AudioResult",
    "ClearReason",
    "IncidentEvent",
    "IncidentSettings",
    "IncidentTracker",
    "KindSettings",
    "Metrics",
    "Phase",
    "PoolOptions",
    "ReferenceResult",
    "SessionAnalysis",
    "analyzer_config",
    "incident_settings",
    "kind_settings",
    "vad_config",
]
