"""Typed settings for every package of the product.

All settings come from environment variables with the ``RTUK_`` prefix (nested groups use their own prefix, e.g.
``RTUK_EVIDENCE_BACKEND``). Every field has an embedded default that is good for ``make run`` on one machine
(SQLite and a filesystem evidence store under ``var/``). ``Settings.check_production()`` refuses the defaults that
must never reach production. This package imports nothing from the project.
"""

from __future__ import annotations

from config.proctoring_profile import (
    DEFAULT_PROCTORING_PROFILE,
    PROCTORING_KINDS,
    CandidatePrompt,
    IdentityRule,
    KindRule,
    ProctoringProfile,
    SpeechRule,
    Thresholds,
)
from config.settings import (
    DEFAULT_SECRET_KEY,
    EvidenceSettings,
    MailSettings,
    ProductionConfigError,
    RtcSettings,
    Settings,
    SopSettings,
    load_settings,
)
from config.tuk_profile import DEFAULT_TUK_PROFILE, Requirement, TukRequirementProfile

__all__ = [
    "DEFAULT_PROCTORING_PROFILE",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_TUK_PROFILE",
    "PROCTORING_KINDS",
    "CandidatePrompt",
    "EvidenceSettings",
    "IdentityRule",
    "KindRule",
    "MailSettings",
    "ProctoringProfile",
    "ProductionConfigError",
    "Requirement",
    "RtcSettings",
    "Settings",
    "SopSettings",
    "SpeechRule",
    "Thresholds",
    "TukRequirementProfile",
    "load_settings",
]
