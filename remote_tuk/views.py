"""Template helpers shared by every page: times in the LSP's zone (WIB, WITA or WIT, from its profile) with the
zone's name, numbers in the page's language (Indonesian decimal comma) through Babel, the role's navigation, the
current locale, and the page data the browser's formatter (``static/js/format.js``) reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from flask import Flask, g, has_request_context, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from remote_tuk.accounts.models import ROLE_LABELS, Role
from remote_tuk.assessment.models import STATE_LABELS, SessionState
from remote_tuk.lsp.models import DEFAULT_TIME_ZONE, TIME_ZONE_LABELS, TIME_ZONES, UTC_OFFSETS


@dataclass(frozen=True)
class Zone:
    """A time zone of Indonesia: its IANA name (for the browser), its abbreviation and a fixed-offset tzinfo."""

    iana: str
    abbr: str
    tz: tzinfo

    @classmethod
    def named(cls, iana: str | None) -> Zone:
        iana = iana if iana in TIME_ZONES else DEFAULT_TIME_ZONE
        return cls(iana, TIME_ZONES[iana], timezone(timedelta(hours=UTC_OFFSETS[iana]), TIME_ZONES[iana]))


_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB")


@dataclass(frozen=True)
class Formatter:
    """Times, numbers, sizes and durations as one page shows them: one zone, one language."""

    locale: str
    zone: Zone

    def number(self, value: float, decimals: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return format_decimal(round(value, decimals), format=pattern, locale=self.locale)

    def size(self, n: int) -> str:
        value, unit = float(n), 0
        while value >= 1000 and unit < len(_SIZE_UNITS) - 1:
            value, unit = value / 1000, unit + 1
        return f"{self.number(value, 0 if unit == 0 or value >= 100 else 1)} {_SIZE_UNITS[unit]}"

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone.tz)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return f"{format_datetime(value, 'dd MMM yyyy HH:mm', tzinfo=self.zone.tz, locale=self.locale)} " \
               f"{self.zone.abbr}"

    def time(self, value: datetime, *, seconds: bool = True, zone: bool = True) -> str:
        text = self.local(value).strftime("%H:%M:%S" if seconds else "%H:%M")
        return f"{text} {self.zone.abbr}" if zone else text

    def duration(self, seconds: float) -> str:
        """``1 jam 5 menit``, ``2 menit 3 detik``, ``45 detik`` (the two largest units; English: h, min, s)."""
        total = round(seconds)
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        parts = [(h, _("%(n)s jam", n=h)), (m, _("%(n)s menit", n=m)), (s, _("%(n)s detik", n=s))]
        shown = [text for amount, text in parts if amount][:2]
        return " ".join(shown) or _("%(n)s detik", n=0)


def current_zone() -> Zone:
    """The LSP's zone, read once per request (WIB when there is no LSP row or no request)."""
    if not has_request_context():
        return Zone.named(None)
    zone = g.get("rtuk_zone")
    if zone is None:
        from remote_tuk.extensions import db
        from remote_tuk.lsp.services import get_lsp

        try:
            lsp = get_lsp(db.session)
            zone = Zone.named(lsp.time_zone if lsp else None)
        except Exception:  # noqa: BLE001 - an error page must still render: fall back to WIB, never fail
            zone = Zone.named(None)
        g.rtuk_zone = zone
    return zone


def current_formatter() -> Formatter:
    return Formatter(str(get_locale() or "id"), current_zone())


def fmt_datetime(value: datetime | None) -> str:
    return current_formatter().datetime(value)


def fmt_input(value: datetime | None) -> str:
    # The schedule forms' fields say and parse the LSP's zone (assessment/schemas.py); their values are in it too.
    return value.astimezone(current_zone().tz).strftime("%Y-%m-%dT%H:%M") if value else ""


def format_page_data() -> dict[str, Any]:
    """What ``static/js/format.js`` needs to format like the server: language, the LSP's zone, unit words."""
    fmt = current_formatter()
    return {
        "locale": fmt.locale,
        "intl": "id-ID" if fmt.locale == "id" else "en-GB",
        "zone": fmt.zone.iana,
        "zoneLabel": fmt.zone.abbr,
        "units": {"h": _("%(n)s jam", n="{n}"), "min": _("%(n)s menit", n="{n}"), "s": _("%(n)s detik", n="{n}")},
    }


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
            (url_for("proctoring_profiles.index"), _("Profil pengawasan")),
            (url_for("instruments.index"), _("Bank soal")),
            (url_for("apl.settings"), _("APL")),
            (url_for("dossier.index"), _("Dosir SOP")),
            (url_for("appeals.index"), _("Banding")),
            (url_for("consent.texts_index"), _("Teks persetujuan")),
            (url_for("privacy.index"), _("Privasi dan retensi")),
            (url_for("admin.audit_log"), _("Log audit")),
        ]
    if role is Role.ASSESSOR:
        return [(url_for("assessment.assessor_dashboard"), _("Jadwal saya")), (url_for("appeals.index"), _("Banding"))]
    if role is Role.CANDIDATE:
        return [(url_for("assessment.candidate_dashboard"), _("Sesi saya"))]
    return [(url_for("assessment.auditor_dashboard"), _("Jadwal yang diawasi"))]


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["dt"] = fmt_datetime
    app.jinja_env.filters["dt_input"] = fmt_input
    app.jinja_env.filters["time"] = lambda v, seconds=True, zone=True: current_formatter().time(v, seconds=seconds,
                                                                                                zone=zone)
    app.jinja_env.filters["number"] = lambda v, decimals=0: current_formatter().number(v, decimals)
    app.jinja_env.filters["size"] = lambda v: current_formatter().size(v)
    app.jinja_env.filters["duration"] = lambda v: current_formatter().duration(v)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "nav": navigation(),
            "role_labels": ROLE_LABELS,
            "state_labels": STATE_LABELS,
            "time_zone_labels": TIME_ZONE_LABELS,
            "zone_label": current_zone().abbr,
            "SessionState": SessionState,
            "Role": Role,
            "locale": str(get_locale()),
            "current_path": request.full_path.rstrip("?"),
            "format_page_data": format_page_data,
        }
