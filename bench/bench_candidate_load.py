"""Benchmark of the candidate laptop's load with the extra sources (issue 19): Chromium's CPU for the candidate's
live page and the upload each stream adds, with 1 (webcam), 2 (webcam + phone) and 3 (+ whole-screen share) streams,
measured side by side in one run.

Run:  .venv/bin/python bench/bench_candidate_load.py [--seconds 20] [--warmup 8] [--json]

A server (``python -m remote_tuk serve``, SQLite, filesystem evidence store, loopback ICE) and three Debian Chromium
instances on this machine: the candidate (its live page, the only page of its instance), the phone (a second instance
playing the phone's rear camera; not counted in the candidate's CPU, its upload is reported on its own, since a phone
sends over its own network) and the assessor (decodes everything; not counted). The session is live, so every stream
is relayed and recorded (WebRTC to the server plus MediaRecorder chunks).

- CPU: utime+stime from /proc of the candidate Chromium's whole process tree (browser, renderer, GPU, utility
  processes: the page's encoders, the fake capture devices, the network service), as % of one core over the window,
  with the renderer and the GPU process shown apart.
- Upload: outbound-rtp ``bytesSent`` of the candidate page's peer connections (webcam, screen) from ``getStats``, and
  the recording chunks' bytes stored by the server in the window (``recording_chunks`` for the webcam,
  ``source_chunks`` per stream), in kbit/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import CHROMIUM, Server, chromium_args, sign_in, wait_until
from tests.e2e.test_live_session import move, open_live
from tests.e2e.test_second_sources import ask_for_phone_and_screen
from tests.media.face import write_wav, write_y4m

TICK = os.sysconf("SC_CLK_TCK")

OUT_JS = """async () => {
  const out = {};
  for (const [name, pc] of [['webcam', window.livePc], ['screen', window.screenPc]]) {
    if (!pc) continue;
    let bytes = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp') bytes += s.bytesSent || 0; });
    out[name] = bytes;
  }
  return out;
}"""
PHONE_JS = """async () => {
  let bytes = 0;
  if (window.phonePc) (await window.phonePc.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp') bytes += s.bytesSent || 0; });
  return bytes;
}"""


def _procs() -> dict[int, tuple[int, str, float]]:
    """pid → (ppid, cmdline, cpu seconds) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def tree_cpu(tag: str) -> dict[str, float]:
    """CPU seconds of the Chromium instance launched with ``--bench-tag=<tag>`` and all its descendants, by kind."""
    procs = _procs()
    roots = [pid for pid, (_pp, cmd, _c) in procs.items() if f"--bench-tag={tag}" in cmd and "--type=" not in cmd]
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cmd, _c) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out = {"total": 0.0, "renderer": 0.0, "gpu": 0.0, "other": 0.0}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        _pp, cmd, cpu = procs[pid]
        kind = "renderer" if "--type=renderer" in cmd else "gpu" if "--type=gpu-process" in cmd else "other"
        out[kind] += cpu
        out["total"] += cpu
        stack.extend(children.get(pid, []))
    return out


def chunk_bytes(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        webcam = conn.execute("select coalesce(sum(size), 0) from recording_chunks where log_index is not null")
        out = {"webcam": int(webcam.fetchone()[0])}
        for stream, size in conn.execute(
            "select stream, coalesce(sum(size), 0) from source_chunks where log_index is not null group by stream"
        ):
            out[stream] = int(size)
    return out


def measure(cand: Any, phone: Any, db_path: Path, seconds: float) -> dict[str, Any]:
    cpu0, rtp0, ch0 = tree_cpu("candidate"), cand.evaluate(OUT_JS), chunk_bytes(db_path)
    ph0 = phone.evaluate(PHONE_JS) if phone is not None else 0
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1, rtp1, ch1 = tree_cpu("candidate"), cand.evaluate(OUT_JS), chunk_bytes(db_path)
    ph1 = phone.evaluate(PHONE_JS) if phone is not None else 0
    dt = time.monotonic() - t0

    def kbps(a: int, b: int) -> float:
        return round((b - a) * 8 / dt / 1000, 1)

    return {
        "cpu_pct": {k: round(100 * (cpu1[k] - cpu0[k]) / dt, 1) for k in cpu1},
        "laptop_upload_kbps": {
            "webcam_rtp": kbps(rtp0.get("webcam", 0), rtp1.get("webcam", 0)),
            "webcam_chunks": kbps(ch0.get("webcam", 0), ch1.get("webcam", 0)),
            "screen_rtp": kbps(rtp0.get("screen", 0), rtp1.get("screen", 0)),
            "screen_chunks": kbps(ch0.get("screen", 0), ch1.get("screen", 0)),
        },
        "phone_upload_kbps": {"rtp": kbps(ph0, ph1), "chunks": kbps(ch0.get("phone", 0), ch1.get("phone", 0))},
        "seconds": round(dt, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement window per phase")
    ap.add_argument("--warmup", type=float, default=8.0, help="settling time after each stream is added")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-candidate-load-"))
    y4m, wav = write_y4m(tmp / "face.y4m", seconds=4), write_wav(tmp / "tone.wav", seconds=4)
    server = Server(tmp / "server")
    server.tmp.mkdir(parents=True)
    server.prepare()
    ask_for_phone_and_screen(server)
    server.start()
    db_path = server.tmp / "e2e.sqlite3"
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    phases: dict[str, Any] = {}
    try:
        with sync_playwright() as p:
            def launch(tag: str) -> Any:
                return p.chromium.launch(executable_path=CHROMIUM, args=[*chromium_args(y4m, wav),
                                                                         f"--bench-tag={tag}"])

            b_asse, b_cand, b_phone = launch("assessor"), launch("candidate"), launch("phone")
            asse = b_asse.new_context().new_page()
            sign_in(asse, base, "asesor_a", cast.totp["asesor_a"])
            move(asse, sid, "checking", "ready")
            cand = b_cand.new_context(viewport={"width": 1366, "height": 768}).new_page()
            sign_in(cand, base, "asesi_a")
            open_live(cand, base, sid)
            open_live(asse, base, sid)
            wait_until(lambda: cand.evaluate("window.livePc && window.livePc.connectionState") == "connected", 30,
                       "the candidate's connection")
            asse.click("[data-action=start]")
            wait_until(lambda: cand.evaluate("document.getElementById('live').dataset.recorder") == "recording", 15,
                       "recording")
            time.sleep(args.warmup)
            phases["1_webcam"] = measure(cand, None, db_path, args.seconds)

            cand.locator("[data-phone-link]").wait_for(state="attached", timeout=15_000)
            url = wait_until(lambda: cand.get_attribute("[data-phone-link]", "href") or None, 15, "the phone link")
            phone = b_phone.new_context(viewport={"width": 390, "height": 844}).new_page()
            phone.goto(url)
            with phone.expect_navigation():
                phone.click("[data-phone-connect]")
            wait_until(lambda: phone.evaluate("window.phonePc && window.phonePc.connectionState") == "connected", 30,
                       "the phone's connection")
            time.sleep(args.warmup)
            phases["2_webcam_phone"] = measure(cand, phone, db_path, args.seconds)

            cand.click("[data-screen-share]")
            cand.wait_for_selector('[data-screen-state="sharing"]', timeout=15_000)
            time.sleep(args.warmup)
            phases["3_webcam_phone_screen"] = measure(cand, phone, db_path, args.seconds)
            for b in (b_phone, b_cand, b_asse):
                b.close()
    finally:
        server.stop()

    result = {"phases": phases, "load": os.getloadavg(), "cores": os.cpu_count()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"candidate laptop load (this machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    print(f"{'streams':28} {'CPU total':>9} {'renderer':>9} {'GPU':>6} {'other':>6}   laptop upload kbit/s "
          f"(webcam rtp+chunks, screen rtp+chunks)   phone upload (rtp+chunks)")
    for name, ph in phases.items():
        c, u, pu = ph["cpu_pct"], ph["laptop_upload_kbps"], ph["phone_upload_kbps"]
        total = sum(u.values())
        print(f"{name:28} {c['total']:8.1f}% {c['renderer']:8.1f}% {c['gpu']:5.1f}% {c['other']:5.1f}%   "
              f"{total:7.0f} = {u['webcam_rtp']:.0f}+{u['webcam_chunks']:.0f}, {u['screen_rtp']:.0f}+"
              f"{u['screen_chunks']:.0f}   {pu['rtp']:.0f}+{pu['chunks']:.0f}")


if __name__ == "__main__":
    main()
