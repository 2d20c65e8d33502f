"""Connection quality as the server sees it (docs/MEDIA.md, "Stats"). Loop thread."""

from __future__ import annotations

import time
from typing import Any

from proctor.rtc.relay import PacketTrack
from proctor.rtc.session import MediaSession


async def session_stats(session: MediaSession) -> dict[str, Any]:
    now = time.monotonic()
    v_bps, v_fps = session.video_rate.rates(now)
    a_bps, _ = session.audio_rate.rates(now)
    out: dict[str, Any] = {
        "session_id": session.id,
        "media_s": session.media_s(now),
        "stalled": session.stalled,
        "candidate": None,
        "viewers": {},
        "recording": None,
        "analysis": {"sample_fps": session.sample_fps, "decoded_frames": session.decoded_frames},
    }
    if session.segmenter is not None:
        out["recording"] = {"segments": session.segmenter.segments, "bytes": session.segmenter.bytes,
                            "on": session.recording}
    peer = session.candidate
    if peer is not None:
        inbound: dict[str, Any] = {}
        for kind, receiver in peer.receivers.items():
            report = await receiver.getStats()
            for stat in report.values():
                if getattr(stat, "type", None) == "inbound-rtp":
                    inbound[kind] = {
                        "packets_received": stat.packetsReceived,
                        "packets_lost": stat.packetsLost,
                        "jitter": stat.jitter,
                    }
        rtt = None
        sender = peer.senders.get("audio")
        if sender is not None:
            rtt = remote_inbound(await sender.getStats()).get("rtt_s")
        out["candidate"] = {
            "state": peer.state,
            "connected_s": now - peer.joined_mono,
            "video": {"bitrate_bps": v_bps, "fps": v_fps, "frames": session.video_rate.total_frames,
                      "keyframes": session.video.keyframes, **inbound.get("video", {})},
            "audio": {"bitrate_bps": a_bps, **inbound.get("audio", {})},
            "rtt_s": rtt,
        }
    for viewer_id, viewer in session.viewers.items():
        entry: dict[str, Any] = {"role": viewer.role, "state": viewer.state}
        sender = viewer.senders.get("video")
        if sender is not None:
            report = await sender.getStats()
            remote = remote_inbound(report)
            sent = next((s for s in report.values() if getattr(s, "type", None) == "outbound-rtp"), None)
            bitrate = None
            if sent is not None:
                sample = (now, sent.bytesSent)
                if viewer.last_sent is not None and now > viewer.last_sent[0]:
                    bitrate = (sent.bytesSent - viewer.last_sent[1]) * 8 / (now - viewer.last_sent[0])
                viewer.last_sent = sample
            entry["video"] = {
                "packets_sent": sent.packetsSent if sent else 0,
                "bytes_sent": sent.bytesSent if sent else 0,
                "bitrate_bps": bitrate,
                **remote,
            }
        track = viewer.tracks[0] if viewer.tracks else None
        if isinstance(track, PacketTrack):
            entry["forwarded_frames"] = track.forwarded
            entry["dropped_frames"] = track.dropped
        out["viewers"][viewer_id] = entry
    return out


def remote_inbound(report: Any) -> dict[str, Any]:
    for stat in report.values():
        if getattr(stat, "type", None) == "remote-inbound-rtp":
            return {
                "rtt_s": stat.roundTripTime,
                "fraction_lost": stat.fractionLost / 256 if stat.fractionLost is not None else None,
                "packets_lost": stat.packetsLost,
            }
    return {}
