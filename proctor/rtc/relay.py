"""Pass-through relay: the candidate's encoded frames go to every viewer as ``av.Packet``, never re-encoded.

aiortc always decodes what it receives; there is no public API for the encoded frames. Each ``RTCRtpReceiver`` puts
``(codec, JitterFrame)`` tuples (complete encoded frames, reassembled from RTP and depayloaded) into a private
``queue.Queue`` that its decoder thread reads. :func:`tap_receiver` replaces that queue, before the receiver starts,
with :class:`TapQueue`, which hands every encoded frame to a callback on the event loop and passes it to the decoder
only when decoded frames are wanted. ``RTCRtpSender`` accepts ``av.Packet`` from a track and only packetizes it, so
:class:`PacketTrack` feeds the viewers' senders without an encoder.

This depends on aiortc internals (the name-mangled ``_RTCRtpReceiver__decoder_queue``, the ``JitterFrame`` shape, the
sender's ``_send_keyframe`` hook for PLI/FIR). aiortc is pinned (:data:`SUPPORTED_AIORTC`) and
``tests/unit/proctor/rtc/test_relay_hook.py`` fails when any of it changes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import aiortc
import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError

logger = logging.getLogger(__name__)

#: aiortc versions whose internals the hook was checked against.
SUPPORTED_AIORTC = ("1.16.0",)
_DECODER_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_STARTED_ATTR = "_RTCRtpReceiver__started"

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK)
AUDIO_TIME_BASE = Fraction(1, AUDIO_CLOCK)


class RelayHookError(RuntimeError):
    """The aiortc internals the pass-through hook relies on are not what it expects."""


#: on_frame(codec_name, data, rtp_timestamp): called on the loop thread for every complete encoded frame.
FrameCallback = Callable[[str, bytes, int], None]


class TapQueue(queue.Queue):  # type: ignore[type-arg]
    """Stands in for the receiver's decoder queue: taps encoded frames, optionally still feeds the decoder."""

    def __init__(self, on_frame: FrameCallback, decode: bool) -> None:
        super().__init__()
        self.on_frame = on_frame
        self.decode = decode
        self._await_keyframe = False

    def set_decode(self, on: bool) -> None:
        """Start or stop feeding the decoder (any thread). A decoder switched on starts at the next keyframe."""
        if on and not self.decode:
            self._await_keyframe = True
        self.decode = on

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping its decoder thread
            super().put(item, block, timeout)
            return
        codec, encoded_frame = item
        try:
            self.on_frame(codec.name, encoded_frame.data, encoded_frame.timestamp)
        except Exception:
            logger.exception("relay tap callback failed")
        if not self.decode:
            return
        if self._await_keyframe:
            if codec.name == "VP8" and not is_vp8_keyframe(encoded_frame.data):
                return
            self._await_keyframe = False
        super().put(item, block, timeout)


def check_aiortc_internals() -> None:
    """Raise :class:`RelayHookError` unless this aiortc has the internals the hook uses."""
    if aiortc.__version__ not in SUPPORTED_AIORTC:
        raise RelayHookError(f"aiortc {aiortc.__version__} is not one of {SUPPORTED_AIORTC} the relay hook supports")
    if not callable(getattr(RTCRtpSender, "_send_keyframe", None)):
        raise RelayHookError("RTCRtpSender._send_keyframe is gone")
    if not callable(getattr(RTCRtpReceiver, "_send_rtcp_pli", None)):
        raise RelayHookError("RTCRtpReceiver._send_rtcp_pli is gone")
    if not callable(getattr(RTCPeerConnection, _CREATE_DTLS_ATTR, None)):
        raise RelayHookError(f"RTCPeerConnection.{_CREATE_DTLS_ATTR} is gone")


_CREATE_DTLS_ATTR = "_RTCPeerConnection__createDtlsTransport"
_ESTIMATOR_ATTR = "_RTCRtpReceiver__remote_bitrate_estimator"


def share_bandwidth_estimate(main: RTCRtpReceiver, second: RTCRtpReceiver) -> None:
    """Make *second* (the classroom's small layer) feed the same receive-side bandwidth estimator as *main*.

    aiortc gives every video receiver its own estimator, each REMB it sends is capped near what that receiver alone
    receives, and the browser applies every REMB to the whole connection. With two video sections the full stream's
    estimate then leaves no room for the small layer, the browser takes that room from the full stream, the full
    stream's estimate shrinks with it, and the loop settles at a starved camera (measured: 4-13 fps at ~60 kbit/s
    instead of >= 25 fps at 640x480). One estimator over both streams estimates what the connection really carries.
    """
    for receiver in (main, second):
        if not hasattr(receiver, _ESTIMATOR_ATTR):
            raise RelayHookError(f"RTCRtpReceiver has no {_ESTIMATOR_ATTR} (aiortc {aiortc.__version__})")
    setattr(second, _ESTIMATOR_ATTR, getattr(main, _ESTIMATOR_ATTR))


def own_transport(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver) -> None:
    """Give a second transceiver of the same kind (the classroom's small video layer) a transport of its own.

    aiortc's default bundle policy (balanced) puts the second video transceiver on the first one's transport and
    marks it bundled at once; when the offer's BUNDLE group then moves every slave m-line onto the primary (an audio
    m-line first, as Chromium's candidate page and aiortc offer), the pre-bundled transceiver is skipped and left on
    the first video's discarded transport: it never sends nor receives. With a transport of its own, it is moved
    onto the primary like the others (and without BUNDLE it simply uses its own). Call before the remote offer.
    """
    dtls = getattr(pc, _CREATE_DTLS_ATTR)()
    transceiver.receiver.setTransport(dtls)
    transceiver.sender.setTransport(dtls)
    transceiver._bundled = False


def tap_receiver(receiver: RTCRtpReceiver, on_frame: FrameCallback, decode: bool = False) -> TapQueue:
    """Install the encoded-frame tap on *receiver*. Must be called before the receiver starts (in ``on("track")``).

    Returns the tap, whose ``set_decode(on)`` switches decoding of the received frames on and off later."""
    current = getattr(receiver, _DECODER_QUEUE_ATTR, None)
    if not isinstance(current, queue.Queue):
        raise RelayHookError(f"RTCRtpReceiver has no {_DECODER_QUEUE_ATTR} queue (aiortc {aiortc.__version__})")
    if getattr(receiver, _STARTED_ATTR, True):
        raise RelayHookError("the receiver has already started; tap it from the 'track' event")
    tap = TapQueue(on_frame, decode)
    setattr(receiver, _DECODER_QUEUE_ATTR, tap)
    return tap


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call *callback* when the remote side of *sender* asks for a keyframe (RTCP PLI or FIR)."""
    original = sender._send_keyframe

    def _send_keyframe() -> None:
        original()
        try:
            callback()
        except Exception:
            logger.exception("keyframe request callback failed")

    sender._send_keyframe = _send_keyframe  # type: ignore[method-assign]


async def request_keyframe_upstream(receiver: RTCRtpReceiver) -> bool:
    """Send an RTCP PLI for every SSRC *receiver* currently receives. Returns whether one was sent."""
    sent = False
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
        sent = True
    return sent


def is_vp8_keyframe(data: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte is 0 and the start code follows (RFC 6386 9.1)."""
    return len(data) >= 10 and not (data[0] & 0x01) and data[3:6] == b"\x9d\x01\x2a"


def vp8_keyframe_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a VP8 keyframe."""
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class PacketTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns encoded ``av.Packet``\\ s that a :class:`Fanout` pushes into it."""

    def __init__(self, kind: str, fanout: Fanout, max_queue: int) -> None:
        super().__init__()
        self.kind = kind
        self._fanout = fanout
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._need_keyframe = kind == "video"
        #: A paused track forwards nothing (the classroom's full layer of a candidate who is not in focus).
        self.paused = False
        self.forwarded = 0
        self.dropped = 0

    def set_paused(self, on: bool) -> None:
        """Stop forwarding (and drop what is queued), or start again from the next keyframe, asked for at once."""
        if on == self.paused:
            return
        self.paused = on
        if on:
            while not self._queue.empty():
                self._queue.get_nowait()
        if self.kind == "video":
            self._need_keyframe = True
            if not on:
                self._fanout.want_keyframe(force=True)

    def offer(self, packet: av.Packet, keyframe: bool) -> None:
        if self.readyState != "live" or self.paused:
            return
        if self._need_keyframe:
            if not keyframe:
                self.dropped += 1
                self._fanout.want_keyframe()
                return
            self._need_keyframe = False
        if self._queue.qsize() >= self._max_queue:
            # The viewer's sender is not keeping up: drop what is queued and restart from a keyframe.
            dropped = 0
            while not self._queue.empty():
                self._queue.get_nowait()
                dropped += 1
            self.dropped += dropped + 1
            if self.kind == "video":
                self._need_keyframe = True
                self._fanout.want_keyframe()
                return
        self._queue.put_nowait(packet)

    def restart_at_keyframe(self) -> None:
        self._need_keyframe = self.kind == "video"

    def request_keyframe(self) -> None:
        """The viewer asked for a keyframe (PLI): ask the source."""
        self._fanout.want_keyframe()

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.forwarded += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._queue.put_nowait(None)
        super().stop()
        self._fanout.unsubscribe(self)


class Fanout:
    """One encoded stream (a session's candidate video, or audio) forwarded to any number of :class:`PacketTrack`.

    Sources change when the candidate reconnects (a new receiver whose RTP timestamps start again at 0); the fanout
    rebases timestamps so every subscriber sees one monotonic stream.
    """

    def __init__(
        self,
        kind: str,
        request_keyframe: Callable[[], None] | None = None,
        keyframe_interval_s: float = 0.5,
        max_queue: int | None = None,
    ) -> None:
        self.kind = kind
        self.clock = VIDEO_CLOCK if kind == "video" else AUDIO_CLOCK
        self.time_base = VIDEO_TIME_BASE if kind == "video" else AUDIO_TIME_BASE
        self._frame_ticks = self.clock // 30 if kind == "video" else 960
        self._request_keyframe = request_keyframe
        self._keyframe_interval_s = keyframe_interval_s
        self._last_keyframe_request = 0.0
        self._max_queue = max_queue or (30 if kind == "video" else 50)
        self._subscribers: list[PacketTrack] = []
        self._source: object | None = None
        self._offset = 0
        self._last_out: int | None = None
        self.frames = 0
        self.keyframes = 0

    def set_keyframe_requester(self, request_keyframe: Callable[[], None] | None) -> None:
        self._request_keyframe = request_keyframe

    def subscribe(self) -> PacketTrack:
        track = PacketTrack(self.kind, self, self._max_queue)
        self._subscribers.append(track)
        if self.kind == "video":
            self.want_keyframe()
        return track

    def unsubscribe(self, track: PacketTrack) -> None:
        if track in self._subscribers:
            self._subscribers.remove(track)

    @property
    def subscribers(self) -> list[PacketTrack]:
        return list(self._subscribers)

    def want_keyframe(self, force: bool = False) -> None:
        """Ask the source for a keyframe, at most once per ``keyframe_interval_s`` (unless *force*: a viewer
        switched to this stream now and waits for its first picture)."""
        now = time.monotonic()
        recent = now - self._last_keyframe_request < self._keyframe_interval_s
        if self._request_keyframe is None or (recent and not force):
            return
        self._last_keyframe_request = now
        self._request_keyframe()

    def push(self, source: object, data: bytes, timestamp: int, keyframe: bool) -> int:
        """Forward one encoded frame from *source*; returns its output timestamp (in the stream's clock)."""
        if source is not self._source:
            if self._source is not None and self.kind == "video":
                # A new source's delta frames do not follow the old one's: every viewer restarts at a keyframe.
                for track in self._subscribers:
                    track.restart_at_keyframe()
                if not keyframe:
                    self.want_keyframe()
            self._source = source
            base = 0 if self._last_out is None else self._last_out + self._frame_ticks
            self._offset = base - timestamp
        out = timestamp + self._offset
        if self._last_out is not None and out <= self._last_out:
            out = self._last_out + 1
        self._last_out = out
        self.frames += 1
        if keyframe:
            self.keyframes += 1
        if not self._subscribers:
            return out
        packet = av.Packet(data)
        packet.pts = out
        packet.dts = out
        packet.time_base = self.time_base
        for track in self._subscribers:
            track.offer(packet, keyframe)
        return out

    def close(self) -> None:
        for track in list(self._subscribers):
            track.stop()
        self._subscribers.clear()
