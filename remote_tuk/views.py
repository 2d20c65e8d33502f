"""Template helpers shared by every page: dates in WIB, the role's navigation, the current locale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from remote_tuk.accounts.models import ROLE_LABELS, Role
from remote_tuk.assessment.models import STATE_LABELS, SessionState
from remote_tuk.assessment.schemas import WIB

_MONTHS_ID = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return "–"
    local = value.astimezone(WIB)
    if str(get_locale()) == "en":
        return local.strftime("%d %b %Y %H:%M") + " WIB"
    return f"{local.day:02d} {_MONTHS_ID[local.month - 1]} {local.year} {local:%H:%M} WIB"


def fmt_input(value: datetime | None) -> str:
    return value.astimezone(WIB).strftime("%Y-%m-%dT%H:%M") if value else ""


def navigation() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    if role is Role.LSP_ADMIN:
        return [
            (url_for("admin.index"), _("Beranda")),
            (url_for("admin.lsp_profile"), _("Profil LSP")),
            (url_for("admin.schemes"), _("Skema")),
            (url_for("admin.users"), _("Pengguna")),
            (url_for("admin.schedules"), _("Jadwal")),
            (url_for("profiles.index"), _("Persyaratan TUK")),
            (url_for("dossier.index"), _("Dosir SOP")),
            (url_for("consent.texts_index"), _("Teks persetujuan")),
            (url_for("privacy.index"), _("Privasi dan retensi")),
            (url_for("admin.audit_log"), _("Log audit")),
        ]
    if role is Role.ASSESSOR:
        return [(url_for("assessment.assessor_dashboard"), _("Jadwal saya"))]
    if role is Role.CANDIDATE:
        return [(url_for("assessment.candidate_dashboard"), _("Sesi saya"))]
    return [(url_for("assessment.auditor_dashboard"), _("Jadwal yang diawasi"))]


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["dt"] = fmt_datetime
    app.jinja_env.filters["dt_input"] = fmt_input

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "nav": navigation(),
            "role_labels": ROLE_LABELS,
            "state_labels": STATE_LABELS,
            "SessionState": SessionState,
            "Role": Role,
            "locale": str(get_locale()),
            "current_path": request.full_path.rstrip("?"),
        }
