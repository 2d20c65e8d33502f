"""Benchmark of the review room's player source (issue 15 "Measure"): a 60-minute recording served by
``/sesi/<id>/tinjauan/rekaman/browser.webm`` — decrypted on the fly from the encrypted evidence store in byte
ranges — against the same file served unencrypted from disk (Flask ``send_file`` with ranges) in the same run.

Run:  .venv/bin/python bench/bench_review_stream.py [--minutes 60] [--seeks 30] [--json]

The recording is a real VP8 WebM at ~1 Mbit/s (640x360, 15 fps, a keyframe every 10 s: ffmpeg's testsrc2 with
noise, one minute encoded and looped with ``-c copy``), stored through the product's evidence store (AES-256-GCM in
64 KiB chunks) in a server started as ``python -m remote_tuk serve`` (the one the e2e tests start). The client is
FFmpeg through PyAV, as a player: it reads the WebM's cues, then seeks with HTTP range requests.

Figures:
- time to first frame: open the URL and decode the first video frame (fresh connection each time), median of 5;
- seek latency: seek to a random time and decode the first frame at or after it, p50 and p95 over ``--seeks``;
- the server's peak memory while streaming: resident set of the server process (and its children) sampled every
  20 ms during the seeks and a full sequential read of the file, minus its resident set just before.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN_SERVER = r"""
import sys
from flask import Flask, send_file
app = Flask("plain")
@app.get("/plain.webm")
def plain():
    return send_file(sys.argv[1], mimetype="video/webm", conditional=True)
app.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_recording(minutes: int, folder: Path) -> Path:
    one, full = folder / "one-minute.webm", folder / "recording.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=15,noise=alls=30:allf=t", "-t", "60", "-c:v", "libvpx", "-b:v", "1M",
                    "-g", "150", "-deadline", "realtime", "-cpu-used", "8", str(one)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(minutes - 1), "-i", str(one), "-c", "copy",
                    str(full)], check=True)
    return full


def tree_rss(pid: int) -> int:
    """Resident bytes of *pid* and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            continue
    return total


class Sampler:
    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.base = tree_rss(pid)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return max(self.peak - self.base, 0)


def first_frame_s(url: str, options: dict[str, str]) -> float:
    import av

    t0 = time.perf_counter()
    with av.open(url, options=options, timeout=30) as c:
        next(c.decode(video=0))
    return time.perf_counter() - t0


def seek_latencies(url: str, options: dict[str, str], times: list[float]) -> list[float]:
    import av

    out = []
    with av.open(url, options=options, timeout=30) as c:
        v = c.streams.video[0]
        for t in times:
            t0 = time.perf_counter()
            c.seek(int(t / v.time_base), stream=v, backward=True)
            for frame in c.decode(v):
                if frame.time is not None and frame.time >= t - 0.05:
                    break
            out.append(time.perf_counter() - t0)
    return out


def read_all(url: str, cookies: dict[str, str]) -> tuple[int, float]:
    import requests

    t0 = time.perf_counter()
    n = 0
    with requests.get(url, cookies=cookies, stream=True, timeout=60) as r:
        r.raise_for_status()
        for block in r.iter_content(1 << 20):
            n += len(block)
    return n, time.perf_counter() - t0


def measure(name: str, url: str, pid: int, cookies: dict[str, str], duration: float, seeks: int) -> dict[str, Any]:
    options = {"headers": "".join(f"Cookie: {k}={v}\r\n" for k, v in cookies.items())} if cookies else {}
    sampler = Sampler(pid)
    ttff = [first_frame_s(url, options) for _ in range(5)]
    rng = random.Random(15)
    lat = seek_latencies(url, options, [rng.uniform(0, duration - 15) for _ in range(seeks)])
    size, secs = read_all(url, cookies)
    peak = sampler.stop()
    q = statistics.quantiles(lat, n=20)
    return {"source": name, "time_to_first_frame_ms": round(statistics.median(ttff) * 1000, 1),
            "seek_p50_ms": round(statistics.median(lat) * 1000, 1), "seek_p95_ms": round(q[18] * 1000, 1),
            "full_read_mb_s": round(size / secs / 1e6, 1), "bytes": size,
            "server_peak_rss_growth_mib": round(peak / (1 << 20), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--seeks", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import requests

    from tests.e2e.conftest import Server
    from tests.e2e_review.conftest import write_reviewed_session

    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        folder = Path(tmp)
        recording = make_recording(args.minutes, folder)
        data = recording.read_bytes()
        server = Server(folder / "server")
        (folder / "server").mkdir()
        server.prepare()
        t0 = time.perf_counter()
        write_reviewed_session(server, webm=data, seconds=args.minutes * 60, with_hole=False)
        store_s = time.perf_counter() - t0
        del data
        server.start()
        port = free_port()
        plain = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER, str(recording), str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            s = requests.Session()
            page = s.get(f"{server.url()}/masuk").text
            token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            from tests.conftest import PASSWORD

            r = s.post(f"{server.url()}/masuk", data={"username": "auditor_a", "password": PASSWORD,
                                                       "csrf_token": token}, allow_redirects=False)
            assert r.status_code == 302, r.status_code
            assert s.get(f"{server.url()}/sesi/{server.cast.session_a}/tinjauan").status_code == 200
            cookies = s.cookies.get_dict()
            duration = args.minutes * 60.0
            rows = [
                measure("encrypted store (review room)",
                        f"{server.url()}/sesi/{server.cast.session_a}/tinjauan/rekaman/browser.webm",
                        server.proc.pid, cookies, duration, args.seeks),  # type: ignore[union-attr]
                measure("plain file on disk (send_file)", f"http://127.0.0.1:{port}/plain.webm", plain.pid, {},
                        duration, args.seeks),
            ]
        finally:
            plain.terminate()
            plain.wait(timeout=10)
            server.stop()
    result = {"recording_minutes": args.minutes, "recording_bytes": rows[0]["bytes"],
              "store_append_s": round(store_s, 1), "cpus": os.cpu_count(), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"recording: {args.minutes} min, {result['recording_bytes'] / 1e6:.0f} MB (stored in "
          f"{result['store_append_s']} s); {os.cpu_count()} CPUs")
    print(f"{'source':34} {'1st frame':>10} {'seek p50':>9} {'seek p95':>9} {'full read':>11} {'peak RSS +':>11}")
    for r in rows:
        print(f"{r['source']:34} {r['time_to_first_frame_ms']:>8} ms {r['seek_p50_ms']:>6} ms {r['seek_p95_ms']:>6} ms "
              f"{r['full_read_mb_s']:>6} MB/s {r['server_peak_rss_growth_mib']:>7} MiB")


if __name__ == "__main__":
    main()
