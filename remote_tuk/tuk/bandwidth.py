"""Bandwidth by real transfers, measured so that it stays true behind a buffering reverse proxy (docs/TUK-CHECK.md).

A proxy that buffers the request body (nginx's default) hands the server a 2 MB upload all at once, so a server timing
its own read of one body measures the proxy, not the candidate's link. Here the upload is a chain of chunks, each
sent only after the answer to the previous one: the answer carries a token the server signs with the time it answered,
and the next chunk must present it. Whatever buffers in between, the bytes of chunk *i* leave the browser only after the
server answered chunk *i-1*, so the server's own interval from that answer to the end of its read of chunk *i* is never
shorter than the time the link took to carry the chunk; the server's figure (bytes over the sum of those intervals) can
therefore be too low by a round trip per chunk, never too high. The browser reports its own send timing of each chunk
(from sending to the answer); the two clocks see the same exchange and must agree, or the result is refused.

The download's last bytes are a token with the time the server started sending: the page can echo it only after it has
received the whole body, and the server holds the rate to what its own clock allows since then.

Nothing here writes to the database until a result is recorded; the tokens carry the state between requests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from remote_tuk.errors import Conflict, ValidationFailed

#: a chunk's size bounds: small enough to go out in well under a minute at 0.25 Mbit/s, large enough that a chunk's
#: transfer, not the request's overhead, dominates its interval
CHUNK_MIN = 16 * 1024
CHUNK_MAX = 1024 * 1024
MAX_CHUNKS = 64
#: what a result needs: at least this many timed chunks (the first only starts the clock) and this many bytes
MIN_TIMED_CHUNKS = 3
MIN_TIMED_BYTES = 256 * 1024
#: how far the browser's sum of send timings may be from the server's before the result is refused: a share of the
#: server's time, plus what the page's own pause between an answer and its next chunk may add up to (at least 0.3 s)
AGREE_RELATIVE = 0.25
AGREE_PER_CHUNK_S = 0.1
AGREE_ABSOLUTE_S = 0.3
#: a token older than this is refused (a check's network step takes a minute or two even on a slow link)
TOKEN_MAX_AGE_S = 600
#: the download's last bytes: the token, padded with spaces
DOWNLOAD_TAIL = 256

Clock = Callable[[], float]


class MeasurementInconsistent(Conflict):
    code = "measurement_inconsistent"


@dataclass(frozen=True)
class Chunk:
    """The server's answer to one upload chunk."""

    seq: int
    bytes: int
    token: str
    #: the server's interval for this chunk (None for the first, which only starts the clock)
    server_s: float | None


@dataclass(frozen=True)
class UploadResult:
    kbps: float
    chunks: int
    bytes: int
    server_s: float
    browser_s: float

    def detail(self) -> dict[str, Any]:
        return {
            "method": "sequential_chunks",
            "chunks": self.chunks,
            "bytes": self.bytes,
            "server_s": round(self.server_s, 3),
            "browser_s": round(self.browser_s, 3),
        }


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def _load(secret: str, salt: str, token: str, check_id: int) -> dict[str, Any]:
    try:
        data = _serializer(secret, salt).loads(token, max_age=TOKEN_MAX_AGE_S)
    except BadSignature as err:  # includes an expired signature
        raise ValidationFailed(
            "Token pengukuran tidak valid atau kedaluwarsa; ulangi pengukuran.", details={"token": "tidak valid"}
        ) from err
    if not isinstance(data, dict) or data.get("c") != check_id:
        raise ValidationFailed("Token pengukuran bukan milik pemeriksaan ini.", details={"token": "tidak valid"})
    return data


# --- upload -------------------------------------------------------------------------------------------------------


def read_chunk(stream: Any, limit: int = CHUNK_MAX) -> int:
    """Read (and drop) one chunk's body; its size, refused beyond *limit*."""
    total = 0
    while True:
        block = stream.read(64 * 1024)
        if not block:
            return total
        total += len(block)
        if total > limit:
            raise ValidationFailed(
                f"Potongan data uji terlalu besar (paling besar {limit // 1024} KiB).",
                details={"body": "terlalu besar"},
            )


def accept_chunk(
    *, secret: str, check_id: int, seq: int, token: str | None, nbytes: int, read_done: float, clock: Clock
) -> Chunk:
    """Time one upload chunk whose body the server finished reading at *read_done* (epoch seconds, *clock*'s time).
    Chunk 0 starts the clock; chunk *n* must carry the token of chunk *n-1*."""
    if not CHUNK_MIN <= nbytes <= CHUNK_MAX:
        raise ValidationFailed(
            f"Potongan data uji harus {CHUNK_MIN // 1024}–{CHUNK_MAX // 1024} KiB.", details={"body": "ukuran"}
        )
    samples: list[list[float]] = []
    server_s = None
    if seq > 0:
        if not token:
            raise ValidationFailed("Potongan ini harus membawa token potongan sebelumnya.", details={"token": "wajib"})
        prev = _load(secret, "tuk-upload", token, check_id)
        if prev.get("s") != seq - 1:
            raise ValidationFailed("Urutan potongan data uji tidak sesuai.", details={"seq": "tidak berurutan"})
        server_s = read_done - float(prev["t"])
        if server_s <= 0:
            raise MeasurementInconsistent("Jam server tidak konsisten; ulangi pengukuran.")
        samples = [*prev.get("m", []), [nbytes, round(server_s, 6)]]
    answered = clock()
    new = _serializer(secret, "tuk-upload").dumps({"c": check_id, "s": seq, "t": answered, "m": samples})
    return Chunk(seq=seq, bytes=nbytes, token=new, server_s=server_s)


def finish_upload(
    *, secret: str, check_id: int, token: str, browser: dict[int, tuple[int, float]]
) -> UploadResult:
    """The upload figure from the chain's last token and the browser's own timings (seq -> (bytes, seconds)).
    The figure is the server's; the browser's must agree with it."""
    data = _load(secret, "tuk-upload", token, check_id)
    samples = data.get("m") or []
    if len(samples) < MIN_TIMED_CHUNKS or sum(int(b) for b, _ in samples) < MIN_TIMED_BYTES:
        raise ValidationFailed(
            f"Terlalu sedikit data uji yang terukur (minimal {MIN_TIMED_CHUNKS} potongan dan "
            f"{MIN_TIMED_BYTES // 1024} KiB setelah potongan pertama).",
            details={"chunks": len(samples)},
        )
    nbytes = server_s = browser_s = 0.0
    for seq, (b, s) in enumerate(samples, start=1):
        seen = browser.get(seq)
        if seen is None or seen[0] != int(b):
            raise ValidationFailed(
                "Laporan waktu kirim peramban tidak sesuai dengan potongan yang diterima server.",
                details={"chunks": f"potongan {seq}"},
            )
        nbytes += int(b)
        server_s += float(s)
        browser_s += seen[1]
    slack = AGREE_RELATIVE * server_s + max(AGREE_ABSOLUTE_S, AGREE_PER_CHUNK_S * len(samples))
    if abs(browser_s - server_s) > slack:
        raise MeasurementInconsistent(
            "Waktu kirim yang dilaporkan peramban tidak sesuai dengan waktu terima server; hasil unggah tidak dicatat. "
            "Periksa ulang.",
            details={"server_s": round(server_s, 3), "browser_s": round(browser_s, 3)},
        )
    return UploadResult(
        kbps=nbytes * 8 / server_s / 1000, chunks=len(samples), bytes=int(nbytes), server_s=server_s,
        browser_s=browser_s,
    )


# --- download -----------------------------------------------------------------------------------------------------


def download_body(*, secret: str, check_id: int, nbytes: int, clock: Clock) -> Iterator[bytes]:
    """Random bytes whose last :data:`DOWNLOAD_TAIL` bytes are a token with the time the server started sending."""
    token = _serializer(secret, "tuk-download").dumps({"c": check_id, "t": clock(), "n": nbytes}).encode()
    if len(token) > DOWNLOAD_TAIL:
        raise RuntimeError("download token longer than its tail")
    tail = token.rjust(DOWNLOAD_TAIL, b" ")
    block = os.urandom(64 * 1024)
    left = nbytes - DOWNLOAD_TAIL
    while left > 0:
        n = min(len(block), left)
        left -= n
        yield block[:n]
    yield tail


def download_rate(
    *, secret: str, check_id: int, token: str, nbytes: int, elapsed_ms: float, clock: Clock
) -> float:
    """kbit/s of a download the page received in *elapsed_ms*, never faster than the server's own clock allows
    between starting to send and this report."""
    data = _load(secret, "tuk-download", token.strip(), check_id)
    if nbytes != data.get("n"):
        raise ValidationFailed("Jumlah byte tidak sama dengan yang dikirim server.", details={"bytes": "tidak sama"})
    server_s = clock() - float(data["t"])
    seconds = max(elapsed_ms / 1000, 1e-3)
    return min(nbytes * 8 / seconds / 1000, nbytes * 8 / max(server_s, 1e-3) / 1000)
