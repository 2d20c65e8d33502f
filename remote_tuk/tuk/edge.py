"""What every TUK route does at the edge: the JSON body as an object, the session the user may see, the secret that
signs the check's tokens."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from remote_tuk.assessment import services as assessment
from remote_tuk.auth import current
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db


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
