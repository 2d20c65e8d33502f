"""Peer connections: creating them with the configured ICE servers, answering an offer with complete ICE (aiortc has
no trickle ICE), following their state, and closing them. Loop thread only."""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCPeerConnection, RTCSessionDescription

from config.settings import RtcSettings
from proctor.errors import IceGatheringTimeout, InvalidSdp, UnsupportedCodec
from proctor.rtc.options import ice_configuration
from proctor.rtc.session import CANDIDATE, MediaSession, Peer
from proctor.sink import EVENT_PEER_LEFT, EVENT_PEER_STATE

logger = logging.getLogger(__name__)


def new_pc(settings: RtcSettings) -> RTCPeerConnection:
    return RTCPeerConnection(ice_configuration(settings))


async def answer(pc: RTCPeerConnection, sdp: str, gathering_timeout_s: float) -> str:
    """Apply *sdp* as the remote offer and return the local answer with every ICE candidate gathered."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # noqa: BLE001 - aiortc: OperationError (no common codec), ValueError, InvalidStateError ...
        await pc.close()
        if "codec" in str(exc).lower() or "send parameters" in str(exc):
            raise UnsupportedCodec(f"no common codec: {exc}") from None
        raise InvalidSdp(f"the offer was refused: {type(exc).__name__}: {exc}") from None
    local = await pc.createAnswer()
    try:
        # aiortc gathers every candidate inside setLocalDescription (no trickle ICE).
        await asyncio.wait_for(pc.setLocalDescription(local), gathering_timeout_s)
    except TimeoutError:
        await pc.close()
        raise IceGatheringTimeout(f"ICE gathering did not complete in {gathering_timeout_s} s") from None
    return pc.localDescription.sdp


def watch_state(session: MediaSession, peer: Peer) -> None:
    """Report the peer's connection state changes; a failed connection is closed."""

    @peer.pc.on("connectionstatechange")
    async def _on_state() -> None:
        state = peer.pc.connectionState
        if state == peer.state:
            return
        peer.state = state
        session.host.emit(session, EVENT_PEER_STATE, peer.peer_id, role=peer.role, state=state)
        if state == "failed" and not peer.closing:
            await close_peer(session, peer, "failed")


async def close_peer(session: MediaSession, peer: Peer, reason: str) -> None:
    if peer.closing:
        return
    peer.closing = True
    if peer.peer_id == CANDIDATE:
        if session.candidate is peer:
            session.candidate = None
    elif session.viewers.get(peer.peer_id) is peer:
        del session.viewers[peer.peer_id]
    if session.talker is not None and session.talker in peer.receivers.values():
        session.talker = None
    for track in peer.tracks:
        track.stop()
    try:
        await peer.pc.close()
    except Exception:
        logger.exception("closing %s's connection failed", peer.peer_id)
    session.host.emit(session, EVENT_PEER_LEFT, peer.peer_id, role=peer.role, reason=reason)


def discard_failed(session: MediaSession, peer: Peer, sessions: dict[str, MediaSession]) -> None:
    """Undo a refused offer: its tracks go, and a session that only existed for it goes too."""
    peer.closing = True
    for track in peer.tracks:
        track.stop()
    if session.candidate is None and not session.viewers and session.origin_mono is None:
        sessions.pop(session.id, None)
