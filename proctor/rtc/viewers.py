"""Viewers (assessors, witnesses): their offers, the candidate's packets forwarded to them, and the talk-back floor
(one assessor's microphone to the candidate at a time, silence otherwise). Loop thread."""

from __future__ import annotations

import time

from aiortc import MediaStreamTrack, RTCRtpReceiver

from proctor.errors import ProctorError, UnknownPeer
from proctor.rtc import peers
from proctor.rtc.options import codecs
from proctor.rtc.relay import PacketTrack, on_keyframe_request, own_transport, tap_receiver
from proctor.rtc.session import MediaSession, Peer, Role
from proctor.sink import EVENT_PEER_JOINED

#: An Opus 20 ms CELT frame that decodes to silence. Sent to the candidate a few times a second while nobody talks, so
#: the candidate's RTCP receiver reports give the server a round-trip time for the candidate's link.
OPUS_SILENCE = b"\xf8\xff\xfe"
_SILENCE = object()


async def offer(
    session: MediaSession,
    viewer_id: str,
    sdp: str,
    can_talk: bool,
    has_audio: bool,
    sessions: dict[str, MediaSession],
    small: bool = False,
    full: bool = True,
) -> str:
    """Answer a viewer's offer; a second offer with the same *viewer_id* replaces that viewer's connection.

    With *small* the offer's second video section receives the candidate's small layer (a classroom tile); *full*
    false starts the full video paused (see :func:`set_full`)."""
    host = session.host
    pc = peers.new_pc(host.settings)
    role: Role = "assessor" if can_talk else "witness"
    peer = Peer(viewer_id, role, pc, can_talk=can_talk)

    if host.options.relay_mode == "reencode":
        if session.decoded_relay is None or session.decoded_track is None:
            await pc.close()
            raise ProctorError("re-encode relay needs the candidate connected first")
        video_track: MediaStreamTrack = session.decoded_relay.subscribe(session.decoded_track, buffered=False)
    else:
        video_track = session.video.subscribe()
    peer.tracks.append(video_track)
    video_t = pc.addTransceiver(video_track, direction="sendonly")
    video_t.setCodecPreferences(codecs("video", "vp8"))
    peer.senders["video"] = video_t.sender
    if isinstance(video_track, PacketTrack):
        on_keyframe_request(video_t.sender, video_track.request_keyframe)
        peer.full_track = video_track
        if not full:
            video_track.set_paused(True)
    peer.full_on = full
    if small:
        small_track = session.video_small.subscribe()
        peer.tracks.append(small_track)
        small_t = pc.addTransceiver(small_track, direction="sendonly")
        small_t.setCodecPreferences(codecs("video", "vp8"))
        own_transport(pc, small_t)
        peer.senders["video_small"] = small_t.sender
        on_keyframe_request(small_t.sender, small_track.request_keyframe)

    if has_audio:
        audio_track = session.audio.subscribe()
        peer.tracks.append(audio_track)
        audio_t = pc.addTransceiver(audio_track, direction="sendrecv" if can_talk else "sendonly")
        audio_t.setCodecPreferences(codecs("audio", "opus"))
        peer.senders["audio"] = audio_t.sender

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        peer.receivers[track.kind] = receiver
        if track.kind == "audio" and can_talk:
            tap_receiver(receiver, lambda c, d, ts: on_audio(session, peer, receiver, d, ts))
        else:
            # A witness's (or any viewer's video) media is not wanted: drop it undecoded.
            tap_receiver(receiver, lambda c, d, ts: None)

    peers.watch_state(session, peer)
    try:
        answer = await peers.answer(pc, sdp, host.settings.ice_gathering_timeout_s)
    except BaseException:
        peers.discard_failed(session, peer, sessions)
        raise

    previous = session.viewers.get(viewer_id)
    session.viewers[viewer_id] = peer
    if previous is not None:
        await peers.close_peer(session, previous, "replaced")
    host.emit(session, EVENT_PEER_JOINED, viewer_id, role=role, can_talk=can_talk, replaced=previous is not None)
    if session.candidate is not None:
        session.video.want_keyframe()
    return answer


def set_full(session: MediaSession, viewer_id: str, on: bool) -> None:
    """Forward the candidate's full video to this viewer, or pause it (the small layer keeps flowing)."""
    peer = session.viewers.get(viewer_id)
    if peer is None:
        raise UnknownPeer(f"no viewer {viewer_id!r} in session {session.id!r}")
    peer.full_on = on
    if isinstance(peer.full_track, PacketTrack):
        peer.full_track.set_paused(not on)


def on_audio(session: MediaSession, peer: Peer, receiver: RTCRtpReceiver, data: bytes, ts: int) -> None:
    if session.viewers.get(peer.peer_id) is not peer or session.closed:
        return
    now = time.monotonic()
    # One talker at a time (no mixing without decoding): the floor is held while packets keep coming.
    if session.talker is not receiver and session.talker is not None and now - session.talker_last < 1.0:
        return
    session.talker = receiver
    session.talker_last = now
    session.talkback.push(receiver, data, ts, False)


def keep_talkback_alive(session: MediaSession, now: float) -> None:
    """Silence to the candidate while nobody talks (keeps RTCP, and so the candidate's RTT, flowing)."""
    peer = session.candidate
    if peer is None or peer.state != "connected" or session.closed:
        return
    if session.talker is None or now - session.talker_last > 0.5:
        session.talker = None
        session.talkback.push(_SILENCE, OPUS_SILENCE, int(now * 48_000), False)
