"""The candidate's media: their offer (camera and microphone in, talk-back out), every encoded frame they send
(relayed, recorded, timed for stall detection) and, when analysis wants frames, the decoded samples. Loop thread."""

from __future__ import annotations

import time
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from proctor.rtc import peers
from proctor.rtc.capture_clock import CaptureClock
from proctor.rtc.options import codecs
from proctor.rtc.relay import (
    is_vp8_keyframe,
    own_transport,
    request_keyframe_upstream,
    share_bandwidth_estimate,
    tap_receiver,
)
from proctor.rtc.sampling import SampleGrid
from proctor.rtc.session import CANDIDATE, MediaSession, Peer
from proctor.sink import EVENT_MEDIA_RESUMED, EVENT_MEDIA_STARTED, EVENT_PEER_JOINED


async def offer(
    session: MediaSession, sdp: str, sessions: dict[str, MediaSession], small: bool = False, audio: bool = True
) -> str:
    """Answer the candidate's offer; a second offer replaces the candidate's connection (rejoin after a drop).

    With *small* the offer's second video section is the small layer (classroom tiles): forwarded as it comes to
    the viewers that ask for it, never recorded, decoded or watched for stalls. ``audio=False``: a video-only source
    (a phone camera, a screen share) that gets no talk-back."""
    host = session.host
    pc = peers.new_pc(host.settings)
    peer = Peer(CANDIDATE, "candidate", pc)

    if audio:
        talkback = session.talkback.subscribe()
        peer.tracks.append(talkback)
        audio_t = pc.addTransceiver(talkback, direction="sendrecv")
        audio_t.setCodecPreferences(codecs("audio", "opus"))
        peer.senders["audio"] = audio_t.sender
    video_t = pc.addTransceiver("video", direction="recvonly")
    video_t.setCodecPreferences(codecs("video", "vp8"))
    small_t = None
    if small:
        small_t = pc.addTransceiver("video", direction="recvonly")
        small_t.setCodecPreferences(codecs("video", "vp8"))
        own_transport(pc, small_t)
        share_bandwidth_estimate(video_t.receiver, small_t.receiver)  # one REMB for what the connection carries

    reencode = host.options.relay_mode == "reencode"
    sampling = host.analysis_on

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        if small_t is not None and receiver is small_t.receiver:
            peer.receivers["video_small"] = receiver
            tap_receiver(receiver, lambda c, d, ts: on_small_video(session, peer, receiver, c, d, ts))
            return
        peer.receivers[track.kind] = receiver
        if track.kind == "video":
            # Decoding costs a core's share per session: only while somebody wants frames (or to re-encode).
            decode = reencode or (sampling and session.sample_fps > 0)
            tap = tap_receiver(receiver, lambda c, d, ts: on_video(session, peer, receiver, c, d, ts), decode=decode)
            if sampling:
                session.video_tap = tap
                host.spawn(sample_frames(session, track))
            if reencode:
                session.decoded_track = track
                session.decoded_relay = MediaRelay()
        else:
            tap_receiver(receiver, lambda c, d, ts: on_audio(session, peer, receiver, d, ts))

    peers.watch_state(session, peer)
    try:
        answer = await peers.answer(pc, sdp, host.settings.ice_gathering_timeout_s)
    except BaseException:
        peers.discard_failed(session, peer, sessions)
        raise

    previous = session.candidate
    session.candidate = peer
    if previous is not None:
        await peers.close_peer(session, previous, "replaced")
    host.emit(session, EVENT_PEER_JOINED, CANDIDATE, role="candidate", can_talk=True, replaced=previous is not None)
    return answer


def on_video(session: MediaSession, peer: Peer, receiver: RTCRtpReceiver, codec: str, data: bytes, ts: int) -> None:
    if session.candidate is not peer or session.closed:
        return
    if codec != "VP8":
        return
    host = session.host
    now = time.monotonic()
    utc = time.time()
    if session.origin_mono is None:
        session.origin_mono, session.origin_utc = now, utc
    if session.last_video_mono is None:
        host.emit(session, EVENT_MEDIA_STARTED, CANDIDATE, kind="video", codec=codec)
    elif session.stalled:
        session.stalled = False
        host.emit(session, EVENT_MEDIA_RESUMED, CANDIDATE, kind="video",
                  downtime_s=round(now - session.last_video_mono, 3))
    session.last_video_mono = now
    session.video_rate.add(now, len(data))
    keyframe = is_vp8_keyframe(data)
    if host.options.relay_mode == "passthrough":
        session.video.push(receiver, data, ts, keyframe)
    # Timed by capture on the connection's clock (the least transit delay seen since it began), not by arrival: a
    # segment whose frames all come late (the sender's encoder queue, a busy loop) still sits where they were
    # captured, and consecutive segments meet without gaps or overlaps.
    captured = peer.video_clock.map(ts, now)
    segmenter = session.segmenter
    if segmenter is not None and session.recording:
        segmenter.add(receiver, data, ts, captured - session.origin_mono, utc - (now - captured))
        if segmenter.wants_keyframe and not keyframe and now - session.last_recorder_pli > 1.0:
            session.last_recorder_pli = now
            host.spawn(request_keyframe_upstream(receiver))


def on_small_video(session: MediaSession, peer: Peer, receiver: RTCRtpReceiver, codec: str, data: bytes,
                   ts: int) -> None:
    if session.candidate is not peer or session.closed or codec != "VP8":
        return
    session.video_small.push(receiver, data, ts, is_vp8_keyframe(data))


def on_audio(session: MediaSession, peer: Peer, receiver: RTCRtpReceiver, data: bytes, ts: int) -> None:
    if session.candidate is not peer or session.closed:
        return
    now = time.monotonic()
    if session.origin_mono is None:
        session.origin_mono, session.origin_utc = now, time.time()
    session.audio_rate.add(now, len(data))
    session.audio.push(receiver, data, ts, False)
    # timed by capture (the RTP clock), as the video samples: arrival jitter would cut speech into pieces
    captured = peer.audio_clock.map(ts, now)
    if session.listen_audio:
        session.host.submit_audio(session, data, time.time() - (now - captured))


async def sample_frames(session: MediaSession, track: MediaStreamTrack) -> None:
    """Read the decoded candidate video (decoded in aiortc's decoder thread) and hand some frames on."""
    host = session.host
    grid = SampleGrid()  # one per track, like the clock
    clock = CaptureClock()  # one per track: a new connection's RTP timestamps start anew
    try:
        while True:
            frame: Any = await track.recv()  # only arrives while the tap feeds the decoder (session.set_sampling)
            session.decoded_frames += 1
            now = time.monotonic()
            captured = clock.map(frame.pts, now)  # every frame: the least transit delay seen sets the mapping
            if not grid.due(captured, session.sample_fps) or session.analysis_busy or session.closed:
                continue  # not wanted, not due yet, or the analysis is still busy with the previous frame: drop
            grid.taken()
            session.analysis_busy = True  # cleared by the frame worker once the callback returns
            # timed by capture (the sender's RTP clock), not by when the decoder delivered it: see capture_clock.py
            media_s = max(0.0, session.media_s(captured) or 0.0)
            if not host.submit_frame(session, frame, media_s, time.time() - (now - captured)):
                session.analysis_busy = False
    except MediaStreamError:
        pass
