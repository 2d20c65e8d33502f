"""What every TUK route does at the edge: the JSON body as an object, the session the user may see, the secret that
signs the check's tokens, and the bandwidth transfers' HTTP side (shared by the real check and the trial, which sign
their tokens with different secrets)."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app, request, stream_with_context

from remote_tuk.assessment import services as assessment
from remote_tuk.auth import current
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.tuk import bandwidth
from remote_tuk.tuk.schemas import DownloadResultIn, UploadResultIn

#: the download measurement's size
DOWNLOAD_BYTES = 4_000_000


def json_body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # a deeply nested document: not something this API takes
        body = None
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


def session_of(public_id: str) -> Any:
    """The session, if the signed-in user may see it (404 otherwise, like a session that does not exist)."""
    return assessment.get_session_for(db.session, current(), public_id)


def secret() -> str:
    return str(current_app.secret_key)


def upload_chunk(secret_: str, check_id: int, seq: int) -> dict[str, Any]:
    """One chunk of the upload measurement (docs/TUK-CHECK.md): timed by the server from its answer to the previous
    chunk (whose token it must carry) to the end of its own read of this one. Writes nothing."""
    db.session.rollback()  # no transaction stays open while the body arrives
    nbytes = bandwidth.read_chunk(request.stream)
    chunk = bandwidth.accept_chunk(
        secret=secret_,
        check_id=check_id,
        seq=seq,
        token=request.headers.get("X-Upload-Token"),
        nbytes=nbytes,
        read_done=time.time(),
        clock=time.time,
    )
    return {
        "seq": chunk.seq,
        "bytes": chunk.bytes,
        "token": chunk.token,
        "server_ms": None if chunk.server_s is None else round(chunk.server_s * 1000, 1),
    }


def upload_result(secret_: str, check_id: int, data: UploadResultIn) -> Any:
    browser_times = {c.seq: (c.bytes, c.ms / 1000) for c in data.chunks}
    return bandwidth.finish_upload(secret=secret_, check_id=check_id, token=data.token, browser=browser_times)


def download(secret_: str, check_id: int) -> Response:
    """The download measurement's bytes; the last ones are a token with the time the server started sending (the
    page echoes it with its result). Writes nothing."""
    body = bandwidth.download_body(secret=secret_, check_id=check_id, nbytes=DOWNLOAD_BYTES, clock=time.time)
    return Response(
        stream_with_context(body),
        mimetype="application/octet-stream",
        headers={"Content-Length": str(DOWNLOAD_BYTES), "Cache-Control": "no-store"},
    )


def download_rate(secret_: str, check_id: int, data: DownloadResultIn) -> float:
    return bandwidth.download_rate(
        secret=secret_,
        check_id=check_id,
        token=data.token,
        nbytes=data.bytes,
        elapsed_ms=data.elapsed_ms,
        clock=time.time,
    )
