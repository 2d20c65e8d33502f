from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from config.settings import RtcSettings
from proctor.rtc.engine import EngineOptions, MediaEngine
from proctor.rtc.loop import RtcLoop
from proctor.rtc.testing import loopback_ice
from proctor.sink import EngineEvent, MediaRange


@dataclass
class Item:
    session_id: str
    type: str
    data: bytes
    metadata: Mapping[str, Any]
    media_range: MediaRange | None


class MemorySink:
    """An EvidenceSink that keeps items in memory."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.lock = threading.Lock()

    def append(self, session_id: str, type: str, data: bytes, metadata: Mapping[str, Any],
               media_range: MediaRange | None) -> None:
        with self.lock:
            self.items.append(Item(session_id, type, data, dict(metadata), media_range))


def decode_ivf(data: bytes) -> list[Any]:
    """Decode an IVF segment with PyAV; returns the video frames."""
    import av

    with av.open(io.BytesIO(data), format="ivf") as container:
        return list(container.decode(video=0))


def ivf_frames(data: bytes) -> list[bytes]:
    """The encoded frames stored in an IVF file."""
    assert data[:4] == b"DKIF"
    pos, frames = 32, []
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "little")
        frames.append(data[pos + 12 : pos + 12 + size])
        pos += 12 + size
    return frames


@dataclass
class EngineHarness:
    engine: MediaEngine
    sink: MemorySink
    events: list[EngineEvent]
    clients: RtcLoop

    def event_types(self, peer_id: str | None = None) -> list[str]:
        return [e.type for e in self.events if peer_id is None or e.peer_id == peer_id]


@pytest.fixture
def harness() -> Iterator[EngineHarness]:
    with loopback_ice():
        sink = MemorySink()
        events: list[EngineEvent] = []
        engine = MediaEngine(RtcSettings(ice_servers=[]), sink, events.append, EngineOptions(segment_s=2.0))
        engine.start()
        clients = RtcLoop("test-clients")
        clients.start()
        try:
            yield EngineHarness(engine, sink, events, clients)
        finally:
            engine.stop()
            clients.stop()
