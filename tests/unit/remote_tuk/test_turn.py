"""TURN REST API credentials: known answer, expiry, the RTCIceServer list a page gets."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from config import load_settings
from remote_tuk.turn.services import ice_servers_for, turn_credential


def test_known_answer_matches_openssl():
    # printf '%s' "1700000000:u7.SES-abc" | openssl dgst -binary -sha1 -hmac "north-of-the-wall" | base64
    cred = turn_credential("north-of-the-wall", "u7.SES-abc", 1_700_000_000)
    assert cred.username == "1700000000:u7.SES-abc"
    assert cred.password == "swTJdhCHlAovqx17TfRBzOW2coI="


def test_refuses_an_empty_secret_and_the_separator():
    with pytest.raises(ValueError):
        turn_credential("", "u1", 1)
    with pytest.raises(ValueError):
        turn_credential("s" * 32, "u1:admin", 1)


def test_ice_servers_without_turn_are_the_static_list():
    settings = load_settings(rtc={"ice_servers": [{"urls": ["stun:stun.lsp.example:3478"]}]})
    user, session = SimpleNamespace(id=7), SimpleNamespace(public_id="SES-abc")
    assert ice_servers_for(settings, user, session) == [{"urls": ["stun:stun.lsp.example:3478"]}]


def test_ice_servers_with_turn_carry_a_credential_valid_for_the_ttl():
    settings = load_settings(
        rtc={"ice_servers": [{"urls": ["stun:stun.lsp.example:3478"]}]},
        turn={"urls": ["turn:turn.lsp.example:3478?transport=udp", "turns:turn.lsp.example:443?transport=tcp"],
              "secret": "north-of-the-wall", "ttl_s": 600},
    )
    now = datetime.fromtimestamp(1_700_000_000 - 600, UTC)
    servers = ice_servers_for(settings, SimpleNamespace(id=7), SimpleNamespace(public_id="SES-abc"), now)
    assert servers[0] == {"urls": ["stun:stun.lsp.example:3478"]}
    assert servers[1] == {
        "urls": ["turn:turn.lsp.example:3478?transport=udp", "turns:turn.lsp.example:443?transport=tcp"],
        "username": "1700000000:u7.SES-abc",
        "credential": "swTJdhCHlAovqx17TfRBzOW2coI=",
    }
    # the static list in the settings is not changed by issuing credentials
    assert settings.rtc.ice_servers == [{"urls": ["stun:stun.lsp.example:3478"]}]


def test_turn_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("RTUK_TURN_URLS", "turn:t.example:3478?transport=udp, turns:t.example:443?transport=tcp")
    assert load_settings().turn.urls == ["turn:t.example:3478?transport=udp", "turns:t.example:443?transport=tcp"]
    monkeypatch.setenv("RTUK_TURN_URLS", '["turn:t.example:3478"]')
    assert load_settings().turn.urls == ["turn:t.example:3478"]
    monkeypatch.setenv("RTUK_TURN_URLS", "stun:t.example:3478")
    with pytest.raises(ValueError, match="turn: or turns:"):
        load_settings()


def test_production_refuses_turn_without_a_secret():
    settings = load_settings(env="production", turn={"urls": ["turn:t.example:3478"]})
    assert any("RTUK_TURN_SECRET" in p for p in settings.production_problems())
    settings = load_settings(env="production", turn={"urls": ["turn:t.example:3478"], "secret": "x" * 40})
    assert not any("RTUK_TURN_SECRET" in p for p in settings.production_problems())


def test_turn_credential_command_for_a_media_node(tmp_path):
    import base64
    import hashlib
    import hmac
    import json
    import time

    from remote_tuk import create_app

    secret = "cli-turn-secret-0123456789abcdef0123"
    app = create_app(load_settings(env="testing", var_dir=tmp_path,
                                   turn={"urls": ["turn:t.example:3478?transport=udp"], "secret": secret}))
    result = app.test_cli_runner().invoke(args=["turn-credential", "--user", "media-1", "--ttl-hours", "48"])
    assert result.exit_code == 0, result.output
    (server,) = json.loads(result.output)
    expiry, user = server["username"].split(":")
    assert user == "media-1" and abs(int(expiry) - (time.time() + 48 * 3600)) < 60
    digest = hmac.new(secret.encode(), server["username"].encode(), hashlib.sha1).digest()
    assert server["credential"] == base64.b64encode(digest).decode()
    assert server["urls"] == ["turn:t.example:3478?transport=udp"]
    refused = create_app(load_settings(env="testing", var_dir=tmp_path / "b")).test_cli_runner().invoke(
        args=["turn-credential", "--user", "media-1"])
    assert refused.exit_code != 0 and "RTUK_TURN_SECRET" in refused.output
