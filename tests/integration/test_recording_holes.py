"""Chunks missing inside one recorder run (a ``recording.gap``): the join keeps the frames of the chunks before and
after at their times, so the joined browser recording has no picture between them. The join says where
(``holes_ms`` of the run) and the review room plays the server's copy there (``sources.browser.holes``)."""

from __future__ import annotations

import io
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = pytest.mark.slow

av = pytest.importorskip("av")

CLUSTER = b"\x1f\x43\xb6\x75"  # a Matroska cluster: MediaRecorder hands over whole clusters per chunk


def _webm(seconds: float = 8.0, fps: int = 25) -> bytes:
    """VP8 WebM with a keyframe and a cluster about every second, like MediaRecorder's 1 s chunks."""
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm", options={"cluster_time_limit": "1000"})
    v = out.add_stream("libvpx", rate=fps)
    v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
    v.codec_context.gop_size = fps
    for i in range(int(seconds * fps)):
        frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), (i * 7) % 255, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for p in v.encode(frame):
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    out.close()
    return buf.getvalue()


def _chunks(data: bytes) -> list[bytes]:
    """The recording cut at its clusters; the first chunk holds the header and the first cluster."""
    offsets = []
    i = data.find(CLUSTER)
    while i >= 0:
        offsets.append(i)
        i = data.find(CLUSTER, i + 1)
    assert len(offsets) >= 6, offsets
    chunks = [data[a:b] for a, b in zip(offsets, [*offsets[1:], len(data)], strict=True)]
    chunks[0] = data[: offsets[0]] + chunks[0]
    return chunks


def _frame_times(data: bytes) -> list[float]:
    with av.open(io.BytesIO(data)) as c:
        return [float(p.pts * p.time_base) for p in c.demux(c.streams.video[0]) if p.size]


def test_chunks_missing_inside_a_run_are_holes_the_review_room_fills_from_the_servers_copy():
    from remote_tuk.live.webm import Run, join_runs
    from remote_tuk.review.services import browser_holes

    chunks = _chunks(_webm())
    whole = join_runs([Run(2.0, b"".join(chunks), [(0, 0)])])
    assert [r.as_dict().get("holes_ms") for r in whole.runs] == [None]  # a whole run has none

    kept = [c for k, c in enumerate(chunks) if k not in (3, 4)]  # chunks 3 and 4 never arrived
    offsets, pos = [], 0
    for k, c in zip([k for k in range(len(chunks)) if k not in (3, 4)], kept, strict=True):
        offsets.append((k, pos))
        pos += len(c)
    joined = join_runs([Run(2.0, b"".join(kept), offsets)])
    run = joined.runs[0].as_dict()
    assert run["seqs"] == [0, len(chunks) - 1] and "error" not in run
    [[start_ms, end_ms]] = run["holes_ms"]
    # the hole is exactly where the joined file has no frame, on the session clock (the run placed at 2 s)
    times = _frame_times(joined.data)
    before = max(t for t in times if t * 1000 <= start_ms)
    after = min(t for t in times if t * 1000 >= end_ms)
    assert abs(after * 1000 - end_ms) <= 1 and not [t for t in times if start_ms < t * 1000 < end_ms - 1]
    assert start_ms - before * 1000 < 100  # ends one frame after the last frame before it
    assert 1500 <= end_ms - start_ms <= 2600  # about the two missing 1 s chunks
    assert 2000 < start_ms and end_ms < joined.duration_s * 1000

    store = SimpleNamespace(list_entries=lambda sid, include_related=False: [
        {"log_index": 7, "metadata": {"runs": [run]}}])
    holes = browser_holes(store, SimpleNamespace(public_id="x"), SimpleNamespace(log_index=7))
    assert holes == [[0.0, 2.0], [start_ms / 1000, end_ms / 1000]]  # before the run, and inside it
