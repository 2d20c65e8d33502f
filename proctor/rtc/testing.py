"""Helpers for tests and the benchmark: loopback ICE and synthetic aiortc peers. Not used in production."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import aioice.ice
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from proctor.rtc.relay import is_vp8_keyframe, own_transport, tap_receiver, vp8_keyframe_size


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """Make aioice gather only 127.0.0.1 host candidates (it skips loopback by default), for this process."""
    with mock.patch.object(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"]):
        yield


# -- synthetic peers (run them on their own RtcLoop, as if they were another process) --------------------------------


@dataclass
class ReceivedMedia:
    """What a synthetic peer received."""

    video_frames: int = 0
    video_sizes: set[tuple[int, int]] = field(default_factory=set)
    video_arrivals: list[float] = field(default_factory=list)
    audio_frames: int = 0
    audio_sizes: list[int] = field(default_factory=list)
    encoded_hashes: list[str] = field(default_factory=list)
    #: per decoded video frame: (arrival monotonic, the frame's luma plane) when keep_luma is set
    lumas: list[tuple[float, Any]] = field(default_factory=list)
    #: encoded video frames per video section (0: the first, the full video; 1: the classroom's small layer), and
    #: the (width, height) of the keyframes each section received
    by_section: dict[int, int] = field(default_factory=dict)
    section_sizes: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    #: arrival time of every encoded frame per section, and the encoded bytes per section
    section_arrivals: dict[int, list[float]] = field(default_factory=dict)
    section_bytes: dict[int, int] = field(default_factory=dict)

    def fps(self, last_s: float) -> float:
        """Decoded frames per second over the last *last_s* seconds of arrivals."""
        if not self.video_arrivals:
            return 0.0
        end = self.video_arrivals[-1]
        return sum(1 for t in self.video_arrivals if t > end - last_s) / last_s


class SyntheticPeer:
    """A Python aiortc browser stand-in: offers, receives, counts what it decodes."""

    def __init__(self, send: list[MediaStreamTrack], recv: list[str], decode_video: bool = True,
                 keep_luma: Callable[[int], bool] | None = None) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.received = ReceivedMedia()
        self._tasks: list[asyncio.Task[None]] = []
        self._keep_luma = keep_luma
        self._decode_video = decode_video
        kinds_sent = {t.kind for t in send}
        for track in send:
            self.pc.addTransceiver(track, direction="sendrecv" if track.kind in recv else "sendonly")
        for kind in recv:
            if kind not in kinds_sent:
                self.pc.addTransceiver(kind, direction="recvonly")
        seen: set[str] = set()
        for transceiver in self.pc.getTransceivers():  # a second video (the small layer) as a browser sends it
            if transceiver.kind in seen:
                own_transport(self.pc, transceiver)
            seen.add(transceiver.kind)

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
            if track.kind == "video":
                videos = [t for t in self.pc.getTransceivers() if t.kind == "video"]
                section = next(i for i, t in enumerate(videos) if t.receiver is receiver)

                def on_encoded(codec: str, data: bytes, ts: int, section: int = section) -> None:
                    self._on_section(section, data)
                    self._on_encoded(codec, data, ts)

                tap_receiver(receiver, on_encoded, decode=self._decode_video)
                if self._decode_video:
                    self._tasks.append(asyncio.ensure_future(self._consume_video(track)))
            else:
                tap_receiver(receiver, lambda c, d, ts: self._count_audio(d), decode=False)

    def _on_encoded(self, codec: str, data: bytes, ts: int) -> None:
        self.received.encoded_hashes.append(hashlib.sha256(data).hexdigest())
        if not self._decode_video:
            self.received.video_arrivals.append(time.monotonic())
            self.received.video_frames += 1

    def _on_section(self, section: int, data: bytes) -> None:
        r = self.received
        r.by_section[section] = r.by_section.get(section, 0) + 1
        r.section_arrivals.setdefault(section, []).append(time.monotonic())
        r.section_bytes[section] = r.section_bytes.get(section, 0) + len(data)
        if is_vp8_keyframe(data):
            r.section_sizes.setdefault(section, set()).add(vp8_keyframe_size(data))

    def _count_audio(self, data: bytes) -> None:
        self.received.audio_frames += 1
        self.received.audio_sizes.append(len(data))

    async def _consume_video(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                self.received.video_frames += 1
                self.received.video_arrivals.append(now)
                self.received.video_sizes.add((frame.width, frame.height))
                if self._keep_luma is not None and self._keep_luma(self.received.video_frames):
                    self.received.lumas.append((now, frame.to_ndarray(format="gray")))
        except MediaStreamError:
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def wait_connected(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pc.connectionState != "connected":
            if time.monotonic() > deadline:
                raise TimeoutError(f"peer still {self.pc.connectionState}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
