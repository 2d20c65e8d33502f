from __future__ import annotations

import fractions
import io

import av
import numpy as np
import pytest

from proctor.recording import IvfSegmenter, Segment, ivf_file_header, join_ivf


def _vp8_stream(count: int, keyframe_every: int) -> list[bytes]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 160, 120, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0"}
    codec.gop_size = 1000
    out = []
    rng = np.random.default_rng(0)
    for i in range(count):
        frame = av.VideoFrame.from_ndarray((rng.random((120, 160, 3)) * 255).astype(np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        if i % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        out.extend(bytes(p) for p in codec.encode(frame))
    return out


def test_header_layout() -> None:
    header = ivf_file_header(640, 480, 12)
    assert len(header) == 32 and header[:4] == b"DKIF" and header[8:12] == b"VP80"
    assert int.from_bytes(header[12:14], "little") == 640 and int.from_bytes(header[24:28], "little") == 12


def test_segments_start_at_keyframes_and_play_on_their_own() -> None:
    frames = _vp8_stream(90, keyframe_every=15)  # 3 s at 30 fps, a keyframe every 0.5 s
    segments: list[Segment] = []
    seg = IvfSegmenter(segments.append, segment_s=1.0)
    source = object()
    # The stream joins mid-GOP: frames before the first keyframe are skipped.
    for i, data in enumerate(frames[5:], start=5):
        seg.add(source, data, i * 3000, media_s=i / 30, utc=1_700_000_000 + i / 30)
    seg.close()
    assert seg.skipped_frames == 10
    assert [s.reason for s in segments] == ["duration", "duration", "close"]
    assert sum(s.frames for s in segments) == 75
    for s in segments:
        with av.open(io.BytesIO(s.data), format="ivf") as container:
            decoded = list(container.decode(video=0))
        assert len(decoded) == s.frames
        assert (decoded[0].width, decoded[0].height) == (160, 120)
        assert decoded[0].pts == 0
    first = segments[0].media_range
    assert abs(first.start_s - 0.5) < 1e-9
    assert abs(first.duration_s - 1.0) < 0.05
    assert segments[0].media_range.end_s <= segments[1].media_range.start_s + 1e-6
    assert segments[0].metadata()["closed_because"] == "duration"


def test_source_change_closes_the_segment() -> None:
    frames = _vp8_stream(30, keyframe_every=10)
    segments: list[Segment] = []
    seg = IvfSegmenter(segments.append, segment_s=10)
    a, b = object(), object()
    for i in range(12):
        seg.add(a, frames[i], i * 3000, i / 30, float(i))
    for i in range(20, 30):
        seg.add(b, frames[i], (i - 20) * 3000, 5 + i / 30, float(i))
    seg.close()
    assert [(s.reason, s.frames) for s in segments] == [("source_change", 12), ("close", 10)]
    assert seg.wants_keyframe


def test_join_keeps_every_frame_and_the_gap() -> None:
    frames = _vp8_stream(60, keyframe_every=15)
    segments: list[Segment] = []
    seg = IvfSegmenter(segments.append, segment_s=0.5)
    a, b = object(), object()
    for i in range(30):
        seg.add(a, frames[i], i * 3000, i / 30, float(i))
    # 4 s of downtime (media time 1.0 to 5.0 s), then a new connection
    for i in range(30, 60):
        seg.add(b, frames[i], (i - 30) * 3000, 4 + i / 30, float(i))
    seg.close()
    joined = join_ivf([(s.data, s.media_range.start_s) for s in reversed(segments)])
    with av.open(io.BytesIO(joined), format="ivf") as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 60
    times = [float(f.pts * f.time_base) for f in decoded]
    assert times == sorted(times)
    assert abs(times[30] - times[29] - (5 - 29 / 30)) < 0.01  # the downtime is kept as a gap
    assert abs(times[-1] - (4 + 59 / 30)) < 0.01
    with pytest.raises(ValueError, match="IVF"):
        join_ivf([(b"RIFF....", 0.0)])
