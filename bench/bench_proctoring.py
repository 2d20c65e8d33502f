"""Benchmark of live proctoring (issue 14): what analysis costs per session, how fast one worker goes, what voice
activity costs, how many false alerts an hour of clean footage raises, and how soon each scenario is reported.

Run:  .venv/bin/python bench/bench_proctoring.py [--minutes 60] [--quick] [--json]

Pinned to one CPU with OpenCV on one thread, so CPU figures are "% of one core". The video is what the server gets
from WebRTC: the test clips (tests/media/clips.py, 640x480, 30 frames/s) encoded with libvpx at 1 Mbit/s
(realtime, as Chromium sends) and decoded; the analysis samples 3 frames/s (the default profile) with the engine's
sampling jitter. Measured side by side in one run:

1. CPU per session: decoding every frame and converting the 3 samples/s to I420 arrays (what the engine does
   anyway once it samples) against the same plus the whole analysis (SessionAnalysis: FrameAnalyzer with the
   identity check against the ID photo, incidents). The pass-through relay itself decodes nothing.
2. Frames/s that one worker of the AnalysisPool sustains (640x480 I420 samples, identity on, several sessions).
3. Voice activity cost per second of 48 kHz audio (resampling + silero VAD).
4. False alerts per hour: every clean clip (looped as Chromium loops the fake camera) for ``--minutes`` of media time
   through analyser + incidents with the default profile; incidents of severity warning/alert counted (target 0).
   Audio alongside: an hour of room hum and of silence in a quiet phase (speech_in_quiet is a false alert there).
5. Detection delay per scenario clip: media time from when the condition begins to when its incident starts,
   against the kind's hold time (the allowance is hold + 1 s; identity also needs its comparisons).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import DEFAULT_PROCTORING_PROFILE
from proctor.analysis import AnalyzerConfig, Severity, VoiceActivityDetector
from proctor.proctoring import AnalysisPool, PoolOptions, SessionAnalysis
from proctor.sink import SampledFrame
from tests.media import clips, vp8

PROFILE = DEFAULT_PROCTORING_PROFILE
FPS = clips.Y4M_FPS
BITRATE = 1_000_000


def sample_times(seconds: float, fps: float, seed: int = 1) -> list[float]:
    """The engine's sampling: every 1/fps s, each a few ms late (jitter of the media loop)."""
    rng = np.random.default_rng(seed)
    n = math.floor(seconds * fps)
    return [k / fps + 0.047 + float(rng.uniform(0.0, 0.02)) for k in range(n)]


def decoded_clip(name: str, seconds: float | None = None) -> list[np.ndarray]:
    """The clip's frames after VP8 at 1 Mbit/s, as the server decodes them (I420)."""
    clip = clips.CLIPS[name]
    n = round((clip.duration_s if seconds is None else seconds) * FPS)
    return vp8.roundtrip((clip.frame(i / FPS) for i in range(n)), BITRATE)


def new_session(name: str) -> SessionAnalysis:
    session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
    clip = clips.CLIPS[name]
    if clip.id_photo:
        result = session.set_reference(clips.id_photo_jpeg(clip.id_photo))
        assert result.ok, result
    return session


# -- 1. CPU per session -------------------------------------------------------------------------------------------


def cpu_per_session(seconds: float) -> dict[str, float]:
    clip = clips.CLIPS["ordinary"]
    n = round(seconds * FPS)
    packets = vp8.encode((clip.frame(i / FPS) for i in range(n)), BITRATE)
    times = sample_times(seconds + 1, PROFILE.sample_fps)

    def run(analyse: bool) -> float:
        session = new_session("ordinary") if analyse else None
        due = iter(times)
        next_due = next(due)
        t0 = time.process_time()
        for i, frame in enumerate(vp8.decode(packets)):
            t = i / FPS
            if t >= next_due:
                next_due = next(due, math.inf)
                i420 = frame.to_ndarray(format="yuv420p")
                if session is not None:
                    session.frame(i420, t, "yuv420p")
        return time.process_time() - t0

    # decode-only before and after, so that a change in the machine's load shows up instead of skewing the ratio
    before, analysed, after = run(False), run(True), run(False)
    decode = (before + after) / 2
    return {
        "media_s": seconds,
        "decode_only_pct_core": 100 * decode / seconds,
        "decode_and_analysis_pct_core": 100 * analysed / seconds,
        "analysis_only_pct_core": 100 * (analysed - decode) / seconds,
        "decode_spread_pct": 100 * abs(before - after) / seconds,
    }


# -- 2. one worker ------------------------------------------------------------------------------------------------


def worker_throughput(seconds: float, sessions: int = 4) -> dict[str, float]:
    frames = decoded_clip("ordinary", 2.0)[::10]  # a few real decoded frames
    with AnalysisPool(PROFILE, options=PoolOptions(workers=1, max_pending_per_session=4)) as pool:
        ids = [f"s{i}" for i in range(sessions)]
        for s in ids:
            pool.open_session(s)
            pool.set_reference(s, clips.id_photo_jpeg("astronaut")).result(60)
        t_media = 0.0
        start = time.perf_counter()
        cpu0 = time.process_time()
        while time.perf_counter() - start < seconds:
            t_media += 1 / PROFILE.sample_fps
            for k, s in enumerate(ids):
                frame = frames[(k + int(t_media * 3)) % len(frames)]
                pool.offer(s, SampledFrame(s, t_media, time.time(), 640, 480, frame))
            while pool.metrics().pending >= sessions * 2:  # keep it saturated, without counting avoidable drops
                time.sleep(0.001)
        wall = time.perf_counter() - start
        processed = pool.metrics().processed
        cpu = time.process_time() - cpu0
    # on a shared machine the worker does not get the whole core: frames per CPU-second is what one core sustains
    per_cpu_s = processed / cpu if cpu > 0 else float("nan")
    return {
        "frames_per_s": processed / wall,
        "cpu_pct_core": 100 * cpu / wall,
        "frames_per_cpu_s": per_cpu_s,
        "sessions_per_core_at_profile_fps": per_cpu_s / PROFILE.sample_fps,
    }


# -- 3. voice activity -------------------------------------------------------------------------------------------


def vad_cost(seconds: float) -> dict[str, float]:
    pcm = np.concatenate([clips.speech_pcm(), clips.hum_pcm(5.0, level=0.05)])
    reps = max(1, math.ceil(seconds * 48_000 / len(pcm)))
    pcm = np.tile(pcm, reps)
    vad = VoiceActivityDetector()
    t0 = time.process_time()
    for t, frame in clips.pcm_frames(pcm):
        vad.push(frame, t)
    cpu = time.process_time() - t0
    audio_s = len(pcm) / 48_000
    return {"audio_s": audio_s, "ms_per_audio_s": 1000 * cpu / audio_s, "pct_core": 100 * cpu / audio_s}


# -- 4. false alerts ---------------------------------------------------------------------------------------------


def count_alerts(events) -> tuple[int, int, list[str]]:
    starts = [e for e in events if e.phase == "start"]
    serious = [e for e in starts if e.severity in (Severity.WARNING, Severity.ALERT)]
    return len(serious), len(starts) - len(serious), [f"{e.kind.value}@{e.at_s:.0f}s" for e in starts[:5]]


def false_alerts(minutes: float) -> list[dict[str, object]]:
    seconds = minutes * 60
    rows = []
    for name in clips.CLEAN_CLIPS:
        frames = decoded_clip(name)  # one pass of the file; Chromium loops it
        session = new_session(name)
        events = []
        cpu0 = time.process_time()
        for t in sample_times(seconds, PROFILE.sample_fps):
            index = math.floor(t * FPS) % len(frames)
            events += session.frame(frames[index], t, "yuv420p")
        events += session.stop(seconds)[0]
        serious, info, examples = count_alerts(events)
        rows.append(
            {
                "clip": name,
                "media_min": minutes,
                "false_alerts": serious,
                "info": info,
                "per_hour": serious * 60 / minutes,
                "examples": examples,
                "cpu_s": time.process_time() - cpu0,
            }
        )
    for name, pcm_fn in (
        ("room hum, quiet phase", lambda s: clips.hum_pcm(s, level=0.05)),
        ("silence, quiet phase", clips.silence_pcm),
    ):
        session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
        session.set_quiet_phase(True, 0.0)
        chunk = pcm_fn(60.0)  # a minute, repeated (the hum's phase is continuous across minutes)
        events = []
        for minute in range(max(1, round(minutes))):
            for t, frame in clips.pcm_frames(chunk, t0=minute * 60.0):
                events += session.audio(frame, t).events
        serious, info, examples = count_alerts(events)
        rows.append(
            {
                "clip": name,
                "media_min": max(1, round(minutes)),
                "false_alerts": serious,
                "info": info,
                "per_hour": serious * 60 / max(1, round(minutes)),
                "examples": examples,
            }
        )
    return rows


# -- 5. detection delay -----------------------------------------------------------------------------------------


def detection_delays() -> list[dict[str, object]]:
    rows = []
    for name in clips.SCENARIO_CLIPS:
        clip = clips.CLIPS[name]
        truth = clip.truth
        frames = decoded_clip(name)
        session = new_session(name)
        events = []
        for t in sample_times(clip.duration_s - 0.1, PROFILE.sample_fps):
            events += session.frame(frames[math.floor(t * FPS) % len(frames)], t, "yuv420p")
        starts = [e for e in events if e.phase == "start"]
        hold = PROFILE.rule(truth.kind).hold_s
        allowance = hold + 1.0
        if truth.kind.startswith("identity"):  # its first comparisons come a warm-up interval apart
            spacing = min(PROFILE.identity.interval_s, AnalyzerConfig().identity_warmup_interval_s)
            allowance += (PROFILE.identity.min_samples - 1) * spacing
        first = next((e for e in starts if e.kind.value == truth.kind), None)
        rows.append(
            {
                "clip": name,
                "kind": truth.kind,
                "hold_s": hold,
                "allowed_s": allowance,
                "delay_s": None if first is None else first.at_s - truth.start_s,
                "others": [e.kind.value for e in starts if e.kind.value != truth.kind],
            }
        )
    pcm, truth_s = clips.speech_in_quiet_pcm()
    session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
    session.set_quiet_phase(True, 0.0)
    events = []
    for t, frame in clips.pcm_frames(pcm):
        events += session.audio(frame, t).events
    first = next((e for e in events if e.phase == "start"), None)
    hold = PROFILE.rule("speech_in_quiet").hold_s
    rows.append(
        {
            "clip": "speech_in_quiet (espeak-ng)",
            "kind": "speech_in_quiet",
            "hold_s": hold,
            "allowed_s": hold + 1.0,
            "delay_s": None if first is None else first.at_s - truth_s,
            "others": [],
        }
    )
    return rows


# -- main --------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="media minutes per clean clip (default 60)")
    parser.add_argument("--quick", action="store_true", help="short runs (5 clean minutes, 10 s timings)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    minutes = 5.0 if args.quick else args.minutes
    timing_s = 10.0 if args.quick else 30.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {
        "machine": f"{platform.python_implementation()} {platform.python_version()}, OpenCV {cv2.__version__}, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs",
        "cpu_per_session": cpu_per_session(timing_s),
        "one_worker": worker_throughput(timing_s),
        "vad": vad_cost(timing_s * 2),
        "false_alerts": false_alerts(minutes),
        "detection_delay": detection_delays(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c, w, v = result["cpu_per_session"], result["one_worker"], result["vad"]
    print(result["machine"])
    print(f"\nCPU per session, 640x480 VP8 1 Mbit/s, {PROFILE.sample_fps:g} samples/s ({c['media_s']:.0f} s of media):")
    print(f"  decode every frame + I420 of the samples   {c['decode_only_pct_core']:6.1f} % of a core")
    print(f"  the same + analysis and incidents          {c['decode_and_analysis_pct_core']:6.1f} % of a core")
    print(f"  analysis alone                             {c['analysis_only_pct_core']:6.1f} % of a core")
    print(
        f"\nOne pool worker: {w['frames_per_s']:.1f} analysed frames/s with {w['cpu_pct_core']:.0f} % of the core; "
        f"{w['frames_per_cpu_s']:.0f} frames per CPU-second = {w['sessions_per_core_at_profile_fps']:.0f} sessions "
        f"per core at {PROFILE.sample_fps:g} frames/s"
    )
    print(
        f"\nVoice activity: {v['ms_per_audio_s']:.1f} ms per second of 48 kHz audio ({v['pct_core']:.2f} % of a core)"
    )
    print("\nFalse alerts (warning/alert incidents) on clean footage, default profile:")
    print(f"  {'clip':30s} {'media min':>9s} {'alerts':>6s} {'per hour':>8s} {'info':>5s}  examples")
    for r in result["false_alerts"]:
        print(
            f"  {r['clip']:30s} {r['media_min']:9.0f} {r['false_alerts']:6d} {r['per_hour']:8.2f} {r['info']:5d}  "
            f"{' '.join(r['examples'])}"
        )
    print("\nDetection delay (media s from the condition's start to the incident's start):")
    print(f"  {'clip':30s} {'kind':18s} {'hold':>5s} {'allowed':>7s} {'delay':>6s}  other incidents")
    for r in result["detection_delay"]:
        delay = "never" if r["delay_s"] is None else f"{r['delay_s']:.2f}"
        print(
            f"  {r['clip']:30s} {r['kind']:18s} {r['hold_s']:5.1f} {r['allowed_s']:7.1f} {delay:>6s}  "
            f"{' '.join(r['others']) or '-'}"
        )


if __name__ == "__main__":
    main()
