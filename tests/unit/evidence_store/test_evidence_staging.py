"""The staging file an append encrypts into: direct I/O through an aligned buffer, or the page cache."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import itertools
import os

import pytest

from evidence_store import staging
from evidence_store.crypto import build_header, encrypt_stream
from evidence_store.staging import ALIGN, BUFFER_SIZE, StagingFile
from evidence_store.verifier import decrypt_stream

SIZES = [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BUFFER_SIZE - 1, BUFFER_SIZE, BUFFER_SIZE + 1, 2 * BUFFER_SIZE + 7]


@pytest.mark.parametrize("direct", [True, False])
def test_parts_of_every_size_land_exactly(tmp_path, direct):
    rng = os.urandom(3 * BUFFER_SIZE)
    for n, size in enumerate(SIZES):
        data = rng[:size]
        # uneven parts, one larger than the buffer
        cuts = sorted({0, size, *(c for c in (3, ALIGN + 5, BUFFER_SIZE + 11) if c < size)})
        parts = [data[a:b] for a, b in itertools.pairwise(cuts)]
        path = tmp_path / f"s{n}"
        with StagingFile(path, direct=direct) as out:
            out.write_parts(parts[:1])
            out.write_parts(parts[1:])
            assert out.finish() == size
            assert out.finish() == size  # idempotent
            with pytest.raises(ValueError, match="already finished"):
                out.write_parts([b"late"])
        assert path.read_bytes() == data, size


def test_direct_io_is_used_where_the_file_system_allows_it(tmp_path):
    with StagingFile(tmp_path / "d") as out:
        if not hasattr(os, "O_DIRECT"):
            assert not out.direct
        flags = fcntl.fcntl(out.fd, fcntl.F_GETFL)
        assert bool(flags & getattr(os, "O_DIRECT", 0)) == out.direct
        out.finish()


def test_falls_back_to_the_page_cache_where_direct_io_is_refused(tmp_path, monkeypatch):
    real_open = os.open

    def no_direct(path, flags, *a):
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")  # what a file system without direct I/O answers
        return real_open(path, flags, *a)

    monkeypatch.setattr(staging.os, "open", no_direct)
    data = os.urandom(BUFFER_SIZE + 123)
    with StagingFile(tmp_path / "s") as out:
        assert not out.direct
        out.write_parts([data])
        out.finish()
    assert (tmp_path / "s").read_bytes() == data


def test_other_open_errors_are_not_hidden(tmp_path):
    with pytest.raises(FileNotFoundError):
        StagingFile(tmp_path / "no-such-dir" / "s")


def test_an_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "x").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        StagingFile(tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == b"keep"


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("size", [0, 5000, (1 << 20) - 10, 1 << 20, 3 * (1 << 20) + 17])
def test_encrypt_stream_into_a_staging_file_decrypts(tmp_path, monkeypatch, direct, size):
    monkeypatch.setattr(staging, "DIRECT_IO", direct)
    data = os.urandom(size)
    key, salt, cs = os.urandom(32), os.urandom(32), 64 * 1024
    header, prefix = build_header("o1", "S", "recording", "dk-o1", cs)
    with StagingFile(tmp_path / "o") as out:
        assert out.direct == (direct and hasattr(os, "O_DIRECT"))
        res = encrypt_stream(data, out, key, salt, header, prefix, cs, commit_plaintext=True)
        out.finish()
    blob = (tmp_path / "o").read_bytes()
    assert len(blob) == res.size


    assert hashlib.sha256(blob).hexdigest() == res.sha256
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), key, sink)
    assert sink.getvalue() == data


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failing_write_is_raised_not_hung(tmp_path, monkeypatch, direct, fail_at):
    """A write error on the helper thread (disk full) reaches the caller, at the next call or at finish."""
    real_pwrite, calls = os.pwrite, []

    def pwrite(fd, data, offset):
        calls.append(offset)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(staging.os, "pwrite", pwrite)
    header, prefix = build_header("o1", "S", "recording", "dk-o1", 4096)
    with pytest.raises(OSError, match="No space left"), StagingFile(tmp_path / "f", direct=direct) as out:
        encrypt_stream(os.urandom(10 * BUFFER_SIZE), out, os.urandom(32), os.urandom(32), header, prefix, 4096)
        out.finish()
    assert len(calls) >= fail_at


def test_the_store_stages_small_items_through_the_page_cache_and_large_ones_direct(tmp_path, monkeypatch):
    from evidence_unit_helpers import make_store

    from evidence_store import store as store_module

    seen: list[tuple[int, bool]] = []

    class Recording(StagingFile):
        def close(self):
            if self.fd >= 0:
                seen.append((self.size, self.direct))
            super().close()

    monkeypatch.setattr(store_module, "StagingFile", Recording)
    s = make_store(tmp_path)
    s.open_session("D")
    small, large = os.urandom(1000), os.urandom(staging.DIRECT_MIN_BYTES + 1)
    r1 = s.append("D", "doc", small, actor=("a", "b"))
    r2 = s.append("D", "recording", large, actor=("a", "b"))
    r3 = s.append("D", "recording", io.BytesIO(small), actor=("a", "b"))  # a stream's size is unknown: direct
    direct_possible = hasattr(os, "O_DIRECT")
    assert [d for _, d in seen] == [False, direct_possible, direct_possible]
    assert s.read(r1.object_key, ("a", "b")) == small
    assert s.read(r2.object_key, ("a", "b")) == large
    assert s.read(r3.object_key, ("a", "b")) == small
    s.close()


@pytest.mark.parametrize("fail_at", [1, 2, 3])
@pytest.mark.parametrize("size", [ALIGN + 1, BUFFER_SIZE + 5, 3 * BUFFER_SIZE + 77])
def test_a_refused_direct_write_falls_back_without_losing_bytes(tmp_path, monkeypatch, fail_at, size):
    """Some devices want a larger alignment, and some file systems accept O_DIRECT at open but refuse the write:
    the file switches to the page cache at that write and the content is still exact."""
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this platform")
    real_pwrite, calls = os.pwrite, []

    def pwrite(fd, data, offset):
        calls.append(len(data))
        if len(calls) == fail_at and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(staging.os, "pwrite", pwrite)
    data = os.urandom(size)
    parts = [data[i : i + 70000] for i in range(0, size, 70000)]
    with StagingFile(tmp_path / "f", direct=True) as out:
        assert out.direct
        for part in parts:
            out.write_parts([part])
        assert out.finish() == size
        wrote_direct = out.direct
    assert (tmp_path / "f").read_bytes() == data
    assert not wrote_direct or len(calls) < fail_at  # it fell back if the refusal was reached


@pytest.mark.parametrize("direct", [True, False])
def test_regions_filled_in_place_land_exactly_across_buffers(tmp_path, direct):
    """Regions of awkward sizes (so remainders are carried from buffer to buffer), each read again after its commit
    while the helper thread writes it, mixed with copied parts."""
    rng = os.urandom(4 * BUFFER_SIZE)
    sizes = [7, ALIGN - 7, BUFFER_SIZE - ALIGN, 1, (1 << 20) + 5, ALIGN, BUFFER_SIZE // 3, 0, 12345]
    expect, pos = bytearray(), 0
    with StagingFile(tmp_path / "r", direct=direct) as out:
        for i, n in enumerate(sizes):
            chunk = rng[pos : pos + n]
            pos += n
            if i % 3 == 2:
                out.write_parts([chunk])
            else:
                view = out.region(n)
                view[:] = chunk
                out.commit(n, final=i == len(sizes) - 1)
                assert hashlib.sha256(view).digest() == hashlib.sha256(chunk).digest()  # still readable
                view.release()
            expect += chunk
        assert out.finish() == len(expect)
    assert (tmp_path / "r").read_bytes() == bytes(expect)


def test_region_and_commit_refuse_bad_sizes_and_late_writes(tmp_path):
    with StagingFile(tmp_path / "b") as out:
        with pytest.raises(ValueError, match="a region is 0 to"):
            out.region(BUFFER_SIZE)
        with pytest.raises(ValueError, match="a region is 0 to"):
            out.region(-1)
        view = out.region(10)
        view[:] = b"0123456789"
        view.release()
        with pytest.raises(ValueError, match="cannot commit"):
            out.commit(BUFFER_SIZE)
        out.commit(10, final=True)
        with pytest.raises(ValueError, match="already finished"):
            out.region(1)
        assert out.finish() == 10
    assert (tmp_path / "b").read_bytes() == b"0123456789"


class _ReadOnly:
    """A source with only ``read`` (no ``readinto``), returning short reads."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n):
        n = min(n, 1000, len(self.data) - self.pos)
        self.pos += n
        return self.data[self.pos - n : self.pos]


@pytest.mark.parametrize("source", ["bytes", "buffered", "read-only"])
@pytest.mark.parametrize("chunk_size", [4096, 64 * 1024, 3 << 20])
def test_encrypt_stream_every_source_and_chunk_size(tmp_path, source, chunk_size):
    """Bytes are sliced, buffered streams read into reused buffers, other streams read; chunks too large for the
    staging file's buffer are encrypted into fresh buffers and copied in. All give the same object format."""
    data = os.urandom(2 * (1 << 20) + 999)
    src = {"bytes": data, "buffered": io.BytesIO(data), "read-only": _ReadOnly(data)}[source]
    key, salt = os.urandom(32), os.urandom(32)
    header, prefix = build_header("o1", "S", "recording", "dk-o1", chunk_size)
    with StagingFile(tmp_path / "o") as out:
        res = encrypt_stream(src, out, key, salt, header, prefix, chunk_size, commit_plaintext=True)
        out.finish()
    blob = (tmp_path / "o").read_bytes()
    assert (len(blob), hashlib.sha256(blob).hexdigest()) == (res.size, res.sha256)
    assert res.plaintext_size == len(data)
    assert res.chunks == -(-len(data) // chunk_size)
    assert res.commitment.endswith(hashlib.sha256(salt + data).hexdigest())
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), key, sink)
    assert sink.getvalue() == data
