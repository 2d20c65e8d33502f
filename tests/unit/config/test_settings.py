"""Settings: embedded defaults, environment overrides, and production's refusal of development defaults."""

from __future__ import annotations

import pytest

from config import DEFAULT_TUK_PROFILE, ProductionConfigError, TukRequirementProfile, load_settings


def test_embedded_defaults(monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("RTUK_")]:
        monkeypatch.delenv(key)
    s = load_settings()
    assert s.sqlalchemy_url.startswith("sqlite:///") and s.sqlalchemy_url.endswith("var/remote_tuk.sqlite3")
    assert s.evidence.backend == "filesystem"
    assert s.evidence_dir == s.var_dir / "evidence"
    assert s.rtc.ice_servers == []  # never Google's STUN by accident


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("RTUK_PORT", "8080")
    monkeypatch.setenv("RTUK_EVIDENCE_BACKEND", "s3")
    monkeypatch.setenv("RTUK_RTC_ICE_SERVERS", '[{"urls": ["stun:stun.lsp.example:3478"]}]')
    s = load_settings()
    assert s.port == 8080
    assert s.evidence.backend == "s3"
    assert s.rtc.ice_servers == [{"urls": ["stun:stun.lsp.example:3478"]}]


def test_bad_environment_value_is_refused(monkeypatch):
    monkeypatch.setenv("RTUK_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        load_settings()


def test_production_refuses_defaults_and_names_them(monkeypatch):
    with pytest.raises(ProductionConfigError) as exc:
        load_settings(env="production").check_production()
    text = str(exc.value)
    for name in (
        "RTUK_SECRET_KEY",
        "RTUK_DATABASE_URL",
        "RTUK_EVIDENCE_BACKEND",
        "RTUK_EVIDENCE_KEK",
        "RTUK_EVIDENCE_SIGNING_KEY_FILE",
    ):
        assert name in text


def test_production_refuses_to_build_the_app(tmp_path):
    from remote_tuk import create_app

    with pytest.raises(ProductionConfigError, match="RTUK_SECRET_KEY"):
        create_app(load_settings(env="production", var_dir=tmp_path))


def test_production_filesystem_store_needs_explicit_opt_in(tmp_path):
    good = dict(
        env="production",
        secret_key="k" * 48,
        database_url="postgresql+psycopg://u@db/rtuk",
        var_dir=tmp_path,
    )
    s = load_settings(**good)
    s.evidence.kek, s.evidence.signing_key_file = "a" * 44, "/etc/rtuk/signing.key"
    assert any("ALLOW_FILESYSTEM" in p for p in s.production_problems())
    s.evidence.allow_filesystem = True
    assert s.production_problems() == []
    s.check_production()


def test_default_tuk_profile_is_valid_and_complete():
    keys = {r.key for r in DEFAULT_TUK_PROFILE.requirements}
    assert {"camera_resolution", "upload_bandwidth", "face_visible", "camera_not_virtual"} <= keys
    assert DEFAULT_TUK_PROFILE.get("battery").mandatory is False


@pytest.mark.parametrize(
    "req",
    [
        {"key": "camera_resolution", "min": 100000},
        {"key": "packet_loss", "max": 150},
        {"key": "lighting", "min": -1},
        {"key": "round_trip_time", "min": 500, "max": 100},
    ],
)
def test_impossible_profile_thresholds_are_refused(req):
    with pytest.raises(ValueError):
        TukRequirementProfile(name="x", requirements=[req])


def test_media_nodes_are_off_by_default_and_need_a_redis_url():
    from pydantic import ValidationError

    from config import load_settings

    assert load_settings().media_nodes == "local"
    assert load_settings(media_nodes="").media_nodes == "local"
    with pytest.raises(ValidationError, match="needs a Redis URL"):
        load_settings(media_nodes="redis", socketio_message_queue="", media_nodes_url="")
    with pytest.raises(ValidationError):
        load_settings(media_nodes="yes")
    with pytest.raises(ValidationError):
        load_settings(media_nodes_prefix="bad prefix")
    s = load_settings(media_nodes="redis", socketio_message_queue="redis://q:6379/0")
    assert s.media_nodes_redis_url == "redis://q:6379/0"
    assert load_settings(media_nodes="redis", media_nodes_url="redis://m:6379/1",
                         socketio_message_queue="redis://q:6379/0").media_nodes_redis_url == "redis://m:6379/1"
    problems = load_settings(media_nodes="redis", media_nodes_url="redis://m:6379/1").production_problems()
    assert any("RTUK_SOCKETIO_MESSAGE_QUEUE" in p for p in problems)
