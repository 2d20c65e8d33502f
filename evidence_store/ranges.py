"""Reading a byte range of an object's plaintext without decrypting the rest (the review room's video player seeks
with HTTP range requests into recordings of any length; docs/EVIDENCE.md "Ranged reads").

The object format (``crypto``) is a header then chunks of ``chunk_size`` plaintext bytes, each sealed by AES-256-GCM
with a nonce that binds its index and whether it is the last one, and the header as associated data. A range is
served by fetching only the ciphertext chunks that cover it (a ranged GET on S3, a seek on the filesystem) and
opening each one: every chunk is authenticated on its own, in its position, so a chunk that was altered, moved or
taken from another object fails here as it would in a whole read. What a ranged read cannot do is compare the whole
ciphertext with the hash in the log; that check is the whole read's (``EvidenceStore.read``) and the verifier's.
Memory stays at one chunk whatever the object's size.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import IntegrityError
from .verifier import TAG_SIZE
from .verifier.objects import MAX_HEADER, ObjectHeader, chunk_nonce, read_object_header


@dataclass(frozen=True)
class PlainObject:
    """What a ranged read needs to know of one stored object."""

    object_key: str
    header: ObjectHeader
    header_size: int
    chunks: int
    plaintext_size: int
    type: str


class HeaderCache:
    """Object headers by key (objects are written once, so a header never changes); a few hundred at most."""

    def __init__(self, size: int = 256):
        self._size = size
        self._items: OrderedDict[str, ObjectHeader] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ObjectHeader | None:
        with self._lock:
            h = self._items.get(key)
            if h is not None:
                self._items.move_to_end(key)
            return h

    def put(self, key: str, header: ObjectHeader) -> None:
        with self._lock:
            self._items[key] = header
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def open_range(backend: Any, spooled: BinaryIO | None, key: str, offset: int, length: int) -> BinaryIO:
    """``length`` ciphertext bytes from ``offset`` (fewer at the end of the object)."""
    if spooled is not None:
        spooled.seek(offset)
        return spooled
    ranged = getattr(backend, "open_range", None)
    if ranged is not None:
        return ranged(key, offset, length)  # type: ignore[no-any-return]
    fh = backend.open(key)
    if fh.seekable():
        fh.seek(offset)
    else:  # a backend that cannot seek: read past the bytes before (time grows, memory does not)
        left = offset
        while left > 0:
            got = fh.read(min(left, 1 << 20))
            if not got:
                break
            left -= len(got)
    return fh


def read_header(stream: BinaryIO) -> tuple[ObjectHeader, int]:
    head = stream.read(8 + MAX_HEADER)
    header = read_object_header(io.BytesIO(head))
    return header, len(header.aad)


def plaintext_chunks(obj: PlainObject, data_key: bytes, opener: Any, start: int, stop: int) -> Iterator[bytes]:
    """The plaintext bytes ``[start, stop)`` of *obj*, chunk by chunk. *opener(offset, length)* gives a stream of the
    ciphertext from that offset."""
    if not 0 <= start <= stop <= obj.plaintext_size:
        raise ValueError(f"range {start}-{stop} outside 0-{obj.plaintext_size}")
    if start == stop:
        return
    size = obj.header.chunk_size
    seg = size + TAG_SIZE
    first, last = start // size, (stop - 1) // size
    aead = AESGCM(data_key)
    stream = opener(obj.header_size + first * seg, (last - first + 1) * seg)
    try:
        for i in range(first, last + 1):
            ct = stream.read(seg)
            while len(ct) < seg:  # a network stream may return less than asked
                more = stream.read(seg - len(ct))
                if not more:
                    break
                ct += more
            try:
                plain = aead.decrypt(chunk_nonce(obj.header.nonce_prefix, i, i == obj.chunks - 1), ct,
                                     obj.header.aad)
            except InvalidTag:
                raise IntegrityError(f"{obj.object_key}: chunk {i} fails authentication") from None
            lo = start - i * size if i == first else 0
            hi = stop - i * size if i == last else len(plain)
            yield plain[lo:hi]
    finally:
        stream.close()
