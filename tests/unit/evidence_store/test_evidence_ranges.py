"""Ranged reads of an object's plaintext (the review room's player): any range gives exactly those bytes, memory
stays at one chunk, a tampered chunk inside the range is refused, and a viewing is logged as a read."""

from __future__ import annotations

import os
import random

import pytest
from evidence_unit_helpers import make_store

from evidence_store.errors import IntegrityError, ObjectNotFound


@pytest.fixture
def small_chunks(tmp_path):
    s = make_store(tmp_path)
    s.chunk_size = 1000
    yield s
    s.close()


def _read(store, key, start, stop):
    return b"".join(store.read_range(store.plain_object(key), start, stop))


def test_every_range_gives_exactly_those_bytes(small_chunks):
    store = small_chunks
    store.open_session("s1")
    data = os.urandom(10_500)
    r = store.append("s1", "recording.browser_full", data, actor=("system", "t"))
    obj = store.plain_object(r.object_key)
    assert obj.plaintext_size == len(data) and obj.chunks == 11
    rng = random.Random(7)
    cases = [(0, 0), (0, 1), (0, len(data)), (999, 1001), (1000, 2000), (10_000, 10_500), (10_499, 10_500)]
    cases += [tuple(sorted((rng.randrange(len(data) + 1), rng.randrange(len(data) + 1)))) for _ in range(40)]
    for start, stop in cases:
        assert _read(store, r.object_key, start, stop) == data[start:stop], (start, stop)
    with pytest.raises(ValueError):
        _read(store, r.object_key, 10, 10_501)
    with pytest.raises(ObjectNotFound):
        store.plain_object("sessions/s1/nothing.rte")


def test_pieces_are_at_most_one_chunk(small_chunks):
    store = small_chunks
    store.open_session("s1")
    r = store.append("s1", "recording.browser_full", os.urandom(50_000), actor=("system", "t"))
    pieces = list(store.read_range(store.plain_object(r.object_key), 123, 49_000))
    assert max(len(p) for p in pieces) <= 1000 and len(pieces) == 49


def test_a_flipped_bit_inside_the_range_is_refused(small_chunks):
    store = small_chunks
    store.open_session("s1")
    data = os.urandom(5000)
    r = store.append("s1", "recording.browser_full", data, actor=("system", "t"))
    obj = store.plain_object(r.object_key)
    path = store.backend._path(r.object_key)
    raw = bytearray(path.read_bytes())
    raw[obj.header_size + 2 * (1000 + 16) + 5] ^= 1  # chunk 2
    os.chmod(path, 0o600)
    path.write_bytes(bytes(raw))
    assert _read(store, r.object_key, 0, 2000) == data[:2000]  # chunks 0-1 are intact
    with pytest.raises(IntegrityError):
        _read(store, r.object_key, 1500, 2500)


def test_a_viewing_is_logged_as_a_read(small_chunks):
    store = small_chunks
    store.open_session("s1")
    r = store.append("s1", "recording.browser_full", b"x" * 10, actor=("system", "t"))
    store.log_read(r.object_key, ("asesor", "7"))
    reads = [e for e in store.list_entries("s1") if e["kind"] == "read"]
    assert reads[-1]["actor"] == {"role": "asesor", "id": "7"} and reads[-1]["item_log_index"] == r.log_index
