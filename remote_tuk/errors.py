"""Domain errors and the one place that maps them to HTTP (JSON for API and socket clients, a page for browsers)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base of every error a user can cause; carries the HTTP status and a message safe to show."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    """Unknown id, or an object the user may not see: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _respond(status: int, code: str, message: str, details: Any = None) -> Any:
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        if details is not None:
            body["details"] = details
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, details=details), status


def register_error_handlers(app: Flask) -> None:
    db = app.extensions["rtuk_db"]

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Any:
        db.session.rollback()
        return _respond(err.status, err.code, err.message, err.details)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        return _respond(
            400, "csrf_failed", _("Token keamanan formulir tidak valid atau kedaluwarsa. Muat ulang halaman.")
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        messages = {
            404: _("Halaman tidak ditemukan."),
            403: _("Anda tidak berhak membuka halaman ini."),
            405: _("Metode tidak diizinkan."),
            413: _("Data yang dikirim terlalu besar."),
            429: _("Terlalu banyak percobaan. Coba lagi nanti."),
        }
        status = err.code or 500
        return _respond(
            status, (err.name or "error").lower().replace(" ", "_"), messages.get(status, err.description or "")
        )

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return _respond(500, "internal_error", _("Terjadi kesalahan pada server. Perubahan dibatalkan."))
