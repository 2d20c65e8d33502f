"""How many live sessions one media process on this machine holds with proctoring analysis on (issue 14, "Measure"):
every assessor still receiving >= 25 fps and the analysis keeping up.

Run:  .venv/bin/python bench/bench_proctoring_scale.py [--quick] [--max-sessions 24] [--json]

The server is a separate process with the product's media engine (pass-through relay, server-side IVF recording on)
and the product's analysis pool (``proctor.proctoring.AnalysisPool``, 2 workers, the default proctoring profile:
3 sampled frames/s per session, face detection, frozen/looped, identity every 3 s against a reference face, voice
activity on the decoded Opus audio). Per session one synthetic aiortc candidate sends a pre-encoded 640x480 VP8
clip of a face (~1 Mbit/s, 30 fps) and Opus speech-band audio, and one synthetic aiortc assessor receives both
(bench_relay.py's clients). Two servers are measured side by side in the same run: ``passthrough`` (no analysis) and
``analysis``, so the CPU per session with analysis on is a ratio taken under the same load.

A count of sessions is *held* when every viewer received >= 25 fps over the window and the pool was not ``behind``
(p95 lag <= 1.5 s, <= 20 % of the samples dropped: what the assessor's page calls "analisis tertinggal"). Each
failing count is measured once more before it is called the limit (other users' jobs share these cores).

Everything here runs on this 2-core machine at once: the server process, and the clients (which cost about as much as
the server: they packetize, encrypt and send what a real candidate's browser would on its own machine). The figure is
therefore a lower bound for a media node whose clients are elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_relay as relay  # noqa: E402  (bench/ is a folder of scripts)


def server_main(conn: Any, analysis: bool) -> None:
    import av
    import cv2

    from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE
    from config.settings import RtcSettings
    from proctor.rtc.engine import EngineOptions, MediaEngine
    from proctor.rtc.testing import loopback_ice

    cv2.setNumThreads(1)

    class NullSink:
        def append(self, session_id, type, data, metadata, media_range) -> None:
            pass

    pool = None
    origin: dict[str, float] = {}
    decoders: dict[str, Any] = {}
    incidents: list[str] = []
    profile = DEFAULT_PROCTORING_PROFILE

    def on_frame(sample: Any) -> None:
        from dataclasses import replace

        t0 = origin.get(sample.session_id)
        if pool is not None and t0 is not None:
            pool.offer(sample.session_id, replace(sample, media_s=sample.at_utc - t0))

    def on_audio(session_id: str, packet: bytes, at_utc: float) -> None:
        # as remote_tuk.proctoring.runner.LiveProctoring.offer_audio: Opus -> 48 kHz mono int16 -> the pool's VAD
        t0 = origin.get(session_id)
        if pool is None or t0 is None:
            return
        codec = decoders.get(session_id)
        if codec is None:
            codec = decoders[session_id] = (av.CodecContext.create("opus", "r"),
                                            av.AudioResampler(format="s16", layout="mono", rate=48_000))
        for frame in codec[0].decode(av.Packet(packet)):
            for out in codec[1].resample(frame):
                pool.offer_audio(session_id, out.to_ndarray().reshape(-1), at_utc - t0)

    with loopback_ice():
        if analysis:
            from proctor.proctoring import AnalysisPool

            pool = AnalysisPool(profile, on_incident=lambda sid, ev: incidents.append(ev.kind)).start()
            options = EngineOptions(relay_mode="passthrough", analysis_fps=profile.sample_fps, call_timeout_s=60)
            engine = MediaEngine(RtcSettings(ice_servers=[]), NullSink(), None, options, on_frame=on_frame,
                                 on_audio=on_audio)
        else:
            engine = MediaEngine(RtcSettings(ice_servers=[]), NullSink(), None,
                                 EngineOptions(relay_mode="passthrough", call_timeout_s=60))
        engine.start()

        def pool_metrics() -> dict[str, Any] | None:
            if pool is None:
                return None
            m = pool.metrics()
            return {"behind": m.behind, "lag_p95_s": m.lag_p95_s, "drop_rate": m.drop_rate,
                    "processed_per_s": m.processed_per_s, "offered": m.offered, "incidents": len(incidents)}

        def candidate(sid: str, sdp: str) -> str:
            if pool is not None:
                pool.open_session(sid, profile)
                pool.set_reference(sid, _reference_jpeg())
                origin[sid] = time.time()
                engine.listen_audio(sid, True)
            return engine.candidate_offer(sid, sdp)

        def closed(sid: str, *_: Any) -> None:
            if pool is not None:
                pool.close_session(sid, time.time() - origin.pop(sid, time.time()))
                decoders.pop(sid, None)

        try:
            relay.serve(conn, engine, extra={"candidate": candidate, "pool": pool_metrics}, on_close=closed)
        finally:
            engine.stop()
            if pool is not None:
                pool.stop()


_REFERENCE: bytes | None = None


def _reference_jpeg() -> bytes:
    """The candidate's face as the ID snapshot (the same face the clip shows): identity comparisons run."""
    global _REFERENCE
    if _REFERENCE is None:
        import cv2

        from tests.media.face import face_rgb

        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(face_rgb(), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        _REFERENCE = buf.tobytes()
    return _REFERENCE


def run(analysis: bool, count: int, clip, opus, warmup: float, window: float, loop) -> dict[str, Any]:
    server = relay.Server(analysis, target=server_main)
    prefix = "an" if analysis else "pt"
    try:
        pairs = loop.run(relay.open_sessions(server, count, clip, opus, prefix), 180)
        result: dict[str, Any] = dict(relay.measure(server, pairs, warmup, window))
        result["pool"] = server.call("pool")
        loop.run(relay.close_sessions(server, pairs, prefix), 180)
        return result
    finally:
        server.stop()


def held(r: dict[str, Any]) -> bool:
    return r["min_fps"] >= 25 and not (r["pool"] or {}).get("behind", False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--max-sessions", type=int, default=24)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    warmup, window = (4.0, 5.0) if args.quick else (6.0, 10.0)

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import loopback_ice

    report: dict[str, Any] = {"machine_cores": os.cpu_count(), "load_before": os.getloadavg()}
    clip = relay.preencode_clip(seconds=4.0)
    opus = relay.preencode_opus()
    with loopback_ice():
        loop = RtcLoop("bench-clients")
        loop.start()
        try:
            # 1) CPU per session, analysis on against pass-through only, alternately, same clients
            cpu: dict[str, list[float]] = {"passthrough": [], "analysis": []}
            count = 2
            for _ in range(1 if args.quick else 2):
                for analysis in (False, True):
                    r = run(analysis, count, clip, opus, warmup, window, loop)
                    cpu["analysis" if analysis else "passthrough"].append(r["server_cpu"] / count)
            per = {k: statistics.median(v) for k, v in cpu.items()}
            report["cpu_per_session"] = {"passthrough": per["passthrough"], "analysis": per["analysis"],
                                         "ratio": per["analysis"] / max(per["passthrough"], 1e-9)}
            if not args.json:
                print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; 640x480 30 fps VP8 ~1 Mbit/s"
                      " + Opus per candidate, one assessor each")
                print(f"1) server CPU per session ({count} sessions, median of {len(cpu['analysis'])}): "
                      f"pass-through {100 * per['passthrough']:.1f} % of a core, with analysis (3 frames/s, "
                      f"identity, VAD) {100 * per['analysis']:.1f} % "
                      f"({report['cpu_per_session']['ratio']:.1f}x)")
            # 2) sessions held with analysis on
            steps = [2, 4, 6, 8, 10, 12, 14, 16, 20, 24] if not args.quick else [2, 6, 10]
            rows, last_held = [], 0
            for n in [s for s in steps if s <= args.max_sessions]:
                r = run(True, n, clip, opus, warmup, window, loop)
                if not held(r):
                    r = run(True, n, clip, opus, warmup, window, loop)  # confirm once (shared machine)
                ok = held(r)
                row = {"sessions": n, "server_cpu": r["server_cpu"], "client_cpu": r["client_cpu"],
                       "other_cpu": r["other_cpu"], "min_fps": r["min_fps"], "mean_fps": r["mean_fps"],
                       "pool": r["pool"], "held": ok}
                rows.append(row)
                if not args.json:
                    p = r["pool"] or {}
                    lag = p.get("lag_p95_s")
                    print(f"2) {n:>3} sessions: viewer fps min {r['min_fps']:.1f} mean {r['mean_fps']:.1f}; "
                          f"server {100 * r['server_cpu']:.0f} % of a core, clients {100 * r['client_cpu']:.0f} %, "
                          f"others {100 * r['other_cpu']:.0f} %; analysis {p.get('processed_per_s', 0):.1f} "
                          f"frames/s, lag p95 {'-' if lag is None else f'{lag:.2f} s'}, dropped "
                          f"{100 * p.get('drop_rate', 0):.0f} % {'held' if ok else 'NOT HELD'}")
                if not ok:
                    break
                last_held = n
            report["scale"] = rows
            report["held"] = last_held
            if not args.json:
                print(f"   held with analysis on: {last_held} sessions (target >= 10)")
        finally:
            loop.stop()
    report["load_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
