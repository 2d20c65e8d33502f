"""Relay benchmark: server CPU per session (pass-through vs decode-and-re-encode), concurrent sessions at >= 25 fps,
and glass-to-glass latency, all on loopback.

    .venv/bin/python -m bench.bench_relay            # everything (5-10 minutes on 2 cores)
    .venv/bin/python -m bench.bench_relay --quick    # fewer steps, shorter windows
    .venv/bin/python -m bench.bench_relay --only scale --max-sessions 32   # parts: cpu scale latency chromium

The media engine runs in its own process (the "server"), with the server-side IVF recording on as in production;
its CPU is that process's CPU time. Candidates and viewers are synthetic aiortc peers in a second process:
candidates replay a pre-encoded 640x480 30 fps VP8 clip (+ Opus) so no encoder runs on the client side, and viewers
count complete encoded frames without decoding them, so the clients' own load stays as small as it can be (it is
reported too; on 2 cores it competes with the server). Chromium is not used for CPU and concurrency: its encoder
and decoder would dominate the machine.

Latency uses a frame counter stamped into each frame: (3) a live-encoding aiortc candidate, an aiortc viewer decodes
and reads the counter back (creation -> encode -> server -> decode); (4) the same candidate, a Chromium page reads
the counter off each painted frame (requestVideoFrameCallback, expected display time); (5) a Chromium candidate (fake
webcam y4m with the counter) and a Chromium assessor in one browser: the counter painted in the candidate's local
preview vs the same counter painted on the assessor's page.

The machine's other processes are reported ("other"): on a shared machine they compete for the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 30


# -- the server process ---------------------------------------------------------------------------------------------

def server_main(conn: Any, relay_mode: str) -> None:
    from config.settings import RtcSettings
    from proctor.rtc.engine import EngineOptions, MediaEngine
    from proctor.rtc.testing import loopback_ice

    class NullSink:
        def __init__(self) -> None:
            self.bytes = 0

        def append(self, session_id, type, data, metadata, media_range) -> None:
            self.bytes += len(data)

    with loopback_ice():
        sink = NullSink()
        if relay_mode == "analysis":  # pass-through, plus decoding the candidate's video for analysis at 5 fps
            options = EngineOptions(relay_mode="passthrough", analysis_fps=5, call_timeout_s=60)
            engine = MediaEngine(RtcSettings(ice_servers=[]), sink, None, options, on_frame=lambda frame: None)
        else:
            engine = MediaEngine(RtcSettings(ice_servers=[]), sink, None,
                                 EngineOptions(relay_mode=relay_mode, call_timeout_s=60))
        engine.start()
        try:
            serve(conn, engine)
        finally:
            engine.stop()


def serve(conn: Any, engine: Any, extra: dict[str, Any] | None = None, on_close: Any = None) -> None:
    """The server process's command loop over *conn* (candidate, viewer, cpu, stats, close, stop; *extra*: name ->
    callable(*args), looked up first, so it may replace one of them); an exception goes back to the caller.
    ``on_close(session_id)`` runs after a close."""
    while True:
        cmd, *args = conn.recv()
        try:
            if extra and cmd in extra:
                conn.send(extra[cmd](*args))
            elif cmd == "candidate":
                conn.send(engine.candidate_offer(*args))
            elif cmd == "viewer":
                conn.send(engine.viewer_offer(*args))
            elif cmd == "cpu":
                conn.send((time.process_time(), time.monotonic()))
            elif cmd == "stats":
                conn.send(engine.stats(*args))
            elif cmd == "close":
                engine.close_session(*args)
                if on_close is not None:
                    on_close(*args)
                conn.send(True)
            elif cmd == "stop":
                conn.send(True)
                return
            else:
                conn.send(ValueError(f"unknown command {cmd!r}"))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            conn.send(exc)


class Server:
    """A server process running *target*(conn, *args) (default: :func:`server_main` with the relay mode)."""

    def __init__(self, *args: Any, target: Any = None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target or server_main, args=(child, *args), daemon=True)
        self.proc.start()

    def call(self, *cmd: Any) -> Any:
        self.conn.send(cmd)
        result = self.conn.recv()
        if isinstance(result, Exception):
            raise result
        return result

    def stop(self) -> None:
        try:
            self.call("stop")
        finally:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


# -- synthetic media ------------------------------------------------------------------------------------------------

def preencode_clip(seconds: float = 2.0, bitrate: int = 1_000_000) -> list[tuple[bytes, bool]]:
    """The test face (with a frame counter) as VP8 at 640x480, a keyframe each second: [(frame, keyframe)].

    Sensor-like noise and a slow pan keep the delta frames at a webcam's size (a still picture would make them tiny).
    """
    from tests.media.face import face_i420, stamp_counter

    y0, u, v = face_i420()
    rng = np.random.default_rng(7)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = bitrate
    codec.gop_size = FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "minrate": str(bitrate),
                     "maxrate": str(bitrate), "bufsize": str(bitrate)}
    out: list[tuple[bytes, bool]] = []
    for i in range(int(seconds * FPS)):
        shifted = np.roll(y0, int(8 * np.sin(i / 9)), axis=1).astype(np.int16)
        y = np.clip(shifted + rng.normal(0, 2.0, y0.shape), 0, 255).astype(np.uint8)
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane, array in zip(frame.planes, (stamp_counter(y, i), u, v), strict=True):
            buf = np.zeros((array.shape[0], plane.line_size), np.uint8)
            buf[:, : array.shape[1]] = array
            plane.update(buf.tobytes())
        frame.pts = i
        if i % FPS == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in codec.encode(frame):
            out.append((bytes(packet), packet.is_keyframe))
    return out


def preencode_opus(seconds: float = 1.0) -> list[bytes]:
    from aiortc.codecs.opus import OpusEncoder

    from tests.media.face import tone

    encoder = OpusEncoder()
    samples = tone(seconds)
    out = []
    for n in range(len(samples) // 960):
        frame = av.AudioFrame.from_ndarray(samples[n * 960 : (n + 1) * 960].reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = 48_000
        frame.pts = n * 960
        frame.time_base = fractions.Fraction(1, 48_000)
        payloads, _ = encoder.encode(frame)
        out.extend(payloads)
    return out


def replay_tracks(clip: list[tuple[bytes, bool]], opus: list[bytes]):
    from aiortc import MediaStreamTrack

    class Replay(MediaStreamTrack):
        def __init__(self, kind: str, frames: list[bytes], interval: float, ticks: int, clock: int) -> None:
            super().__init__()
            self.kind = kind
            self._frames, self._interval, self._ticks = frames, interval, ticks
            self._tb = fractions.Fraction(1, clock)
            self._n = 0
            self._start: float | None = None

        async def recv(self) -> av.Packet:
            if self._start is None:
                self._start = time.monotonic()
            delay = self._start + self._n * self._interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = av.Packet(self._frames[self._n % len(self._frames)])
            packet.pts = self._n * self._ticks
            packet.time_base = self._tb
            self._n += 1
            return packet

    video = Replay("video", [f for f, _ in clip], 1 / FPS, 90_000 // FPS, 90_000)
    audio = Replay("audio", opus, 0.02, 960, 48_000)
    return video, audio


# -- the client side ------------------------------------------------------------------------------------------------

@dataclass
class Pair:
    candidate: Any
    viewer: Any


async def _connect(server: Server, peer: Any, *cmd: Any) -> None:
    offer = await peer.offer()
    answer = await asyncio.get_running_loop().run_in_executor(None, server.call, *cmd[:1], *cmd[1:], offer)
    await peer.accept(answer)


async def open_sessions(server: Server, count: int, clip, opus, prefix: str) -> list[Pair]:
    from proctor.rtc.testing import SyntheticPeer

    pairs = []
    for i in range(count):
        sid = f"{prefix}-{i}"
        video, audio = replay_tracks(clip, opus)
        candidate = SyntheticPeer(send=[video, audio], recv=["audio"], decode_video=False)
        await _connect(server, candidate, "candidate", sid)
        viewer = SyntheticPeer(send=[], recv=["video", "audio"], decode_video=False)
        offer = await viewer.offer()
        answer = await asyncio.get_running_loop().run_in_executor(None, server.call, "viewer", sid, "assessor", offer,
                                                                   False)
        await viewer.accept(answer)
        pairs.append(Pair(candidate, viewer))
    for pair in pairs:
        await pair.candidate.wait_connected(30)
        await pair.viewer.wait_connected(30)
    return pairs


async def close_sessions(server: Server, pairs: list[Pair], prefix: str) -> None:
    for i, pair in enumerate(pairs):
        await pair.candidate.close()
        await pair.viewer.close()
        await asyncio.get_running_loop().run_in_executor(None, server.call, "close", f"{prefix}-{i}")


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all processes, all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(server: Server, pairs: list[Pair], warmup: float, window: float) -> dict[str, float]:
    time.sleep(warmup)
    counts0 = [p.viewer.received.video_frames for p in pairs]
    cpu0, t0 = server.call("cpu")
    client0 = time.process_time()
    busy0 = machine_busy()
    time.sleep(window)
    cpu1, t1 = server.call("cpu")
    client1 = time.process_time()
    busy1 = machine_busy()
    counts1 = [p.viewer.received.video_frames for p in pairs]
    fps = [(b - a) / (t1 - t0) for a, b in zip(counts0, counts1, strict=True)]
    server_cpu = (cpu1 - cpu0) / (t1 - t0)
    client_cpu = (client1 - client0) / (t1 - t0)
    return {
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        # CPU used by everything else on the machine meanwhile (other users' jobs compete for the same cores)
        "other_cpu": max(0.0, (busy1 - busy0) / (t1 - t0) - server_cpu - client_cpu),
        "min_fps": min(fps),
        "mean_fps": statistics.mean(fps),
    }


def run_sessions(relay_mode: str, count: int, clip, opus, warmup: float, window: float, loop) -> dict[str, float]:
    server = Server(relay_mode)
    try:
        pairs = loop.run(open_sessions(server, count, clip, opus, relay_mode), 120)
        result = measure(server, pairs, warmup, window)
        loop.run(close_sessions(server, pairs, relay_mode), 120)
        return result
    finally:
        server.stop()


def latency(loop, seconds: float) -> dict[str, float]:
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, read_counter, tone_track

    server = Server("passthrough")
    try:
        async def setup():
            track = face_track()
            candidate = SyntheticPeer(send=[track, tone_track()], recv=["audio"])
            await _connect(server, candidate, "candidate", "lat")
            viewer = SyntheticPeer(send=[], recv=["video", "audio"], keep_luma=lambda n: True)
            offer = await viewer.offer()
            answer = await asyncio.get_running_loop().run_in_executor(None, server.call, "viewer", "lat", "a",
                                                                       offer, False)
            await viewer.accept(answer)
            await viewer.wait_connected(30)
            return track, candidate, viewer

        track, candidate, viewer = loop.run(setup(), 60)
        time.sleep(2 + seconds)

        async def collect():
            lumas = list(viewer.received.lumas)
            await candidate.close()
            await viewer.close()
            return lumas

        lumas = loop.run(collect(), 30)
        delays = []
        for arrival, luma in lumas[60:]:  # skip the first 2 s
            sent = track.sent_at.get(read_counter(luma))
            if sent is not None and 0 <= arrival - sent < 5:
                delays.append((arrival - sent) * 1000)
        delays.sort()
        return {
            "frames": len(delays),
            "median_ms": statistics.median(delays),
            "p95_ms": delays[int(len(delays) * 0.95) - 1],
            "max_ms": delays[-1],
        }
    finally:
        server.stop()


def latency_chromium(loop, seconds: float) -> dict[str, float] | None:
    """Python candidate (live encode, frame counter) -> server -> Chromium viewer page that reads the counter off
    each painted frame (requestVideoFrameCallback + canvas): glass-to-glass up to the compositor."""
    from proctor.rtc.testing import SyntheticPeer
    from tests.integration.proctor.chromium import CHROMIUM, chromium_args, chromium_available
    from tests.integration.proctor.pageserver import PageServer
    from tests.media.face import face_track, tone_track, write_wav, write_y4m

    if not chromium_available():
        return None
    from playwright.sync_api import sync_playwright

    server = Server("passthrough")

    class Remote:  # what PageServer needs from an engine, forwarded to the server process
        def candidate_offer(self, session_id: str, sdp: str) -> str:
            return server.call("candidate", session_id, sdp)

        def viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool) -> str:
            return server.call("viewer", session_id, viewer_id, sdp, can_talk)

    import tempfile
    from pathlib import Path

    try:
        async def setup():
            track = face_track()
            candidate = SyntheticPeer(send=[track, tone_track()], recv=["audio"], decode_video=False)
            await _connect(server, candidate, "candidate", "glass")
            return track, candidate

        track, candidate = loop.run(setup(), 60)
        with tempfile.TemporaryDirectory() as tmp, PageServer(Remote()) as pages, sync_playwright() as p:
            y4m, wav = write_y4m(Path(tmp) / "f.y4m", seconds=1), write_wav(Path(tmp) / "t.wav", seconds=1)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, wav))
            page = browser.new_page()
            page.goto(f"{pages.url}/viewer.html?session=glass&viewer=a&talk=0&latency=1")
            time.sleep(3 + seconds)
            painted = page.evaluate("window.painted")
            browser.close()
        loop.run(candidate.close(), 10)
    finally:
        server.stop()
    delays = []
    for counter, shown_ms in painted[60:]:
        sent = track.sent_wall.get(counter)
        if sent is not None and 0 <= shown_ms / 1000 - sent < 5:
            delays.append(shown_ms - sent * 1000)
    if not delays:
        return {"frames": 0, "median_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    delays.sort()
    return {"frames": len(delays), "median_ms": statistics.median(delays),
            "p95_ms": delays[max(0, int(len(delays) * 0.95) - 1)], "max_ms": delays[-1]}


def latency_chromium_pair(seconds: float) -> dict[str, float] | None:
    """Chromium candidate (fake webcam y4m with a frame counter) -> server -> Chromium assessor, one browser: each page
    notes when it painted which counter (candidate: its local preview; assessor: the remote video), same clock."""
    import tempfile
    from pathlib import Path

    from tests.integration.proctor.chromium import CHROMIUM, chromium_args, chromium_available
    from tests.integration.proctor.pageserver import PageServer
    from tests.media.face import write_wav, write_y4m

    if not chromium_available():
        return None
    from playwright.sync_api import sync_playwright

    server = Server("passthrough")

    class Remote:
        def candidate_offer(self, session_id: str, sdp: str) -> str:
            return server.call("candidate", session_id, sdp)

        def viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool) -> str:
            return server.call("viewer", session_id, viewer_id, sdp, can_talk)

    try:
        with tempfile.TemporaryDirectory() as tmp, PageServer(Remote()) as pages, sync_playwright() as p:
            y4m, wav = write_y4m(Path(tmp) / "f.y4m", seconds=4), write_wav(Path(tmp) / "t.wav", seconds=4)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, wav))
            cand = browser.new_context().new_page()
            cand.goto(f"{pages.url}/candidate.html?session=pair&latency=1")
            view = browser.new_context().new_page()
            view.goto(f"{pages.url}/viewer.html?session=pair&viewer=a&talk=0&latency=1")
            time.sleep(3 + seconds)
            local = cand.evaluate("window.painted")
            remote = view.evaluate("window.painted")
            browser.close()
    finally:
        server.stop()
    shown: dict[int, list[float]] = {}
    for counter, t in local:
        shown.setdefault(counter, []).append(t)
    delays = []
    for counter, t in remote[60:]:
        earlier = [x for x in shown.get(counter, []) if 0 <= t - x < 2000]
        if earlier:
            delays.append(t - max(earlier))
    if not delays:
        return {"frames": 0, "median_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    delays.sort()
    return {"frames": len(delays), "median_ms": statistics.median(delays),
            "p95_ms": delays[max(0, int(len(delays) * 0.95) - 1)], "max_ms": delays[-1]}


def cpu_part(clip, opus, warmup, window, loop) -> None:
    print("\n1) server CPU per session (candidate + assessor), same run; 'analysis' = pass-through + decoding the"
          " candidate's video for proctoring (frames handed on at 5 fps)")
    print(f"{'sessions':>8} {'mode':>12} {'server %core':>13} {'client %core':>13} {'other %core':>12} "
          f"{'viewer fps min':>15}")
    for count in (1, 2):
        res = {}
        for mode in ("passthrough", "reencode", "analysis"):
            r = res[mode] = run_sessions(mode, count, clip, opus, warmup, window, loop)
            print(f"{count:>8} {mode:>12} {100 * r['server_cpu']:>12.1f}% {100 * r['client_cpu']:>12.1f}% "
                  f"{100 * r['other_cpu']:>11.1f}% {r['min_fps']:>15.1f}")
        ratio = res["reencode"]["server_cpu"] / max(res["passthrough"]["server_cpu"], 1e-9)
        print(f"{count:>8} {'ratio':>12} re-encode / pass-through = {ratio:.1f}x")


def scale_part(clip, opus, warmup, window, loop, args) -> None:
    print("\n2) concurrent sessions with every assessor receiving >= 25 fps (pass-through)")
    steps = [1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64] if not args.quick else [1, 4, 8, 16]
    held = 0
    for count in [s for s in steps if s <= args.max_sessions]:
        r = run_sessions("passthrough", count, clip, opus, warmup, window, loop)
        if r["min_fps"] < 25:
            # Other users' jobs share these cores: confirm a failure once before calling it the limit.
            print(f"{count:>3} sessions: viewer fps min {r['min_fps']:.1f} with other processes at "
                  f"{100 * r['other_cpu']:.0f}% — measuring again")
            r = run_sessions("passthrough", count, clip, opus, warmup, window, loop)
        ok = r["min_fps"] >= 25
        print(f"{count:>3} sessions: server {100 * r['server_cpu']:5.1f}% of a core, clients "
              f"{100 * r['client_cpu']:5.1f}%, other processes {100 * r['other_cpu']:5.1f}%, "
              f"viewer fps min {r['min_fps']:.1f} mean {r['mean_fps']:.1f} {'ok' if ok else 'BELOW 25'}")
        if not ok:
            break
        held = count
    print(f"   held: {held} sessions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-sessions", type=int, default=64)
    parser.add_argument("--only", choices=["cpu", "scale", "latency", "chromium"], action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args()
    warmup, window = (2.0, 4.0) if args.quick else (3.0, 8.0)

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import loopback_ice

    print(f"machine: {os.cpu_count()} cores; 640x480 {FPS} fps VP8 ~1 Mbps + Opus; server-side IVF recording on")
    clip = preencode_clip()
    opus = preencode_opus()
    with loopback_ice():
        loop = RtcLoop("bench-clients")
        loop.start()
        try:
            parts = set(args.only or ["cpu", "scale", "latency", "chromium"])
            if "cpu" in parts:
                cpu_part(clip, opus, warmup, window, loop)
            if "scale" in parts:
                scale_part(clip, opus, warmup, window, loop, args)
            if "latency" in parts:
                print("\n3) glass-to-glass latency (aiortc candidate encodes live -> server -> aiortc viewer decodes)")
                lat = latency(loop, 4.0 if args.quick else 8.0)
                print(f"   {lat['frames']} frames: median {lat['median_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, "
                      f"max {lat['max_ms']:.0f} ms")
            if "chromium" in parts:
                print("\n4) glass-to-glass latency to Chromium (aiortc candidate encodes live -> server -> Chromium"
                      " decodes and paints; the counter is read off each painted frame)")
                lat = latency_chromium(loop, 4.0 if args.quick else 8.0)
                if lat is None:
                    print("   skipped: Debian chromium and the playwright package are needed")
                else:
                    print(f"   {lat['frames']} frames: median {lat['median_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms,"
                          f" max {lat['max_ms']:.0f} ms")
                print("\n5) glass-to-glass latency Chromium candidate -> server -> Chromium assessor (counter painted"
                      " in the candidate's local preview vs painted on the assessor's page)")
                lat = latency_chromium_pair(4.0 if args.quick else 8.0)
                if lat is not None:
                    print(f"   {lat['frames']} frames: median {lat['median_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms,"
                          f" max {lat['max_ms']:.0f} ms")
        finally:
            loop.stop()


if __name__ == "__main__":
    main()
