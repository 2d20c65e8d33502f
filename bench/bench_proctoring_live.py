"""Benchmark of the live proctoring console (issue 14 #7): from the moment a condition has held for its hold time to
the alert painted on the assessor's page, through the whole product (server, media engine, analysis pool, evidence
store, Socket.IO, real Chromium).

Run:  .venv/bin/python bench/bench_proctoring_live.py [--seconds 90] [--signals 20] [--json]

A server (``python -m remote_tuk serve``, SQLite, filesystem evidence store, loopback ICE) and Debian Chromium with the
``second_face`` test clip as the candidate's camera (tests/media/clips.py: a second face comes into view at 5 s of
every 15 s loop; ``multiple_faces`` holds 1 s and clears after 3 s, so every loop raises one new incident). The
assessor's page records, for every new alert, when it was painted (``performance.timeOrigin + performance.now()``
after the next animation frame). All processes run on this machine, so their clocks are the same clock.

- video: painted - the server time of the sample that completed the hold (``sample_utc_ms``). The condition
  completed its hold at most one sample interval (1/3 s) before that sample; that part is the sampling rate's and
  is reported separately (the figure below does not include it), as is the camera-to-server transport.
- browser signals: painted - the candidate page's own clock when the event fired (``client_ms``): ``copy`` events
  dispatched on the candidate's page ``--signals`` times, 1.2 s apart.

Prints p50/p95/max per source, and the server's share (emit time - sample/event time).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import CHROMIUM, Server, chromium_args, sign_in, wait_until
from tests.media.clips import ClipFiles
from tests.media.face import write_wav


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95),
            "max_ms": max(values) if values else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=90.0, help="how long the live session runs with the clip")
    ap.add_argument("--signals", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-proctoring-live-"))
    y4m = ClipFiles(tmp / "clips").y4m("second_face")
    wav = write_wav(tmp / "tone.wav", seconds=4)
    server = Server(tmp / "server")
    server.tmp.mkdir(parents=True)
    server.prepare()
    server.start()
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, wav))
            assessor = browser.new_context().new_page()
            sign_in(assessor, base, "asesor_a", cast.totp["asesor_a"])
            for to in ("checking", "ready"):
                status = assessor.evaluate(
                    """async ([url, to]) => (await fetch(url, {method: 'POST', credentials: 'same-origin',
                        headers: {'Content-Type': 'application/json',
                                  'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
                        body: JSON.stringify({to})})).status""",
                    [f"/api/v1/sessions/{sid}/transition", to])
                assert status == 200, (to, status)
            candidate = browser.new_context().new_page()
            sign_in(candidate, base, "asesi_a")
            candidate.goto(f"{base}/sesi/{sid}/langsung")
            assessor.goto(f"{base}/sesi/{sid}/langsung")
            wait_until(lambda: candidate.evaluate("window.livePc && window.livePc.connectionState") == "connected",
                       30, "the candidate's connection")
            assessor.click("[data-action=start]")
            wait_until(lambda: candidate.evaluate("Live.state") == "live", 15, "live")
            started = time.monotonic()
            for _ in range(args.signals):
                candidate.evaluate("document.dispatchEvent(new Event('copy'))")
                time.sleep(1.2)
            remaining = args.seconds - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
            time.sleep(2)
            painted = assessor.evaluate("window.liveProctoring.painted")
            browser.close()
    finally:
        server.stop()

    video = [p["painted_ms"] - p["sample_utc_ms"] for p in painted
             if p["source"] == "server" and p.get("sample_utc_ms")]
    video_server = [p["server_ms"] - p["sample_utc_ms"] for p in painted
                    if p["source"] == "server" and p.get("sample_utc_ms")]
    kinds: dict[str, int] = {}
    for p in painted:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    browser_sig = [p["painted_ms"] - p["client_ms"] for p in painted if p["source"] == "browser" and p.get("client_ms")]
    browser_server = [p["server_ms"] - p["client_ms"] for p in painted
                      if p["source"] == "browser" and p.get("client_ms")]
    result = {
        "seconds_live": args.seconds,
        "alerts_painted_by_kind": kinds,
        "video_sample_to_painted": summary(video),
        "video_sample_to_server_emit": summary(video_server),
        "browser_event_to_painted": summary(browser_sig),
        "browser_event_to_server_emit": summary(browser_server),
        "sampling_granularity_ms": round(1000 / 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"live session {args.seconds:.0f} s with the second_face clip; alerts painted: {kinds}")
    for key in ("video_sample_to_painted", "video_sample_to_server_emit", "browser_event_to_painted",
                "browser_event_to_server_emit"):
        s = result[key]
        fmt = lambda v: "-" if v is None else f"{v:.0f} ms"  # noqa: E731
        print(f"  {key:32s} n={s['n']:3d}  p50 {fmt(s['p50_ms'])}  p95 {fmt(s['p95_ms'])}  max {fmt(s['max_ms'])}")
    gap = result["sampling_granularity_ms"]
    print(f"  (+ up to {gap} ms between the hold completing and the sample that shows it)")


if __name__ == "__main__":
    main()
