"""Benchmark of proctor.analysis on one core: per-frame cost of each detector, and how many candidates fit.

Run:  .venv/bin/python bench/bench_analysis.py [--seconds 1.5] [--json]

Pins the process to one CPU and sets OpenCV to one thread, so the figures are "per core". Frames are the astronaut
test webcam (a real face) with sensor noise, at 320x240 and 640x480, as BGR and as I420.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proctor.analysis import (
    AnalyzerConfig,
    FrameAnalyzer,
    detect_faces,
    extract_embedding,
    prepare,
    region_sharpness,
)
from proctor.analysis import signals as sig
from proctor.analysis.faces import detect_in_prepared
from proctor.analysis.matching import align, embed_aligned


def _webcam(size: tuple[int, int]) -> np.ndarray:
    from skimage import data

    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:288, 32:416]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.int16) + rng.normal(0, 3, img.shape).astype(np.int16), 0, 255).astype(np.uint8)


def timeit(fn: Callable[[], object], seconds: float) -> float:
    """Median milliseconds per call over ~``seconds`` of repeated calls (after a warm-up call)."""
    fn()
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 5:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def bench(seconds: float) -> dict[str, object]:
    rng = np.random.default_rng(0)
    out: dict[str, object] = {}
    for size in ((320, 240), (640, 480)):
        key = f"{size[0]}x{size[1]}"
        frame = _noisy(_webcam(size), rng)
        i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
        prepared = prepare(frame)
        faces = detect_in_prepared(prepared)
        face = faces[0]
        box = (face.x, face.y, face.w, face.h)
        gray = prepared.gray
        frozen = sig.FrozenDetector()
        loop = sig.LoopDetector()
        # moving frames (a 6 px pan per step), so the loop detector really searches its history
        moving = [np.roll(gray, 6 * k, axis=1) for k in range(16)]
        for i in range(600):  # a full 120 s loop history at 5 fps
            loop.update(i * 0.2, _noisy(moving[i % 16], rng))
        t_state = [600 * 0.2, 0]

        def loop_step(loop=loop, moving=moving, t_state=t_state) -> None:
            t_state[0] += 0.2
            t_state[1] += 1
            loop.update(t_state[0], moving[(t_state[1] * 7) % 16])

        full = prepare(frame, width=640)
        full_face = detect_in_prepared(full)[0]
        aligned = align(full.bgr, full_face)
        rows = {
            "prepare_bgr": timeit(lambda frame=frame: prepare(frame), seconds),
            "prepare_i420": timeit(lambda i420=i420: prepare(i420, "yuv420p"), seconds),
            "yunet_detect": timeit(lambda p=prepared: detect_in_prepared(p), seconds),
            "detect_faces_total": timeit(lambda frame=frame: detect_faces(frame), seconds),
            "brightness+contrast": timeit(lambda g=gray: (sig.brightness(g), sig.contrast(g)), seconds),
            "face_blur": timeit(lambda g=gray, b=box: region_sharpness(g, b), seconds),
            "frozen_update": timeit(lambda g=gray, d=frozen: d.update(time.monotonic(), g), seconds),
            "loop_update_120s_history": timeit(loop_step, seconds),
            "sface_align": timeit(lambda b=full.bgr, f=full_face: align(b, f), seconds),
            "sface_embed": timeit(lambda a=aligned: embed_aligned(a), seconds),
        }
        reference = extract_embedding(frame).vector

        def analyzer_run(frame=frame, reference=reference, fmt="bgr24", src=frame) -> tuple[float, float]:
            """ms per sampled frame for 15 s at 5 fps, with SFace every 3 s against a reference."""
            analyzer = FrameAnalyzer(AnalyzerConfig(match_interval_s=3.0), reference=reference)
            frames = [_noisy(src, rng) for _ in range(8)]
            if fmt == "yuv420p":
                frames = [cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420) for f in frames]
            times = []
            for i in range(75):
                t0 = time.perf_counter()
                analyzer.submit(frames[i % 8], i * 0.2, fmt)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.fmean(times), statistics.median(times)

        mean_bgr, median_bgr = analyzer_run()
        mean_i420, _ = analyzer_run(fmt="yuv420p")
        rows["analyzer_per_sampled_frame_mean_bgr"] = mean_bgr
        rows["analyzer_per_sampled_frame_median_bgr"] = median_bgr
        rows["analyzer_per_sampled_frame_mean_i420"] = mean_i420
        fps_capacity = 1000.0 / mean_bgr
        out[key] = {
            "ms": {k: round(v, 3) for k, v in rows.items()},
            "analysed_frames_per_s_one_core": round(fps_capacity, 1),
            "candidates_at_5fps_one_core": int(fps_capacity // 5),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time spent per measurement")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    result = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "opencv": cv2.__version__},
        "one_core": True,
        "results": bench(args.seconds),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"proctor.analysis on one core (OpenCV {cv2.__version__}, 1 thread)")
    for size, res in result["results"].items():  # type: ignore[union-attr]
        print(f"\n== {size} input ==")
        for name, ms in res["ms"].items():
            print(f"  {name:42s} {ms:8.3f} ms")
        print(f"  analysed frames/s on one core: {res['analysed_frames_per_s_one_core']}")
        print(f"  candidates x 5 fps on one core: {res['candidates_at_5fps_one_core']}")


if __name__ == "__main__":
    main()
