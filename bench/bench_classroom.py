"""Classroom benchmark (issue 17): what one assessor's classroom costs, on loopback.

    .venv/bin/python -m bench.bench_classroom            # 4 and 10 candidates, focus switches (~3 minutes)
    .venv/bin/python -m bench.bench_classroom --quick    # shorter windows, fewer switches

The media engine runs in its own process (the "server"), as in bench.bench_relay. Candidates are synthetic aiortc
peers that replay pre-encoded VP8: the full 640x480 30 fps layer (~1 Mbit/s, as Chromium sends it) and the small
160x120 8 fps layer (~80 kbit/s, what live-candidate.js asks of the browser's encoder), plus Opus. The assessor's
classroom is one synthetic tile connection per candidate (full + small video sections, audio; nothing decoded), the
first candidate in focus. Measured side by side in one run:

* the assessor's download (encoded payload received by all tiles, video + audio; RTP/SRTP headers add ~5 %),
  with the focused candidate at full quality, and each unfocused tile's frame rate;
* the same classroom without the small layer (every tile receiving the full video), for comparison;
* the server's CPU (its process CPU time per wall second) for a classroom of 10;
* focus switches: the time from the ``layer`` request to the first full-quality frame at the tile (p50/p95). The
  replayed clips cannot make a keyframe on request, so this part uses two live-encoding aiortc candidates, which
  answer the PLI as a browser does.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `make bench` runs it as a script

from bench.bench_relay import FPS, machine_busy, preencode_clip, preencode_opus

SMALL_W, SMALL_H, SMALL_FPS = 160, 120, 8


# -- the server process ---------------------------------------------------------------------------------------------

def server_main(conn: Any) -> None:
    from config.settings import RtcSettings
    from proctor.rtc.engine import EngineOptions, MediaEngine
    from proctor.rtc.testing import loopback_ice

    class NullSink:
        def append(self, *args: Any) -> None:
            pass

    with loopback_ice():
        engine = MediaEngine(RtcSettings(ice_servers=[]), NullSink(), None, EngineOptions(call_timeout_s=60))
        engine.start()
        try:
            while True:
                cmd, *args = conn.recv()
                try:
                    if cmd == "candidate":
                        conn.send(engine.candidate_offer(*args))
                    elif cmd == "tile":
                        sid, sdp, full = args
                        conn.send(engine.viewer_offer(sid, "assessor-1-tile", sdp, True, full=full))
                    elif cmd == "full":
                        engine.viewer_full(args[0], "assessor-1-tile", args[1])
                        conn.send(time.monotonic())
                    elif cmd == "cpu":
                        conn.send((time.process_time(), time.monotonic()))
                    elif cmd == "close":
                        engine.close_session(*args)
                        conn.send(True)
                    elif cmd == "stop":
                        conn.send(True)
                        return
                except Exception as exc:  # noqa: BLE001 - handed back to the caller
                    conn.send(exc)
        finally:
            engine.stop()


class Server:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=server_main, args=(child,), daemon=True)
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

def preencode_small(seconds: float = 2.0, bitrate: int = 80_000) -> list[bytes]:
    """The test face at 160x120, 8 fps, VP8 (a keyframe each second), as the browser's small layer."""
    from tests.media.face import face_i420

    y0, _u, _v = face_i420()
    rng = np.random.default_rng(3)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = SMALL_W, SMALL_H, "yuv420p"
    codec.time_base = fractions.Fraction(1, SMALL_FPS)
    codec.bit_rate = bitrate
    codec.gop_size = SMALL_FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out = []
    for i in range(int(seconds * SMALL_FPS)):
        y = np.clip(np.roll(y0, int(8 * np.sin(i / 3)), axis=1) + rng.normal(0, 2.0, y0.shape), 0, 255)
        frame = av.VideoFrame.from_ndarray(y.astype(np.uint8), format="gray").reformat(SMALL_W, SMALL_H, "yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in codec.encode(frame))
    return out


def replay(kind: str, frames: list[bytes], fps: float, clock: int) -> Any:
    from aiortc import MediaStreamTrack

    class Replay(MediaStreamTrack):
        def __init__(self) -> None:
            super().__init__()
            self.kind = kind
            self._n = 0
            self._start: float | None = None
            self._tb = fractions.Fraction(1, clock)

        async def recv(self) -> av.Packet:
            if self._start is None:
                self._start = time.monotonic()
            delay = self._start + self._n / fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = av.Packet(frames[self._n % len(frames)])
            packet.pts = int(self._n * clock / fps)
            packet.time_base = self._tb
            self._n += 1
            return packet

    return Replay()


def live_tracks() -> list[Any]:
    """A live-encoding candidate (answers PLIs with a keyframe): full face, the small layer, a tone."""
    from aiortc import MediaStreamTrack

    from tests.media.face import face_track, tone_track

    class Small(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.source = face_track(SMALL_FPS)

        async def recv(self) -> Any:
            frame = await self.source.recv()
            small = frame.reformat(width=SMALL_W, height=SMALL_H)
            small.pts, small.time_base = frame.pts, frame.time_base
            return small

    return [face_track(), Small(), tone_track(440)]


# -- the classroom --------------------------------------------------------------------------------------------------

async def _offer_to(server: Server, peer: Any, *cmd: Any) -> None:
    offer = await peer.offer()
    answer = await asyncio.get_running_loop().run_in_executor(None, server.call, *cmd, offer)
    await peer.accept(answer)


async def open_classroom(server: Server, count: int, prefix: str, *, live: bool = False, small: bool = True,
                         clip: Any = None, opus: Any = None, small_clip: Any = None) -> tuple[list[Any], list[Any]]:
    from proctor.rtc.testing import SyntheticPeer

    candidates, tiles = [], []
    for i in range(count):
        sid = f"{prefix}-{i}"
        if live:
            send = live_tracks()
        else:
            send = [replay("video", [f for f, _ in clip], FPS, 90_000)]
            if small:
                send.append(replay("video", small_clip, SMALL_FPS, 90_000))
            send.append(replay("audio", opus, 50, 48_000))
        candidate = SyntheticPeer(send=send, recv=["audio"], decode_video=False)
        await _offer_to(server, candidate, "candidate", sid)
        tile = SyntheticPeer(send=[], recv=["video", "video", "audio"] if small else ["video", "audio"],
                             decode_video=False)
        offer = await tile.offer()
        full = i == 0 or not small
        answer = await asyncio.get_running_loop().run_in_executor(None, server.call, "tile", sid, offer, full)
        await tile.accept(answer)
        candidates.append(candidate)
        tiles.append(tile)
    for peer in candidates + tiles:
        await peer.wait_connected(60)
    return candidates, tiles


async def close_classroom(server: Server, candidates: list[Any], tiles: list[Any], prefix: str) -> None:
    for i, (c, t) in enumerate(zip(candidates, tiles, strict=True)):
        await c.close()
        await t.close()
        await asyncio.get_running_loop().run_in_executor(None, server.call, "close", f"{prefix}-{i}")


def _received(tiles: list[Any]) -> tuple[int, list[dict[int, int]], list[dict[int, int]]]:
    audio = sum(sum(t.received.audio_sizes) for t in tiles)
    return audio, [dict(t.received.section_bytes) for t in tiles], [dict(t.received.by_section) for t in tiles]


def measure(server: Server, tiles: list[Any], warmup: float, window: float) -> dict[str, float]:
    time.sleep(warmup)
    a0, b0, f0 = _received(tiles)
    cpu0, t0 = server.call("cpu")
    busy0, client0 = machine_busy(), time.process_time()
    time.sleep(window)
    cpu1, t1 = server.call("cpu")
    busy1, client1 = machine_busy(), time.process_time()
    a1, b1, f1 = _received(tiles)
    wall = t1 - t0
    video_bytes = sum(b1[i].get(s, 0) - b0[i].get(s, 0) for i in range(len(tiles)) for s in b1[i])
    small_fps = [(f1[i].get(1, 0) - f0[i].get(1, 0)) / wall for i in range(1, len(tiles))]
    full_fps = (f1[0].get(0, 0) - f0[0].get(0, 0)) / wall
    n = len(tiles)
    small_bytes = [b1[i].get(1, 0) - b0[i].get(1, 0) for i in range(1, n)]
    return {
        # per stream, to compose the download of a classroom whose client side could not keep up on a loaded machine
        "full_stream_mbps": (b1[0].get(0, 0) - b0[0].get(0, 0)) * 8 / wall / 1e6,
        "small_stream_mbps": statistics.mean(small_bytes) * 8 / wall / 1e6 if small_bytes else float("nan"),
        "audio_stream_mbps": (a1 - a0) * 8 / wall / 1e6 / n,
        "client_cpu": (client1 - client0) / wall,
        "download_mbps": (video_bytes + a1 - a0) * 8 / wall / 1e6,
        "audio_mbps": (a1 - a0) * 8 / wall / 1e6,
        "focused_fps": full_fps,
        "min_tile_fps": min(small_fps) if small_fps else float("nan"),
        "server_cpu": (cpu1 - cpu0) / wall,
        "machine_busy": (busy1 - busy0) / wall,
    }


def classroom_part(count: int, small: bool, warmup: float, window: float, loop: Any, media: dict[str, Any]) -> dict:
    server = Server()
    prefix = f"c{count}{'s' if small else 'f'}"
    try:
        candidates, tiles = loop.run(open_classroom(server, count, prefix, small=small, **media), 180)
        result = measure(server, tiles, warmup, window)
        loop.run(close_classroom(server, candidates, tiles, prefix), 120)
        return result
    finally:
        server.stop()


def focus_part(switches: int, loop: Any) -> dict[str, float]:
    server = Server()
    try:
        candidates, tiles = loop.run(open_classroom(server, 2, "focus", live=True), 180)
        time.sleep(3)
        times = []
        focused = 0
        for _ in range(switches):
            target = 1 - focused
            before = tiles[target].received.by_section.get(0, 0)
            server.call("full", f"focus-{focused}", False)
            asked = time.monotonic()
            server.call("full", f"focus-{target}", True)
            deadline = asked + 5
            while tiles[target].received.by_section.get(0, 0) == before and time.monotonic() < deadline:
                time.sleep(0.005)
            arrivals = tiles[target].received.section_arrivals.get(0, [])
            if len(arrivals) > before:
                times.append(arrivals[before] - asked)
            focused = target
            time.sleep(0.7)
        loop.run(close_classroom(server, candidates, tiles, "focus"), 120)
    finally:
        server.stop()
    times.sort()
    return {"n": len(times), "p50_ms": 1000 * statistics.median(times),
            "p95_ms": 1000 * times[max(0, round(0.95 * len(times)) - 1)], "max_ms": 1000 * times[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    warmup, window, switches = (3.0, 5.0, 10) if args.quick else (4.0, 10.0, 20)

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import loopback_ice

    media = {"clip": preencode_clip(2.0), "opus": preencode_opus(1.0), "small_clip": preencode_small(2.0)}
    with loopback_ice():
        loop = RtcLoop("bench-clients")
        loop.start()
        try:
            print("classroom: assessor download (payload), focused at 640x480 30 fps, other tiles 160x120")
            for count in (4, 10):
                r = classroom_part(count, True, warmup, window, loop, media)
                print(f"  {count:2d} candidates, small layer : {r['download_mbps']:.2f} Mbit/s "
                      f"(audio {r['audio_mbps']:.2f}); focused {r['focused_fps']:.1f} fps; "
                      f"min tile {r['min_tile_fps']:.1f} fps; server CPU {100 * r['server_cpu']:.1f}% of a core "
                      f"(clients {100 * r['client_cpu']:.0f}%, machine busy {r['machine_busy']:.2f} cores)")
                composed = r["full_stream_mbps"] + (count - 1) * r["small_stream_mbps"] + count * r["audio_stream_mbps"]
                print(f"      per stream: full {r['full_stream_mbps']:.2f}, small {r['small_stream_mbps']:.3f}, "
                      f"audio {r['audio_stream_mbps']:.3f} Mbit/s -> full + {count - 1} small + {count} audio = "
                      f"{composed:.2f} Mbit/s")
            r = classroom_part(10, False, warmup, window, loop, media)
            print(f"  10 candidates, full video everywhere (for comparison): {r['download_mbps']:.2f} Mbit/s; "
                  f"server CPU {100 * r['server_cpu']:.1f}% of a core")
            f = focus_part(switches, loop)
            print(f"focus switch to the first full-quality frame ({f['n']} switches, live-encoding candidates): "
                  f"p50 {f['p50_ms']:.0f} ms, p95 {f['p95_ms']:.0f} ms, max {f['max_ms']:.0f} ms")
        finally:
            loop.stop()


if __name__ == "__main__":
    main()
