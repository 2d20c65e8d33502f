"""Real Chromium (Playwright, Debian chromium) as candidate and assessor through the engine on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proctor.sink import EVIDENCE_SERVER_SEGMENT
from tests.components import require
from tests.integration.proctor.chromium import CHROMIUM, chromium_args, chromium_available
from tests.integration.proctor.conftest import EngineHarness, decode_ivf
from tests.integration.proctor.pageserver import PageServer
from tests.media.face import write_wav, write_y4m

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def fake_devices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    out = tmp_path_factory.mktemp("media")
    return write_y4m(out / "face.y4m", seconds=4), write_wav(out / "tone.wav", seconds=4)


@pytest.fixture
def browser(fake_devices: tuple[Path, Path]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*fake_devices))
        try:
            yield b
        finally:
            b.close()


def _stats(page) -> dict:
    return page.evaluate("""async () => {
        if (!window.pc) return {state: 'none', error: window.state.error, video: null, audio: null};
        const s = await inbound(window.pc);
        const pick = (o, keys) => o ? Object.fromEntries(keys.map(k => [k, o[k]])) : null;
        return {state: window.pc.connectionState, error: window.state.error, painted: window.frames_painted || 0,
                video: pick(s.video, ['framesDecoded', 'frameWidth', 'frameHeight', 'framesPerSecond',
                                      'bytesReceived']),
                audio: pick(s.audio, ['bytesReceived', 'packetsReceived']),
                out_audio: pick(s.out_audio, ['bytesSent']), out_video: pick(s.out_video, ['bytesSent', 'frameWidth'])};
    }""")


def _wait(page, predicate, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = _stats(page)
        assert stats["error"] is None, stats["error"]
        if predicate(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {stats}")
        time.sleep(0.25)


def test_chromium_candidate_to_chromium_assessor(harness: EngineHarness, browser) -> None:
    with PageServer(harness.engine) as server:
        candidate = browser.new_context().new_page()
        candidate.goto(f"{server.url}/candidate.html?session=s1")
        _wait(candidate, lambda s: s["state"] == "connected", 20)
        assessor = browser.new_context().new_page()
        assessor.goto(f"{server.url}/viewer.html?session=s1&viewer=assessor-1&talk=1")
        first = _wait(assessor, lambda s: s["video"] and (s["video"]["framesDecoded"] or 0) > 30, 30)

        # Measure over 5 s on the assessor's side.
        t0 = time.monotonic()
        time.sleep(5)
        second = _stats(assessor)
        elapsed = time.monotonic() - t0
        fps = (second["video"]["framesDecoded"] - first["video"]["framesDecoded"]) / elapsed
        cand = _stats(candidate)
        engine_stats = harness.engine.stats("s1")
        harness.engine.close_session("s1")

    print(f"assessor: {fps:.1f} fps decoded, {second}, candidate out: {cand}")
    assert (second["video"]["frameWidth"], second["video"]["frameHeight"]) == (640, 480)
    assert fps >= 25, f"assessor decoded {fps:.1f} fps"
    # Audio both ways: the candidate's microphone reaches the assessor, the assessor's reaches the candidate.
    assert second["audio"]["bytesReceived"] > first["audio"]["bytesReceived"] > 0
    assert cand["audio"]["bytesReceived"] > 0
    # The server forwarded, it did not transcode: what it received from the candidate's encoder is what it sent.
    viewer = engine_stats["viewers"]["assessor-1"]
    assert viewer["forwarded_frames"] > 100
    assert engine_stats["candidate"]["video"]["frames"] >= viewer["forwarded_frames"]
    # The server's own recording of the candidate's video plays.
    segments = [i for i in harness.sink.items if i.type == EVIDENCE_SERVER_SEGMENT]
    # Chromium sends keyframes only when asked: the engine's PLIs make segments close every ~2 s (segment_s).
    assert len(segments) >= 2 and segments[0].metadata["closed_because"] == "duration"
    assert all(s.media_range.duration_s < 2 * 2.0 + 1 for s in segments)
    frames = [f for item in segments for f in decode_ivf(item.data)]
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert len(frames) >= 25 * 5


def test_chromium_candidate_drops_for_10_s_and_rejoins(harness: EngineHarness, browser) -> None:
    with PageServer(harness.engine) as server:
        candidate = browser.new_context().new_page()
        candidate.goto(f"{server.url}/candidate.html?session=s1")
        _wait(candidate, lambda s: s["state"] == "connected", 20)
        assessor = browser.new_context().new_page()
        assessor.goto(f"{server.url}/viewer.html?session=s1&viewer=assessor-1&talk=1")
        _wait(assessor, lambda s: s["video"] and (s["video"]["framesDecoded"] or 0) > 30, 30)

        candidate.evaluate("() => { window.dropAndRejoin(10000); }")  # do not wait for the promise
        _wait(candidate, lambda s: s["state"] == "closed", 5)
        time.sleep(10)
        _wait(candidate, lambda s: s["state"] == "connected", 20)
        before = _stats(assessor)["video"]["framesDecoded"]
        after = _wait(assessor, lambda s: s["video"]["framesDecoded"] > before + 60, 20)
        assert after["state"] == "connected"  # the assessor's own connection was never touched
        assert (after["video"]["frameWidth"], after["video"]["frameHeight"]) == (640, 480)
        harness.engine.close_session("s1")

    types = harness.event_types()
    stalled = [e for e in harness.events if e.type == "media.stalled"]
    resumed = [e for e in harness.events if e.type == "media.resumed"]
    assert len(stalled) == 1 and len(resumed) == 1
    assert resumed[0].data["downtime_s"] >= 10
    joins = [e.data["replaced"] for e in harness.events if e.type == "peer.joined" and e.peer_id == "candidate"]
    assert joins == [False, True]
    assert types.count("peer.joined") == 3  # candidate, assessor, candidate again
    # Recording continued after the gap, and the media clock includes the downtime.
    segments = [i for i in harness.sink.items if i.type == EVIDENCE_SERVER_SEGMENT]
    assert "stall" in [s.metadata["closed_because"] for s in segments]
    last = segments[-1]
    assert last.media_range.start_s >= resumed[0].media_s - 1
    assert decode_ivf(last.data)
