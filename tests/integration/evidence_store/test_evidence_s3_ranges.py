"""Ranged reads against SeaweedFS: the review room's player asks for a range of a recording, and only the ciphertext
chunks that cover it leave the object store (a ranged GET), decrypted to exactly the bytes asked for."""

from __future__ import annotations

import os

import pytest
from test_evidence_s3 import s3_store

pytestmark = pytest.mark.s3


def test_a_range_fetches_only_its_chunks(seaweed, tmp_path):
    store = s3_store(tmp_path)  # 4 KiB chunks
    try:
        store.open_session("S3R")
        data = os.urandom(1_000_000)
        rc = store.append("S3R", "recording.browser_full", data, actor=("system", "t"), candidate_id="c1")
        calls: list[tuple[int | None, int | None]] = []
        real = store.backend.client.get_object

        def spy(bucket, key, *args, **kw):
            calls.append((kw.get("offset"), kw.get("length")))
            return real(bucket, key, *args, **kw)

        store.backend.client.get_object = spy
        obj = store.plain_object(rc.object_key)
        for start, stop in ((0, 10), (500_000, 600_001), (999_990, 1_000_000), (4095, 4097)):
            calls.clear()
            assert b"".join(store.read_range(obj, start, stop)) == data[start:stop]
            assert len(calls) == 1
            offset, length = calls[0]
            seg = 4096 + 16
            assert offset == obj.header_size + (start // 4096) * seg
            assert length == ((stop - 1) // 4096 - start // 4096 + 1) * seg  # only the chunks that cover it
    finally:
        store.close()
