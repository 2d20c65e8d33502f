"""``/healthz`` (the process answers), ``/readyz`` (it can serve: database, Redis, evidence log, media loop) and
``/metrics`` (Prometheus, bearer token). Registering the blueprint sets up this node's metrics and log format."""

from __future__ import annotations

import hmac
import socket
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from remote_tuk.extensions import db, evidence, media
from remote_tuk.ops import services
from remote_tuk.ops.logs import configure_json_logs
from remote_tuk.ops.metrics import NodeMetrics, StateCollector

bp = Blueprint("ops", __name__)


@bp.record_once
def _init(state: Any) -> None:
    app = state.app
    settings = app.config["RTUK"]
    node = settings.ops.node_name or socket.gethostname()
    metrics = NodeMetrics(node)
    metrics.registry.register(StateCollector(node, db, media, evidence))
    app.extensions["rtuk_ops"] = metrics
    media.lag_observer = metrics.analysis_lag_seconds.observe  # the process's hub: its analysis reports here
    evidence.on_open.append(lambda store: setattr(store, "append", metrics.timed_append(store.append)))
    if settings.ops.json_logs:
        configure_json_logs(node)


def _metrics() -> NodeMetrics:
    return current_app.extensions["rtuk_ops"]  # type: ignore[no-any-return]


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/healthz")
def healthz() -> Any:
    """Liveness: the process answers HTTP. Nothing else is probed (a restart would not fix a database outage)."""
    return _no_store(jsonify({"status": "ok", "node": _metrics().node}))


@bp.get("/readyz")
def readyz() -> Any:
    settings = current_app.config["RTUK"]
    result = services.readiness(
        _metrics().node,
        {
            "database": lambda: services.check_database(db.engine),
            "socketio_queue": lambda: services.check_redis("socketio_queue", settings.socketio_message_queue),
            "ratelimit_storage": lambda: services.check_redis("ratelimit_storage", settings.ratelimit_storage_uri),
            "evidence_log": lambda: services.check_evidence_log(evidence.store),
            "evidence_objects": lambda: services.check_object_store(evidence.store),
            "media_loop": lambda: services.check_media(media),
        },
    )
    resp = jsonify(result.as_dict())
    resp.status_code = 200 if result.ready else 503
    return _no_store(resp)


@bp.get("/metrics")
def metrics() -> Any:
    token = current_app.config["RTUK"].ops.metrics_token
    given = request.headers.get("Authorization", "")
    if not token:
        off = "metrics are off on this node (RTUK_OPS_METRICS_TOKEN)\n"
        return _no_store(Response(off, 404, mimetype="text/plain"))
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        resp = Response("bearer token required\n", 401, mimetype="text/plain")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(resp)
    return _no_store(Response(generate_latest(_metrics().registry), mimetype=CONTENT_TYPE_LATEST))
