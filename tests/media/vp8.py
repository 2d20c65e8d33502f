"""VP8 through PyAV's libvpx as WebRTC runs it (realtime), for tests and benchmarks of what the server decodes."""

from __future__ import annotations

import fractions
from collections.abc import Iterable, Iterator

import av
import numpy as np


def encode(frames: Iterable[np.ndarray], bitrate: int, fps: int = 30) -> list[av.Packet]:
    """Encode BGR frames with libvpx (realtime, no look-ahead, as WebRTC does)."""
    enc: av.VideoCodecContext | None = None
    packets: list[av.Packet] = []
    for i, frame in enumerate(frames):
        if enc is None:
            enc = av.CodecContext.create("libvpx", "w")
            enc.width, enc.height, enc.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
            enc.bit_rate = bitrate
            enc.time_base = fractions.Fraction(1, fps)
            enc.framerate = fps
            # a negative cpu-used fixes the speed: a positive one lets libvpx choose it from how long each frame took
            # to encode, which makes the output depend on the load of the machine
            enc.options = {"deadline": "realtime", "cpu-used": "-8", "lag-in-frames": "0"}
        vf = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")
        vf.pts = i
        packets.extend(enc.encode(vf))
    if enc is not None:
        packets.extend(enc.encode(None))
    return packets


def decode(packets: Iterable[av.Packet]) -> Iterator[av.VideoFrame]:
    """Decode VP8 packets (every frame: inter frames need the previous ones, as in a live session)."""
    dec = av.CodecContext.create("libvpx", "r")
    for packet in packets:
        yield from dec.decode(packet)


def roundtrip(frames: Iterable[np.ndarray], bitrate: int, fps: int = 30) -> list[np.ndarray]:
    """BGR frames in, what the server gets out of WebRTC: I420 arrays ((H*3/2) x W) after VP8 at ``bitrate``."""
    return [frame.to_ndarray(format="yuv420p") for frame in decode(encode(frames, bitrate, fps))]
