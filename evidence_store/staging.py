"""The local file an append encrypts into before it is handed to the object store.

Ciphertext is written once, front to back, and read again only if the store is unreachable (spool), by recovery, or
when the filesystem backend serves it, so it bypasses the page cache (``O_DIRECT``). On the machines measured here,
filling page-cache pages cost between 0.2 and 2 ms of kernel time per MiB depending on the state of the machine,
while a direct write of 1 MiB from an aligned buffer returns in about 0.5 ms with the CPU free for hashing (figures:
``bench/bench_evidence.py``, "durable floor"). Blocks go through a page-aligned buffer; the last, partial block is
written padded to the alignment and the file is then cut to its length. Where ``O_DIRECT`` is refused (tmpfs, some
network file systems) the same class writes through the page cache and starts writeback early.

Durability is not this class's job: the backend's ``sync`` (or the spool) makes the file durable with ``fdatasync``.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
from pathlib import Path

from .crypto import start_writeback

#: O_DIRECT needs file offsets, lengths and memory addresses aligned to the device's logical block size; 4096
#: covers the block devices in use (512 and 4096 bytes)
ALIGN = 4096
#: big enough for a whole 1 MiB block with its header and tags, so an item of up to 1 MiB takes one write
BUFFER_SIZE = 2 << 20
#: set to False to write staging files through the page cache (the benchmark compares both)
DIRECT_IO = True
#: items smaller than this go through the page cache: for them a direct write is one more device round trip and a
#: thread hand-over, for a few kilobytes of cache (measured: 2,000 small items appended 396/s direct, ~650/s not)
DIRECT_MIN_BYTES = 256 * 1024

_O_DIRECT = getattr(os, "O_DIRECT", 0)


class _BufferPool:
    """Page-aligned buffers, reused: a fresh anonymous mapping costs a page fault per 4 KiB on first touch."""

    def __init__(self, keep: int = 16):
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()
        self._keep = keep

    def take(self) -> mmap.mmap:
        with self._lock:
            if self._free:
                return self._free.pop()
        return mmap.mmap(-1, BUFFER_SIZE)

    def give(self, buf: mmap.mmap) -> None:
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(buf)
                return
        buf.close()


_BUFFERS = _BufferPool()


class StagingFile:
    """A new file (``O_EXCL``), written in order with :meth:`write_parts`, completed with :meth:`finish`."""

    def __init__(self, path: Path, *, direct: bool | None = None):
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self.direct = False
        self.fd = -1
        if (DIRECT_IO if direct is None else direct) and _O_DIRECT:
            try:
                self.fd = os.open(self.path, flags | _O_DIRECT, 0o600)
                self.direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: this file system does not do direct I/O
                    raise
        if self.fd < 0:
            self.fd = os.open(self.path, flags, 0o600)
        self._buf = _BUFFERS.take() if self.direct else None
        self._fill = 0  # bytes waiting in the buffer
        self._offset = 0  # file offset of the buffer's first byte
        self._writeback_from = 0
        self.size = 0
        self._finished = False

    def write_parts(self, parts: list[bytes] | tuple[bytes, ...]) -> None:
        if self._finished:
            raise ValueError(f"{self.path} is already finished")
        if not self.direct:
            self._write_buffered(parts)
            return
        assert self._buf is not None
        for i, part in enumerate(parts):
            view = memoryview(part)
            while view:
                if self._fill == BUFFER_SIZE:
                    self._flush()
                    if not self.direct:  # the file system refused the direct write: go on through the page cache
                        self._write_buffered([view.tobytes(), *parts[i + 1 :]])
                        return
                n = min(len(view), BUFFER_SIZE - self._fill)
                self._buf[self._fill : self._fill + n] = view[:n]
                self._fill += n
                view = view[n:]
            self.size += len(part)

    def _flush(self, pad: bool = False) -> None:
        """Write the buffer's aligned prefix at the current offset and keep the rest; with ``pad``, write all of it,
        padded with zeros to the alignment."""
        assert self._buf is not None
        if pad:
            length = -(-self._fill // ALIGN) * ALIGN
            self._buf[self._fill : length] = bytes(length - self._fill)
        else:
            length = self._fill // ALIGN * ALIGN
        view = memoryview(self._buf)
        done = 0
        try:
            while done < length:
                n = os.pwrite(self.fd, view[done:length], self._offset + done)
                if n <= 0 or n % ALIGN:
                    raise OSError(errno.EIO, f"short direct write to {self.path} ({n} of {length - done} bytes)")
                done += n
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            view.release()
            self._leave_direct_io(done)  # EINVAL: the device wants another alignment, or the file system no O_DIRECT
            return
        finally:
            view.release()
        rest = 0 if pad else self._fill - length
        if rest:
            self._buf.move(0, length, rest)
        self._offset += length
        self._fill = rest

    def _leave_direct_io(self, written: int) -> None:
        """Clear O_DIRECT on the open file and write what is still buffered (without padding) through the page cache;
        later writes go through the page cache too."""
        assert self._buf is not None
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~_O_DIRECT)
        written = min(written, self._fill)  # a direct write of the padded tail may have gone past the data
        data = self._buf[written : self._fill]
        pos = self._offset + written
        while data:
            n = os.pwrite(self.fd, data, pos)
            data, pos = data[n:], pos + n
        os.ftruncate(self.fd, pos)  # no padding left behind
        os.lseek(self.fd, pos, os.SEEK_SET)
        _BUFFERS.give(self._buf)
        self._buf = None
        self.direct = False
        self._offset = self.size = self._writeback_from = pos
        self._fill = 0

    def _write_buffered(self, parts: list[bytes] | tuple[bytes, ...]) -> None:
        parts = list(parts)
        total = sum(len(p) for p in parts)
        done = os.writev(self.fd, parts)
        if done != total:  # short write: finish it piecewise
            rest = b"".join(parts)[done:]
            while rest:
                rest = rest[os.write(self.fd, rest):]
        self.size += total
        if self.size - self._writeback_from >= BUFFER_SIZE:
            start_writeback(self.fd, self._writeback_from, self.size - self._writeback_from)
            self._writeback_from = self.size

    def finish(self) -> int:
        """Write what is buffered (padded to the alignment, then the file cut to its length), or, through the page
        cache, start writeback of what is left. Returns the file's size. Idempotent."""
        if self._finished:
            return self.size
        if self.direct and self._fill:
            self._flush(pad=True)
            if self._offset != self.size:  # cut the padding (already done if the write fell back)
                os.ftruncate(self.fd, self.size)
        elif not self.direct and self.size > self._writeback_from:
            start_writeback(self.fd, self._writeback_from, self.size - self._writeback_from)
        self._finished = True
        return self.size

    def close(self) -> None:
        if self._buf is not None:
            _BUFFERS.give(self._buf)
            self._buf = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> StagingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
