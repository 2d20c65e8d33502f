"""The classroom's small layer through the engine on loopback (issue 17, docs/MEDIA.md "Classroom"): a candidate
sending a second, small video track; a classroom tile receiving that small layer with the full video paused, then
(focused) the full video too; the single-session viewer and the recording unaffected."""

from __future__ import annotations

import time
from typing import Any

import pytest

from proctor.rtc.testing import SyntheticPeer
from proctor.sink import EVIDENCE_SERVER_SEGMENT
from tests.integration.proctor.conftest import EngineHarness, decode_ivf
from tests.media.face import HEIGHT, WIDTH, face_track, tone_track

pytestmark = pytest.mark.slow
SMALL = (160, 120)


def small_track() -> Any:
    """The camera scaled down to 160x120 at 8 fps, as the candidate's page sends it for the tiles."""
    from aiortc import MediaStreamTrack

    class Small(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.source = face_track(8)

        async def recv(self) -> Any:
            frame = await self.source.recv()
            small = frame.reformat(width=SMALL[0], height=SMALL[1])
            small.pts, small.time_base = frame.pts, frame.time_base
            return small

    return Small()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}")
        time.sleep(0.1)


def _peer(h: EngineHarness, send: Any, recv: list[str]) -> SyntheticPeer:
    async def make() -> SyntheticPeer:
        return SyntheticPeer(send=send(), recv=recv, decode_video=False)

    return h.clients.run(make(), 10)


def _connect(h: EngineHarness, peer: SyntheticPeer, offer_to: Any) -> None:
    answer = offer_to(h.clients.run(peer.offer(), 10))
    h.clients.run(peer.accept(answer), 10)
    h.clients.run(peer.wait_connected(), 20)


def test_tile_gets_the_small_layer_and_the_full_video_only_in_focus(harness: EngineHarness) -> None:
    h = harness
    candidate = _peer(h, lambda: [face_track(), small_track(), tone_track(440)], ["audio"])
    _connect(h, candidate, lambda sdp: h.engine.candidate_offer("s1", sdp))
    page = _peer(h, lambda: [], ["video", "audio"])  # the single-session live page
    _connect(h, page, lambda sdp: h.engine.viewer_offer("s1", "assessor-1", sdp, can_talk=False))
    tile = _peer(h, lambda: [tone_track(880)], ["video", "video", "audio"])
    _connect(h, tile, lambda sdp: h.engine.viewer_offer("s1", "assessor-1-tile", sdp, can_talk=True, full=False))

    r = tile.received
    _wait(lambda: r.by_section.get(1, 0) >= 24, 20, "small frames on the tile")
    assert r.by_section.get(0, 0) == 0, "the full video of a candidate out of focus is not sent"
    assert r.section_sizes[1] == {SMALL}
    assert page.received.section_sizes[0] == {(WIDTH, HEIGHT)}  # the live page is unchanged: full video only
    assert set(page.received.by_section) == {0}

    # focus: the full video comes, starting at a keyframe, quickly
    asked = time.monotonic()
    h.engine.viewer_full("s1", "assessor-1-tile", True)
    _wait(lambda: r.by_section.get(0, 0) > 0, 5, "the first full frame after focus")
    first_full = r.section_arrivals[0][0] - asked
    assert first_full < 1.0, first_full
    assert r.section_sizes[0] == {(WIDTH, HEIGHT)}
    _wait(lambda: r.by_section.get(0, 0) >= 30, 10, "full frames flowing")

    # focus elsewhere: the full video stops, the small layer goes on
    h.engine.viewer_full("s1", "assessor-1-tile", False)
    time.sleep(0.5)
    full_then, small_then = r.by_section[0], r.by_section[1]
    time.sleep(1.5)
    assert r.by_section[0] - full_then <= 2  # at most what was in flight
    assert r.by_section[1] - small_then >= 8

    # the tile's talk-back reached the candidate; the recording is of the full video only
    assert candidate.received.audio_frames > 20
    h.engine.close_session("s1")
    segments = [i for i in h.sink.items if i.type == EVIDENCE_SERVER_SEGMENT]
    assert segments
    assert {(f.width, f.height) for item in segments for f in decode_ivf(item.data)} == {(WIDTH, HEIGHT)}
    for peer in (candidate, page, tile):
        h.clients.run(peer.close(), 10)


def test_a_tile_without_a_small_layer_from_the_candidate_stays_dark_but_works(harness: EngineHarness) -> None:
    """An older candidate page (one video track): the tile connects, the focused full video still plays."""
    h = harness
    candidate = _peer(h, lambda: [face_track(), tone_track(440)], ["audio"])
    _connect(h, candidate, lambda sdp: h.engine.candidate_offer("s2", sdp))
    tile = _peer(h, lambda: [], ["video", "video", "audio"])
    _connect(h, tile, lambda sdp: h.engine.viewer_offer("s2", "witness-3-tile", sdp, can_talk=False, full=True))
    _wait(lambda: tile.received.by_section.get(0, 0) >= 30, 20, "full frames")
    assert tile.received.by_section.get(1, 0) == 0
    h.engine.close_session("s2")
    for peer in (candidate, tile):
        h.clients.run(peer.close(), 10)
