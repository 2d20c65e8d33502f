"""Health, readiness and metrics of one node; JSON logs."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import load_settings

TOKEN = "metrics-token-0123456789-0123456789-abcdef"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def make_app(database, tmp_path):
    from remote_tuk import create_app

    apps = []

    def make(**overrides):
        overrides.setdefault("database_url", database[0])
        settings = load_settings(env="testing", var_dir=tmp_path / f"var{len(apps)}", **overrides)
        app = create_app(settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["rtuk_evidence"].close()
        app.extensions["rtuk_db"].dispose()


def _checks(resp) -> dict:
    return {c["name"]: c for c in resp.get_json()["checks"]}


def test_healthz_names_the_node(make_app):
    app = make_app(ops={"node_name": "app7"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "node": "app7"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_readyz_ready_with_database_and_evidence(make_app):
    resp = make_app().test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    checks = _checks(resp)
    assert checks["database"]["status"] == "ok"
    assert checks["evidence_log"]["status"] == "ok"
    assert checks["socketio_queue"]["status"] == "off"
    assert checks["evidence_objects"]["status"] == "off"
    assert checks["media_loop"]["status"] == "off"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_readyz_fails_when_the_database_is_away(make_app):
    app = make_app(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["ready"] is False
    assert _checks(resp)["database"]["status"] == "failed"
    assert _checks(resp)["evidence_log"]["status"] == "ok"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_readyz_follows_redis(make_app):
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    app = make_app(ratelimit_storage_uri="memory://")
    app.config["RTUK"].socketio_message_queue = down  # probed as configured; this app's Socket.IO stays in-process
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert _checks(resp)["socketio_queue"]["status"] == "failed"
    assert _checks(resp)["ratelimit_storage"]["status"] == "off"
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379 for the 'up' half")
    app.config["RTUK"].socketio_message_queue = "redis://127.0.0.1:6379/0"
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert _checks(resp)["socketio_queue"]["status"] == "ok"


def test_metrics_need_the_token(make_app):
    assert make_app().test_client().get("/metrics").status_code == 404  # no token configured: off
    client = make_app(ops={"metrics_token": TOKEN}).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_parse_and_say_what_happened(make_app, database):
    app = make_app(ops={"metrics_token": TOKEN, "node_name": "app1"})
    client = app.test_client()
    with app.app_context():
        store = app.extensions["rtuk_evidence"].store
        store.open_session("SES-metrics")
        for _ in range(3):
            store.append("SES-metrics", "note", b"x" * 100, actor=("system", "test"))
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert samples[("rtuk_node_info", (("node", "app1"),))] == 1
    # the test cast has two scheduled sessions and nothing else
    assert samples[("rtuk_sessions", (("state", "scheduled"),))] == 2
    assert samples[("rtuk_sessions", (("state", "live"),))] == 0
    assert samples[("rtuk_evidence_append_seconds_count", (("outcome", "stored"),))] == 3
    assert samples[("rtuk_evidence_spool_depth", ())] == 0
    assert samples[("rtuk_media_sessions", ())] == 0
    assert samples[("rtuk_analysis_lag_seconds_count", ())] == 0


def test_analysed_frames_feed_the_analysis_lag_metric(make_app):
    """Each frame the live analysis finishes is one observation of rtuk_analysis_lag_seconds on this node."""
    import time

    import numpy as np

    from proctor.sink import SampledFrame
    from remote_tuk.extensions import media

    app = make_app(ops={"metrics_token": TOKEN, "node_name": "app1"})
    runner = media.proctoring
    assert runner is not None and runner.open("SES-lag")
    origin = runner._origin["SES-lag"]
    frame = np.full((480 * 3 // 2, 640), 128, np.uint8)
    for i in range(4):
        assert runner.offer(SampledFrame("SES-lag", 0.0, origin + i, 640, 480, frame))
        deadline = time.monotonic() + 20  # the models load on a worker's first frame
        while runner.pool.metrics("SES-lag").pending and time.monotonic() < deadline:
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while runner.pool.metrics("SES-lag").processed < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.close("SES-lag")
    resp = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    samples = {s.name: s.value for f in text_string_to_metric_families(resp.get_data(as_text=True)) for s in f.samples
               if s.name.startswith("rtuk_analysis_lag_seconds") and not s.labels}
    assert samples["rtuk_analysis_lag_seconds_count"] == 4
    assert samples["rtuk_analysis_lag_seconds_sum"] > 0  # the first frame waited for the models to load


def test_json_log_lines(make_app):
    from remote_tuk.ops.logs import JsonFormatter

    app = make_app()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter("app3"))
    logger = logging.getLogger("rtuk.test.json")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/sesi/x", headers={"X-Request-ID": "abc123"}):
            logger.warning("halo %s", "dunia", extra={"session": "SES-1"})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert first["message"] == "halo dunia" and first["level"] == "WARNING" and first["node"] == "app3"
    assert first["request_id"] == "abc123" and first["path"] == "/sesi/x" and first["session"] == "SES-1"
    assert "RuntimeError: boom" in second["exception"] and "path" not in second


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_readyz_follows_the_media_loop(make_app):
    app = make_app()
    media = app.extensions["rtuk_media"]
    client = app.test_client()
    try:
        engine = media.engine  # this node starts its media engine (the first offer does the same)
        resp = client.get("/readyz")
        assert resp.status_code == 200, resp.get_json()
        assert _checks(resp)["media_loop"]["status"] == "ok"
        assert _checks(resp)["media_loop"]["detail"] == "0 sessions"
        engine.loop.stop()  # the loop thread is gone while the hub still holds the engine
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert _checks(resp)["media_loop"]["status"] == "failed"
    finally:
        media.stop()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_nodes_share_the_evidence_log_in_postgresql(make_app, database, tmp_path):
    """Two app nodes with their own evidence directories and RTUK_EVIDENCE_LOG_URL set to the app's database (the
    log's schema beside the app's tables): both are ready, their readiness says where the log is, and a session one
    node opens and appends to is seen, in order, by the other."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keyfile = tmp_path / "checkpoint-ed25519.pem"
    keyfile.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    evidence = {"log_url": database[0], "signing_key_file": str(keyfile)}
    app = make_app(evidence=evidence)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert _checks(resp)["evidence_log"]["detail"].endswith("log in PostgreSQL")
    store_a = app.extensions["rtuk_evidence"].store
    # the second node: its own evidence directory, the same log (as another machine's process would open it)
    from evidence_store.store import EvidenceStore

    node_b = load_settings(env="testing", database_url=database[0], var_dir=tmp_path / "node-b", evidence=evidence)
    store_b = EvidenceStore.from_settings(node_b.evidence, data_dir=node_b.evidence_dir)
    try:
        assert store_a.log.shared and store_a.dir != store_b.dir
        store_a.open_session("SHARED-1")
        store_a.append("SHARED-1", "chat", b"halo", actor=("asesor", "a1"))
        store_b.append("SHARED-1", "chat", b"halo juga", actor=("asesi", "c1"))
        entries = store_a.list_entries("SHARED-1")
        assert [(e["kind"], e["seq"]) for e in entries if e["chain"] == "SHARED-1"] == [
            ("open", 0), ("item", 1), ("item", 2)]
        assert store_a.status()["log_size"] == store_b.status()["log_size"]
    finally:
        store_b.close()
