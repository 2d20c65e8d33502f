"""The local file an append encrypts into before it is handed to the object store.

Ciphertext is written once, front to back, and read again only if the store is unreachable (spool), by recovery, or
when the filesystem backend serves it, so it bypasses the page cache (``O_DIRECT``). On the machines measured here,
filling page-cache pages cost between 0.2 and 2 ms of kernel time per MiB depending on the state of the machine,
while a direct write of 1 MiB from an aligned buffer returns in about 0.5 ms with the CPU free for hashing (figures:
``bench/bench_evidence.py``, "durable floor").

The writer fills page-aligned buffers in place (:meth:`StagingFile.region` / :meth:`StagingFile.commit`: the
encryption writes its ciphertext straight into them, no copy) and each committed buffer is written by a helper
thread while the caller goes on (hashing what it just committed). The unaligned remainder of a buffer is carried
to the next one; the last buffer is written padded to the alignment and the file is then cut to its length. Where
``O_DIRECT`` is refused, at open (tmpfs, some network file systems) or at a write (a device wanting a larger
alignment), the same class writes through the page cache and starts writeback early.

Durability is not this class's job: the backend's ``sync`` (or the spool) makes the file durable with ``fdatasync``.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

#: O_DIRECT needs file offsets, lengths and memory addresses aligned to the device's logical block size; 4096
#: covers the block devices in use (512 and 4096 bytes)
ALIGN = 4096
#: one buffer; a region asked for may be up to BUFFER_SIZE - ALIGN bytes (the carried remainder is under ALIGN)
BUFFER_SIZE = 2 << 20
#: a buffer is written out once it holds this much (a whole 1 MiB block of ciphertext and its tags)
WRITE_AT = 1 << 20
#: buffers written at once per file; the caller waits for the oldest beyond this (a slow disk holds encryption back
#: instead of piling ciphertext up in memory)
IN_FLIGHT = 2
#: set to False to write staging files through the page cache (the benchmark compares both)
DIRECT_IO = True
#: items smaller than this go through the page cache: for them a direct write is one more device round trip and a
#: thread hand-over, for a few kilobytes of cache (measured: 2,000 small items appended 396/s direct, ~650/s not)
DIRECT_MIN_BYTES = 256 * 1024
#: a page-cache write smaller than this is made in the caller's thread: too little to overlap to pay for a hand-over
_INLINE_BELOW = 256 * 1024

_O_DIRECT = getattr(os, "O_DIRECT", 0)
#: writes run here, one task per buffer; os.pwrite releases the GIL, so several files write side by side
_WRITERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="evidence-write")


def _load_sync_file_range() -> Any:
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        return fn
    except (OSError, AttributeError):
        return None


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a written range to disk without waiting (Linux ``sync_file_range``), so the final ``fdatasync``
    has little left to do; elsewhere fall back to ``fdatasync``. Durability still comes only from that final sync."""
    if _SYNC_FILE_RANGE is None or _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE) != 0:
        os.fdatasync(fd)


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
        with suppress(BufferError):  # a view still open on it: it is unmapped when the last view goes
            buf.close()


_BUFFERS = _BufferPool()
_DONE: Future[None] = Future()
_DONE.set_result(None)


class StagingFile:
    """A new file (``O_EXCL``), written in order, completed with :meth:`finish`.

    Two ways to write, which may be mixed: :meth:`write_parts` copies bytes in; :meth:`region` lends a writable
    view of the next bytes of the file, to fill in place and then :meth:`commit`. A committed region is final: the
    caller may still read it (to hash it) until its next call on this file, while a helper thread writes it."""

    #: the largest region lent
    region_limit = BUFFER_SIZE - ALIGN

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
        self._buf: mmap.mmap | None = _BUFFERS.take()
        self._fill = 0  # bytes in the buffer (a carried remainder, then committed bytes)
        self._lent = 0  # size of the region lent and not yet committed
        self._offset = 0  # file offset of the buffer's first byte
        self._inflight: deque[tuple[Future[None], mmap.mmap]] = deque()
        self._lock = threading.Lock()
        self.size = 0
        self._finished = False

    # -- writing ---------------------------------------------------------------------------------------------------
    def region(self, n: int) -> memoryview:
        """A writable view of the file's next ``n`` bytes (at most ``BUFFER_SIZE - ALIGN``), to :meth:`commit`."""
        self._check_open()
        if not 0 <= n <= BUFFER_SIZE - ALIGN:
            raise ValueError(f"a region is 0 to {BUFFER_SIZE - ALIGN} bytes, not {n}")
        if self._fill + n > BUFFER_SIZE:
            self._write_out()
        assert self._buf is not None
        self._lent = n
        return memoryview(self._buf)[self._fill : self._fill + n]

    def commit(self, n: int, *, final: bool = False) -> None:
        """The first ``n`` bytes of the last region are the file's next bytes. With ``final`` they are its last: the
        file is completed (written, cut to length) on the helper thread, and :meth:`finish` only waits for it."""
        self._check_open()
        if not 0 <= n <= self._lent:
            raise ValueError(f"cannot commit {n} bytes: the region lent was {self._lent} bytes")
        self._lent = 0
        self._fill += n
        self.size += n
        if final:
            self._write_out(last=True)
            self._finished = True
        elif self._fill >= WRITE_AT:
            self._write_out()

    def write_parts(self, parts: Iterable[bytes | memoryview]) -> None:
        """Append bytes (copied into the buffer)."""
        self._check_open()
        for part in parts:
            view = memoryview(part).cast("B")
            while view:
                n = min(len(view), BUFFER_SIZE - ALIGN)
                region = self.region(n)
                region[:] = view[:n]
                region.release()
                self.commit(n)
                view = view[n:]

    def finish(self) -> int:
        """Write what is buffered (padded to the alignment, then the file cut to its length) and wait until every
        write has returned; raises the first write error. Returns the file's size. Idempotent."""
        if not self._finished:
            self._check_open()
            self._write_out(last=True)
            self._finished = True
        self._reap(0)
        return self.size

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError(f"{self.path} is already finished")
        if self.fd < 0:
            raise ValueError(f"{self.path} is closed")

    def _write_out(self, last: bool = False) -> None:
        """Hand the buffer's writable prefix to a writer (all of it, padded, if ``last``) and carry the rest over to
        a fresh buffer. Direct I/O writes whole aligned blocks; the page cache takes any length."""
        buf = self._buf
        assert buf is not None
        fill = self._fill
        if last:
            length = -(-fill // ALIGN) * ALIGN if self.direct else fill
            if length > fill:
                buf[fill:length] = bytes(length - fill)
        else:
            length = fill // ALIGN * ALIGN if self.direct else fill
        if length == 0:
            if last:  # nothing left to write: the buffer is free once the caller is done with its last region
                self._inflight.append((_DONE, buf))
                self._buf = None
            return
        self._reap(IN_FLIGHT - 1)
        nxt = None
        if not last:
            nxt = _BUFFERS.take()
            if fill > length:
                nxt[: fill - length] = buf[length:fill]
        cut_to = self.size if last and length > fill else None
        task = (self.fd, buf, length, self._offset, cut_to)
        if self.direct or length >= _INLINE_BELOW:
            self._inflight.append((_WRITERS.submit(self._write, *task), buf))
        else:
            done: Future[None] = Future()
            try:
                self._write(*task)
                done.set_result(None)
            except BaseException as exc:  # noqa: BLE001 - raised by _reap like a helper's error
                done.set_exception(exc)
            self._inflight.append((done, buf))
        self._offset += length
        self._fill = fill - length
        self._buf = nxt

    def _write(self, fd: int, buf: mmap.mmap, length: int, offset: int, cut_to: int | None) -> None:
        """On a helper thread: write ``buf[:length]`` at ``offset``; a direct write refused with EINVAL switches the
        file to the page cache and is made again there. Then cut the file to ``cut_to`` (the padding)."""
        view = memoryview(buf)
        try:
            done = 0
            while done < length:
                try:
                    n = os.pwrite(fd, view[done:length], offset + done)
                except OSError as exc:
                    if exc.errno != errno.EINVAL or not self._leave_direct_io():
                        raise
                    continue  # the same bytes again, through the page cache
                if n <= 0:
                    raise OSError(errno.EIO, f"short write to {self.path} ({n} of {length - done} bytes)")
                done += n
        finally:
            view.release()
        if not self.direct and length:
            start_writeback(fd, offset, length)
        if cut_to is not None:
            os.ftruncate(fd, cut_to)

    def _leave_direct_io(self) -> bool:
        """Clear O_DIRECT on the open file (the device wants another alignment, or the file system accepted it at
        open but refuses the writes); later writes go through the page cache. False if it was already clear."""
        with self._lock:
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            if not flags & _O_DIRECT:
                return False
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~_O_DIRECT)
            self.direct = False
            return True

    def _reap(self, keep: int) -> None:
        """Wait until at most ``keep`` writes are in flight, giving their buffers back; raise the first error."""
        error: BaseException | None = None
        while len(self._inflight) > keep:
            fut, buf = self._inflight.popleft()
            try:
                fut.result()
            except BaseException as exc:  # noqa: BLE001 - the others are still waited for
                error = error or exc
            _BUFFERS.give(buf)
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for writes still in flight (their errors are the caller's to see through :meth:`finish`), give the
        buffers back and close the file."""
        with suppress(Exception):
            self._reap(0)
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
