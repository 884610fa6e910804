"""Structured logs that cannot carry PHI by construction.

A log record is reduced to fields we control: time, level, logger, the message *template*
(never the interpolated arguments, which is where values such as a name or an email would
arrive), the request id, and for exceptions the exception class and the code locations of the
traceback — not its message, which may quote a value. Extra fields are passed through only if
they are on an allow-list of id-like keys.
"""

from __future__ import annotations

import contextvars
import json
import logging
import traceback
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("confide_request_id", default="-")

# Fields a caller may attach with `extra={...}`: identifiers and numbers only.
SAFE_EXTRA_FIELDS = frozenset(
    {"event", "status_code", "method", "path_name", "practice_id", "user_id", "object_id", "count", "duration_ms"}
)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id == "-":
            # Django logs 4xx/5xx responses after the middleware stack has unwound; the
            # request itself still carries the id.
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # The unformatted template: "Internal Server Error: %s" rather than the path or a value.
            "message": str(record.msg),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key in SAFE_EXTRA_FIELDS:
            value = getattr(record, key, None)
            if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 64):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            entry["exception"] = f"{exc_type.__module__}.{exc_type.__qualname__}"
            entry["stack"] = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]
        return json.dumps(entry, separators=(",", ":"))
