"""Benchmark of the live proctoring console (issue 14 #7): from the moment a condition has held for its hold time to
the alert painted on the assessor's page, through the whole product (server, media engine, analysis pool, evidence
store, Socket.IO, real Chromium).

Run:  .venv/bin/python bench/bench_proctoring_live.py [--seconds 90] [--signals 20] [--json]
      .venv/bin/python bench/bench_proctoring_live.py --cpu [--sessions 1|2] [--cpu-seconds 30] [--rounds 2]

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

``--cpu``: server CPU per session, analysis on (3 frames/s) against pass-through only (``RTUK_RTC_PROCTORING=false``),
in the same run: the same clip (``ordinary``), ``--sessions`` live sessions (1 or 2: the test cast has two), each
with its own candidate and assessor page in one Chromium, a warm-up, then the server process's CPU time
(``/proc/PID/stat`` utime + stime) over ``--cpu-seconds`` and the frames per second every assessor page decodes over
the same window. The two servers run one after the other, alternately ``--rounds`` times; the figure is the median.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Server(Server):
    analysis: bool = True

    def env(self) -> dict[str, str]:
        return {**super().env(), "RTUK_RTC_PROCTORING": "true" if self.analysis else "false"}


def _decoded(page: Any) -> int:
    return page.evaluate("""async () => { let n = 0; if (window.livePc) (await window.livePc.getStats()).forEach(
        (s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded || 0; }); return n; }""")


def cpu_run(p: Any, tmp: Path, analysis: bool, sessions: int, seconds: float) -> dict[str, Any]:
    """One server, *sessions* live sessions with the ordinary clip: server CPU and each assessor's decoded fps."""
    server = _Server(tmp / f"server-{'on' if analysis else 'off'}-{time.monotonic_ns()}")
    server.analysis = analysis
    server.tmp.mkdir(parents=True)
    server.prepare()
    server.start()
    cast, base = server.cast, server.url()
    clips = ClipFiles(tmp / "clips")
    browser = p.chromium.launch(executable_path=CHROMIUM,
                                args=chromium_args(clips.y4m("ordinary"), clips.wav("hum")))
    pairs = []
    try:
        cast_sessions = [(cast.session_a, "asesor_a", "asesi_a"), (cast.session_b, "asesor_b", "asesi_b")]
        for sid, a_user, c_user in cast_sessions[:sessions]:
            assessor = browser.new_context().new_page()
            sign_in(assessor, base, a_user, cast.totp[a_user])
            for to in ("checking", "ready"):
                _transition(assessor, sid, to)
            candidate = browser.new_context().new_page()
            sign_in(candidate, base, c_user)
            candidate.goto(f"{base}/sesi/{sid}/langsung")
            assessor.goto(f"{base}/sesi/{sid}/langsung")
            wait_until(lambda c=candidate: c.evaluate("window.livePc && window.livePc.connectionState") == "connected",
                       45, "the candidate's connection")
            assessor.click("[data-action=start]")
            wait_until(lambda c=candidate: c.evaluate("Live.state") == "live", 15, "live")
            pairs.append((assessor, candidate))
        time.sleep(12)  # encoders ramp up, the analysis warms up
        pid = server.proc.pid  # type: ignore[union-attr]
        f0 = [_decoded(a) for a, _ in pairs]
        c0, t0 = _cpu_s(pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = _cpu_s(pid), time.monotonic()
        f1 = [_decoded(a) for a, _ in pairs]
        status = [a.evaluate("(document.querySelector('[data-proctor]') || {dataset: {}}).dataset.analysis || ''")
                  for a, _ in pairs]
    finally:
        browser.close()
        server.stop()
    wall = t1 - t0
    return {"analysis": analysis, "sessions": sessions, "core_pct": round(100 * (c1 - c0) / wall, 1),
            "core_pct_per_session": round(100 * (c1 - c0) / wall / sessions, 1),
            "viewer_fps": [round((b - a) / wall, 1) for a, b in zip(f0, f1, strict=True)], "analysis_status": status}


def _transition(page: Any, sid: str, to: str) -> None:
    status = page.evaluate(
        """async ([url, to]) => (await fetch(url, {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json',
                      'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
            body: JSON.stringify({to})})).status""",
        [f"/api/v1/sessions/{sid}/transition", to])
    assert status == 200, (to, status)


def cpu_main(args: Any) -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-proctoring-cpu-"))
    runs: list[dict[str, Any]] = []
    with sync_playwright() as p:
        for _ in range(args.rounds):
            for analysis in (True, False):
                runs.append(cpu_run(p, tmp, analysis, args.sessions, args.cpu_seconds))
                print(json.dumps(runs[-1]), flush=True)
    out = {}
    for analysis in (True, False):
        mine = sorted(r["core_pct_per_session"] for r in runs if r["analysis"] is analysis)
        fps = sorted(f for r in runs if r["analysis"] is analysis for f in r["viewer_fps"])
        out["on" if analysis else "off"] = {"core_pct_per_session_median": mine[len(mine) // 2],
                                            "viewer_fps_min": fps[0] if fps else None}
    out["loadavg"] = os.getloadavg()
    print(json.dumps(out, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=90.0, help="how long the live session runs with the clip")
    ap.add_argument("--signals", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cpu", action="store_true", help="server CPU per session, analysis on against off")
    ap.add_argument("--sessions", type=int, default=1, choices=(1, 2))
    ap.add_argument("--cpu-seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.cpu:
        cpu_main(args)
        return
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
