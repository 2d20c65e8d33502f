"""Engine API refusals and configuration, without any media flowing."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

from config.settings import RtcSettings
from proctor.errors import InvalidSdp, SdpMissingMedia, SdpTooLarge, UnknownPeer, UnknownSession, UnsupportedCodec
from proctor.rtc.engine import EngineOptions, MediaEngine, ice_configuration
from proctor.rtc.sdp import parse_offer
from proctor.rtc.testing import loopback_ice


def _offer(audio: str | None = "sendrecv", video: str | None = "sendrecv", *more_video: str) -> str:
    async def make() -> str:
        pc = RTCPeerConnection(ice_configuration(RtcSettings(ice_servers=[])))
        if audio:
            pc.addTransceiver("audio", direction=audio)
        if video:
            pc.addTransceiver("video", direction=video)
        for direction in more_video:
            pc.addTransceiver("video", direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    with loopback_ice():
        return asyncio.run(make())


@pytest.fixture(scope="module")
def offers() -> dict[str, str]:
    return {
        "av": _offer(),
        "recv": _offer("recvonly", "recvonly"),
        "video_only_recv": _offer(None, "recvonly"),
        "audio_only": _offer("sendrecv", None),
        "av_small": _offer("sendrecv", "sendrecv", "sendonly"),  # the candidate's page with the classroom layer
        "tile": _offer("sendrecv", "recvonly", "recvonly"),  # a classroom tile
        "three_video": _offer("sendrecv", "sendrecv", "sendonly", "sendonly"),
    }


@pytest.fixture
def engine():
    with loopback_ice():
        eng = MediaEngine(RtcSettings(ice_servers=[]), None, None, EngineOptions(call_timeout_s=10)).start()
        yield eng
        eng.stop()


def test_offers_accepted_per_role(offers: dict[str, str]) -> None:
    assert parse_offer(offers["av"], "candidate").sends_audio
    assert not parse_offer(offers["recv"], "assessor").sends_audio
    assert parse_offer(offers["av"], "assessor").sends_audio
    assert parse_offer(offers["video_only_recv"], "witness").audio_direction is None


@pytest.mark.parametrize(
    ("sdp", "role", "error", "match"),
    [
        (None, "candidate", InvalidSdp, "must be a string"),
        ("v=0\r\n" + "a=x\r\n" * 10_000, "candidate", SdpTooLarge, "bytes"),
        ("hello", "candidate", InvalidSdp, "v=0"),
        ("v=0\r\nm=video notaport RTP/AVP 96\r\n", "candidate", InvalidSdp, "cannot be parsed"),
    ],
)
def test_malformed_offers(sdp, role, error, match) -> None:
    with pytest.raises(error, match=match):
        parse_offer(sdp, role)


def test_the_classroom_small_layer_is_a_second_video_section(offers: dict[str, str]) -> None:
    assert parse_offer(offers["av_small"], "candidate").video_sections == 2
    assert parse_offer(offers["tile"], "assessor").video_sections == 2
    assert parse_offer(offers["av"], "candidate").video_sections == 1
    with pytest.raises(InvalidSdp, match="two video sections"):
        parse_offer(offers["three_video"], "candidate")
    with pytest.raises(SdpMissingMedia, match="small video layer is 'recvonly'; it must send"):
        parse_offer(offers["tile"].replace("a=sendrecv", "a=sendonly").replace("a=recvonly", "a=sendonly", 1),
                    "candidate")
    with pytest.raises(SdpMissingMedia, match="small video layer is 'sendonly'; it must receive"):
        parse_offer(offers["av_small"].replace("a=sendrecv", "a=recvonly"), "witness")


def test_wrong_media_for_the_role(offers: dict[str, str]) -> None:
    with pytest.raises(SdpMissingMedia, match="no audio"):
        parse_offer(offers["video_only_recv"].replace("recvonly", "sendrecv"), "candidate")
    with pytest.raises(SdpMissingMedia, match="must send"):
        parse_offer(offers["recv"], "candidate")
    with pytest.raises(SdpMissingMedia, match="no video"):
        parse_offer(offers["audio_only"], "assessor")
    with pytest.raises(UnsupportedCodec, match="VP8"):
        parse_offer(offers["av"].replace("VP8/90000", "VP9/90000"), "candidate")
    many = "".join(f"a=candidate:{i} 1 udp 2130706431 127.0.0.1 {10000 + i} typ host\r\n" for i in range(30))
    with pytest.raises(InvalidSdp, match="ICE candidates"):
        parse_offer(offers["av"].replace("a=end-of-candidates\r\n", many + "a=end-of-candidates\r\n", 1), "candidate")
    with pytest.raises(InvalidSdp, match="fingerprint"):
        parse_offer("\r\n".join(x for x in offers["av"].split("\r\n") if "fingerprint" not in x), "candidate")


def test_engine_refuses_bad_input_and_changes_nothing(engine: MediaEngine, offers: dict[str, str]) -> None:
    with pytest.raises(SdpMissingMedia):
        engine.candidate_offer("s1", offers["recv"])
    with pytest.raises(InvalidSdp):
        engine.viewer_offer("s1", "v1", "garbage", can_talk=False)
    with pytest.raises(UnknownPeer):
        engine.viewer_offer("s1", "candidate", offers["recv"], can_talk=False)
    assert engine.session_ids() == []
    with pytest.raises(UnknownSession):
        engine.stats("s1")
    with pytest.raises(UnknownSession):
        engine.close_session("s1")
    with pytest.raises(UnknownPeer):
        engine.restart_ice("s1", "nobody", offers["recv"])


def test_answer_uses_only_configured_ice_servers(engine: MediaEngine, offers: dict[str, str]) -> None:
    # aiortc's trap: RTCConfiguration() without iceServers falls back to Google's public STUN.
    assert ice_configuration(RtcSettings(ice_servers=[])).iceServers == []
    configured = ice_configuration(RtcSettings(ice_servers='[{"urls": ["turn:turn.lsp.example:3478"], '
                                                           '"username": "u", "credential": "p"}]'))
    assert [s.urls for s in configured.iceServers] == [["turn:turn.lsp.example:3478"]]
    answer = engine.candidate_offer("s1", offers["av"])
    assert "a=candidate:" in answer and "127.0.0.1" in answer
    assert "srflx" not in answer and "relay" not in answer
    assert "VP8/90000" in answer and "H264" not in answer
    assert engine.session_ids() == ["s1"]
    stats = engine.stats("s1")
    assert stats["candidate"]["state"] in ("new", "connecting")
    engine.close_session("s1")
    assert engine.session_ids() == []


def test_a_session_nobody_is_connected_to_is_closed_after_the_idle_time(offers: dict[str, str]) -> None:
    import time

    events = []
    with loopback_ice():
        eng = MediaEngine(RtcSettings(ice_servers=[]), None, events.append,
                          EngineOptions(call_timeout_s=10, idle_close_s=0.5)).start()
        try:
            eng.candidate_offer("s1", offers["av"])
            time.sleep(1.0)
            assert eng.session_ids() == ["s1"]  # someone is (trying to be) connected
            eng.close_candidate("s1")
            deadline = time.monotonic() + 5
            while eng.session_ids() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert eng.session_ids() == []
            eng.flush()
        finally:
            eng.stop()
    assert [(e.type, dict(e.data).get("reason")) for e in events][-2:] == [("peer.left", "left"),
                                                                          ("session.closed", "idle")]


def test_audio_for_analysis_is_asked_per_session_and_needs_a_consumer(engine: MediaEngine, offers) -> None:
    """Issue 14: the candidate's audio goes to ``on_audio`` only for the sessions the web layer listens to."""
    from proctor.errors import ProctorError

    with pytest.raises(ProctorError):
        engine.listen_audio("s1", True)  # this engine has no on_audio
    got: list[tuple[str, int]] = []
    with loopback_ice():
        eng = MediaEngine(RtcSettings(ice_servers=[]), None, None, EngineOptions(call_timeout_s=10),
                          on_audio=lambda sid, data, utc: got.append((sid, len(data)))).start()
        try:
            eng.listen_audio("s1", True)  # before the candidate joins: applied when the session exists
            eng.candidate_offer("s1", offers["av"])
            assert eng._sessions["s1"].listen_audio is True
            eng.listen_audio("s1", False)
            assert eng._sessions["s1"].listen_audio is False
            assert "s1" not in eng._wanted  # back to the defaults: nothing remembered
            eng.listen_audio("s1", True)
            session = eng._sessions["s1"]
            assert eng.submit_audio(session, b"\x01\x02", 0.0)
            eng._frames_pool.submit(lambda: None).result(5)
            assert got == [("s1", 2)]
        finally:
            eng.stop()
