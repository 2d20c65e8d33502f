"""The pass-through relay hooks into aiortc internals. These tests fail when a new aiortc changes them."""

from __future__ import annotations

import asyncio
import fractions
import queue

import aiortc
import av
import numpy as np
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import depayload
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPacket, RtcpPsfbPacket, RtpPacket

from proctor.rtc.relay import (
    SUPPORTED_AIORTC,
    Fanout,
    RelayHookError,
    check_aiortc_internals,
    is_vp8_keyframe,
    on_keyframe_request,
    request_keyframe_upstream,
    tap_receiver,
    vp8_keyframe_size,
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


class FakeDtlsTransport:
    state = "connected"
    _stats_id = "transport"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def _register_rtp_receiver(self, receiver, parameters) -> None: ...
    def _unregister_rtp_receiver(self, receiver) -> None: ...
    def _register_rtp_sender(self, sender, parameters) -> None: ...
    def _unregister_rtp_sender(self, sender) -> None: ...
    def _get_stats(self) -> dict:
        return {}

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


def _frames(count: int, keyframe_every: int = 0) -> list[tuple[list[bytes], int, bytes]]:
    """(RTP payloads, timestamp, the VP8 frame) from aiortc's own encoder."""
    encoder = Vp8Encoder()
    out = []
    rng = np.random.default_rng(1)
    for i in range(count):
        image = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, ts = encoder.encode(frame, force_keyframe=bool(keyframe_every and i % keyframe_every == 0))
        data = b"".join(depayload(VP8, p) for p in payloads)
        out.append((payloads, ts, data))
    return out


def test_pinned_aiortc_version_and_internals() -> None:
    assert aiortc.__version__ in SUPPORTED_AIORTC
    check_aiortc_internals()


def test_tap_receives_exactly_the_encoded_frames_and_skips_the_decoder() -> None:
    async def scenario() -> tuple[list, list]:
        transport = FakeDtlsTransport()
        receiver = RTCRtpReceiver("video", transport)
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        assert isinstance(receiver._RTCRtpReceiver__decoder_queue, queue.Queue)
        tapped: list[tuple[str, bytes, int]] = []
        tap_receiver(receiver, lambda codec, data, ts: tapped.append((codec, data, ts)), decode=False)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
        with pytest.raises(RelayHookError, match="already started"):
            tap_receiver(receiver, lambda *a: None)
        frames = _frames(5)
        seq = 1000
        for payloads, ts, _ in frames:
            for i, payload in enumerate(payloads):
                packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts + 12345, ssrc=42,
                                   payload=payload, marker=int(i == len(payloads) - 1))
                seq += 1
                await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
        decoded = receiver._track._queue.qsize()
        await receiver.stop()
        return tapped, [(f[2], f[1]) for f in frames], decoded

    tapped, sent, decoded = asyncio.run(scenario())
    # A frame is complete when the next one starts: the first 4 of 5 come out, byte-identical, in order.
    assert [t[1] for t in tapped] == [s[0] for s in sent[:4]]
    assert {t[0] for t in tapped} == {"VP8"}
    # Timestamps are rebased by aiortc's TimestampMapper to start at 0, in the 90 kHz clock.
    assert [t[2] for t in tapped] == [s[1] - sent[0][1] for s in sent[:4]]
    assert is_vp8_keyframe(tapped[0][1]) and not is_vp8_keyframe(tapped[1][1])
    assert vp8_keyframe_size(tapped[0][1]) == (320, 240)
    assert decoded == 0  # nothing was decoded


def test_tap_can_still_feed_the_decoder() -> None:
    async def scenario() -> int:
        receiver = RTCRtpReceiver("video", FakeDtlsTransport())
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        tap_receiver(receiver, lambda *a: None, decode=True)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
        seq = 0
        for payloads, ts, _ in _frames(3):
            for payload in payloads:
                await receiver._handle_rtp_packet(
                    RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=1, payload=payload), 0)
                seq += 1
        frame = await asyncio.wait_for(receiver._track.recv(), 5)
        await receiver.stop()
        return frame.width

    assert asyncio.run(scenario()) == 320


def test_sender_packs_av_packets_without_encoding() -> None:
    _, _, data = _frames(1)[0]
    packet = av.Packet(data)
    packet.pts = 3000
    packet.time_base = fractions.Fraction(1, 90000)
    payloads, timestamp = Vp8Encoder().pack(packet)
    assert timestamp == 3000
    assert b"".join(depayload(VP8, p) for p in payloads) == data


def test_pli_from_a_viewer_reaches_the_callback_and_pli_goes_upstream() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        transport = FakeDtlsTransport()
        sender = RTCRtpSender("video", transport)
        calls: list[int] = []
        on_keyframe_request(sender, lambda: calls.append(1))
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=7, media_ssrc=sender._ssrc))

        receiver = RTCRtpReceiver("video", transport)
        receiver._track = aiortc.rtcrtpreceiver.RemoteStreamTrack(kind="video")
        receiver._set_rtcp_ssrc(99)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
        payloads, ts, _ = _frames(1)[0]
        await receiver._handle_rtp_packet(RtpPacket(payload_type=96, sequence_number=1, timestamp=ts, ssrc=4242,
                                                    payload=payloads[0]), 0)
        transport.sent.clear()
        assert await request_keyframe_upstream(receiver)
        await receiver.stop()
        return len(calls), transport.sent

    calls, sent = asyncio.run(scenario())
    assert calls == 1
    plis = [p for data in sent for p in RtcpPacket.parse(data) if isinstance(p, RtcpPsfbPacket)]
    assert [(p.fmt, p.media_ssrc) for p in plis] == [(RTCP_PSFB_PLI, 4242)]


def test_fanout_starts_viewers_at_a_keyframe_rebases_sources_and_recovers_slow_viewers() -> None:
    async def scenario() -> None:
        requests: list[int] = []
        fanout = Fanout("video", request_keyframe=lambda: requests.append(1), keyframe_interval_s=0.0, max_queue=3)
        frames = _frames(6, keyframe_every=3)
        track = fanout.subscribe()
        assert requests  # a new viewer asks for a keyframe
        source_a, source_b = object(), object()
        # The stream starts mid-GOP: the delta frame is dropped, the viewer starts at the keyframe.
        fanout.push(source_a, frames[1][2], 0, keyframe=False)
        fanout.push(source_a, frames[3][2], 3000, keyframe=True)
        fanout.push(source_a, frames[4][2], 6000, keyframe=False)
        first = await track.recv()
        assert bytes(first) == frames[3][2]
        second = await track.recv()
        # A new source (the candidate rejoined) starts again at 0: its delta frames wait for its first keyframe,
        # and the output timestamps keep going up.
        requests.clear()
        fanout.push(source_b, frames[1][2], 0, keyframe=False)
        assert requests and track._queue.empty()
        out = fanout.push(source_b, frames[0][2], 3000, keyframe=True)
        assert out > second.pts
        third = await track.recv()
        assert third.pts == out and third.time_base == fractions.Fraction(1, 90000)
        # A viewer that does not read: its queue is dropped and it waits for the next keyframe.
        requests.clear()
        for i in range(5):
            fanout.push(source_b, frames[1][2], 3000 * (i + 1), keyframe=False)
        assert requests and track.dropped >= 4
        fanout.push(source_b, frames[3][2], 30000, keyframe=True)
        assert bytes(await track.recv()) == frames[3][2]
        track.stop()
        assert fanout.subscribers == []

    asyncio.run(scenario())
