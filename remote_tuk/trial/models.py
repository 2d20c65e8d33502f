from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow


class TrialRun(Base):
    """One trial run (uji coba) of a candidate for their session: its own record, never the session's state, consent
    or evidence chain. The check's measurements and results are kept here; a self-test recording the candidate chose to
    send is evidence in the trial's own chain (``trial-<id>``)."""

    __tablename__ = "trial_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the consent texts were shown as a preview and read to the end (no consent is given by a trial)
    consent_previewed_at: Mapped[datetime | None]
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: key -> {"value": ..., "source": "server"|"browser", "at": iso time}, as in the real check
    measurements: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    passed: Mapped[bool | None]
    finished_at: Mapped[datetime | None]
    #: the self-test recording: its length as the candidate's browser played it back, and when it was played
    selftest_seconds: Mapped[float | None] = mapped_column(Float)
    selftest_played_at: Mapped[datetime | None]
    #: the recording sent as trial evidence (optional): its object in the evidence store and its log index
    selftest_object: Mapped[str | None] = mapped_column(String(255))
    selftest_log_index: Mapped[int | None] = mapped_column(Integer)

    @property
    def chain_id(self) -> str:
        return f"trial-{self.id}"
