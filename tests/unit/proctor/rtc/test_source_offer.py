"""Issue 19: an extra candidate-side source (phone camera, screen share) offers video only; the engine answers it
without a talk-back transceiver (an unused one broke aiortc's answer), and the candidate's rules are unchanged."""

from __future__ import annotations

import pytest

from config.settings import RtcSettings
from proctor.errors import SdpMissingMedia
from proctor.rtc.engine import EngineOptions, MediaEngine
from proctor.rtc.sdp import parse_offer
from proctor.rtc.testing import loopback_ice
from tests.unit.proctor.rtc.test_engine_api import _offer


@pytest.fixture(scope="module")
def offers() -> dict[str, str]:
    return {"video_send": _offer(None, "sendonly"), "video_recv": _offer(None, "recvonly"), "av": _offer()}


def test_a_source_sends_video_and_may_lack_audio(offers: dict[str, str]) -> None:
    assert parse_offer(offers["video_send"], "source").audio_direction is None
    assert parse_offer(offers["av"], "source").sends_audio
    with pytest.raises(SdpMissingMedia):
        parse_offer(offers["video_recv"], "source")
    with pytest.raises(SdpMissingMedia):
        parse_offer(offers["video_send"], "candidate")  # the webcam must still send audio


def test_the_engine_answers_a_video_only_source_in_its_own_session(offers: dict[str, str]) -> None:
    with loopback_ice():
        engine = MediaEngine(RtcSettings(ice_servers=[]), None, None, EngineOptions(call_timeout_s=10)).start()
        try:
            answer = engine.source_offer("s1~phone", offers["video_send"])
            assert "m=video" in answer and "m=audio" not in answer and "VP8/90000" in answer
            # a reconnect of the source through restart_ice falls back to the source's rules
            again = engine.restart_ice("s1~phone", "candidate", offers["video_send"])
            assert "m=video" in again
            # a viewer subscribes to the source's session like to a webcam
            assert "m=video" in engine.viewer_offer("s1~phone", "assessor-1", offers["video_recv"], False)
            assert engine.session_ids() == ["s1~phone"]
            with pytest.raises(SdpMissingMedia):
                engine.source_offer("s1~phone", offers["video_recv"])
        finally:
            engine.stop()
