"""Structured logs: one JSON object per line (``RTUK_OPS_JSON_LOGS=true``), for journald / a log shipper."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request

#: LogRecord attributes that are not "extra" fields given by the caller.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "node": self.node,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        if has_request_context():
            out["method"], out["path"] = request.method, request.path
            request_id = request.headers.get("X-Request-ID")
            if request_id:
                out["request_id"] = request_id[:64]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_json_logs(node: str, level: int = logging.INFO) -> logging.Handler:
    """Send every log record of the process to stderr as JSON (replacing the root logger's handlers)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, JsonFormatter):
            return existing  # a second app in the same process: configured already
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(node))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("gunicorn.error", "werkzeug"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    return handler
