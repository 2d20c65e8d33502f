"""The engine's knobs (:class:`EngineOptions`) and how its peer connections are configured (ICE servers, codecs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCIceServer, RTCRtpSender

from config.settings import RtcSettings
from proctor.rtc.sdp import MAX_SDP_BYTES

RelayMode = Literal["passthrough", "reencode"]


@dataclass(frozen=True)
class EngineOptions:
    """Engine knobs that are not deployment settings (tests and the benchmark change them)."""

    #: "passthrough" forwards encoded packets; "reencode" decodes once and re-encodes per viewer (benchmark only).
    relay_mode: RelayMode = "passthrough"
    #: Server-side secondary recording (IVF segments to the sink).
    record: bool = True
    #: Record every session from its first frame; False: only while ``MediaEngine.record(session_id, True)`` says so
    #: (the web layer records while the session is live, on the session's media clock).
    record_from_start: bool = True
    segment_s: float = 4.0
    #: No candidate video for this long = a stall (evidence event, recording segment closed).
    stall_after_s: float = 2.0
    #: A session with nobody connected for this long is closed ("idle"): the web layer may never have said it ended.
    idle_close_s: float = 900.0
    #: Decoded frames per second handed to ``on_frame`` for every session (0 = decode a session's video only while
    #: ``MediaEngine.sample_frames(session_id, fps)`` asks for it).
    analysis_fps: float = 0.0
    #: How long a synchronous call waits for the loop thread.
    call_timeout_s: float = 20.0
    max_sdp_bytes: int = MAX_SDP_BYTES


def ice_configuration(settings: RtcSettings) -> RTCConfiguration:
    """RTCConfiguration with exactly the configured ICE servers (an empty list, never aiortc's public STUN default)."""
    servers: list[RTCIceServer] = []
    for entry in settings.ice_servers:
        urls = entry.get("urls")
        if not urls:
            raise ValueError(f"ICE server entry without 'urls': {entry!r}")
        servers.append(
            RTCIceServer(
                urls=urls,
                username=entry.get("username"),
                credential=entry.get("credential"),
                credentialType=entry.get("credentialType", "password"),
            )
        )
    return RTCConfiguration(iceServers=servers)


def codecs(kind: str, name: str) -> list[Any]:
    """The codec preferences for one transceiver: *name* (e.g. VP8, Opus) and its retransmission codec."""
    caps = RTCRtpSender.getCapabilities(kind).codecs
    wanted = [c for c in caps if c.mimeType.lower() == f"{kind}/{name}"]
    rtx = [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]
    return wanted + rtx
