"""Remote TUK: the Flask web application and composition root."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings, load_settings
from remote_tuk.pyfixes import serialise_ast_parse

serialise_ast_parse()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Production refuses to start with development defaults (see ``Settings.check_production``)."""
    settings = settings or load_settings()
    settings.check_production()
    settings.var_dir.mkdir(parents=True, exist_ok=True)

    from remote_tuk.validation import BoundedJSONProvider, DbIdConverter

    app = Flask(__name__)
    app.json = BoundedJSONProvider(app)  # request.get_json() refuses over-deep documents as bad JSON
    app.url_map.converters["int"] = DbIdConverter  # every <int:id> in a URL fits the id column
    app.config.update(
        RTUK=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_NAME="rtuk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.behind_tls,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.behind_tls,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_lifetime_minutes),
        PREFERRED_URL_SCHEME="https" if settings.behind_tls else "http",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed session
        WTF_CSRF_SSL_STRICT=settings.behind_tls,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_ENABLED=True,
        TESTING=settings.env == "testing",
    )
    from remote_tuk.auth import init_auth
    from remote_tuk.errors import register_error_handlers
    from remote_tuk.extensions import csrf, db, evidence, limiter, media, socketio
    from remote_tuk.i18n import init_i18n
    from remote_tuk.sockets.origin import origin_policy

    db.init_app(app, settings.sqlalchemy_url)
    evidence.init_app(app, settings)
    media.init_app(app, settings, db, evidence, socketio)
    from remote_tuk.privacy import subjects as privacy_subjects

    privacy_subjects.init_app(app, db.engine, evidence)  # sealed personal data columns (docs/PRIVACY.md)
    csrf.init_app(app)
    limiter.init_app(app)
    init_auth(app)
    init_i18n(app)
    # The extension is a singleton that keeps its options: an earlier app's message-queue manager must not stay on.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=settings.socketio_message_queue or None,
        # Engine.IO checks the Origin of every handshake (polling and websocket) against this; [] would disable it
        cors_allowed_origins=origin_policy(settings.public_origin),
        max_http_buffer_size=1_000_000,
        manage_session=False,  # share the Flask session (and so the login) with HTTP
    )
    if settings.behind_tls:
        # Outermost, so that Socket.IO (which answers /socket.io/ before the Flask app) sees the forwarded scheme,
        # host and client address too.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    register_error_handlers(app)

    from remote_tuk.accounts.routes import bp as accounts_bp
    from remote_tuk.admin.routes import bp as admin_bp
    from remote_tuk.apl.routes import bp as apl_bp
    from remote_tuk.appeals.routes import bp as appeals_bp
    from remote_tuk.assessment.events import NAMESPACE, SessionNamespace
    from remote_tuk.assessment.routes import bp as assessment_bp
    from remote_tuk.classroom.routes import bp as classroom_bp
    from remote_tuk.cli import register_cli
    from remote_tuk.consent.routes import bp as consent_bp
    from remote_tuk.dossier.routes import bp as dossier_bp
    from remote_tuk.instruments.routes import bp as instruments_bp
    from remote_tuk.invitations.routes import bp as invitations_bp
    from remote_tuk.live import events as live_events
    from remote_tuk.live import hooks as live_hooks
    from remote_tuk.live.routes import bp as live_bp
    from remote_tuk.ops.routes import bp as ops_bp
    from remote_tuk.privacy.routes import bp as privacy_bp
    from remote_tuk.proctoring.admin import bp as proctoring_profiles_bp
    from remote_tuk.proctoring.routes import bp as proctoring_bp
    from remote_tuk.questioning import evidence as questioning_evidence
    from remote_tuk.questioning import routes as questioning
    from remote_tuk.records.routes import bp as records_bp
    from remote_tuk.review.routes import bp as review_bp
    from remote_tuk.sources.routes import bp as sources_bp
    from remote_tuk.trial.routes import bp as trial_bp
    from remote_tuk.tuk.profiles import bp as profiles_bp
    from remote_tuk.tuk.routes import bp as tuk_bp
    from remote_tuk.turn.routes import bp as turn_bp
    from remote_tuk.views import register_template_helpers

    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(assessment_bp)
    app.register_blueprint(dossier_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(proctoring_bp)
    app.register_blueprint(proctoring_profiles_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(appeals_bp)
    app.register_blueprint(tuk_bp)
    app.register_blueprint(trial_bp)
    app.register_blueprint(profiles_bp)
    app.register_blueprint(instruments_bp)
    app.register_blueprint(apl_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(turn_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(sources_bp)
    app.register_blueprint(questioning.bp)
    app.register_blueprint(classroom_bp)
    live_events.register(app)
    questioning_evidence.register()  # after the observation marks: written, oral and portfolio evidence per KUK
    from remote_tuk.assessment import services as assessment_services
    from remote_tuk.assessment.events import TRANSITION_LISTENERS
    from remote_tuk.live.services import require_all_units_decided

    if questioning.after_transition not in TRANSITION_LISTENERS:  # an open written test closes before the rest
        TRANSITION_LISTENERS.insert(0, questioning.after_transition)
    if live_hooks.after_transition not in TRANSITION_LISTENERS:
        TRANSITION_LISTENERS.append(live_hooks.after_transition)
    from remote_tuk.apl.services import apl_guard
    from remote_tuk.tuk.services import gate_guard

    for guard in (apl_guard, gate_guard, require_all_units_decided):
        if guard not in assessment_services.GUARDS:
            assessment_services.GUARDS.append(guard)
    socketio.on_namespace(SessionNamespace(NAMESPACE))
    from remote_tuk import access
    from remote_tuk.extensions import socket_registry
    from remote_tuk.sockets.events import on_access_changed

    socket_registry.clear()  # one app per process holds the Socket.IO server (the extension is a singleton)
    if on_access_changed not in access.LISTENERS:
        access.LISTENERS.append(on_access_changed)
    if settings.socketio_message_queue:
        from remote_tuk.sockets.events import recheck_here
        from remote_tuk.sockets.fanout import Fanout, channel_for

        app.extensions["rtuk_access_fanout"] = Fanout(
            settings.socketio_message_queue, channel_for(settings.secret_key), lambda change: recheck_here(app, change)
        )
    register_template_helpers(app)
    register_cli(app)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            # connect-src 'self' covers ws:/wss: to this host (CSP 3); a bare "ws:" would allow any host
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'",
        )
        if settings.behind_tls:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith(("/admin", "/asesor", "/asesi", "/auditor", "/sesi", "/api", "/akun")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
