"""Fixtures for the live-session integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def live_app(settings):
    """The app with loopback ICE (browser stand-ins and the media engine on one machine)."""
    from remote_tuk import create_app

    settings.rtc.loopback_ice = True
    app = create_app(settings)
    yield app
    app.extensions["rtuk_media"].stop()
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()
